import { spawn } from 'node:child_process'
import { Duplex, type Readable, type Writable } from 'node:stream'
import type { Algorithms, Client as SshClient, ClientChannel } from 'ssh2'
import { CancelledError, ExecStreamError, ProviderUnavailableError } from '../errors.js'
import { hostKeyProblem, type KnownHostKey } from './known-hosts.js'

/**
 * The algorithms offered, fastest first with Node's own crypto (OpenSSL, AES-NI): ssh2's
 * native addon is not shipped (a build for one Node ABI fails to load on another, and
 * its ChaCha20 path fails on the OpenSSL 3 of node24), so AES-GCM goes first and
 * ChaCha20-Poly1305 (Node's chacha20 and ssh2's JavaScript Poly1305) after it. The
 * agent (Go x/crypto/ssh) and OpenSSH support every one of them.
 */
export const SSH_ALGORITHMS = {
  kex: [
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'diffie-hellman-group14-sha256',
  ],
  cipher: [
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'chacha20-poly1305@openssh.com',
    'aes128-ctr',
    'aes256-ctr',
  ],
} satisfies Algorithms

/** How long a channel may take to open on a connection that was idle before it counts as dead. */
const CHANNEL_OPEN_TIMEOUT_MS = 15_000

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
  /** Told once per connection which algorithms were agreed and whose crypto runs them. */
  readonly log?: (line: string) => void
  /** A cancelled step: ends retries of the opening (a provider's own, around openSsh). */
  readonly signal?: AbortSignal
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

/** One SSH connection over a tunnel; exec runs commands without a PTY, several at once if asked. */
export interface SshConnection {
  exec(command: string, io: SshExecIo): Promise<SshExitStatus>
  /** True once the connection or its tunnel has gone. */
  readonly closed: boolean
  /** Ends the connection and the tunnel process; resolves when the tunnel has exited. */
  close(): Promise<void>
}

/** The channel for a command could not be opened: nothing ran, so it may be tried on a new connection. */
export class SshChannelOpenError extends ExecStreamError {}

/**
 * Opens an SSH connection whose socket is a tunnel command's stdio, as OpenSSH's
 * ProxyCommand does. The tunnel's stderr is kept for the error message when the
 * connection cannot be made. With `knownHosts`, the server's host key must be one of
 * them; without, the tunnel itself is the authenticated channel (Coder's).
 */
export async function openSsh(target: SshTarget): Promise<SshConnection> {
  // Loaded on first use: a provision or cleanup step that never runs a command skips ssh2.
  const { default: ssh2 } = await import('ssh2')
  // child_process, not @actions/exec: the tunnel is a long-lived duplex byte stream for ssh2, not a
  // command whose output is read whole when it exits, which is what @actions/exec is for.
  // A process group of its own, so that the shell and what it started end together.
  const tunnel = spawn('/bin/sh', ['-c', target.tunnelCommand], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: target.tunnelEnv,
    detached: true,
  })
  const signalTunnel = (signal: NodeJS.Signals): void => {
    try {
      if (tunnel.pid) process.kill(-tunnel.pid, signal)
    } catch {
      // Already gone.
    }
  }
  let tunnelError = ''
  tunnel.stderr.on('data', (d: Buffer) => (tunnelError = (tunnelError + d.toString()).slice(-2000)))
  tunnel.stdin.on('error', () => undefined)
  const sock = Duplex.from({ readable: tunnel.stdout, writable: tunnel.stdin })
  const client = new ssh2.Client()
  const describe = (): string => (tunnelError.trim() ? `; the tunnel said: ${tunnelError.trim()}` : '')
  let tunnelExited = tunnel.exitCode !== null || tunnel.signalCode !== null
  const tunnelClosed = new Promise<void>((resolve) =>
    tunnel.once('close', () => {
      tunnelExited = true
      // A tunnel that exited while ssh2 was ending its side (stdin then fails with EPIPE) leaves the half-open
      // duplex waiting for a finish that never comes, so ssh2 would never see its socket close and a command on
      // it would wait on nothing: the socket is done once the tunnel is.
      sock.destroy()
      resolve()
    }),
  )
  let hostKeyRefused: string | undefined
  client.once('handshake', (agreed) =>
    target.log?.(
      `SSH connection: ${agreed.cs.cipher} with ${agreed.kex}, on Node's crypto (OpenSSL ${process.versions.openssl}); ssh2's native addon is not shipped.`,
    ),
  )
  await new Promise<void>((resolve, reject) => {
    let failed = false
    const fail = (why: string): void => {
      if (failed) return
      failed = true
      // The tunnel's last words (e.g. coder's "workspace must be started") arrive as it exits.
      void Promise.race([tunnelClosed, new Promise((r) => setTimeout(r, 1_000))]).then(() => {
        signalTunnel('SIGTERM')
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
      algorithms: SSH_ALGORITHMS,
    })
  })
  let closed = false
  const markClosed = (): void => {
    closed = true
  }
  client.on('close', markClosed)
  tunnel.once('close', markClosed)
  client.on('error', () => undefined)
  const connectionGone = (): string | undefined => (closed ? `the SSH connection closed${describe()}` : undefined)
  let opened = 0
  return {
    // The first channel of a connection opens at once; later ones wait at most CHANNEL_OPEN_TIMEOUT_MS,
    // after which the connection (idle until now) is taken for dead and closed.
    exec: (command, io) =>
      execOn(client, command, io, connectionGone, opened++ === 0 ? undefined : () => sock.destroy()),
    get closed() {
      return closed
    },
    close: async () => {
      closed = true
      client.end()
      if (tunnelExited) return
      // As OpenSSH ends its ProxyCommand (sshconnect.c kill_proxy_command): a SIGHUP, not a wait
      // for the tunnel to notice the end of its stdin; SIGKILL for one that ignores it.
      signalTunnel('SIGHUP')
      const timer = setTimeout(() => signalTunnel('SIGKILL'), 2_000)
      await tunnelClosed
      clearTimeout(timer)
    },
  }
}

