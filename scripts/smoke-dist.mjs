// Smoke-runs every committed bundle: ncc can exit 0 yet leave a missing-module
// stub that only fails at run time. Each entry must load and reach its own input
// validation (or, for the CLI, print its usage).
import { spawnSync } from 'node:child_process'

const checks = [
  { entry: 'dist/cli/index.js', args: ['--help'], env: {}, expect: /Usage: run-task/, status: 0 },
  {
    entry: 'dist/provision-workspace/index.js',
    env: { INPUT_PROVIDER: 'nope' },
    expect: /Input 'provider' has the value "nope"/,
    status: 1,
  },
  // Loads the Coder provider (ssh2 and its bundled crypto) as far as the network.
  {
    entry: 'dist/provision-workspace/index.js',
    env: {
      INPUT_PROVIDER: 'coder',
      'INPUT_CODER-URL': 'http://127.0.0.1:9',
      'INPUT_CODER-TOKEN': 'x',
      INPUT_TEMPLATE: 't',
      RUNNER_TEMP: '/tmp/run-task-smoke',
    },
    expect: /coderd at http:\/\/127\.0\.0\.1:9 could not be reached/,
    status: 1,
  },
  {
    entry: 'dist/run-task/index.js',
    env: { INPUT_COMMAND: 'true', INPUT_TIMEOUT: '10x' },
    expect: /Input 'timeout'/,
    status: 1,
  },
  {
    entry: 'dist/collect-evidence/index.js',
    env: { 'INPUT_MAX-EVIDENCE-SIZE': 'lots' },
    expect: /Input 'max-evidence-size'/,
    status: 1,
  },
  // With no workspace, collect still writes a synthesised JUnit report and parses it back.
  {
    entry: 'dist/collect-evidence/index.js',
    env: { INPUT_UPLOAD: 'false', RUNNER_TEMP: `/tmp/run-task-smoke-${process.pid}` },
    expect: /Evidence: \/tmp\/run-task-smoke-\d+\/run-task\/no-workspace\/evidence/,
    status: 0,
  },
  {
    entry: 'dist/cleanup/index.js',
    env: { 'INPUT_DELETE-TIMEOUT': '10x' },
    expect: /Input 'delete-timeout'/,
    status: 1,
  },
  {
    entry: 'dist/smoke/index.js',
    env: { INPUT_PROVIDER: 'che', INPUT_KUBECONFIG: 'x', INPUT_NAMESPACE: 'ci', INPUT_TOOLS: 'git;' },
    expect: /Input 'tools' has the value "git;"/,
    status: 1,
  },
  {
    entry: 'dist/contract-check/index.js',
    env: { GITHUB_WORKSPACE: '/nonexistent-run-task-smoke' },
    expect: /Input 'contract' has the value "environment-contract\.yaml"/,
    status: 1,
  },
  {
    entry: 'dist/e2e/index.js',
    env: { INPUT_PROVIDER: 'che', INPUT_NAMESPACE: 'ci', INPUT_REPOSITORY: 'not a repo' },
    expect: /Input 'repository' has the value "not a repo"/,
    status: 1,
  },
]
let failed = 0
for (const check of checks) {
  const result = spawnSync(process.execPath, [check.entry, ...(check.args ?? [])], {
    env: { PATH: process.env.PATH, ...check.env },
    encoding: 'utf8',
  })
  const output = `${result.stdout}${result.stderr}`
  const ok = result.status === check.status && check.expect.test(output)
  console.log(`${ok ? 'ok' : 'FAILED'} ${check.entry} (exit ${result.status})`)
  if (!ok) {
    failed += 1
    console.log(output)
  }
}
process.exitCode = failed ? 1 : 0
