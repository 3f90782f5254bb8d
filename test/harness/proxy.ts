import { createServer, request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'

/** A forward proxy on loopback, as a runner's egress proxy (squid and the like) is. */
export interface TestProxy {
  /** `http://127.0.0.1:<port>`, the value for HTTPS_PROXY / HTTP_PROXY. */
  readonly url: string
  /** What it was asked for: `CONNECT host:port`, or `METHOD absolute-url` for a plain HTTP request. */
  readonly seen: string[]
  close(): Promise<void>
}

/**
 * Starts a forward proxy: CONNECT tunnels (what clients use for https:, and undici for
 * every URL) and absolute-form HTTP requests (RFC 9110 §9.3.6, RFC 9112 §3.2.2). Host
 * names ending in `.sim.test` resolve to 127.0.0.1 here only, so a request that reaches
 * such a host went through the proxy: nothing else can resolve it. With `auth`, it
 * answers 407 unless Proxy-Authorization carries those Basic credentials.
 */
export async function startTestProxy(options: { auth?: string } = {}): Promise<TestProxy> {
  const seen: string[] = []
  const tunnels = new Set<{ destroy(): void }>()
  const resolve = (host: string): string => (host.endsWith('.sim.test') ? '127.0.0.1' : host)
  const expected = options.auth ? `Basic ${Buffer.from(options.auth).toString('base64')}` : undefined
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`)
    if (expected && req.headers['proxy-authorization'] !== expected) return void res.writeHead(407).end()
    const target = new URL(req.url ?? '/')
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    const upstream = httpRequest(
      {
        host: resolve(target.hostname),
        port: target.port || 80,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  server.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`)
    tunnels.add(client)
    if (expected && req.headers['proxy-authorization'] !== expected)
      return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n')
    const [host, port] = (req.url ?? '').split(/:(?=\d+$)/)
    const upstream = connect(Number(port), resolve(host ?? ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    tunnels.add(upstream)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const socket of tunnels) socket.destroy()
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
