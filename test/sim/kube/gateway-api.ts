/**
 * Gateway API rules shared by the simulated Gateway controller and its data plane: which listeners a parentRef
 * selects and allows, the hostnames a route gets on a listener, and label selectors. Facts from
 * kubernetes-sigs/gateway-api apis/v1 (shared_types.go ParentReference, gateway_types.go Listener and AllowedRoutes,
 * httproute_types.go HTTPRouteSpec.Hostnames) and envoyproxy/gateway internal/gatewayapi (helpers.go
 * GetReferencedListeners, route.go processAllowedListenersForParentRefs and computeHosts).
 */
import type { KubeObject, ObjectStore } from './store.js'

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
export const HTTPROUTES = 'httproutes'
export const GATEWAYS = 'gateways'
export const GATEWAYCLASSES = 'gatewayclasses'
export const NAMESPACES = 'namespaces'
export const SERVICES = 'services'
export const ENDPOINTSLICES = 'endpointslices'
/** The label an EndpointSlice names its Service with (k8s.io/api discovery/v1 well_known_labels.go LabelServiceName). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

export interface LabelSelector {
  readonly matchLabels?: Record<string, string>
  readonly matchExpressions?: readonly { key: string; operator: string; values?: readonly string[] }[]
}

export interface ParentRef {
  readonly group?: string
  readonly kind?: string
  readonly namespace?: string
  readonly name: string
  readonly sectionName?: string
  readonly port?: number
}

export interface Listener {
  readonly name: string
  readonly hostname?: string
  readonly port: number
  readonly protocol: string
  readonly allowedRoutes?: {
    readonly namespaces?: { readonly from?: string; readonly selector?: LabelSelector }
    readonly kinds?: readonly { group?: string; kind: string }[]
  }
}

export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
  observedGeneration?: number
  lastTransitionTime: string
}

export type Gateway = KubeObject & { spec: { gatewayClassName: string; listeners: Listener[] } }

export interface BackendRef {
  readonly group?: string
  readonly kind?: string
  readonly name: string
  readonly namespace?: string
  readonly port?: number
  readonly weight?: number
}

export interface HttpRouteMatch {
  readonly path?: { type?: string; value?: string }
  readonly headers?: readonly { type?: string; name: string; value: string }[]
  readonly queryParams?: readonly { type?: string; name: string; value: string }[]
  readonly method?: string
}

export interface RouteParentStatus {
  parentRef: ParentRef
  controllerName: string
  conditions: Condition[]
}

export type HttpRoute = KubeObject & {
  spec: {
    parentRefs?: ParentRef[]
    hostnames?: string[]
    rules?: { matches?: HttpRouteMatch[]; backendRefs?: BackendRef[]; filters?: unknown[] }[]
  }
  status?: { parents?: RouteParentStatus[] }
}

/**
 * apimachinery pkg/apis/meta/v1 LabelSelectorAsSelector: matchLabels and matchExpressions (In, NotIn, Exists,
 * DoesNotExist) all have to hold; an empty selector selects everything.
 */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false
  const have = labels ?? {}
  const plain = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => have[k] === v)
  return (
    plain &&
    (selector.matchExpressions ?? []).every((e) => {
      const value = have[e.key]
      if (e.operator === 'In') return value !== undefined && (e.values ?? []).includes(value)
      if (e.operator === 'NotIn') return value === undefined || !(e.values ?? []).includes(value)
      if (e.operator === 'Exists') return value !== undefined
      if (e.operator === 'DoesNotExist') return value === undefined
      return false
    })
  )
}

