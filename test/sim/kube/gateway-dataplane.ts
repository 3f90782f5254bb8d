/**
 * The shared Gateway's data plane: plain http on a loopback port standing for its listeners on port 80. Each request
 * reads the store afresh, so a route deleted or detached stops matching at once (a real proxy follows within its
 * config push). Rules from kubernetes-sigs/gateway-api apis/v1 httproute_types.go (HTTPRouteSpec.Hostnames,
 * HTTPRouteRule.Matches and BackendRefs, PathMatchType, HeaderMatchType).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import {
  attach,
  ENDPOINTSLICES,
  type Gateway,
  GATEWAYS,
  hostMatches,
  type HttpRoute,
  type HttpRouteMatch,
  HTTPROUTES,
  type Listener,
  refersTo,
  routeHosts,
  SERVICE_NAME_LABEL,
  SERVICES,
} from './gateway-api.js'
import { backendProblem, SIM_CONTROLLER } from './gateway-controller.js'
import type { ObjectStore } from './store.js'

/** A candidate: one match of one rule of one route, with what ranks it. */
interface Candidate {
  readonly route: HttpRoute
  readonly ruleIndex: number
  readonly matchIndex: number
  readonly score: readonly number[]
}

/** Starts the data plane of `gateway` (namespace/name) on a free loopback port. */
export async function startGatewayDataPlane(
  store: ObjectStore,
  gateway: { namespace: string; name: string },
): Promise<Server> {
  const server = createServer((req, res) => serve(req, res, store, gateway))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

function serve(
  req: IncomingMessage,
  res: ServerResponse,
  store: ObjectStore,
  ref: { namespace: string; name: string },
): void {
  const text = (code: number, body: string): void => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }
  const gateway = store.get(GATEWAYS, ref.namespace, ref.name) as Gateway | undefined
  // httproute_types.go Hostnames: the port of the Host header is ignored.
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase()
  const listener = gateway && pickListener(gateway, host)
  if (!gateway || !listener) return text(404, 'no listener matches this host\n')
  const chosen = bestCandidate(store, gateway, listener, host, req)
  // httproute_types.go HTTPRouteRule.Matches: "When no rules matching a request have been successfully attached to
  // the parent a request is coming from, a HTTP 404 status code MUST be returned."
  if (!chosen) return text(404, 'no route matches this request\n')
  const rule = chosen.route.spec.rules?.[chosen.ruleIndex]
  const namespace = chosen.route.metadata.namespace ?? ''
  const backend = pickWeighted(rule?.backendRefs ?? [])
  // HTTPRouteRule.BackendRefs: a request for an invalid backendRef (or a rule with none) gets a 500.
  if (!backend || backendProblem(backend, namespace, store)) return text(500, 'invalid backend\n')
  const target = readyEndpoint(store, namespace, backend.name, backend.port ?? 0)
  // HTTPRouteRule.BackendRefs: "a Service that has no ready endpoints … SHOULD return a 503".
  if (!target) return text(503, 'no healthy upstream\n')
  const upstream = httpRequest(
    { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    },
  )
  upstream.on('error', () => {
    if (!res.headersSent) text(503, 'upstream connect error\n')
    else res.destroy()
  })
  req.pipe(upstream)
}

/**
 * The listener on port 80 whose hostname matches the Host header, the most specific first (exact, then the longest
 * wildcard), as gateway_types.go Listener.Hostname describes for HTTP.
 */
function pickListener(gateway: Gateway, host: string): Listener | undefined {
  return (gateway.spec.listeners ?? [])
    .filter((l) => l.port === 80 && l.protocol === 'HTTP' && hostMatches(l.hostname ?? '*', host))
    .sort((a, b) => specificity(b.hostname) - specificity(a.hostname))[0]
}

function specificity(hostname: string | undefined): number {
  if (!hostname) return 0
  return hostname.startsWith('*.') ? hostname.length : 1000 + hostname.length
}

/**
 * Among the routes attached to this listener, Accepted by this controller for this Gateway and serving the Host,
 * the match that wins by httproute_types.go's precedence: the route's matching hostname (the longest non-wildcard,
 * then the longest), an Exact path, then the longest PathPrefix, a method match, most header matches, most query
 * matches; across routes the oldest creationTimestamp, then `namespace/name`; within a route the first rule and
 * match in list order.
 */
