import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_RETRY, RETRY_AFTER_ATTEMPTS, retryDelayMs, withRetry } from '../../src/shared/wait.js'

// issue 15: twenty clients a 429 turned away at once must not come back at once.
describe('retry delays are jittered, and a Retry-After is never undercut', () => {
  it('twenty clients told Retry-After: 1 wait from 1 s to 1.5 s, spread out, not in lockstep', () => {
    const delays = Array.from({ length: 20 }, () => retryDelayMs(1, DEFAULT_RETRY, 1_000))
    for (const d of delays) assert.ok(d >= 1_000 && d <= 1_500, `${d} ms is within [1000, 1500]`)
    const distinct = new Set(delays.map((d) => Math.round(d / 10)))
    assert.ok(distinct.size >= 10, `delays spread over ${distinct.size} 10-ms slots, not one`)
    const spread = Math.max(...delays) - Math.min(...delays)
    assert.ok(spread >= 150, `the spread is ${spread} ms`)
  })

  it('the jitter is bounded: a long Retry-After gets at most 5 s more, and the cap of two minutes holds', () => {
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, 60_000, () => 0),
      60_000,
    )
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, 60_000, () => 1),
      65_000,
    )
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, 600_000, () => 0),
      120_000,
    )
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, 0, () => 1),
      100,
    )
  })

  it('without Retry-After, exponential backoff with full jitter', () => {
    assert.equal(
      retryDelayMs(3, DEFAULT_RETRY, undefined, () => 1),
      2_000,
    )
    assert.equal(
      retryDelayMs(30, DEFAULT_RETRY, undefined, () => 1),
      DEFAULT_RETRY.maxDelayMs,
    )
    assert.equal(
      retryDelayMs(3, DEFAULT_RETRY, undefined, () => 0),
      0,
    )
  })

  it('withRetry waits at least the Retry-After between attempts', async () => {
    const at: number[] = []
    await withRetry(
      () => {
        at.push(Date.now())
        return at.length < 2 ? Promise.reject(new Error('429')) : Promise.resolve()
      },
      { policy: DEFAULT_RETRY, isRetryable: () => true, retryAfterMs: () => 200 },
    )
    assert.ok((at[1] as number) - (at[0] as number) >= 195)
  })

  it('a server that says when to come back (Retry-After) gets 10 retries, as client-go gives it; other failures the policy', async () => {
    // The load test: at 30% 429s, five attempts ran out on about one call in 400, so some of 20 legs failed.
    const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 }
    let tries = 0
    await assert.rejects(
      withRetry(
        () => {
          tries += 1
          return Promise.reject(new Error('429'))
        },
        { policy, isRetryable: () => true, retryAfterMs: () => 0 },
      ),
    )
    assert.equal(tries, RETRY_AFTER_ATTEMPTS)
    tries = 0
    await assert.rejects(
      withRetry(
        () => {
          tries += 1
          return Promise.reject(new Error('503'))
        },
        { policy, isRetryable: () => true, retryAfterMs: () => undefined },
      ),
    )
    assert.equal(tries, policy.attempts)
  })
})
