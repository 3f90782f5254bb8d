import assert from 'node:assert/strict'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type KubeSim, startKubeSim } from './kube/server.js'
import { trustedFetch } from './trusted-fetch.js'

const ROUTES = '/apis/gateway.networking.k8s.io/v1/namespaces/ci/httproutes'
const CONTROLLER = 'sim.run-task.dev/gateway-controller'
const HEADER = 'x-run-task-route'
const PARENT = { name: 'shared', namespace: 'gateway-system' }

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read Kubernetes objects of several shapes
type Obj = Record<string, any>

interface Condition {
  type: string
  status: string
  reason: string
  observedGeneration: number
  lastTransitionTime: string
}

const httpRoute = (name: string, backend: string, extra: Obj = {}, parentRef: Obj = PARENT): Obj => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name },
  spec: {
    parentRefs: [parentRef],
    hostnames: ['app.dev.sim.test'],
    rules: [{ backendRefs: [{ name: backend, port: 80 }], ...extra }],
  },
})

/** A backend answering every request with its own name. */
async function backend(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(name))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

// The simulated Gateway API (test/sim/kube/README.md "Gateway API") over real HTTP: route status from the shared
// Gateway's listener policy and the backends, and a data plane that routes by Host and header.
describe('simulated cluster: Gateway API routing', () => {
  let sim: KubeSim
  let fetch: ReturnType<typeof trustedFetch>
  const backends: Server[] = []
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Obj }
  }
  /** The route's status entry written by the simulated controller for the shared Gateway, once `done` holds. */
  const parentStatus = async (name: string, done: (conditions: Condition[]) => boolean) => {
    const deadline = Date.now() + 5000
    let last: Obj | undefined
    while (Date.now() < deadline) {
      last = (await call('GET', `${ROUTES}/${name}`)).body
      const entry = (last.status?.parents as Obj[] | undefined)?.find((p) => p.controllerName === CONTROLLER)
      if (entry && done(entry.conditions as Condition[])) return entry
      await new Promise((r) => setTimeout(r, 5))
    }
    assert.fail(`route ${name} never reached the expected status; last: ${JSON.stringify(last?.status)}`)
  }
  const condition = (conditions: Condition[], type: string) => conditions.find((c) => c.type === type)
  const is = (type: string, status: string, reason: string) => (conditions: Condition[]) =>
    condition(conditions, type)?.status === status && condition(conditions, type)?.reason === reason
  /** A request through the Gateway's data plane: status and body. */
  const viaGateway = (host: string, headers: Record<string, string> = {}, path = '/') =>
    new Promise<[number, string]>((resolve, reject) => {
      const url = new URL(sim.gatewayUrl)
      const req = request({ host: url.hostname, port: url.port, path, headers: { host, ...headers } }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve([res.statusCode ?? 0, text.trim()]))
      })
      req.on('error', reject)
      req.end()
    })

  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 1 })
    fetch = trustedFetch(sim.caCert)
    for (const name of ['baseline', 'run']) {
      const b = await backend(name)
      backends.push(b.server)
      sim.addBackend('ci', name, b.port)
    }
  })
  after(async () => {
    await sim.close()
    for (const b of backends) await new Promise<void>((resolve) => b.close(() => resolve()))
  })

  it('seeds the namespaces, the GatewayClass and the shared Gateway with its listener policy', async () => {
    const ci = (await call('GET', '/api/v1/namespaces/ci')).body
    assert.equal(ci.metadata.labels['gateway-access'], undefined)
    const gc = (await call('GET', '/apis/gateway.networking.k8s.io/v1/gatewayclasses/sim')).body
    assert.equal(gc.spec.controllerName, CONTROLLER)
    const gateway = (await call('GET', '/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/shared'))
      .body
    assert.deepEqual(gateway.spec.listeners[0].allowedRoutes.namespaces, {
      from: 'Selector',
      selector: { matchLabels: { 'gateway-access': 'allowed' } },
    })
    assert.equal(gateway.spec.listeners[0].hostname, '*.dev.sim.test')
    assert.deepEqual(
      (gateway.status.conditions as Condition[]).map((c) => [c.type, c.status]),
      [
        ['Accepted', 'True'],
        ['Programmed', 'True'],
      ],
    )
    assert.equal(gc.status.conditions[0].status, 'True')
  })

  it('refuses a route from an unlabelled namespace (NotAllowedByListeners) until the namespace is labelled', async () => {
    const created = await call('POST', ROUTES, httpRoute('baseline', 'baseline'))
    assert.equal(created.status, 201)
    const refused = await parentStatus('baseline', is('Accepted', 'False', 'NotAllowedByListeners'))
    // The CRD's defaults (group, kind) are in the spec the apiserver stores, and the status entry echoes that parentRef.
    assert.deepEqual(refused.parentRef, { group: 'gateway.networking.k8s.io', kind: 'Gateway', ...PARENT })
    assert.deepEqual((await call('GET', `${ROUTES}/baseline`)).body.spec.rules[0], {
      matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      backendRefs: [{ group: '', kind: 'Service', name: 'baseline', port: 80, weight: 1 }],
    })
    assert.equal(condition(refused.conditions as Condition[], 'ResolvedRefs')?.status, 'True')
    assert.deepEqual(await viaGateway('app.dev.sim.test'), [404, 'no route matches this request'])

    // A watch sees the controller's status write; it is a status write, so the generation stays.
    const rv = (await call('GET', `${ROUTES}/baseline`)).body.metadata.resourceVersion as string
    const abort = new AbortController()
    const watch = await fetch(`${sim.url}${ROUTES}?watch=true&resourceVersion=${rv}`, {
      headers: { authorization: `Bearer ${sim.token}` },
      signal: abort.signal,
    })
    const patched = await call(
      'PATCH',
      '/api/v1/namespaces/ci',
      { metadata: { labels: { 'gateway-access': 'allowed' } } },
      'application/merge-patch+json',
    )
    assert.equal(patched.status, 200)
    const reader = watch.body!.getReader()
    let buffered = ''
    let seen: Obj | undefined
    while (!seen) {
      const chunk = await reader.read()
      if (chunk.done) break
      buffered += new TextDecoder().decode(chunk.value)
      for (const line of buffered.split('\n').slice(0, -1)) {
        const event = JSON.parse(line) as { type: string; object: Obj }
        const entry = (event.object.status?.parents as Obj[] | undefined)?.[0]
        if (event.type === 'MODIFIED' && condition(entry?.conditions ?? [], 'Accepted')?.status === 'True')
          seen = event.object
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1)
    }
    abort.abort()
    assert.ok(seen, 'the watch saw the route become Accepted')
    assert.equal(seen.metadata.generation, 1)
    const accepted = await parentStatus('baseline', is('Accepted', 'True', 'Accepted'))
    const conditions = accepted.conditions as Condition[]
    assert.ok(is('ResolvedRefs', 'True', 'ResolvedRefs')(conditions))
    assert.equal(condition(conditions, 'Accepted')?.observedGeneration, 1)
    // lastTransitionTime moves only with the status: ResolvedRefs stayed True.
    assert.equal(
      condition(conditions, 'ResolvedRefs')?.lastTransitionTime,
      condition(refused.conditions as Condition[], 'ResolvedRefs')?.lastTransitionTime,
    )
  })

  it('diverts only requests with the run header while the header route exists', async () => {
    await call(
      'POST',
      ROUTES,
      httpRoute('run-1', 'run', { matches: [{ headers: [{ type: 'Exact', name: HEADER, value: 'run-1' }] }] }),
    )
    await parentStatus(
      'run-1',
      (c) => is('Accepted', 'True', 'Accepted')(c) && is('ResolvedRefs', 'True', 'ResolvedRefs')(c),
    )
    assert.deepEqual(await viaGateway('app.dev.sim.test'), [200, 'baseline'])
    assert.deepEqual(await viaGateway('app.dev.sim.test:80', { [HEADER]: 'run-1' }), [200, 'run'])
    assert.deepEqual(await viaGateway('app.dev.sim.test', { [HEADER]: 'other' }), [200, 'baseline'])
    assert.deepEqual(await viaGateway('other.dev.sim.test', { [HEADER]: 'run-1' }), [
      404,
      'no route matches this request',
    ])
    const gateway = (await call('GET', '/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/shared'))
      .body
    assert.equal(gateway.status.listeners[0].attachedRoutes, 2)

    assert.equal((await call('DELETE', `${ROUTES}/run-1`)).status, 200)
    assert.deepEqual(await viaGateway('app.dev.sim.test', { [HEADER]: 'run-1' }), [200, 'baseline'])
  })

  it('ranks rules as the spec says: an Exact path, then the longest prefix, before header matches', async () => {
    await call(
      'POST',
      ROUTES,
      httpRoute('paths', 'run', {
        matches: [{ path: { type: 'Exact', value: '/docs' } }, { path: { type: 'PathPrefix', value: '/api/' } }],
      }),
    )
    await call(
      'POST',
      ROUTES,
      httpRoute('header-any-path', 'baseline', { matches: [{ headers: [{ name: HEADER, value: 'h' }] }] }),
    )
    await parentStatus('header-any-path', is('Accepted', 'True', 'Accepted'))
    await parentStatus('paths', is('Accepted', 'True', 'Accepted'))
    const get = async (path: string, headers: Record<string, string> = {}) =>
      (await viaGateway('app.dev.sim.test', headers, path))[1]
    assert.equal(await get('/docs'), 'run')
    assert.equal(await get('/docs', { [HEADER]: 'h' }), 'run')
    assert.equal(await get('/docs/'), 'baseline')
    assert.equal(await get('/api'), 'run')
    assert.equal(await get('/api/v1'), 'run')
    assert.equal(await get('/apis'), 'baseline')
    for (const name of ['paths', 'header-any-path']) await call('DELETE', `${ROUTES}/${name}`)
  })

  it('says BackendNotFound for a missing Service until it exists, and serves 500 meanwhile', async () => {
    await call(
      'POST',
      ROUTES,
      httpRoute('late', 'late-backend', { matches: [{ headers: [{ name: HEADER, value: 'late' }] }] }),
    )
    const missing = await parentStatus('late', is('ResolvedRefs', 'False', 'BackendNotFound'))
    assert.ok(is('Accepted', 'True', 'Accepted')(missing.conditions as Condition[]))
    assert.deepEqual(await viaGateway('app.dev.sim.test', { [HEADER]: 'late' }), [500, 'invalid backend'])
    const b = await backend('late')
    backends.push(b.server)
    sim.addBackend('ci', 'late-backend', b.port)
    await parentStatus('late', is('ResolvedRefs', 'True', 'ResolvedRefs'))
    assert.deepEqual(await viaGateway('app.dev.sim.test', { [HEADER]: 'late' }), [200, 'late'])
  })

  it('says NoMatchingParent for a sectionName no listener has, and writes nothing for an unknown Gateway', async () => {
    await call('POST', ROUTES, httpRoute('wrong-section', 'run', {}, { ...PARENT, sectionName: 'https' }))
    await parentStatus('wrong-section', is('Accepted', 'False', 'NoMatchingParent'))
    await call('POST', ROUTES, httpRoute('no-gateway', 'run', {}, { name: 'nope', namespace: 'gateway-system' }))
    await call('POST', ROUTES, httpRoute('other-host', 'run', {}, PARENT))
    await call(
      'PATCH',
      `${ROUTES}/other-host`,
      { spec: { hostnames: ['app.example.com'] } },
      'application/merge-patch+json',
    )
    const other = await parentStatus('other-host', is('Accepted', 'False', 'NoMatchingListenerHostname'))
    assert.equal(condition(other.conditions as Condition[], 'Accepted')?.observedGeneration, 2)
    // By now the controller has reconciled no-gateway too (it reconciles every route on each change).
    assert.equal((await call('GET', `${ROUTES}/no-gateway`)).body.status, undefined)
    // Moving a route to an unknown Gateway removes the controller's entry.
    await call(
      'PATCH',
      `${ROUTES}/wrong-section`,
      { spec: { parentRefs: [{ name: 'nope' }] } },
      'application/merge-patch+json',
    )
    const deadline = Date.now() + 5000
    while ((await call('GET', `${ROUTES}/wrong-section`)).body.status?.parents?.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual((await call('GET', `${ROUTES}/wrong-section`)).body.status.parents, [])
  })

  it('answers 503 when the Service has no ready endpoints, and InvalidKind / RefNotPermitted for bad refs', async () => {
    await call('POST', '/api/v1/namespaces/ci/services', {
      metadata: { name: 'empty' },
      spec: { selector: { app: 'none' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    })
    await call(
      'POST',
      ROUTES,
      httpRoute('empty', 'empty', { matches: [{ headers: [{ name: HEADER, value: 'empty' }] }] }),
    )
    await parentStatus('empty', is('ResolvedRefs', 'True', 'ResolvedRefs'))
    assert.deepEqual(await viaGateway('app.dev.sim.test', { [HEADER]: 'empty' }), [503, 'no healthy upstream'])
    const slices = await call(
      'GET',
      '/apis/discovery.k8s.io/v1/namespaces/ci/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dempty',
    )
    assert.equal(slices.body.items.length, 1)
    assert.deepEqual(slices.body.items[0].endpoints, [])

    const kind = httpRoute('kind', 'x')
    kind.spec.rules[0].backendRefs[0].kind = 'ConfigMap'
    await call('POST', ROUTES, kind)
    await parentStatus('kind', is('ResolvedRefs', 'False', 'InvalidKind'))
    const cross = httpRoute('cross', 'run')
    cross.spec.rules[0].backendRefs[0].namespace = 'gateway-system'
    await call('POST', ROUTES, cross)
    await parentStatus('cross', is('ResolvedRefs', 'False', 'RefNotPermitted'))
  })

  it("gives a started DevWorkspace with endpoints DWO's Service, whose EndpointSlice follows the pod", async () => {
    const dwPath = '/apis/workspace.devfile.io/v1alpha2/namespaces/ci/devworkspaces'
    const created = await call('POST', dwPath, {
      apiVersion: 'workspace.devfile.io/v1alpha2',
      kind: 'DevWorkspace',
      metadata: { name: 'web' },
      spec: {
        started: true,
        routingClass: 'che',
        template: {
          components: [
            {
              name: 'dev',
              container: {
                image: 'img',
                endpoints: [
                  { name: 'web-app', targetPort: 3000 },
                  { name: 'hidden', targetPort: 4000, exposure: 'none' },
                ],
              },
            },
          ],
        },
      },
    })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    let dw: Obj = {}
    for (let i = 0; i < 1000 && dw.status?.phase !== 'Running'; i++) {
      dw = (await call('GET', `${dwPath}/web`)).body
      await new Promise((r) => setTimeout(r, 5))
    }
    const id = dw.status.devworkspaceId as string
    const service = (await call('GET', `/api/v1/namespaces/ci/services/${id}-service`)).body
    assert.deepEqual(service.spec.selector, { 'controller.devfile.io/devworkspace_id': id })
    assert.deepEqual(service.spec.ports, [{ name: 'web-app', protocol: 'TCP', port: 3000, targetPort: 3000 }])
    assert.equal(service.metadata.ownerReferences[0].uid, dw.metadata.uid)
    const sliceOf = async () =>
      (
        await call(
          'GET',
          `/apis/discovery.k8s.io/v1/namespaces/ci/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${id}-service`,
        )
      ).body.items[0] as Obj | undefined
    let slice = await sliceOf()
    for (let i = 0; i < 200 && !slice?.endpoints?.[0]?.conditions.ready; i++) {
      await new Promise((r) => setTimeout(r, 5))
      slice = await sliceOf()
    }
    assert.equal(slice?.endpoints[0].addresses[0], '127.0.0.1')
    assert.equal(slice?.endpoints[0].conditions.ready, true)
    assert.deepEqual(slice?.ports, [{ name: 'web-app', port: 3000, protocol: 'TCP' }])

    await call('DELETE', `${dwPath}/web`)
    for (let i = 0; i < 1000 && (await call('GET', `/api/v1/namespaces/ci/services/${id}-service`)).status !== 404; i++)
      await new Promise((r) => setTimeout(r, 5))
    assert.equal((await call('GET', `/api/v1/namespaces/ci/services/${id}-service`)).status, 404)
    for (let i = 0; i < 200 && (await sliceOf()); i++) await new Promise((r) => setTimeout(r, 5))
    assert.equal(await sliceOf(), undefined)
  })
})