/** Whether a parentRef names this Gateway (group and kind default to the Gateway's, the namespace to the route's). */
export function refersTo(ref: ParentRef, routeNamespace: string, gateway: KubeObject): boolean {
  return (
    (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
    (ref.kind ?? 'Gateway') === 'Gateway' &&
    (ref.namespace ?? routeNamespace) === gateway.metadata.namespace &&
    ref.name === gateway.metadata.name
  )
}

/**
 * The listeners a parentRef selects: all of them, or the one named by sectionName and/or on `port` (shared_types.go
 * ParentReference.SectionName and Port; envoyproxy/gateway helpers.go GetReferencedListeners).
 */
export function selectedListeners(ref: ParentRef, gateway: Gateway): Listener[] {
  return (gateway.spec.listeners ?? []).filter(
    (l) =>
      (ref.sectionName === undefined || ref.sectionName === l.name) && (ref.port === undefined || ref.port === l.port),
  )
}

/**
 * gateway_types.go AllowedRoutes: `namespaces.from` defaults to Same; Selector matches the route's Namespace labels;
 * `kinds` empty means the kinds of the listener's protocol (HTTPRoute for HTTP and HTTPS).
 */
export function listenerAllows(
  listener: Listener,
  gateway: KubeObject,
  routeNamespace: string,
  namespaceLabels: Record<string, string> | undefined,
): boolean {
  const kinds = listener.allowedRoutes?.kinds ?? []
  const kindAllowed =
    kinds.length === 0
      ? listener.protocol === 'HTTP' || listener.protocol === 'HTTPS'
      : kinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === 'HTTPRoute')
  if (!kindAllowed) return false
  const namespaces = listener.allowedRoutes?.namespaces
  const from = namespaces?.from ?? 'Same'
  if (from === 'All') return true
  if (from === 'Same') return routeNamespace === gateway.metadata.namespace
  if (from === 'Selector') return selects(namespaces?.selector, namespaceLabels)
  return false
}

/**
 * The hostnames a route serves on a listener (httproute_types.go Hostnames; envoyproxy/gateway route.go computeHosts):
 * a route without hostnames takes the listener's (or every host); otherwise each route hostname that intersects the
 * listener's, the more specific of the two. Empty: no intersection, so NoMatchingListenerHostname.
 */
export function routeHosts(
  routeHostnames: readonly string[] | undefined,
  listenerHostname: string | undefined,
): string[] {
  const listener = listenerHostname ?? ''
  if (!routeHostnames?.length) return [listener || '*']
  if (!listener) return [...routeHostnames]
  const hosts: string[] = []
  for (const host of routeHostnames) {
    if (host === listener) hosts.push(host)
    else if (listener.startsWith('*.') && hostMatches(listener, host)) hosts.push(host)
    else if (host.startsWith('*.') && hostMatches(host, listener)) hosts.push(listener)
  }
  return [...new Set(hosts)]
}

/**
 * Whether a hostname pattern covers a name: `*` everything, `*.example.com` any name below example.com (not
 * example.com itself), anything else only itself (gateway_types.go Listener.Hostname). Both may be wildcards.
 */
export function hostMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true
  if (!pattern.startsWith('*.')) return pattern === name
  const suffix = pattern.slice(1)
  const bare = name.startsWith('*.') ? name.slice(1) : name
  return bare.endsWith(suffix) && bare.length > suffix.length
}

/** One parentRef's attachment to a Gateway: the listeners it ends up on, or why none (the Accepted reason). */
export type Attachment =
  | { readonly accepted: true; readonly listeners: readonly Listener[] }
  | { readonly accepted: false; readonly reason: string; readonly message: string }

/**
 * envoyproxy/gateway route.go processAllowedListenersForParentRefs then processHTTPRouteParentRefListener, in that
 * order: no selected listener is NoMatchingParent, none that allows the route NotAllowedByListeners, none whose
 * hostname intersects the route's NoMatchingListenerHostname.
 */
export function attach(route: HttpRoute, ref: ParentRef, gateway: Gateway, store: ObjectStore): Attachment {
  const namespace = route.metadata.namespace ?? ''
  const selected = selectedListeners(ref, gateway)
  if (selected.length === 0)
    return { accepted: false, reason: 'NoMatchingParent', message: 'No listeners match this parent ref' }
  const labels = store.get(NAMESPACES, '', namespace)?.metadata.labels
  const allowed = selected.filter((l) => listenerAllows(l, gateway, namespace, labels))
  if (allowed.length === 0)
    return {
      accepted: false,
      reason: 'NotAllowedByListeners',
      message: 'No listeners included by this parent ref allowed this attachment.',
    }
  const listeners = allowed.filter((l) => routeHosts(route.spec.hostnames, l.hostname).length > 0)
  if (listeners.length === 0)
    return {
      accepted: false,
      reason: 'NoMatchingListenerHostname',
      message: "There were no hostname intersections between the HTTPRoute and this parent ref's Listener(s).",
    }
  return { accepted: true, listeners }
}

/** A condition whose lastTransitionTime is kept while its status stays (apimachinery meta SetStatusCondition). */
export function setCondition(
  existing: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
): Condition {
  const previous = existing?.find((c) => c.type === next.type)
  return {
    ...next,
    lastTransitionTime:
      previous && previous.status === next.status
        ? previous.lastTransitionTime
        : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  }
}
