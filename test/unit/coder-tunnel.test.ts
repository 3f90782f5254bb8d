import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProviderUnavailableError } from '../../src/shared/errors.js'
import { isThrottledTunnel, openCoderTunnel } from '../../src/shared/providers/coder/coder-tunnel.js'
import type { SshConnection, SshTarget } from '../../src/shared/providers/ssh-connection.js'

const TARGET: SshTarget = {
  tunnelCommand: 'coder ssh --stdio ws',
  tunnelEnv: {},
  username: 'coder',
  readyTimeoutMs: 2_000,
}
const CONNECTION = { closed: false } as unknown as SshConnection
const tunnelSaid = (words: string): ProviderUnavailableError =>
  new ProviderUnavailableError(
    `The SSH connection through 'coder ssh --stdio ws' failed: Connection lost before handshake; the tunnel said: ${words}`,
  )
const RATE_LIMITED = "coder: You've been rate limited for sending more than 512 requests in 1m0s."

// issue 15, load: coderd rate limits the coder CLI's calls too, and the CLI exits on a 429 before SSH starts.
describe('the coder CLI tunnel is opened again when coderd rate limited the CLI', () => {
  it("recognises coderd's and codersdk's words for a 429, and nothing else", () => {
    assert.ok(isThrottledTunnel(tunnelSaid(RATE_LIMITED)))
    assert.ok(isThrottledTunnel(tunnelSaid('GET https://c/api/v2/users/me: unexpected status code 429: slow down')))
    assert.ok(!isThrottledTunnel(tunnelSaid('coder: workspace must be started')))
    assert.ok(!isThrottledTunnel(new Error(RATE_LIMITED)), 'only a tunnel that failed to connect')
  })

  it('tries again after a 429, until the connection opens', async () => {
    let tries = 0
    const connection = await openCoderTunnel(TARGET, {
      retryAfterMs: 1,
      open: () => {
        tries += 1
        return tries < 3 ? Promise.reject(tunnelSaid(RATE_LIMITED)) : Promise.resolve(CONNECTION)
      },
    })
    assert.equal(connection, CONNECTION)
    assert.equal(tries, 3)
  })

  it('fails at once on anything else', async () => {
    let tries = 0
    await assert.rejects(
      openCoderTunnel(TARGET, {
        retryAfterMs: 1,
        open: () => {
          tries += 1
          return Promise.reject(tunnelSaid('coder: workspace must be started'))
        },
      }),
      /workspace must be started/,
    )
    assert.equal(tries, 1)
  })

  it('gives up at the ready timeout, saying how often it tried', async () => {
    let tries = 0
    const started = Date.now()
    await assert.rejects(
      openCoderTunnel(
        { ...TARGET, readyTimeoutMs: 300 },
        {
          retryAfterMs: 20,
          open: () => {
            tries += 1
            return Promise.reject(tunnelSaid(RATE_LIMITED))
          },
        },
      ),
      (e: unknown) =>
        e instanceof ProviderUnavailableError &&
        /rate limited the coder CLI on all \d+ tries within 300ms/.test(e.message),
    )
    assert.ok(tries > 2, `${tries} tries`)
    assert.ok(Date.now() - started < 1_000, 'bounded by the ready timeout')
  })

  it('stops retrying when the step is cancelled', async () => {
    const controller = new AbortController()
    let tries = 0
    const opening = openCoderTunnel(
      { ...TARGET, readyTimeoutMs: 60_000, signal: controller.signal },
      {
        retryAfterMs: 10_000,
        open: () => {
          tries += 1
          return Promise.reject(tunnelSaid(RATE_LIMITED))
        },
      },
    )
    setTimeout(() => controller.abort(), 20)
    await assert.rejects(opening, (error: Error) => error.name === 'CancelledError')
    assert.equal(tries, 1, 'no try after the cancel')
  })
})
