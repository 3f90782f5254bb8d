/** A loopback OpenSSH sshd for the benchmark's references, started as test/coder/openssh.test.ts starts one. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { closedPort } from '../test/harness/ports.js'
import { loopbackSshdConfig } from '../test/harness/sshd-config.js'

export interface LoopbackSshd {
  /** argv of `ssh` to the server, to which the remote command is appended. */
  readonly ssh: string[]
  close(): void
}

export async function startSshd(): Promise<LoopbackSshd> {
  const sshd = '/usr/sbin/sshd'
  if (!existsSync(sshd)) throw new Error(`${sshd} is missing: run scripts/setup.sh (it installs openssh-server)`)
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-sshd-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'user_key')])
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'user_key.pub')))
  const port = await closedPort()
  writeFileSync(path.join(dir, 'sshd_config'), loopbackSshdConfig(port, `${dir}/host_key`, `${dir}/authorized_keys`))
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true })
  const server: ChildProcess = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' })
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (open) break
    if (i > 100) throw new Error(`sshd did not listen on ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    ssh: [
      'ssh',
      '-q',
      '-p',
      String(port),
      '-i',
      path.join(dir, 'user_key'),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
      '-o',
      'BatchMode=yes',
      `${userInfo().username}@127.0.0.1`,
    ],
    close: () => {
      server.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Runs a command, counting its stdout; resolves with the byte count once it exits 0. */
export function runCounted(argv: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let bytes = 0
    child.stdout.on('data', (d: Buffer) => (bytes += d.length))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(bytes) : reject(new Error(`${argv.join(' ')} exited ${code ?? 'by a signal'}`)),
    )
  })
}
