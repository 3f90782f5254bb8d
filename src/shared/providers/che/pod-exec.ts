import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node'
import { PassThrough, Writable } from 'node:stream'
import type WebSocket from 'ws'
import { CancelledError, ExecStreamError, errorMessage } from '../../errors.js'
import { normalizeKubeError } from './kube-errors.js'

/** Where a command runs. */
export interface PodTarget {
  readonly namespace: string
  readonly pod: string
  readonly container: string
}

/** Keep-alive for long, quiet commands: proxies cut idle exec streams after minutes. */
export interface Heartbeat {
  readonly intervalMs: number
  /** How long without a pong before the stream counts as broken. */
  readonly deadlineMs: number
}

export const DEFAULT_HEARTBEAT: Heartbeat = { intervalMs: 5_000, deadlineMs: 61_000 }

export interface PodExecOptions {
  readonly stdin?: string
  readonly signal?: AbortSignal
  readonly heartbeat?: Heartbeat
}

/**
 * Runs argv in a container through the pod exec WebSocket and resolves with the
 * exit code read from the status channel. A stream that closes without a status
 * is an ExecStreamError: a dropped connection must never look like a pass.
 * Any other failure status (for example a missing binary) is one as well.
 */
export async function execInPod(
  kc: KubeConfig,
  target: PodTarget,
  argv: readonly string[],
  stdout: Writable,
  stderr: Writable,
  options: PodExecOptions = {},
): Promise<number> {
  if (options.signal?.aborted) throw new CancelledError()
  let status: V1Status | undefined
  const stdin = options.stdin === undefined ? null : new PassThrough()
  const pacer = new SocketPacer()
  let ws: WebSocket
  try {
    ws = (await new Exec(kc).exec(
      target.namespace,
      target.pod,
      target.container,
      [...argv],
      pacer.wrap(stdout),
      pacer.wrap(stderr),
      stdin,
      false,
      (s) => {
        status = s
      },
    )) as unknown as WebSocket
  } catch (error) {
    throw refusedUpgrade(error, target)
  }
  // The deadline may pass while the upgrade is under way; the command has started by now, so the caller kills it.
  if (options.signal?.aborted) {
    ws.close()
    throw new CancelledError()
  }
  pacer.attach(ws)
  // Written after open and never ended: ending stdin closes a v4 stream.
  if (stdin && options.stdin) stdin.write(options.stdin)

  return new Promise<number>((resolve, reject) => {
    const stopHeartbeat = startHeartbeat(ws, options.heartbeat ?? DEFAULT_HEARTBEAT, (why) => {
      reject(new ExecStreamError(`The exec stream to ${describe(target)} broke: ${why}.`))
      ws.terminate()
    })
    const onAbort = (): void => {
      reject(new CancelledError())
      ws.close()
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    ws.on('close', (code: number, reason: Buffer) => {
      stopHeartbeat()
      options.signal?.removeEventListener('abort', onAbort)
      if (!status) {
        const why = reason.length ? `${code} ${reason.toString()}` : String(code)
        return reject(
          new ExecStreamError(
            `The exec stream to ${describe(target)} closed before the command's exit status arrived (close code ${why}).`,
          ),
        )
      }
      try {
        resolve(exitCodeOf(status))
      } catch (error) {
        reject(error instanceof Error ? error : new ExecStreamError(String(error)))
      }
    })
    ws.on('error', (error: Error) => {
      stopHeartbeat()
      reject(new ExecStreamError(`The exec stream to ${describe(target)} failed: ${error.message}`, error))
    })
  })
}

/** Reads the exit code from a kubelet exec status. */
export function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode')
    const code = Number(cause?.message)
    if (Number.isInteger(code)) return code
  }
  throw new ExecStreamError(
    `The command could not be run: ${status.message ?? 'unknown error'} (reason: ${status.reason ?? 'none'}, code: ${status.code ?? 'none'})`,
  )
}

/**
 * Backpressure from the output streams to the socket. client-node writes every
 * frame to stdout/stderr and ignores write()'s answer, so each stream is wrapped:
 * when the caller's stream says it is full, the WebSocket stops reading (the
 * server's writes, and in the end the command, then wait) until it drains.
 */
class SocketPacer {
  private ws: WebSocket | undefined
  private readonly full = new Set<Writable>()

  wrap(target: Writable): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (!target.write(chunk) && !target.destroyed) this.hold(target)
        callback()
      },
      final: (callback) => {
        target.end()
        callback()
      },
    })
  }

  /** Frames can arrive before client-node hands the socket over; a stream already full pauses it now. */
  attach(ws: WebSocket): void {
    this.ws = ws
    if (this.full.size > 0) ws.pause()
  }

  private hold(target: Writable): void {
    if (this.full.has(target)) return
    this.full.add(target)
    this.ws?.pause()
    const release = (): void => {
      target.off('drain', release)
      target.off('close', release)
      this.full.delete(target)
      if (this.full.size === 0) this.ws?.resume()
    }
    target.on('drain', release)
    target.on('close', release)
  }
}

function startHeartbeat(ws: WebSocket, heartbeat: Heartbeat, onDead: (why: string) => void): () => void {
  let lastPong = Date.now()
  ws.on('pong', () => {
    lastPong = Date.now()
  })
  const timer = setInterval(() => {
    // A paused socket reads no pongs: the wait is ours (a slow sink), not a broken stream.
    if (ws.isPaused) lastPong = Date.now()
    if (Date.now() - lastPong > heartbeat.deadlineMs) {
      clearInterval(timer)
      return onDead(`no answer to keep-alive pings for ${heartbeat.deadlineMs} ms`)
    }
    try {
      ws.ping()
    } catch {
      // The close handler reports the broken stream.
    }
  }, heartbeat.intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}

function refusedUpgrade(error: unknown, target: PodTarget): Error {
  // The socket's onerror hands over an ErrorEvent; ws words a refused upgrade only as "Unexpected server response: N".
  const event = error as { message?: string; error?: unknown } | null
  const text = event?.message || errorMessage(event?.error ?? error)
  const match = /Unexpected server response: (\d+)/.exec(text)
  if (match) {
    const code = Number(match[1])
    const doing = `opening an exec stream to ${describe(target)}`
    return normalizeKubeError(
      Object.assign(new Error(`the API server refused the exec upgrade with HTTP ${code}`), { statusCode: code }),
      doing,
    )
  }
  return new ExecStreamError(`Opening an exec stream to ${describe(target)} failed: ${text}`, error)
}

function describe(target: PodTarget): string {
  return `${target.namespace}/${target.pod} (container ${target.container})`
}
