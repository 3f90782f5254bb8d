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
