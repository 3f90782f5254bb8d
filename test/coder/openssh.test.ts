import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { WorkspaceHandle, WorkspaceProvider } from '../../src/shared/provider.js'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { createCoderProvider } from '../../src/shared/providers/coder/coder-provider.js'
import type { CoderSettings } from '../../src/shared/providers/coder/coder-settings.js'
import { parseKnownHosts } from '../../src/shared/providers/known-hosts.js'
import { getCoderSettings } from '../../src/shared/settings/coder-inputs.js'
import { InputError, RunTaskError } from '../../src/shared/errors.js'
import { openSsh, type SshConnection, type SshTarget } from '../../src/shared/providers/ssh-connection.js'
import { execText, sink } from '../che/fixture.js'
import { ROOT } from '../harness/action-runner.js'
import { closedPort as freePort } from '../harness/ports.js'
import { loopbackSshdConfig } from '../harness/sshd-config.js'

const SSHD = '/usr/sbin/sshd'

// The same SSH exec path the Coder provider uses, against a real OpenSSH server on
// loopback (installed by scripts/setup.sh), reached through a tunnel command.
describe('SSH exec against a real OpenSSH sshd', () => {
  let dir: string
  let sshd: ChildProcess
  let target: SshTarget
  let provider: WorkspaceProvider
  const handle: WorkspaceHandle = {
    provider: 'coder',
    name: 'sshd',
    id: 'sshd',
    scope: 'local',
    target: 'main',
    createdAt: '',
  }

  let known: string
  let rogue: ChildProcess
  let roguePort: number
  let privateKey: string
  const tunnelTo = (port: number): string =>
    `${process.execPath} ${path.join(ROOT, 'test/harness/tcp-tunnel.mjs')} 127.0.0.1 ${port}`
  const settingsFor = (port: number, sshKnownHosts: string): CoderSettings => ({
    url: 'http://127.0.0.1:1',
    token: 'unused',
    organization: 'default',
    template: '',
    templateVersion: '',
    parameters: new Map(),
    agent: '',
    ttlMs: 0,
    sshTunnelCommand: tunnelTo(port),
    sshUser: userInfo().username,
    sshPrivateKey: privateKey,
    sshKnownHosts,
  })
  // Every provider this file makes, to close in after(): an open SSH connection keeps the process alive.
  const made: WorkspaceProvider[] = []
  const providerFor = (settings: CoderSettings): WorkspaceProvider => {
    const created = createCoderProvider(settings, {
      client: createCoderClient({ url: 'http://127.0.0.1:1', token: 'unused' }),
    })
    made.push(created)
    return created
  }

  before(async () => {
    assert.ok(existsSync(SSHD), `${SSHD} is missing: run scripts/setup.sh (it installs openssh-server)`)
    dir = mkdtempSync(path.join(tmpdir(), 'sshd-'))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'user_key')])
    writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'user_key.pub')))
    const port = await freePort()
    sshd = await startSshd(dir, 'host_key', port)
    // A second server that accepts the same user key but has a host key of its own.
    roguePort = await freePort()
    rogue = await startSshd(dir, 'rogue_key', roguePort)
    // What a user puts in ssh-known-hosts: ssh-keyscan's hashed lines for the real server.
    known = execFileSync('ssh-keyscan', ['-H', '-t', 'ed25519', '-p', String(port), '127.0.0.1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    privateKey = readFileSync(path.join(dir, 'user_key'), 'utf8')
    const settings = settingsFor(port, known)
    target = {
      tunnelCommand: settings.sshTunnelCommand,
      tunnelEnv: process.env,
      username: userInfo().username,
      privateKey,
      knownHosts: parseKnownHosts(known).keys,
      readyTimeoutMs: 10_000,
    }
    provider = providerFor(settings)
  })
  after(async () => {
    await Promise.all(made.map((p) => p.close()))
    sshd?.kill()
    rogue?.kill()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const raw = async (command: string, stdin?: string) => {
    const ssh: SshConnection = await openSsh(target)
    const out = sink()
    const err = sink()
    try {
      const status = await ssh.exec(command, {
        stdout: out.stream,
        stderr: err.stream,
        ...(stdin === undefined ? {} : { stdin }),
      })
      return { ...status, stdout: out.text(), stderr: err.text() }
    } finally {
      await ssh.close()
    }
  }

  it('finding 4: a server whose host key is not in ssh-known-hosts never receives the command or its env', async () => {
    const received = path.join(dir, 'received')
    const roguish = providerFor(settingsFor(roguePort, known))
    const error = await roguish
      .exec(
        handle,
        {
          command: `printf %s "$API_TOKEN" > '${received}'`,
          cwd: dir,
          env: new Map([['API_TOKEN', 'canary-4']]),
          timeoutMs: 10_000,
        },
        { stdout: sink().stream, stderr: sink().stream },
      )
      .then(
        () => assert.fail('the rogue server ran the command'),
        (e: unknown) => e,
      )
    assert.ok(RunTaskError.isInfrastructure(error), String(error))
    assert.match(
      String(error),
      /host key ssh-ed25519 SHA256:\S+ is not in ssh-known-hosts.*refused before anything was sent/,
    )
    assert.equal(existsSync(received), false, 'the rogue server received nothing')
  })

  it('finding 4: a key marked @revoked is refused; the plain (unhashed) form of the right key passes', async () => {
    const plain = execFileSync('ssh-keyscan', ['-t', 'ed25519', '-p', String(roguePort), '127.0.0.1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const ok = await execText(providerFor(settingsFor(roguePort, plain)), handle, 'echo reached', { cwd: dir })
    assert.equal(ok.stdout, 'reached\n')
    await assert.rejects(
      execText(providerFor(settingsFor(roguePort, `${plain}@revoked ${plain}`)), handle, 'true', { cwd: dir }),
      /is marked @revoked/,
    )
  })

  it('finding 4: a custom ssh-tunnel-command needs ssh-known-hosts; the input is named and checked', () => {
    const read =
      (extra: Record<string, string>) =>
      (name: string): string =>
        ({ 'coder-url': 'https://coder.example.com', 'coder-token': 't', template: 'x', ...extra })[name] ?? ''
    assert.throws(
      () => getCoderSettings(read({ 'ssh-tunnel-command': 'ssh -W %h:22 bastion' })),
      (e: unknown) => e instanceof InputError && /^Input 'ssh-known-hosts' .*ssh-keyscan/.test(e.message),
    )
    assert.throws(
      () =>
        getCoderSettings(
          read({ 'ssh-tunnel-command': 'nc host 22', 'ssh-known-hosts': 'host ssh-ed25519 bm90LWEta2V5' }),
        ),
      /Input 'ssh-known-hosts' .*line 1: not "hostpatterns keytype base64-key"/,
    )
    assert.equal(
      getCoderSettings(read({ 'ssh-tunnel-command': 'nc host 22', 'ssh-known-hosts': known })).sshKnownHosts,
      known,
    )
    assert.equal(getCoderSettings(read({})).sshKnownHosts, '', 'the default coder tunnel needs none')
  })

  it('propagates exit codes 0, 3 and 255', async () => {
    for (const code of [0, 3, 255])
      assert.equal((await execText(provider, handle, `exit ${code}`, { cwd: dir })).exitCode, code)
  })

  it('propagates an exit signal', async () => {
    const result = await raw('kill -TERM $$')
    assert.deepEqual([result.code, result.signal], [null, 'SIGTERM'])
  })

  it('keeps stdout and stderr apart (no PTY)', async () => {
    const result = await execText(provider, handle, 'echo to-out; echo to-err >&2', { cwd: dir })
    assert.deepEqual([result.stdout, result.stderr], ['to-out\n', 'to-err\n'])
  })

  it('gives stdin a real end-of-file', async () => {
    assert.equal((await raw('wc -c', 'hello')).stdout.trim(), '5')
  })

  it('passes secret environment through stdin, which OpenSSH would refuse as session env', async () => {
    assert.equal(
      (await execText(provider, handle, 'printf %s "$SECRET"', { cwd: dir, env: { SECRET: 'a b\nc' } })).stdout,
      'a b\nc',
    )
  })

  it('streams 50 MB of output', async () => {
    let bytes = 0
    const counter = new Writable({
      write(chunk: Buffer, _e, cb) {
        bytes += chunk.length
        cb()
      },
    })
    const result = await provider.exec(
      handle,
      { command: 'head -c 52428800 /dev/zero', cwd: dir, env: new Map(), timeoutMs: 120_000 },
      { stdout: counter, stderr: counter },
    )
    assert.deepEqual([result.exitCode, bytes], [0, 52_428_800])
  })

  it('pauses the SSH channel while the sink is slow, so what waits in memory stays bounded', async () => {
    let bytes = 0
    let mostBuffered = 0
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _e, cb) {
        bytes += chunk.length
        setTimeout(cb, 2)
      },
    })
    const watch = setInterval(() => (mostBuffered = Math.max(mostBuffered, slow.writableLength)), 1)
    try {
      const result = await provider.exec(
        handle,
        { command: 'head -c 16777216 /dev/zero', cwd: dir, env: new Map(), timeoutMs: 120_000 },
        { stdout: slow, stderr: slow },
      )
      await new Promise<void>((resolve) => slow.end(resolve))
      assert.deepEqual([result.exitCode, bytes], [0, 16_777_216])
    } finally {
      clearInterval(watch)
    }
    // Without backpressure the whole output would pile up in the sink while it drains 2 ms per chunk.
    assert.ok(mostBuffered <= 512 * 1024, `at most ${mostBuffered} bytes waited for the slow sink`)
  })

  it('downloads the evidence directory as one tar', async () => {
    const evidence = path.join(dir, 'evidence')
    await execText(
      provider,
      handle,
      `mkdir -p "${evidence}/junit" && echo "<testsuite/>" > "${evidence}/junit/a.xml" && ln -s /etc/passwd "${evidence}/passwd"`,
      { cwd: dir },
    )
    const local = path.join(dir, 'local')
    const result = await provider.download(handle, evidence, local, { maxBytes: 1_000_000 })
    assert.deepEqual(
      [result.found, result.files, result.skipped],
      [true, 1, ['passwd: a symlink to /etc/passwd is not copied']],
    )
    assert.equal(readFileSync(path.join(local, 'junit', 'a.xml'), 'utf8'), '<testsuite/>\n')
  })
})

/** An OpenSSH sshd on loopback with a fresh host key of its own and the directory's authorized_keys. */
async function startSshd(dir: string, hostKey: string, port: number): Promise<ChildProcess> {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, hostKey)])
  const config = path.join(dir, `${hostKey}.sshd_config`)
  writeFileSync(config, loopbackSshdConfig(port, `${dir}/${hostKey}`, `${dir}/authorized_keys`))
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true })
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  await waitForPort(port)
  return child
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`sshd did not listen on ${port}`)
}
