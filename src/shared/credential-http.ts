/*
 * HTTP rules for requests that carry a credential: a redirect is followed only
 * within the origin the credential belongs to, and plain http: is only for
 * loopback, where nothing crosses a network.
 */

import { proxyAwareFetch } from './proxy.js'

const MAX_REDIRECTS = 5
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Whether a URL may carry a credential: https:, or http: to a loopback address. */
export function credentialUrlProblem(url: URL): string | undefined {
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && (LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.')))
    return undefined
  return url.protocol === 'http:'
    ? 'an https: URL (plain http: is only accepted for a loopback address, because the token would cross the network in clear)'
    : 'an https: URL'
}

/**
 * fetch that follows redirects itself, and only within the origin of the first
 * URL: a redirect to another origin (another host, port or scheme) is refused
 * before the credential headers are sent anywhere else.
 */
export async function sameOriginFetch(input: string, init: RequestInit = {}): Promise<Response> {
  const origin = new URL(input).origin
  let url = input
  for (let hop = 0; ; hop++) {
    const res = await proxyAwareFetch(url, { ...init, redirect: 'manual' })
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null
    if (!location) return res
    const next = new URL(location, url)
    await res.body?.cancel()
    if (next.origin !== origin)
      throw new Error(
        `${url} redirected to ${next.origin}, another origin: refused, so the credential stays with ${origin}`,
      )
    if (hop >= MAX_REDIRECTS) throw new Error(`${input} redirected more than ${MAX_REDIRECTS} times`)
    url = next.href
  }
}