function bestCandidate(
  store: ObjectStore,
  gateway: Gateway,
  listener: Listener,
  host: string,
  req: IncomingMessage,
): Candidate | undefined {
  const url = new URL(req.url ?? '/', 'http://sim')
  const candidates: Candidate[] = []
  for (const route of store.list(HTTPROUTES, undefined) as HttpRoute[]) {
    const namespace = route.metadata.namespace ?? ''
    const refs = (route.spec.parentRefs ?? []).filter((ref) => refersTo(ref, namespace, gateway))
    const onListener = refs.some((ref) => {
      const entry = route.status?.parents?.find(
        (p) => p.controllerName === SIM_CONTROLLER && refersTo(p.parentRef, namespace, gateway),
      )
      if (!entry?.conditions.some((c) => c.type === 'Accepted' && c.status === 'True')) return false
      const attachment = attach(route, ref, gateway, store)
      return attachment.accepted && attachment.listeners.some((l) => l.name === listener.name)
    })
    if (!onListener) continue
    const hosts = routeHosts(route.spec.hostnames, listener.hostname).filter((h) => hostMatches(h, host))
    if (hosts.length === 0) continue
    const exactHost = Math.max(0, ...hosts.filter((h) => !h.startsWith('*')).map((h) => h.length))
    const anyHost = Math.max(...hosts.map((h) => h.length))
    ;(route.spec.rules ?? []).forEach((rule, ruleIndex) => {
      const matches: HttpRouteMatch[] = rule.matches?.length ? rule.matches : [{}]
      matches.forEach((match, matchIndex) => {
        const path = matchPath(match, url.pathname)
        if (path === undefined || !matchRest(match, req, url)) return
        const score = [
          exactHost,
          anyHost,
          ...path,
          match.method ? 1 : 0,
          match.headers?.length ?? 0,
          match.queryParams?.length ?? 0,
        ]
        candidates.push({ route, ruleIndex, matchIndex, score })
      })
    })
  }
  return candidates.sort(compareCandidates)[0]
}

function compareCandidates(a: Candidate, b: Candidate): number {
  for (let i = 0; i < a.score.length; i += 1) {
    const d = (b.score[i] ?? 0) - (a.score[i] ?? 0)
    if (d !== 0) return d
  }
  const created = (a.route.metadata.creationTimestamp ?? '').localeCompare(b.route.metadata.creationTimestamp ?? '')
  if (created !== 0) return created
  const name = `${a.route.metadata.namespace}/${a.route.metadata.name}`.localeCompare(
    `${b.route.metadata.namespace}/${b.route.metadata.name}`,
  )
  return name !== 0 ? name : a.ruleIndex - b.ruleIndex || a.matchIndex - b.matchIndex
}

/**
 * [exact, prefix length] when the path matches, undefined otherwise. httproute_types.go PathMatchType: Exact is
 * case-sensitive equality; PathPrefix matches element by element with a trailing `/` ignored (`/abc` matches `/abc`,
 * `/abc/` and `/abc/def`, not `/abcd`); RegularExpression the whole path (ranked like a prefix of its length here:
 * "implementation-specific"). A match without a path is PathPrefix `/` (the CRD's default).
 */
function matchPath(match: HttpRouteMatch, path: string): [number, number] | undefined {
  const type = match.path?.type ?? 'PathPrefix'
  const value = match.path?.value ?? '/'
  if (type === 'Exact') return path === value ? [1, value.length] : undefined
  if (type === 'RegularExpression') return new RegExp(`^(?:${value})$`).test(path) ? [0, value.length] : undefined
  const prefix = value.replace(/\/+$/, '')
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`) ? [0, prefix.length || 1] : undefined
}

/** Method, headers (names case-insensitive, Exact by default) and query parameters, all of them. */
function matchRest(match: HttpRouteMatch, req: IncomingMessage, url: URL): boolean {
  if (match.method && match.method !== req.method) return false
  const headersOk = (match.headers ?? []).every((h) => {
    const raw = req.headers[h.name.toLowerCase()]
    const value = Array.isArray(raw) ? raw.join(',') : raw
    if (value === undefined) return false
    return h.type === 'RegularExpression' ? new RegExp(h.value).test(value) : value === h.value
  })
  const queryOk = (match.queryParams ?? []).every((q) => {
    const value = url.searchParams.get(q.name)
    if (value === null) return false
    return q.type === 'RegularExpression' ? new RegExp(q.value).test(value) : value === q.value
  })
  return headersOk && queryOk
}

/** A backendRef by weight (default 1; weight 0 gets no traffic). */
function pickWeighted<T extends { weight?: number }>(refs: readonly T[]): T | undefined {
  const total = refs.reduce((n, r) => n + (r.weight ?? 1), 0)
  let draw = Math.random() * total
  for (const r of refs) {
    draw -= r.weight ?? 1
    if (draw < 0) return r
  }
  return undefined
}

/**
 * A ready endpoint of the Service port `servicePort`: the EndpointSlices labelled with the Service's name, their
 * port named like the Service port (envoyproxy/gateway route.go getIREndpointsFromEndpointSlice), endpoints whose
 * `ready` is not false. Returns the local port to connect to.
 */
function readyEndpoint(
  store: ObjectStore,
  namespace: string,
  service: string,
  servicePort: number,
): number | undefined {
  const svc = store.get(SERVICES, namespace, service)
  const portName =
    (svc?.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports?.find((p) => p.port === servicePort)
      ?.name ?? ''
  for (const slice of store.list(ENDPOINTSLICES, namespace)) {
    if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== service) continue
    const port = (slice.ports as { name?: string; port?: number }[] | undefined)?.find(
      (p) => (p.name ?? '') === portName,
    )?.port
    const ready = (slice.endpoints as { addresses: string[]; conditions?: { ready?: boolean } }[] | undefined)?.some(
      (e) => e.conditions?.ready !== false && e.addresses.length > 0,
    )
    if (port !== undefined && ready) return port
  }
  return undefined
}
