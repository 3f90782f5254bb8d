import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type KubeSim, startKubeSim } from './kube/server.js'
import { trustedFetch } from './trusted-fetch.js'

const DW_PATH = '/apis/workspace.devfile.io/v1alpha2/namespaces/ci/devworkspaces'
const devWorkspace = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'workspace.devfile.io/v1alpha2',
  kind: 'DevWorkspace',
  metadata: { name },
  spec: {
    started: false,
    routingClass: 'che',
    template: { components: [{ name: 'dev', container: { image: 'img' } }] },
    ...extra,
  },
})

// Wire-level checks of the simulated API server against the real one's behaviour (reference/che.md §9).
describe('simulated Kubernetes API: wire behaviour', () => {
  let sim: KubeSim
  let fetch: ReturnType<typeof trustedFetch>
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test reads a different Kubernetes object shape
      body: (await res.json()) as Record<string, any>,
    }
  }
  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 1 })
    fetch = trustedFetch(sim.caCert)
  })
  after(async () => sim.close())

  it('answers 401 for a wrong bearer token, 403 for an anonymous user except on /version and the health checks', async () => {
    const res = await fetch(`${sim.url}${DW_PATH}`, { headers: { authorization: 'Bearer wrong' } })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { kind: string }).kind, 'Status')
    const anonymous = await fetch(`${sim.url}${DW_PATH}`)
    assert.equal(anonymous.status, 403)
    assert.match(((await anonymous.json()) as { message: string }).message, /User "system:anonymous" cannot get/)
    // system:public-info-viewer: what kubectl's version dispatcher and health probes read without credentials.
    const version = await fetch(`${sim.url}/version`)
    assert.equal(((await version.json()) as { gitVersion: string }).gitVersion, 'v1.33.0-sim')
    for (const health of ['/healthz', '/livez', '/readyz'])
      assert.deepEqual(await fetch(`${sim.url}${health}`).then(async (r) => [r.status, await r.text()]), [200, 'ok'])
  })

  it('creates with 201, sets uid, resourceVersion and the creator label, and ignores status', async () => {
    const created = await call('POST', DW_PATH, { ...devWorkspace('a'), status: { phase: 'Running' } })
    assert.equal(created.status, 201)
    assert.equal(created.type, 'application/json')
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/)
    assert.match(created.body.metadata.resourceVersion, /^\d+$/)
    assert.ok(created.body.metadata.labels['controller.devfile.io/creator'])
    assert.equal(created.body.status, undefined)
  })

  it('answers 409 AlreadyExists, 404 NotFound and 422 Invalid as Status objects', async () => {
    const conflict = await call('POST', DW_PATH, devWorkspace('a'))
    assert.deepEqual(
      [conflict.status, conflict.body.kind, conflict.body.reason, conflict.body.code],
      [409, 'Status', 'AlreadyExists', 409],
    )
    const missing = await call('GET', `${DW_PATH}/nope`)
    assert.deepEqual(
      [missing.status, missing.body.reason, missing.body.message],
      [404, 'NotFound', 'devworkspaces.workspace.devfile.io "nope" not found'],
    )
    const invalid = await call('POST', DW_PATH, { ...devWorkspace('b'), spec: { template: {} } })
    assert.equal(invalid.status, 422)
    assert.equal(invalid.body.reason, 'Invalid')
    assert.match(invalid.body.message, /must have required property 'started'/)
  })

  it('accepts merge and JSON patches, refuses strategic merge with 415, and rejects a stale PUT with 409', async () => {
    const merged = await call(
      'PATCH',
      `${DW_PATH}/a`,
      { metadata: { labels: { x: '1' } } },
      'application/merge-patch+json',
    )
    assert.equal(merged.body.metadata.labels.x, '1')
    const patched = await call(
      'PATCH',
      `${DW_PATH}/a`,
      [{ op: 'replace', path: '/metadata/labels/x', value: '2' }],
      'application/json-patch+json',
    )
    assert.equal(patched.body.metadata.labels.x, '2')
    assert.equal((await call('PATCH', `${DW_PATH}/a`, {}, 'application/strategic-merge-patch+json')).status, 415)
    const stale = await call('PUT', `${DW_PATH}/a`, {
      ...patched.body,
      metadata: { ...patched.body.metadata, resourceVersion: '1' },
    })
    assert.deepEqual([stale.status, stale.body.reason], [409, 'Conflict'])
  })

  it('lists with a resourceVersion and filters by label and field selectors', async () => {
    const list = await call('GET', `${DW_PATH}?labelSelector=x%3D2&fieldSelector=metadata.name%3Da`)
    assert.equal(list.body.kind, 'DevWorkspaceList')
    assert.match(list.body.metadata.resourceVersion, /^\d+$/)
    assert.deepEqual(
      list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ['a'],
    )
    assert.equal((await call('GET', `${DW_PATH}?labelSelector=x%3D3`)).body.items.length, 0)
  })

  it('streams watch events as NDJSON and answers a compacted resourceVersion with an ERROR 410 event', async () => {
    const controller = new AbortController()
    const res = await fetch(`${sim.url}${DW_PATH}?watch=true&fieldSelector=metadata.name%3Da`, {
      headers: { authorization: `Bearer ${sim.token}` },
      signal: controller.signal,
    })
    const reader = res.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    assert.deepEqual(JSON.parse(first.split('\n')[0] as string).type, 'ADDED')
    controller.abort()
    sim.store.compact()
    await call('PATCH', `${DW_PATH}/a`, { metadata: { labels: { y: '1' } } }, 'application/merge-patch+json')
    const gone = await fetch(`${sim.url}${DW_PATH}?watch=true&resourceVersion=1`, {
      headers: { authorization: `Bearer ${sim.token}` },
    })
    const event = JSON.parse((await gone.text()).trim()) as { type: string; object: { code: number; reason: string } }
    assert.deepEqual([event.type, event.object.code, event.object.reason], ['ERROR', 410, 'Expired'])
  })

  it('deletes with finalizers in two stages: deletionTimestamp and Terminating, then gone', async () => {
    await call('PATCH', `${DW_PATH}/a`, { spec: { started: true } }, 'application/merge-patch+json')
    for (let i = 0; i < 200 && (await call('GET', `${DW_PATH}/a`)).body.status?.phase !== 'Running'; i++)
      await new Promise((r) => setTimeout(r, 5))
    const running = await call('GET', `${DW_PATH}/a`)
    assert.deepEqual(running.body.metadata.finalizers, ['rbac.controller.devfile.io', 'storage.controller.devfile.io'])
    const pods = await call(
      'GET',
      `/api/v1/namespaces/ci/pods?labelSelector=controller.devfile.io%2Fdevworkspace_id%3D${running.body.status.devworkspaceId}`,
    )
    assert.equal(pods.body.items.length, 1)
    assert.match(
      pods.body.items[0].metadata.name,
      new RegExp(`^${running.body.status.devworkspaceId}-[0-9a-f]+-[0-9a-f]+$`),
    )
    const deleted = await call('DELETE', `${DW_PATH}/a`)
    assert.equal(deleted.status, 200)
    assert.ok(deleted.body.metadata.deletionTimestamp)
    for (let i = 0; i < 200 && (await call('GET', `${DW_PATH}/a`)).status !== 404; i++)
      await new Promise((r) => setTimeout(r, 5))
    assert.equal((await call('GET', `${DW_PATH}/a`)).status, 404)
  })

  it('serves OpenAPI v3: an index of hashed URLs, documents with an ETag, cached for good under their hash', async () => {
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${sim.token}`, ...headers }, redirect: 'manual' })
    const index = (await (await get('/openapi/v3')).json()) as { paths: Record<string, { serverRelativeURL: string }> }
    assert.deepEqual(Object.keys(index.paths).sort(), [
      'api/v1',
      'apis/authentication.k8s.io/v1',
      'apis/authorization.k8s.io/v1',
      'apis/discovery.k8s.io/v1',
      'apis/gateway.networking.k8s.io/v1',
      'apis/org.eclipse.che/v2',
      'apis/rbac.authorization.k8s.io/v1',
      'apis/workspace.devfile.io/v1alpha2',
    ])
    const url = index.paths['apis/rbac.authorization.k8s.io/v1']?.serverRelativeURL ?? ''
    const hash = /^\/openapi\/v3\/apis\/rbac\.authorization\.k8s\.io\/v1\?hash=([0-9A-F]{128})$/.exec(url)?.[1]
    assert.ok(hash, url)
    const doc = await get(url, { accept: 'application/json' })
    assert.equal(doc.status, 200)
    assert.equal(doc.headers.get('etag'), `"${hash}"`)
    assert.equal(doc.headers.get('cache-control'), 'public, immutable')
    const spec = (await doc.json()) as {
      openapi: string
      paths: Record<string, { patch?: { parameters: { name: string }[]; requestBody: { content: object } } }>
      components: { schemas: Record<string, { 'x-kubernetes-group-version-kind'?: unknown }> }
    }
    assert.equal(spec.openapi, '3.0.0')
    const patch = spec.paths['/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}']?.patch
    assert.ok(patch?.parameters.some((p) => p.name === 'fieldValidation'))
    assert.ok(Object.keys(patch?.requestBody.content ?? {}).includes('application/strategic-merge-patch+json'))
    assert.deepEqual(spec.components.schemas['io.k8s.api.rbac.v1.Role']?.['x-kubernetes-group-version-kind'], [
      { group: 'rbac.authorization.k8s.io', kind: 'Role', version: 'v1' },
    ])
    // Without the hash no caching headers; a stale hash is sent to the current one; the ETag revalidates.
    const plain = await get('/openapi/v3/apis/rbac.authorization.k8s.io/v1')
    assert.deepEqual([plain.status, plain.headers.get('cache-control')], [200, null])
    const stale = await get('/openapi/v3/apis/rbac.authorization.k8s.io/v1?hash=0')
    assert.deepEqual([stale.status, stale.headers.get('location')], [301, url])
    assert.equal((await get(url, { 'if-none-match': `"${hash}"` })).status, 304)
    assert.equal((await get('/openapi/v3/apis/apps/v1')).status, 404)
    assert.equal((await get(url, { accept: 'application/com.github.proto-openapi.spec.v3.v1.0+protobuf' })).status, 406)
    // Custom resources: the CRD builder's names, and no strategic merge patch.
    const crd = (await (
      await get(index.paths['apis/workspace.devfile.io/v1alpha2']?.serverRelativeURL ?? '')
    ).json()) as typeof spec
    assert.ok(crd.components.schemas['io.devfile.workspace.v1alpha2.DevWorkspace'])
    const dwPatch = crd.paths['/apis/workspace.devfile.io/v1alpha2/namespaces/{namespace}/devworkspaces/{name}']?.patch
    assert.deepEqual(Object.keys(dwPatch?.requestBody.content ?? {}), [
      'application/json-patch+json',
      'application/merge-patch+json',
    ])
  })

  it('applies a strategic merge patch to a built-in kind: maps merge, merge lists by key, directives', async () => {
    const ns = '/api/v1/namespaces'
    await call('POST', ns, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'smp', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] },
    })
    const smp = (patch: unknown) => call('PATCH', `${ns}/smp`, patch, 'application/strategic-merge-patch+json')
    const merged = await smp({ metadata: { labels: { b: null, c: '3' }, finalizers: ['z'] } })
    assert.deepEqual(merged.body.metadata.labels, { a: '1', c: '3' })
    assert.deepEqual(merged.body.metadata.finalizers, ['x', 'y', 'z'])
    const pruned = await smp({
      metadata: { '$deleteFromPrimitiveList/finalizers': ['y'], labels: { $patch: 'replace', d: '4' } },
    })
    assert.deepEqual(pruned.body.metadata.finalizers, ['x', 'z'])
    assert.deepEqual(pruned.body.metadata.labels, { d: '4' })
    const owner = (uid: string, name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', name, uid })
    await smp({ metadata: { ownerReferences: [owner('u1', 'one'), owner('u2', 'two')] } })
    const keyed = await smp({
      metadata: {
        ownerReferences: [
          { uid: 'u1', $patch: 'delete' },
          { uid: 'u2', name: 'renamed' },
        ],
      },
    })
    assert.deepEqual(keyed.body.metadata.ownerReferences, [owner('u2', 'renamed')])
  })

  it('answers SelfSubjectAccessReview from the fault list', async () => {
    sim.faults.denied = ['delete devworkspaces']
    const review = (verb: string) =>
      call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        spec: {
          resourceAttributes: { namespace: 'ci', verb, group: 'workspace.devfile.io', resource: 'devworkspaces' },
        },
      })
    assert.equal((await review('delete')).body.status.allowed, false)
    assert.equal((await review('get')).body.status.allowed, true)
    sim.faults.denied = []
  })
})
