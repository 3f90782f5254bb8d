import { CancelledError } from './errors.js'

/** Resolves after `ms`, or rejects with CancelledError when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError())
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new CancelledError())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** How a retried call backs off. Tests pass 1 ms delays. */
export interface RetryPolicy {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

const MAX_RETRY_AFTER_MS = 120_000
const MAX_RETRY_AFTER_JITTER_MS = 5_000

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 10_000 }

/**
 * The tries a call gets while the server answers with a Retry-After (a 429 from a rate limiter or API Priority and
 * Fairness): it says when to come back, so it is not a failure to give up on after the policy's few attempts.
 * client-go retries such answers 10 times (rest.Request maxRetries); so does this, whatever the policy's attempts.
 */
export const RETRY_AFTER_ATTEMPTS = 11

/**
 * Calls `fn` until it succeeds, `isRetryable` says no, or attempts run out (RETRY_AFTER_ATTEMPTS while the
 * server sends Retry-After). Backoff is exponential with full jitter; `retryAfterMs` (from a 429) wins when given.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: {
    policy: RetryPolicy
    isRetryable: (error: unknown) => boolean
    retryAfterMs?: (error: unknown) => number | undefined
    signal?: AbortSignal | undefined
  },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      const retryAfter = options.isRetryable(error) ? options.retryAfterMs?.(error) : undefined
      const attempts =
        retryAfter === undefined ? options.policy.attempts : Math.max(options.policy.attempts, RETRY_AFTER_ATTEMPTS)
      if (attempt >= attempts || !options.isRetryable(error) || options.signal?.aborted) throw error
      await sleep(retryDelayMs(attempt, options.policy, retryAfter), options.signal)
    }
  }
}

/**
 * How long to wait before retry number `attempt` + 1: exponential backoff with full jitter, or a server's
 * Retry-After (up to two minutes) plus up to half of it again (at most 5 s more), so the clients a 429 turned
 * away together never come back in lockstep; never sooner than the server asked.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  if (retryAfterMs === undefined) return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  const honoured = Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS)
  return honoured + random() * Math.min(Math.max(honoured / 2, 100), MAX_RETRY_AFTER_JITTER_MS)
}

/** A point in time that every wait in one phase shares. */
export class Deadline {
  private readonly endsAt: number
  constructor(
    readonly totalMs: number,
    now = Date.now(),
  ) {
    this.endsAt = now + totalMs
  }
  remainingMs(): number {
    return Math.max(0, this.endsAt - Date.now())
  }
  expired(): boolean {
    return this.remainingMs() === 0
  }
}

/** An AbortSignal that fires when either input fires or `ms` passes. */
export function timeoutSignal(ms: number, parent?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(Math.max(1, ms))
  return parent ? AbortSignal.any([parent, timeout]) : timeout
}
