/**
 * The OpenSSH references of the Coder rows: the real `ssh` client reaching the same simulated
 * agent through the same tunnel command (`-o ProxyCommand=<coder ssh --stdio …>`), fresh or over
 * a ControlMaster connection. Only the SSH client differs from what the toolkit does.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface OpensshRun {
  readonly code: number | null
  readonly stdoutBytes: number
}

export interface OpensshThroughTunnel {
  /** `ssh … host <command>`, a new connection each time; stdout drained, or piped into `into`. */
  run(command: string, into?: { command: string; cwd: string }): Promise<OpensshRun>
  /** The same over the ControlMaster connection (opened by the first call). */
  runShared(command: string): Promise<OpensshRun>
  close(): Promise<void>
}

export function opensshThrough(tunnelCommand: string, tunnelEnv: NodeJS.ProcessEnv): OpensshThroughTunnel {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-openssh-'))
  const control = path.join(dir, 'control')
  const common = [
    '-F',
    '/dev/null',
    '-o',
    `ProxyCommand=${tunnelCommand}`,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
  ]
  const env = { ...process.env, ...tunnelEnv }
  let master: ChildProcess | undefined
  const ssh = (args: string[], into?: { command: string; cwd: string }): Promise<OpensshRun> =>
    new Promise((resolve, reject) => {
      const child = spawn('ssh', [...common, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdoutBytes = 0
      let stderr = ''
      const sink = into && spawn('/bin/sh', ['-c', into.command], { cwd: into.cwd, stdio: ['pipe', 'ignore', 'pipe'] })
      const sinkDone = new Promise<number | null>((done) => (sink ? sink.once('close', done) : done(0)))
      if (sink) child.stdout.pipe(sink.stdin)
      else child.stdout.on('data', (d: Buffer) => (stdoutBytes += d.length))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', reject)
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`ssh exited with ${code ?? 'a signal'}: ${stderr}`))
        void sinkDone.then((sinkCode) =>
          sinkCode === 0
            ? resolve({ code, stdoutBytes })
            : reject(new Error(`${into?.command ?? 'the sink'} exited ${sinkCode ?? 'by a signal'}`)),
        )
      })
    })
  const openMaster = async (): Promise<void> => {
    master = spawn(
      'ssh',
      [...common, '-o', 'ControlMaster=yes', '-o', `ControlPath=${control}`, '-N', 'coder@workspace'],
      {
        env,
        stdio: 'ignore',
      },
    )
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise<boolean>((resolve) =>
        spawn('ssh', ['-o', `ControlPath=${control}`, '-O', 'check', 'coder@workspace'], { stdio: 'ignore' }).on(
          'close',
          (code) => resolve(code === 0),
        ),
      )
      if (ok) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error('the OpenSSH ControlMaster connection did not open')
  }
  return {
    run: (command, into) => ssh(['coder@workspace', command], into),
    runShared: async (command) => {
      if (!master) await openMaster()
      return ssh(['-o', 'ControlMaster=no', '-o', `ControlPath=${control}`, 'coder@workspace', command])
    },
    close: async () => {
      if (master && master.exitCode === null) {
        const exited = new Promise((r) => master?.once('close', r))
        master.kill()
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
