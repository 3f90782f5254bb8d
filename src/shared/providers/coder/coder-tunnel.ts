import { ProviderUnavailableError } from '../../errors.js'
import { formatDuration } from '../../parse.js'
import { DEFAULT_RETRY, Deadline, retryDelayMs, sleep } from '../../wait.js'
import { openSsh, type SshConnection, type SshTarget } from '../ssh-connection.js'

/** What `coder ssh` prints when coderd turned one of its calls away with 429 (coderd's message, or codersdk's). */
const THROTTLED = /rate limited|status code 429|too many requests/i

/** True when the tunnel exited before SSH started because coderd rate limited the coder CLI. */
export function isThrottledTunnel(error: unknown): boolean {
  return error instanceof ProviderUnavailableError && THROTTLED.test(error.message)
}

export interface TunnelRetryOptions {
  readonly open?: (target: SshTarget) => Promise<SshConnection>
  /** The wait before another try, before jitter; tests shorten it. */
  readonly retryAfterMs?: number
}

/**
 * Opens the SSH connection through the coder CLI, again when coderd rate limited the CLI. coderd's rate limit
 * (httpmw.RateLimit) covers all of /api/v2 per user, so also the calls `coder ssh` makes to find the workspace and
 * reach its agent, and the CLI gives up on a 429: the tunnel exits before the SSH handshake, so nothing ran and
 * another try is safe. The CLI does not pass the Retry-After on; each try waits coderd's shortest one (1 s) plus
 * jitter (retryDelayMs), so the legs of a matrix do not come back in lockstep, and all tries together stay within
 * the connection's ready timeout. Any other failure is final at once.
 */
export async function openCoderTunnel(target: SshTarget, options: TunnelRetryOptions = {}): Promise<SshConnection> {
  const open = options.open ?? openSsh
  const deadline = new Deadline(target.readyTimeoutMs)
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(target)
    } catch (error) {
      if (!isThrottledTunnel(error) || target.signal?.aborted) throw error
      if (deadline.expired())
        throw new ProviderUnavailableError(
          `${(error as Error).message} (coderd rate limited the coder CLI on all ${attempt} tries within ${formatDuration(deadline.totalMs)})`,
          error,
        )
      await sleep(
        Math.min(deadline.remainingMs(), retryDelayMs(attempt, DEFAULT_RETRY, options.retryAfterMs ?? 1_000)),
        target.signal,
      )
    }
  }
}
