import { spawn } from 'node:child_process'
import { Duplex, type Writable } from 'node:stream'
import ssh2, { type Client as SshClient, type ClientChannel } from 'ssh2'
import { CancelledError, ExecStreamError, ProviderUnavailableError } from '../errors.js'
import { hostKeyProblem, type KnownHostKey } from './known-hosts.js'

/** How to reach an SSH server: a tunnel command whose stdin/stdout is the connection. */
export interface SshTarget {
  /** A shell command line, e.g. `coder ssh --stdio owner/ws.main`. */
  readonly tunnelCommand: string
  /** Environment for the tunnel process (the Coder URL and token travel here, never in argv). */
  readonly tunnelEnv: NodeJS.ProcessEnv
  readonly username: string
  readonly privateKey?: string
  /**
   * The host keys the server must present (`ssh-known-hosts`); any other key ends the
   * connection during key exchange, before authentication or any command. Undefined for
   * the Coder tunnel, which authenticates the agent itself.
   */
  readonly knownHosts?: readonly KnownHostKey[]
  readonly readyTimeoutMs: number
}

export interface SshExecIo {
  readonly stdout: Writable
  readonly stderr: Writable
  /** Written to the command's stdin, which then gets a real end-of-file. */
  readonly stdin?: string | Buffer
  readonly signal?: AbortSignal
}

export interface SshExitStatus {
  readonly code: number | null
  readonly signal: string | null
}

/** One SSH connection over a tunnel; exec runs commands without a PTY. */
export interface SshConnection {
  exec(command: string, io: SshExecIo): Promise<SshExitStatus>
  close(): void
}

/**
 * Opens an SSH connection whose socket is a tunnel command's stdio, as OpenSSH's
 * ProxyCommand does. The tunnel's stderr is kept for the error message when the
 * connection cannot be made. With `knownHosts`, the server's host key must be one of
 * them; without, the tunnel itself is the authenticated channel (Coder's).
 */
export async function openSsh(target: SshTarget): Promise<SshConnection> {
  // child_process, not @actions/exec: the tunnel is a long-lived duplex byte stream for ssh2, not a
  // command whose output is read whole when it exits, which is what @actions/exec is for.
  const tunnel = spawn('/bin/sh', ['-c', target.tunnelCommand], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: target.tunnelEnv,
  })
  let tunnelError = ''
  tunnel.stderr.on('data', (d: Buffer) => (tunnelError = (tunnelError + d.toString()).slice(-2000)))
  tunnel.stdin.on('error', () => undefined)
  const sock = Duplex.from({ readable: tunnel.stdout, writable: tunnel.stdin })
  const client = new ssh2.Client()
  const describe = (): string => (tunnelError.trim() ? `; the tunnel said: ${tunnelError.trim()}` : '')
  const tunnelClosed = new Promise<void>((resolve) => tunnel.once('close', () => resolve()))
  let hostKeyRefused: string | undefined
  await new Promise<void>((resolve, reject) => {
    let failed = false
    const fail = (why: string): void => {
      if (failed) return
      failed = true
      // The tunnel's last words (e.g. coder's "workspace must be started") arrive as it exits.
      void Promise.race([tunnelClosed, new Promise((r) => setTimeout(r, 1_000))]).then(() => {
        tunnel.kill()
        reject(
          new ProviderUnavailableError(
            `The SSH connection through '${target.tunnelCommand}' failed: ${why}${describe()}`,
          ),
        )
      })
    }
    client.once('ready', () => resolve())
    // ssh2 can report more than one error for one broken socket (an end, then a premature close).
    client.on('error', (error) =>
      fail(hostKeyRefused ? `${hostKeyRefused}; refused before anything was sent to it` : error.message),
    )
    tunnel.once('error', (error) => fail(error.message))
    client.connect({
      sock,
      username: target.username,
      ...(target.privateKey ? { privateKey: target.privateKey } : {}),
      hostVerifier: (key: Buffer) => {
        if (!target.knownHosts) return true
        hostKeyRefused = hostKeyProblem(target.knownHosts, key)
        return hostKeyRefused === undefined
      },
      readyTimeout: target.readyTimeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    })
  })
  let closed = false
  client.on('close', () => (closed = true))
  client.on('error', () => undefined)
  return {
    exec: (command, io) =>
      execOn(client, command, io, () => (closed ? `the SSH connection closed${describe()}` : undefined)),
    close: () => {
      client.end()
      tunnel.kill()
    },
  }
}

function execOn(
  client: SshClient,
  command: string,
  io: SshExecIo,
  connectionGone: () => string | undefined,
): Promise<SshExitStatus> {
  return new Promise<SshExitStatus>((resolve, reject) => {
    if (io.signal?.aborted) return reject(new CancelledError())
    client.exec(command, (error: Error | undefined, channel: ClientChannel) => {
      if (error) return reject(new ExecStreamError(`Starting the command over SSH failed: ${error.message}`, error))
      let status: SshExitStatus | undefined
      const onAbort = (): void => {
        channel.close()
        reject(new CancelledError())
      }
      io.signal?.addEventListener('abort', onAbort, { once: true })
      channel.on('data', (d: Buffer) => io.stdout.write(d))
      channel.stderr.on('data', (d: Buffer) => io.stderr.write(d))
      channel.on('exit', (code: number | null, signal?: string) => {
        status = { code: typeof code === 'number' ? code : null, signal: signal ?? null }
      })
      channel.on('close', () => {
        io.signal?.removeEventListener('abort', onAbort)
        if (status) return resolve(status)
        const gone = connectionGone()
        reject(
          new ExecStreamError(
            `The SSH channel closed before the command's exit status arrived${gone ? ` (${gone})` : ''}.`,
          ),
        )
      })
      if (io.stdin !== undefined) channel.write(io.stdin)
      channel.end()
    })
  })
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}
