/**
 * `npm start`: the whole provision → run → collect → cleanup chain on one machine,
 * against the embedded simulators: first Eclipse Che (a simulated Kubernetes API
 * with the DevWorkspace controller), then Coder (a simulated coderd whose agents
 * run SSH servers). Extra arguments go to the CLI, e.g. `npm start -- --command 'exit 3'`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { main } from '../src/cli/main.js'
import { startCoderSim } from '../test/sim/coderd/server.js'
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

const dir = mkdtempSync(path.join(tmpdir(), 'run-task-start-'))
const env = {
  ...process.env,
  RUNNER_TEMP: process.env.RUNNER_TEMP ?? path.resolve('.run-task-start'),
  RUNNER_TOOL_CACHE: process.env.RUNNER_TOOL_CACHE ?? path.join(dir, 'tools'),
}
const extra = process.argv.slice(2)
const statuses: number[] = []

const kube = await startKubeSim({ stepDelayMs: 50 })
try {
  const kubeconfigFile = path.join(dir, 'kubeconfig')
  writeFileSync(kubeconfigFile, kube.kubeconfig, { mode: 0o600 })
  writeFileSync(path.join(dir, 'devfile.yaml'), DEMO_DEVFILE)
  console.error(`\n=== Eclipse Che: simulated Kubernetes API with the DevWorkspace controller at ${kube.url}`)
  console.error(
    `(https with a CA of its own; kubectl works too: kubectl --kubeconfig ${kubeconfigFile} get dw -n demo)`,
  )
  statuses.push(
    await main(
      [
        'all',
        '--provider',
        'che',
        '--kubeconfig-file',
        kubeconfigFile,
        '--namespace',
        'demo',
        '--devfile',
        path.join(dir, 'devfile.yaml'),
        '--command',
        DEMO_COMMAND,
        ...extra,
      ],
      env,
    ),
  )
  console.error(`DevWorkspaces left in the cluster: ${kube.devWorkspaces('demo').length}`)
} finally {
  await kube.close()
}

const coder = await startCoderSim({ stepMs: 50 })
try {
  console.error(`\n=== Coder: simulated coderd at ${coder.url}`)
  const args = [
    'all',
    '--provider',
    'coder',
    '--coder-url',
    coder.url,
    '--template',
    'ci-docker',
    '--parameters',
    'repo_url: https://github.com/ameide/example.git',
    '--command',
    DEMO_COMMAND,
    ...extra,
  ]
  statuses.push(await main(args, { ...env, RUN_TASK_CODER_TOKEN: coder.token }))
  console.error(`Coder workspaces left: ${coder.workspaces().length}`)
} finally {
  await coder.close()
}
process.exitCode = Math.max(...statuses)
