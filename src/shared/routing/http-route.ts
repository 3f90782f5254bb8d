import { RouteError } from '../errors.js'
import type { GatewayRef, NamespaceLabel } from './route-settings.js'

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
export const HTTP_ROUTES = { group: GATEWAY_GROUP, version: 'v1', plural: 'httproutes', kind: 'HTTPRoute' }

/** A status condition (apimachinery metav1.Condition). */
export interface RouteCondition {
  readonly type: string
  readonly status: string
  readonly reason?: string
  readonly message?: string
  readonly observedGeneration?: number
}

/** gateway-api apis/v1 shared_types.go ParentReference; omitted fields take the defaults written here. */
export interface ParentReference {
  readonly group?: string
  readonly kind?: string
  readonly namespace?: string
  readonly name: string
  readonly sectionName?: string
  readonly port?: number
}

/** The fields of an HTTPRoute run-task writes and reads. */
export interface HttpRouteObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    generation?: number
    resourceVersion?: string
    creationTimestamp?: string
    deletionTimestamp?: string
  }
  spec: Record<string, unknown>
  status?: {
    parents?: { parentRef: ParentReference; controllerName: string; conditions?: RouteCondition[] }[]
  }
}

/** What the route diverts: requests for `hostname` carrying `headerName: headerValue`, to the backend. */
export interface RouteTarget {
  readonly name: string
  readonly namespace: string
  readonly gateway: GatewayRef
  readonly hostname: string
  readonly headerName: string
  readonly headerValue: string
  readonly backendService: string
  readonly backendPort: number
}

/**
 * The run's HTTPRoute: one rule that matches every path of the hostname only when the header carries the run's
 * value (an Exact header match; the baseline route's rule has no header match, so this one takes precedence by
 * the Gateway API's rule ordering), forwarding to the run's backend.
 */
export function buildHttpRoute(r: RouteTarget, labels: Record<string, string>): HttpRouteObject {
  return {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: r.name, namespace: r.namespace, labels },
    spec: {
      parentRefs: [parentRef(r.gateway)],
      hostnames: [r.hostname],
      rules: [
        {
          matches: [
            {
              path: { type: 'PathPrefix', value: '/' },
              headers: [{ type: 'Exact', name: r.headerName, value: r.headerValue }],
            },
          ],
          backendRefs: [{ group: '', kind: 'Service', name: r.backendService, port: r.backendPort }],
        },
      ],
    },
  }
}

function parentRef(g: GatewayRef): ParentReference {
  return {
    group: GATEWAY_GROUP,
    kind: 'Gateway',
    namespace: g.namespace,
    name: g.name,
    ...(g.sectionName ? { sectionName: g.sectionName } : {}),
  }
}

/** What the Gateway's controller says of the route so far. */
export type RouteVerdict = { ready: true } | { fail: RouteError } | undefined

/**
 * Judges the route's `status.parents[]` entry for our Gateway: ready when `Accepted` and `ResolvedRefs` are both
 * True for the current generation; a False condition of the current generation fails at once with the Gateway's
 * own reason and message; anything else (no entry yet, an older generation) means wait.
 */
export function judgeRoute(route: HttpRouteObject, gateway: GatewayRef, label: NamespaceLabel): RouteVerdict {
  const entry = route.status?.parents?.find((p) => sameParent(p.parentRef, gateway, route.metadata.namespace ?? ''))
  if (!entry) return undefined
  const generation = route.metadata.generation ?? 1
  const current = (type: string): RouteCondition | undefined =>
    entry.conditions?.find((c) => c.type === type && (c.observedGeneration ?? generation) >= generation)
  const accepted = current('Accepted')
  const resolved = current('ResolvedRefs')
  if (accepted?.status === 'False') return { fail: notAccepted(route, gateway, accepted, label) }
  if (resolved?.status === 'False') return { fail: unresolved(route, resolved) }
  return accepted?.status === 'True' && resolved?.status === 'True' ? { ready: true } : undefined
}

function sameParent(p: ParentReference, g: GatewayRef, routeNamespace: string): boolean {
  return (
    (p.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
    (p.kind ?? 'Gateway') === 'Gateway' &&
    (p.namespace ?? routeNamespace) === g.namespace &&
    p.name === g.name &&
    (p.sectionName ?? '') === (g.sectionName ?? '')
  )
}

function gatewayText(g: GatewayRef): string {
  return `Gateway ${g.namespace}/${g.name}${g.sectionName ? ` (listener ${g.sectionName})` : ''}`
}

function said(c: RouteCondition): string {
  return `${c.reason ?? 'no reason'}${c.message ? `: ${c.message}` : ''}`
}

function notAccepted(route: HttpRouteObject, g: GatewayRef, c: RouteCondition, label: NamespaceLabel): RouteError {
  const where = `HTTPRoute ${route.metadata.namespace ?? ''}/${route.metadata.name}`
  if (c.reason === 'NotAllowedByListeners') {
    const ns = route.metadata.namespace ?? ''
    return new RouteError(
      `${gatewayText(g)} does not accept routes from namespace ${ns} (${said(c)}). Its listener admits routes only from namespaces its allowedRoutes selector matches, by the platform's convention the label ${label.key}=${label.value}: label the namespace (kubectl label namespace ${ns} ${label.key}=${label.value}), or set route-label-namespace when the run's identity may.`,
    )
  }
  if (c.reason === 'NoMatchingParent')
    return new RouteError(
      `${gatewayText(g)} has no listener that matches ${where} (${said(c)}): check the listener name in route-gateway.`,
    )
  if (c.reason === 'NoMatchingListenerHostname')
    return new RouteError(
      `${gatewayText(g)} serves no hostname that matches ${where}'s (${said(c)}): check route-hostname against the listener's hostname.`,
    )
  return new RouteError(`${gatewayText(g)} did not accept ${where}: ${said(c)}.`)
}

function unresolved(route: HttpRouteObject, c: RouteCondition): RouteError {
  const where = `HTTPRoute ${route.metadata.namespace ?? ''}/${route.metadata.name}`
  const hint =
    c.reason === 'BackendNotFound'
      ? ' The backend Service does not exist: check route-backend-service and route-namespace.'
      : c.reason === 'RefNotPermitted'
        ? ' A backend in another namespace needs a ReferenceGrant there.'
        : ''
  return new RouteError(`The backend of ${where} did not resolve: ${said(c)}.${hint}`)
}
