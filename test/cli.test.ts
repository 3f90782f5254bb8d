import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseFileCommand, ROOT } from './harness/action-runner.js'
import { DEVFILE } from './harness/job.js'
import { parseCliArguments } from '../src/cli/cli-inputs.js'
import { type KubeSim, startKubeSim } from './sim/kube/server.js'

function run(
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
  started?: (child: ChildProcess) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  })
  started?.(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

/** A simulated cluster, and a folder with its kubeconfig and a devfile. */
async function startCliFixture(prefix: string): Promise<{ sim: KubeSim; dir: string; kubeconfig: string }> {
  const sim = await startKubeSim({ stepDelayMs: 2 })
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  const kubeconfig = path.join(dir, 'kubeconfig')
  writeFileSync(kubeconfig, sim.kubeconfig)
  writeFileSync(path.join(dir, 'devfile.yaml'), DEVFILE)
  return { sim, dir, kubeconfig }
}

describe('the run-task CLI bundle', () => {
  let sim: KubeSim
  let dir: string
  let kubeconfig: string
  before(async () => ({ sim, dir, kubeconfig } = await startCliFixture('cli-')))
  after(async () => {
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const cli = (...args: string[]) =>
    run([path.join(ROOT, 'dist/cli/index.js'), ...args], { RUNNER_TEMP: path.join(dir, 'temp') }, dir)
  const base = () => [
    '--provider',
    'che',
    '--kubeconfig-file',
    kubeconfig,
    '--namespace',
    'ci',
    '--devfile',
    'devfile.yaml',
    '--command',
    'true',
  ]

  const badInputs: [string, string[], RegExp][] = [
    [
      'an unknown provider',
      ['--provider', 'docker'],
      /Input 'provider' has the value "docker", but expected one of: che/,
    ],
    ['a duration of 10x', ['--start-timeout', '10x'], /Input 'start-timeout' has the value "10x"/],
    ['a missing command', ['--command', ''], /Input 'command' has the value "", but expected one command line/],
    [
      'a devfile that fails the schema',
      ['--devfile', 'schemaVersion: 2.2.0\ncomponents:\n  - name: dev\n    container: {}\n'],
      /Input 'devfile' .*must have required property 'image'/,
    ],
    ['an unknown run timeout', ['--timeout', 'forever'], /Input 'timeout'/],
    [
      'retries above 5',
      ['--retries', '6'],
      /Input 'retries' has the value "6", but expected a whole number from 0 to 5/,
    ],
    ['fractional retries', ['--retries', '1.5'], /Input 'retries' has the value "1.5"/],
  ]
  for (const [what, override, message] of badInputs) {
    it(`rejects ${what} with exit 2 before anything is created`, async () => {
      const before = sim.requests.length
      const result = await cli(...base(), ...override)
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, message)
      const sent = sim.requests.slice(before)
      assert.deepEqual(
        sent.filter((r) => !r.startsWith('GET')),
        [],
        'nothing was created',
      )
      assert.deepEqual(sim.devWorkspaces('ci'), [])
    })
  }

  it('runs the chain and exits 1 for a failing command, 3 for a broken stream', async () => {
    const failed = await cli(...base(), '--command', 'exit 3')
    assert.equal(failed.code, 1, failed.stderr)
    assert.match(failed.stderr, /outcome=failed/)
    sim.faults.execDropOnOutput = 'DROP'
    const broken = await cli(...base(), '--command', 'echo DROP; sleep 1')
    sim.faults.execDropOnOutput = undefined
    assert.equal(broken.code, 3, broken.stderr)
    assert.match(broken.stderr, /outcome=error/)
    assert.deepEqual(sim.devWorkspaces('ci'), [])
  })

  it('smoke: exits 0 when every check passes and 1 when one fails, printing the checks', async () => {
    sim.addEditor('ci', 'che-code')
    const smoke = (...extra: string[]) =>
      cli(
        'smoke',
        '--provider',
        'che',
        '--kubeconfig-file',
        kubeconfig,
        '--namespace',
        'ci',
        '--devfile',
        'devfile.yaml',
        '--editor',
        'che-code',
        '--storage-type',
        'per-workspace',
        '--tools',
        'git',
        ...extra,
      )
    const passed = await smoke()
    assert.equal(passed.code, 0, passed.stderr)
    assert.match(passed.stderr, /checks=\[\{"name":"workspace is created","status":"passed"/)
    sim.image.ideUnhealthy = true
    const failed = await smoke().finally(() => (sim.image.ideUnhealthy = false))
    assert.equal(failed.code, 1, failed.stderr)
    assert.match(failed.stderr, /failed-checks=IDE health endpoint answers inside the workspace/)
    assert.deepEqual(sim.devWorkspaces('ci'), [])
  })

  it('inside GitHub Actions, writes outputs to GITHUB_OUTPUT and honours fail-on per subcommand', async () => {
    const outputFile = path.join(dir, 'github-output')
    writeFileSync(outputFile, '')
    const temp = mkdtempSync(path.join(dir, 'tmp-'))
    const env = {
      RUNNER_TEMP: path.join(dir, 'gha-temp'),
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: outputFile,
      TMPDIR: temp,
    }
    const cliPath = path.join(ROOT, 'dist/cli/index.js')
    assert.equal((await run([cliPath, 'provision', ...base().slice(0, 8)], env, dir)).code, 0)
    // The split commands share one private credential folder until cleanup; none in the state folder.
    assert.equal(credentialDirs(temp).length, 1)
    assert.deepEqual(filesHolding(path.join(dir, 'gha-temp'), sim.token), [])
    const failedButAllowed = await run([cliPath, 'run', '--command', 'exit 4', '--fail-on', 'never'], env, dir)
    assert.equal(failedButAllowed.code, 0, failedButAllowed.stdout)
    assert.equal((await run([cliPath, 'run', '--command', 'exit 4'], env, dir)).code, 1)
    assert.equal((await run([cliPath, 'collect', '--upload', 'false'], env, dir)).code, 0)
    assert.equal((await run([cliPath, 'cleanup'], env, dir)).code, 0)
    assert.deepEqual(credentialDirs(temp), [], 'cleanup removed the credential folder')
    const outputs = parseFileCommand(readFileSync(outputFile, 'utf8'))
    assert.equal(outputs.outcome, 'failed')
    assert.equal(outputs['exit-code'], '4')
    assert.match(outputs['workspace-name'] ?? '', /^rt-/)
    assert.deepEqual(sim.devWorkspaces('ci'), [])
  })

  it('takes inputs from RUN_TASK_* environment variables', async () => {
    const result = await run(
      [path.join(ROOT, 'dist/cli/index.js'), '--kubeconfig-file', kubeconfig],
      {
        RUNNER_TEMP: path.join(dir, 'temp'),
        RUN_TASK_PROVIDER: 'che',
        RUN_TASK_NAMESPACE: 'ci',
        RUN_TASK_DEVFILE: 'devfile.yaml',
        RUN_TASK_COMMAND: 'echo from-env',
      },
      dir,
    )
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /from-env/)
  })
})

/** The credential folders the CLI made under a temp folder. */
function credentialDirs(temp: string): string[] {
  return existsSync(temp) ? readdirSync(temp).filter((n) => n.startsWith('run-task-credentials-')) : []
}

/** Every file under a folder whose content holds the text. */
function filesHolding(dir: string, text: string): string[] {
  if (!existsSync(dir)) return []
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile() && readFileSync(f, 'utf8').includes(text))
}

describe('finding 14: the CLI keeps no credential copy in the current folder', () => {
  let sim: KubeSim
  let dir: string
  let kubeconfig: string
  before(async () => ({ sim, dir, kubeconfig } = await startCliFixture('cli-creds-')))
  after(async () => {
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const args = (command: string) => [
    path.join(ROOT, 'dist/cli/index.js'),
    ...['--provider', 'che', '--kubeconfig-file', kubeconfig, '--namespace', 'ci', '--devfile', 'devfile.yaml'],
    ...['--command', command],
  ]

  it('the whole chain: state and evidence in ./.run-task, no kubeconfig or token there, and the temp copy gone', async () => {
    const temp = mkdtempSync(path.join(dir, 'tmp-'))
    const result = await run(args('true'), { TMPDIR: temp }, dir)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(existsSync(path.join(dir, '.run-task')), 'the state folder is there')
    assert.deepEqual(filesHolding(path.join(dir, '.run-task'), sim.token), [])
    assert.deepEqual(credentialDirs(temp), [])
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`${signal} during the run: cleanup runs and the private credential folder is removed`, async () => {
      const temp = mkdtempSync(path.join(dir, 'tmp-'))
      let seenWhileRunning: string[] = []
      const result = await run(args('sleep 60'), { TMPDIR: temp }, dir, (child) => {
        const poll = setInterval(() => {
          const [found] = credentialDirs(temp)
          if (!found || sim.devWorkspaces('ci').length === 0) return
          const folder = path.join(temp, found)
          seenWhileRunning = filesHolding(folder, sim.token)
          assert.equal(statSync(folder).mode & 0o777, 0o700)
          if (seenWhileRunning.length === 0) return
          clearInterval(poll)
          // The command is running once the exec has started: give it a moment, then interrupt.
          setTimeout(() => child.kill(signal), 500)
        }, 50)
        child.once('close', () => clearInterval(poll))
      })
      assert.ok(seenWhileRunning.length > 0, 'the kubeconfig copy was in the private folder while it ran')
      assert.notEqual(result.code, 0)
      assert.deepEqual(credentialDirs(temp), [], result.stderr)
      assert.deepEqual(filesHolding(path.join(dir, '.run-task'), sim.token), [])
      assert.deepEqual(sim.devWorkspaces('ci'), [], 'cleanup still ran')
    })

  it('a folder left by a CLI that was killed outright is removed by the next run', async () => {
    const temp = mkdtempSync(path.join(dir, 'tmp-'))
    const gone = spawnSync('true').pid
    const orphan = path.join(temp, `run-task-credentials-${gone}-AbC123`)
    mkdirSync(orphan, { mode: 0o700 })
    writeFileSync(path.join(orphan, 'kubeconfig'), 'left behind')
    const result = await run(args('true'), { TMPDIR: temp }, dir)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(credentialDirs(temp), [])
  })

  it('--kubeconfig-file copies only the current context, or the one --kube-context names', () => {
    const file = path.join(dir, 'two-contexts')
    mkdirSync(path.join(dir, 'certs'), { recursive: true })
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: ci',
        'clusters:',
        '- {name: ci, cluster: {server: "https://ci.example:6443", certificate-authority: certs/ca.crt}}',
        '- {name: prod, cluster: {server: "https://prod.example:6443"}}',
        'users:',
        '- {name: ci-bot, user: {token: ci-token}}',
        '- {name: admin, user: {token: prod-admin-canary}}',
        'contexts:',
        '- {name: ci, context: {cluster: ci, user: ci-bot}}',
        '- {name: prod, context: {cluster: prod, user: admin}}',
        '',
      ].join('\n'),
    )
    const current = parseCliArguments(['--kubeconfig-file', file]).values.get('kubeconfig') ?? ''
    assert.match(current, /ci-token/)
    assert.doesNotMatch(current, /prod/)
    assert.match(current, new RegExp(`certificate-authority: ${path.join(dir, 'certs/ca.crt')}`))
    const named = parseCliArguments(['--kube-context', 'prod', '--kubeconfig-file', file]).values
    assert.match(named.get('kubeconfig') ?? '', /current-context: prod/)
    assert.doesNotMatch(named.get('kubeconfig') ?? '', /ci-token/)
    assert.equal(named.has('kube-context'), false)
    assert.throws(
      () => parseCliArguments(['--kubeconfig-file', file, '--kube-context', 'nope']),
      /Input 'kube-context' has the value "nope", but expected a context of .*\(ci, prod\)/,
    )
  })
})

describe('npm start', () => {
  it('runs the whole chain on the embedded Che and Coder simulators and says where the evidence went', async () => {
    const temp = mkdtempSync(path.join(tmpdir(), 'start-'))
    try {
      const result = await run(['--import', 'tsx', 'scripts/start.ts'], { RUNNER_TEMP: temp })
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stderr.match(/### ✅ Passed/g)?.length, 2, 'both providers passed')
      assert.equal(
        result.stderr.match(/\| 2 \| 2 \| 0 \| 0 \| 0 \| 0 \|/g)?.length,
        2,
        'both count tables show 2 passed',
      )
      assert.equal(
        result.stderr.match(new RegExp(`Evidence written to ${temp}/run-task/rt-[a-z0-9-]+/evidence`, 'g'))?.length,
        2,
      )
      assert.match(result.stderr, /\*\*che\*\* workspace/)
      assert.match(result.stderr, /\*\*coder\*\* workspace/)
      assert.match(result.stderr, /DevWorkspaces left in the cluster: 0/)
      assert.match(result.stderr, /Coder workspaces left: 0/)
    } finally {
      rmSync(temp, { recursive: true, force: true })
    }
  })
})
