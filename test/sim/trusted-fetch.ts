import { request } from 'node:https'
import { Readable } from 'node:stream'

/**
 * `fetch` for tests that talk to a simulator over https: it trusts only the simulator's CA (as a client configured
 * with certificate-authority-data does) and, optionally, presents a client certificate.
 */
export function trustedFetch(
  ca: string,
  client?: { cert: string; key: string },
): (url: string, init?: RequestInit) => Promise<Response> {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(new Headers(init.headers).entries())
      const req = request(url, { method: init.method ?? 'GET', headers, ca, ...client }, (res) => {
        const responseHeaders = new Headers()
        for (const [name, value] of Object.entries(res.headers))
          for (const v of [value ?? []].flat()) responseHeaders.append(name, v)
        // A 304 (or 204) has no body, and the Response constructor refuses one.
        const body = [204, 304].includes(res.statusCode ?? 0)
          ? null
          : (Readable.toWeb(res) as ReadableStream<Uint8Array>)
        if (!body) res.resume()
        resolve(new Response(body, { status: res.statusCode ?? 0, headers: responseHeaders }))
      })
      req.on('error', reject)
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')))
      req.end(typeof init.body === 'string' ? init.body : undefined)
    })
}
