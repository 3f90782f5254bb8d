/**
 * `npm start`: the whole provision → run → collect → cleanup chain on one machine,
 * against the embedded simulated Kubernetes cluster with Eclipse Che's DevWorkspace
 * controller. Extra arguments go to the CLI, e.g. `npm start -- --command 'exit 3'`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { main } from '../src/cli/main.js'
import { startKubeSim } from '../test/sim/kube/server.js'

const DEMO_DEVFILE = `schemaVersion: 2.2.0
metadata:
  name: run-task-demo
projects:
  - name: app
    git:
      remotes:
        origin: https://github.com/ameide/example.git
components:
  - name: dev
    container:
      image: quay.io/devfile/universal-developer-image:ubi9-latest
      memoryLimit: 2Gi
`

// A deterministic "test entrypoint" that writes a JUnit report where run-task looks for it.
const DEMO_COMMAND = [
  'echo "running the test entrypoint in $PWD"',
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit"',
  `printf '%s\\n' '<testsuite name="demo" tests="2"><testcase classname="demo" name="adds"/><testcase classname="demo" name="subtracts"/></testsuite>' > "$RUN_TASK_EVIDENCE_DIR/junit/demo.xml"`,
  'echo "2 tests passed"',
].join(' && ')

const sim = await startKubeSim({ stepDelayMs: 50 })
const dir = mkdtempSync(path.join(tmpdir(), 'run-task-start-'))
const kubeconfigFile = path.join(dir, 'kubeconfig')
writeFileSync(kubeconfigFile, sim.kubeconfig, { mode: 0o600 })
writeFileSync(path.join(dir, 'devfile.yaml'), DEMO_DEVFILE)
console.error(`Simulated Kubernetes API with the DevWorkspace controller at ${sim.url}`)
try {
  const args = ['all', '--provider', 'che', '--kubeconfig-file', kubeconfigFile, '--namespace', 'demo', '--devfile', path.join(dir, 'devfile.yaml'), '--command', DEMO_COMMAND, ...process.argv.slice(2)]
  process.exitCode = await main(args, { ...process.env, RUNNER_TEMP: process.env.RUNNER_TEMP ?? path.resolve('.run-task-start') })
  console.error(`DevWorkspaces left in the cluster: ${sim.devWorkspaces('demo').length}`)
} finally {
  await sim.close()
}
