import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { judgeIde } from '../../src/shared/flows/ide-verdict.js'

/** A proxy stand-in: each path answers one way, as gateways and app proxies do. */
function startProxy(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const answers: Record<string, () => void> = {
      '/ok': () => res.writeHead(200).end('ide'),
      '/folder': () => res.writeHead(302, { location: '/ok?folder=/projects' }).end(),
      '/unauthorized': () => res.writeHead(401).end(),
      '/forbidden': () => res.writeHead(403).end(),
      '/oauth': () => res.writeHead(302, { location: '/oauth/sign_in?rd=%2F' }).end(),
      '/idp': () => res.writeHead(302, { location: 'http://127.0.0.2:1/realms/che/protocol/openid-connect' }).end(),
      '/bad-gateway': () => res.writeHead(502).end(),
      '/missing': () => res.writeHead(404).end(),
      '/loop': () => res.writeHead(302, { location: '/loop' }).end(),
    }
    ;(answers[new URL(req.url ?? '/', 'http://x').pathname] ?? answers['/missing']!)()
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }),
    ),
  )
}

describe('IDE verdict through the proxy', () => {
  let proxy: { server: Server; url: string }
  before(async () => (proxy = await startProxy()))
  after(() => proxy.server.close())
  const judge = (path: string, signInOnly?: string) =>
    judgeIde(
      { name: 'code', proxyUrl: proxy.url + path, headers: {}, healthUrl: '', ...(signInOnly ? { signInOnly } : {}) },
      AbortSignal.timeout(5000),
    )

  it('never sends the credential to a plain http: IDE URL off loopback (a DevWorkspace mainUrl is not trusted)', async () => {
    const verdict = await judgeIde(
      {
        name: 'code',
        proxyUrl: 'http://ide.example.test/u/ws/',
        headers: { Authorization: 'Bearer kube-token' },
        healthUrl: '',
      },
      AbortSignal.timeout(5000),
    )
    assert.equal(verdict.status, 'failed')
    assert.match(verdict.message, /credentials are not sent there; the IDE URL must be an https: URL/)
  })

  it('passes only a 2xx, following a same-origin redirect that is not a sign-in page', async () => {
    assert.equal((await judge('/ok')).status, 'passed')
    const followed = await judge('/folder')
    assert.equal(followed.status, 'passed')
    assert.match(followed.message, /\/ok\?folder=\/projects → 200/)
  })

  for (const [path, reason] of [
    ['/unauthorized', /401: not signed in/],
    ['/forbidden', /403: not signed in/],
    ['/oauth', /redirected to sign-in .*\/oauth\/sign_in/],
    ['/idp', /redirected to sign-in \(http:\/\/127\.0\.0\.2:1/],
  ] as const) {
    it(`fails ${path}: a sign-in answer is never a pass`, async () => {
      const verdict = await judge(path)
      assert.equal(verdict.status, 'failed')
      assert.match(verdict.message, reason)
      assert.match(verdict.message, /did not accept the run's credentials/)
    })
  }

  it('reports "routed, sign-in required" when the proxy takes no non-interactive credential', async () => {
    const verdict = await judge('/oauth', 'the gateway does not skip bearer tokens')
    assert.equal(verdict.status, 'skipped')
    assert.match(verdict.message, /^routed, sign-in required: .*; the gateway does not skip bearer tokens$/)
  })

  it('fails a 5xx, a 404 and a redirect loop with what was seen', async () => {
    assert.match((await judge('/bad-gateway')).message, /502: the proxy could not reach code/)
    assert.match((await judge('/missing')).message, /404: the IDE did not answer through the proxy/)
    assert.match((await judge('/loop')).message, /more than 5 redirects/)
  })
})