function execOn(
  client: SshClient,
  command: string,
  io: SshExecIo,
  connectionGone: () => string | undefined,
  onOpenTimeout: (() => void) | undefined,
): Promise<SshExitStatus> {
  return new Promise<SshExitStatus>((resolve, reject) => {
    if (io.signal?.aborted) return reject(new CancelledError())
    const goneBefore = connectionGone()
    if (goneBefore) return reject(new SshChannelOpenError(`Starting the command over SSH failed: ${goneBefore}.`))
    const openTimer = onOpenTimeout && setTimeout(onOpenTimeout, CHANNEL_OPEN_TIMEOUT_MS)
    const opened = (error: Error | undefined, channel: ClientChannel): void => {
      clearTimeout(openTimer)
      if (error) return reject(new SshChannelOpenError(`Starting the command over SSH failed: ${error.message}`, error))
      let status: SshExitStatus | undefined
      const onAbort = (): void => {
        channel.close()
        reject(new CancelledError())
      }
      // A deadline or cancel that fired while the channel was opening still stops the command.
      if (io.signal?.aborted) return onAbort()
      io.signal?.addEventListener('abort', onAbort, { once: true })
      forward(channel, io.stdout)
      forward(channel.stderr, io.stderr)
      channel.on('exit', (code: number | null, signal?: string) => {
        status = { code: typeof code === 'number' ? code : null, signal: signal ?? null }
      })
      const streamBroke = (): void => {
        const gone = connectionGone()
        reject(
          new ExecStreamError(
            `The SSH channel closed before the command's exit status arrived${gone ? ` (${gone})` : ''}.`,
          ),
        )
      }
      // A channel paused by a full sink never ends, so it never closes, when the connection drops under it:
      // the connection's own close settles the command then (or the process would wait on nothing).
      const connectionClosed = (): void =>
        void setImmediate(() => {
          if (channelClosed) return
          io.signal?.removeEventListener('abort', onAbort)
          streamBroke()
        })
      let channelClosed = false
      client.once('close', connectionClosed)
      channel.on('close', () => {
        channelClosed = true
        client.off('close', connectionClosed)
        io.signal?.removeEventListener('abort', onAbort)
        if (status) return resolve(status)
        streamBroke()
      })
      if (io.stdin !== undefined) channel.write(io.stdin)
      channel.end()
    }
    try {
      client.exec(command, opened)
    } catch (error) {
      // ssh2 throws "Not connected" when the socket has already gone.
      opened(error as Error, undefined as unknown as ClientChannel)
    }
  })
}

/**
 * Copies an SSH stream to its sink with backpressure: when the sink is full the stream
 * pauses, so ssh2 stops widening the channel window and the remote command waits.
 */
function forward(source: Readable, sink: Writable): void {
  source.on('data', (d: Buffer) => {
    if (!sink.write(d)) {
      source.pause()
      sink.once('drain', () => source.resume())
    }
  })
}

/**
 * One SSH connection per workspace start, shared by every command of a step or flow:
 * opened on first use, opened again only when the workspace changes (`key`), after
 * `close()` (a stop, a start, the end of the step), or when it died. A connection that
 * died while idle shows itself when a command's channel cannot be opened, before
 * anything ran: that command is tried once on a new connection. A stream that breaks
 * while a command runs stays an error.
 */
export class SharedSsh {
  private current: { key: string; connection: Promise<SshConnection> } | undefined
  /** Connections opened so far, for the log and tests. */
  opened = 0

  /** `open` makes a connection (a provider's own retries around openSsh). */
  constructor(private readonly open: (target: SshTarget) => Promise<SshConnection> = openSsh) {}

  /** Runs `run` on the connection for `key`; `target` says how to open one when there is none. */
  async use<T>(key: string, target: () => Promise<SshTarget>, run: (ssh: SshConnection) => Promise<T>): Promise<T> {
    const { ssh, fresh } = await this.connection(key, target)
    try {
      return await run(ssh)
    } catch (error) {
      if (fresh || !(error instanceof SshChannelOpenError)) throw error
      await this.drop(ssh)
      return run((await this.connection(key, target)).ssh)
    }
  }

  /** Ends the connection (if any); the next use opens a new one. */
  async close(): Promise<void> {
    const current = this.current
    this.current = undefined
    if (current) await current.connection.then((ssh) => ssh.close()).catch(() => undefined)
  }

  private async connection(
    key: string,
    target: () => Promise<SshTarget>,
  ): Promise<{ ssh: SshConnection; fresh: boolean }> {
    const current = this.current
    if (current?.key === key) {
      const ssh = await current.connection.catch(() => undefined)
      if (ssh && !ssh.closed) return { ssh, fresh: false }
      if (this.current === current) this.current = undefined
      if (ssh) void ssh.close()
    } else await this.close()
    if (this.current?.key === key) return this.connection(key, target)
    const connection = target().then((t) => this.open(t))
    this.current = { key, connection }
    this.opened += 1
    try {
      return { ssh: await connection, fresh: true }
    } catch (error) {
      if (this.current?.connection === connection) this.current = undefined
      throw error
    }
  }

  private async drop(ssh: SshConnection): Promise<void> {
    const current = this.current
    if (current && (await current.connection.catch(() => undefined)) === ssh) this.current = undefined
    await ssh.close()
  }
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}
