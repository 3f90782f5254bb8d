import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { getCoderSettings } from '../../src/shared/settings/coder-inputs.js'

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

describe('the Coder token goes only to the deployment', () => {
  const seenElsewhere: IncomingHttpHeaders[] = []
  let coder: { server: Server; url: string }
  let elsewhere: { server: Server; url: string }
  before(async () => {
    elsewhere = await listen((req, res) => {
      seenElsewhere.push(req.headers)
      res.end('{"version":"v2.99.0"}')
    })
    coder = await listen((req, res) => {
      // A deployment (or a proxy in front of it) that redirects: within itself, and to another origin.
      if (req.url === '/api/v2/buildinfo') return void res.writeHead(302, { Location: '/api/v2/buildinfo2' }).end()
      if (req.url === '/api/v2/buildinfo2') return void res.writeHead(200).end('{"version":"v2.18.0"}')
      res.writeHead(302, { Location: `${elsewhere.url}${req.url}` }).end()
    })
  })
  after(() => {
    coder.server.close()
    elsewhere.server.close()
  })

  it('follows a redirect within the deployment, and refuses one to another origin before sending the token', async () => {
    const client = createCoderClient({ url: coder.url, token: 'coder-session-canary' })
    assert.deepEqual(await client.request('GET', '/buildinfo', 'reading the build info'), { version: 'v2.18.0' })
    await assert.rejects(client.download('/bin/coder-linux-amd64', 'downloading the CLI'), /another origin: refused/)
    await assert.rejects(client.request('GET', '/users/me', 'reading the user'), /another origin: refused/)
    assert.deepEqual(seenElsewhere, [], 'the other origin received nothing')
  })

  it('accepts http: only for a loopback coder-url', () => {
    const read = (url: string) => (name: string) =>
      ({ 'coder-url': url, 'coder-token': 't', template: 'x' })[name] ?? ''
    assert.equal(getCoderSettings(read('http://127.0.0.1:3000')).url, 'http://127.0.0.1:3000')
    assert.equal(getCoderSettings(read('https://coder.example.com/')).url, 'https://coder.example.com')
    assert.throws(() => getCoderSettings(read('http://coder.example.com')), /Input 'coder-url'.*plain http: is only/)
  })
})
