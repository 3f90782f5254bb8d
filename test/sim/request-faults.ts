import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * A fault for the next `count` requests whose `METHOD /path` (`UPGRADE /path` for a WebSocket upgrade,
 * and `?watch` appended to a watch) matches. Both simulators apply the same list; each names the
 * upstream source of what it sends. `count` goes down as requests are hit.
 */
export interface RequestFault {
  readonly match: RegExp
  count: number
  /**
   * `status`: answered with `status` (and Retry-After for 429/503) without acting;
   * `reset`: the connection is reset before the request is read or acted on (a load balancer or a crashed replica);
   * `lose`: the server acts, then the connection drops before the answer (a response lost on the way back);
   * `expired`: the event history is compacted first, so a watch resuming from an older version gets 410 Gone.
   */
  readonly kind: 'status' | 'reset' | 'lose' | 'expired'
  readonly status?: number
  readonly retryAfterSeconds?: number
  /** Each matching request is hit with this probability (load tests); 1 when unset. */
  readonly probability?: number
}

/** The key a request is matched with. */
export function requestKey(req: IncomingMessage, upgrade = false): string {
  const url = new URL(req.url ?? '/', 'http://sim')
  const watch = url.searchParams.get('watch') === 'true' || url.pathname.endsWith('/watch') ? '?watch' : ''
  return `${upgrade ? 'UPGRADE' : req.method} ${url.pathname}${watch}`
}

/** The first fault of the list that applies to this request, counted down; undefined when none does. */
export function takeRequestFault(faults: RequestFault[], key: string): RequestFault | undefined {
  const fault = faults.find((f) => f.count > 0 && f.match.test(key))
  if (!fault) return undefined
  if (fault.probability !== undefined && Math.random() >= fault.probability) return undefined
  fault.count -= 1
  return fault
}

/** Resets the connection: the client sees ECONNRESET (or a socket hang up) with nothing acted on. */
export function resetConnection(socket: Duplex): void {
  // resetAndDestroy sends a TCP RST, as a crashed peer or a load balancer does; a TLS socket (whose handle is
  // not TCP) is destroyed without close_notify instead, which the client sees the same way (ECONNRESET/hang up).
  const tcp = socket as Duplex & { resetAndDestroy?: () => void }
  try {
    if (typeof tcp.resetAndDestroy !== 'function') throw new Error('no TCP handle')
    tcp.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

/** Lets the handler act, then drops the connection instead of answering. */
export function loseResponse(req: IncomingMessage, res: ServerResponse): void {
  res.end = (() => {
    resetConnection(req.socket)
    return res
  }) as typeof res.end
  // A streamed answer (a watch) is lost as soon as its head would go out.
  res.writeHead = (() => {
    resetConnection(req.socket)
    return res
  }) as unknown as typeof res.writeHead
}
