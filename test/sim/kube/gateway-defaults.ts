/**
 * The defaults the Gateway API CRDs declare (kubernetes-sigs/gateway-api config/crd/standard
 * gateway.networking.k8s.io_httproutes.yaml and _gateways.yaml, from the `+kubebuilder:default` markers in apis/v1),
 * which the apiserver's structural defaulting writes into every object it stores (apiextensions-apiserver
 * pkg/apiserver/schema/defaulting). So a client reads back `group` and `kind` on its parentRefs, and the status
 * entries echo them. Only the fields run-task's routes and the seeded Gateway use; filters' defaults are left out.
 */
import { GATEWAY_GROUP, GATEWAYS, HTTPROUTES } from './gateway-api.js'
import type { KubeObject } from './store.js'

type Json = Record<string, unknown>

/** Fills in the CRD defaults of an HTTPRoute or Gateway, in place; other objects are left alone. */
export function applyGatewayDefaults(resource: string, object: KubeObject): void {
  const spec = object.spec as Json | undefined
  if (!spec) return
  if (resource === HTTPROUTES) defaultRoute(spec)
  if (resource === GATEWAYS) defaultGateway(spec)
}

function defaultRoute(spec: Json): void {
  for (const ref of list(spec.parentRefs)) {
    ref.group ??= GATEWAY_GROUP
    ref.kind ??= 'Gateway'
  }
  spec.rules ??= [{}]
  for (const rule of list(spec.rules)) {
    rule.matches ??= [{}]
    for (const match of list(rule.matches)) {
      match.path ??= {}
      const path = match.path as Json
      path.type ??= 'PathPrefix'
      path.value ??= '/'
      for (const h of list(match.headers)) h.type ??= 'Exact'
      for (const q of list(match.queryParams)) q.type ??= 'Exact'
    }
    for (const backend of list(rule.backendRefs)) {
      backend.group ??= ''
      backend.kind ??= 'Service'
      backend.weight ??= 1
    }
  }
}

function defaultGateway(spec: Json): void {
  for (const listener of list(spec.listeners)) {
    listener.allowedRoutes ??= {}
    const allowed = listener.allowedRoutes as Json
    allowed.namespaces ??= {}
    ;(allowed.namespaces as Json).from ??= 'Same'
    for (const kind of list(allowed.kinds)) kind.group ??= GATEWAY_GROUP
  }
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as Json[]) : []
}
