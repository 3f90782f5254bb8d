import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InputError, RouteError } from '../../src/shared/errors.js'
import type { InputReader } from '../../src/shared/inputs.js'
import { buildHttpRoute, type HttpRouteObject, judgeRoute } from '../../src/shared/routing/http-route.js'
import { GATEWAY_ACCESS_LABEL, getRouteSettings } from '../../src/shared/routing/route-settings.js'

const reader =
  (values: Record<string, string>): InputReader =>
  (name) =>
    values[name] ?? ''
const ROUTED = {
  'route-gateway': 'gateway-system/shared/http',
  'route-hostname': 'app.dev.example.com',
  'route-backend-port': '8080',
}
const inputError = (input: string, pattern: RegExp) => (e: unknown) =>
  e instanceof InputError && e.message.startsWith(`Input '${input}'`) && pattern.test(e.message)

describe('route settings', () => {
  it('is off without route-gateway, and refuses a route input given without it', () => {
    assert.equal(getRouteSettings(reader({}), 'che'), undefined)
    assert.throws(
      () => getRouteSettings(reader({ 'route-hostname': 'a.example.com' }), 'che'),
      inputError('route-hostname', /"a\.example\.com".*'route-gateway'/),
    )
  })

  it('fills defaults on Che: the workspace namespace and Service, X-Run-Task-Route, 2m, no label', () => {
    const s = getRouteSettings(reader(ROUTED), 'che')
    assert.deepEqual(s, {
      gateway: { namespace: 'gateway-system', name: 'shared', sectionName: 'http' },
      hostname: 'app.dev.example.com',
      backendService: '',
      backendPort: 8080,
      headerName: 'X-Run-Task-Route',
      namespace: '',
      kubeconfig: '',
      timeoutMs: 120_000,
    })
  })

  it('takes the label to set: true for gateway-access=allowed, or key=value', () => {
    const label = (v: string) =>
      getRouteSettings(reader({ ...ROUTED, 'route-label-namespace': v }), 'che')?.labelNamespace
    assert.deepEqual(label('true'), GATEWAY_ACCESS_LABEL)
    assert.equal(label('false'), undefined)
    assert.deepEqual(label('example.com/routes=on'), { key: 'example.com/routes', value: 'on' })
    assert.throws(() => label('yes please'), inputError('route-label-namespace', /key=value/))
  })

  it('names the input, the value and what was expected for each bad value', () => {
    const bad =
      (values: Record<string, string>, provider: 'che' | 'coder' = 'che') =>
      () =>
        getRouteSettings(reader({ ...ROUTED, ...values }), provider)
    assert.throws(bad({ 'route-gateway': 'a/b/c/d' }), inputError('route-gateway', /'namespace\/name'/))
    assert.throws(
      bad({ 'route-gateway': 'Gateway-System/shared' }),
      inputError('route-gateway', /"Gateway-System\/shared"/),
    )
    assert.throws(bad({ 'route-hostname': '*.dev.example.com' }), inputError('route-hostname', /no wildcard/))
    assert.throws(bad({ 'route-hostname': '' }), inputError('route-hostname', /host name/))
    assert.throws(bad({ 'route-backend-port': '0' }), inputError('route-backend-port', /1 to 65535/))
    assert.throws(bad({ 'route-header-name': 'X Route' }), inputError('route-header-name', /RFC 7230/))
    assert.throws(bad({ 'route-header-name': 'Host' }), inputError('route-header-name', /not Host/))
    assert.throws(bad({ 'route-backend-service': '9lives' }), inputError('route-backend-service', /DNS-1035/))
    assert.throws(bad({ 'route-namespace': 'other' }), inputError('route-namespace', /workspace's namespace/))
    assert.throws(bad({ 'route-timeout': 'soon' }), inputError('route-timeout', /soon/))
    assert.throws(bad({}, 'coder'), inputError('route-namespace', /Coder/))
    assert.throws(bad({ 'route-namespace': 'apps' }, 'coder'), inputError('route-backend-service', /route-namespace/))
    assert.throws(
      bad({ 'route-namespace': 'apps', 'route-backend-service': 'api' }, 'coder'),
      inputError('kubeconfig', /route-namespace/),
    )
  })
})

const GATEWAY = { namespace: 'gateway-system', name: 'shared' }
function routeWith(
  conditions: { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }[],
  parentRef: Record<string, unknown> = { name: 'shared', namespace: 'gateway-system' },
): HttpRouteObject {
  const route = buildHttpRoute(
    {
      name: 'rt-1',
      namespace: 'ci',
      gateway: GATEWAY,
      hostname: 'app.dev.example.com',
      headerName: 'X-Run-Task-Route',
      headerValue: 'rt-1',
      backendService: 'api',
      backendPort: 80,
    },
    {},
  )
  route.metadata.generation = 2
  route.status = {
    parents: [{ parentRef: parentRef as { name: string }, controllerName: 'example.com/gw', conditions }],
  }
  return route
}
const judge = (r: HttpRouteObject) => judgeRoute(r, GATEWAY, GATEWAY_ACCESS_LABEL)
const failure = (r: HttpRouteObject): string => {
  const verdict = judge(r)
  assert.ok(verdict && 'fail' in verdict && verdict.fail instanceof RouteError, 'a RouteError')
  return verdict.fail.message
}

describe('HTTPRoute status', () => {
  it('diverts only requests with the header, on every path, to the backend', () => {
    const spec = routeWith([]).spec as {
      rules: { matches: unknown[]; backendRefs: unknown[] }[]
      parentRefs: unknown[]
    }
    assert.deepEqual(spec.rules[0]?.matches, [
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [{ type: 'Exact', name: 'X-Run-Task-Route', value: 'rt-1' }],
      },
    ])
    assert.deepEqual(spec.rules[0]?.backendRefs, [{ group: '', kind: 'Service', name: 'api', port: 80 }])
    assert.deepEqual(spec.parentRefs, [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'shared' },
    ])
  })

  it('is ready only with Accepted and ResolvedRefs True for the current generation', () => {
    const accepted = { type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 2 }
    const resolved = { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', observedGeneration: 2 }
    assert.deepEqual(judge(routeWith([accepted, resolved])), { ready: true })
    assert.equal(judge(routeWith([accepted])), undefined)
    assert.equal(judge(routeWith([{ ...accepted, observedGeneration: 1 }, resolved])), undefined)
    // Another Gateway's entry, or another listener's, is not ours.
    assert.equal(judge(routeWith([accepted, resolved], { name: 'other', namespace: 'gateway-system' })), undefined)
    assert.equal(
      judge(routeWith([accepted, resolved], { name: 'shared', namespace: 'gateway-system', sectionName: 'https' })),
      undefined,
    )
    // A stale False from an older generation waits for the controller to catch up.
    assert.equal(judge(routeWith([{ ...accepted, status: 'False', observedGeneration: 1 }, resolved])), undefined)
  })

  it('names the namespace label for NotAllowedByListeners, and says other reasons as the Gateway does', () => {
    const notAllowed = failure(
      routeWith([
        { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener admits ci' },
      ]),
    )
    assert.match(
      notAllowed,
      /does not accept routes from namespace ci \(NotAllowedByListeners: no listener admits ci\)/,
    )
    assert.match(notAllowed, /kubectl label namespace ci gateway-access=allowed/)
    assert.match(
      failure(routeWith([{ type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }])),
      /listener name/,
    )
    assert.match(
      failure(
        routeWith([
          { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: 'service "api" not found' },
        ]),
      ),
      /did not resolve: BackendNotFound: service "api" not found\. The backend Service does not exist/,
    )
    assert.match(
      failure(routeWith([{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: 'odd' }])),
      /did not accept HTTPRoute ci\/rt-1: UnsupportedValue: odd\./,
    )
  })
})
