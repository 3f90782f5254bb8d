/**
 * A Gateway API controller for the simulated cluster: the GatewayClass `sim`, the shared Gateway and the status of
 * every HTTPRoute that names a Gateway of that class. Each behaviour cites its upstream source; see README.md
 * "Gateway API" for what is left out.
 */
import {
  attach,
  type BackendRef,
  type Condition,
  type Gateway,
  GATEWAYCLASSES,
  GATEWAYS,
  type HttpRoute,
  HTTPROUTES,
  NAMESPACES,
  type ParentRef,
  refersTo,
  type RouteParentStatus,
  SERVICES,
  setCondition,
} from './gateway-api.js'
import type { KubeObject, ObjectStore } from './store.js'
import type { KubeFaults } from './faults.js'

/** The controllerName of the simulated GatewayClass (gatewayclass_types.go GatewayClassSpec.ControllerName). */
export const SIM_CONTROLLER = 'sim.run-task.dev/gateway-controller'
export const SIM_GATEWAY_CLASS = 'sim'
export const SHARED_GATEWAY = { namespace: 'gateway-system', name: 'shared' } as const
/** The label the shared Gateway's listener selects route namespaces by (690 §3.1). */
export const GATEWAY_ACCESS_LABEL = 'gateway-access'
export const GATEWAY_HOSTNAME = '*.dev.sim.test'

/** The routing the simulated cluster is seeded with. */
export interface RoutingOptions {
  /** Workspace namespaces created at start, unlabelled; `['ci']` by default. */
  readonly namespaces?: readonly string[]
  /** Of those, the ones already labelled `gateway-access=allowed` (none by default: a run has to opt in). */
  readonly labelled?: readonly string[]
}

/** Seeds the cluster as a platform's GitOps bootstrap leaves it: namespaces, the GatewayClass and the shared Gateway. */
export function seedRouting(store: ObjectStore, options: RoutingOptions = {}): void {
  const labelled = new Set(options.labelled ?? [])
  for (const name of [...(options.namespaces ?? ['ci']), SHARED_GATEWAY.namespace])
    if (!store.get(NAMESPACES, '', name))
      store.create(NAMESPACES, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          // The apiserver labels every namespace with its own name (kubernetes pkg/registry/core/namespace/strategy.go).
          labels: {
            'kubernetes.io/metadata.name': name,
            ...(labelled.has(name) ? { [GATEWAY_ACCESS_LABEL]: 'allowed' } : {}),
          },
        },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      })
  store.create(GATEWAYCLASSES, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: SIM_GATEWAY_CLASS },
    spec: { controllerName: SIM_CONTROLLER },
  })
  store.create(GATEWAYS, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { ...SHARED_GATEWAY },
    spec: {
      gatewayClassName: SIM_GATEWAY_CLASS,
      listeners: [
        {
          name: 'http',
          protocol: 'HTTP',
          port: 80,
          hostname: GATEWAY_HOSTNAME,
          allowedRoutes: {
            namespaces: { from: 'Selector', selector: { matchLabels: { [GATEWAY_ACCESS_LABEL]: 'allowed' } } },
            kinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
          },
        },
      ],
    },
  })
}

const WATCHED = new Set([HTTPROUTES, GATEWAYS, GATEWAYCLASSES, NAMESPACES, SERVICES, 'endpointslices'])

/**
 * Reconciles, `stepDelayMs` after any change to what route status depends on, every GatewayClass naming this
 * controller (Accepted), every Gateway of those classes (Accepted, Programmed, listeners and attachedRoutes) and
 * every HTTPRoute with a parentRef to such a Gateway (its `status.parents[]` entry, written with a status write so
 * the route's generation stays).
 */
export class GatewayController {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly unsubscribe: () => void

  constructor(
    private readonly store: ObjectStore,
    private readonly stepDelayMs: number,
    private readonly faults: Pick<KubeFaults, 'gatewayControllerDown'>,
  ) {
    this.unsubscribe = store.subscribe((event) => {
      if (WATCHED.has(event.resource)) this.schedule()
    })
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    this.unsubscribe()
    if (this.timer) clearTimeout(this.timer)
  }

  /** Reconciles everything again, as a restarted controller does after listing (a lifted `gatewayControllerDown`). */
  resync(): void {
    this.schedule()
  }

  private schedule(): void {
    if (this.stopped || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.stopped && !this.faults.gatewayControllerDown) this.reconcile()
    }, this.stepDelayMs)
  }

  /** The Gateways this controller owns: those whose class names it. */
  ownGateways(): Gateway[] {
    const classes = new Set(
      this.store
        .list(GATEWAYCLASSES, '')
        .filter((c) => (c.spec as { controllerName?: string }).controllerName === SIM_CONTROLLER)
        .map((c) => c.metadata.name),
    )
    return (this.store.list(GATEWAYS, undefined) as Gateway[]).filter((g) => classes.has(g.spec.gatewayClassName))
  }

  private reconcile(): void {
    for (const gc of this.store.list(GATEWAYCLASSES, '')) {
      if ((gc.spec as { controllerName?: string }).controllerName !== SIM_CONTROLLER) continue
      const conditions = (gc.status as { conditions?: Condition[] } | undefined)?.conditions
      // gatewayclass_types.go GatewayClassConditionStatusAccepted; envoyproxy/gateway status/gatewayclass.go.
      this.writeStatus(GATEWAYCLASSES, gc, {
        conditions: [
          setCondition(conditions, {
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            message: 'Valid GatewayClass',
            observedGeneration: gc.metadata.generation ?? 1,
          }),
        ],
      })
    }
    const gateways = this.ownGateways()
    const attached = new Map<string, number>()
    for (const route of this.store.list(HTTPROUTES, undefined) as HttpRoute[]) {
      const parents = this.routeParents(route, gateways, attached)
      if (parents) this.writeStatus(HTTPROUTES, route, { ...route.status, parents })
    }
    for (const gateway of gateways) this.writeGatewayStatus(gateway, attached)
  }

  /**
   * The route's status.parents: other controllers' entries kept as they are, ours recomputed for every parentRef
   * naming one of our Gateways, and ours dropped where no parentRef names it any more (shared_types.go
   * RouteParentStatus.ControllerName: "entries … are cleaned up when they are no longer necessary"). A parentRef to
   * a Gateway that does not exist, or is of another class, gets no entry at all (RouteParentStatus.Conditions: "the
   * Route refers to a nonexistent parent"; envoyproxy/gateway route.go processAllowedListenersForParentRefs skips a
   * parentRef that is "not to a Gateway that we control"). Undefined when nothing changes.
   */
  private routeParents(
    route: HttpRoute,
    gateways: readonly Gateway[],
    attached: Map<string, number>,
  ): RouteParentStatus[] | undefined {
    const namespace = route.metadata.namespace ?? ''
    const existing = route.status?.parents ?? []
    const ours: RouteParentStatus[] = []
    for (const ref of route.spec.parentRefs ?? []) {
      const gateway = gateways.find((g) => refersTo(ref, namespace, g))
      if (!gateway) continue
      const previous = existing.find((p) => p.controllerName === SIM_CONTROLLER && sameRef(p.parentRef, ref))
      const attachment = attach(route, ref, gateway, this.store)
      if (attachment.accepted)
        for (const l of attachment.listeners) {
          const k = `${gateway.metadata.namespace}/${gateway.metadata.name}/${l.name}`
          attached.set(k, (attached.get(k) ?? 0) + 1)
        }
      const generation = route.metadata.generation ?? 1
      const resolved = this.resolveBackends(route)
      ours.push({
        parentRef: ref,
        controllerName: SIM_CONTROLLER,
        conditions: [
          setCondition(previous?.conditions, {
            type: 'Accepted',
            status: attachment.accepted ? 'True' : 'False',
            reason: attachment.accepted ? 'Accepted' : attachment.reason,
            message: attachment.accepted ? 'Route is accepted' : attachment.message,
            observedGeneration: generation,
          }),
          // envoyproxy/gateway route.go processHTTPRouteParentRefs sets ResolvedRefs on every parentRef of a route
          // it handles, accepted or not.
          setCondition(previous?.conditions, {
            type: 'ResolvedRefs',
            status: resolved ? 'False' : 'True',
            reason: resolved?.reason ?? 'ResolvedRefs',
            message: resolved?.message ?? 'Resolved all the Object references for the Route',
            observedGeneration: generation,
          }),
        ],
      })
    }
    const others = existing.filter((p) => p.controllerName !== SIM_CONTROLLER)
    const parents = [...others, ...ours]
    return JSON.stringify(parents) === JSON.stringify(existing) ? undefined : parents
  }

  /** The first unresolvable backendRef of the route, with its ResolvedRefs reason; undefined when all resolve. */
  private resolveBackends(route: HttpRoute): { reason: string; message: string } | undefined {
    const namespace = route.metadata.namespace ?? ''
    for (const rule of route.spec.rules ?? [])
      for (const ref of rule.backendRefs ?? []) {
        const problem = backendProblem(ref, namespace, this.store)
        if (problem) return problem
      }
    return undefined
  }

  /**
   * gateway_types.go GatewayStatus and ListenerStatus: Accepted and Programmed, the data plane's address, and per
   * listener its supported kinds, attachedRoutes (routes Accepted on it) and Accepted, ResolvedRefs, Programmed and
   * Conflicted conditions (envoyproxy/gateway status/gateway.go).
   */
  private writeGatewayStatus(gateway: Gateway, attached: ReadonlyMap<string, number>): void {
    const status = gateway.status as
      { conditions?: Condition[]; listeners?: { name: string; conditions?: Condition[] }[] } | undefined
    const generation = gateway.metadata.generation ?? 1
    const condition = (existing: Condition[] | undefined, type: string, message: string, ok = true): Condition =>
      setCondition(existing, {
        type,
        status: ok ? 'True' : 'False',
        reason: ok ? type : type === 'Conflicted' ? 'NoConflicts' : type,
        message,
        observedGeneration: generation,
      })
    const listeners = (gateway.spec.listeners ?? []).map((l) => {
      const previous = status?.listeners?.find((s) => s.name === l.name)?.conditions
      return {
        name: l.name,
        supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
        attachedRoutes: attached.get(`${gateway.metadata.namespace}/${gateway.metadata.name}/${l.name}`) ?? 0,
        conditions: [
          condition(previous, 'Programmed', 'Sending translated listener configuration to the data plane'),
          condition(previous, 'Accepted', 'Listener is accepted'),
          condition(previous, 'ResolvedRefs', 'Listener references have been resolved'),
          condition(previous, 'Conflicted', 'No conflicts', false),
        ],
      }
    })
    this.writeStatus(GATEWAYS, gateway, {
      addresses: [{ type: 'IPAddress', value: '127.0.0.1' }],
      conditions: [
        condition(status?.conditions, 'Accepted', 'The Gateway has been scheduled by the simulated controller'),
        condition(status?.conditions, 'Programmed', 'Address assigned to the Gateway'),
      ],
      listeners,
    })
  }

  /** A status write (the object's generation stays), only when the status differs. */
  private writeStatus(resource: string, object: KubeObject, status: unknown): void {
    if (JSON.stringify(object.status) === JSON.stringify(status)) return
    const fresh = this.store.get(resource, object.metadata.namespace ?? '', object.metadata.name)
    if (!fresh || fresh.metadata.resourceVersion !== object.metadata.resourceVersion) return this.schedule()
    this.store.update(resource, { ...fresh, status })
  }
}

/** Two parentRefs name the same parent when every field, defaults applied, is the same. */
export function sameRef(a: ParentRef, b: ParentRef): boolean {
  return (
    (a.group ?? 'gateway.networking.k8s.io') === (b.group ?? 'gateway.networking.k8s.io') &&
    (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') &&
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.sectionName === b.sectionName &&
    a.port === b.port
  )
}

/**
 * Why a backendRef does not resolve (httproute_types.go HTTPBackendRef; envoyproxy/gateway validate.go
 * validateBackendRefGroup, validateBackendRefKind, validateBackendNamespace, validateBackendRefService, in that
 * order): a group other than core or a kind other than Service is InvalidKind, a reference to another namespace is
 * RefNotPermitted (the simulator serves no ReferenceGrants), a missing Service BackendNotFound, a port the Service
 * does not have PortNotFound (Envoy Gateway's own reason).
 */
export function backendProblem(
  ref: BackendRef,
  routeNamespace: string,
  store: ObjectStore,
): { reason: string; message: string } | undefined {
  if (ref.group)
    return {
      reason: 'InvalidKind',
      message:
        'Group is invalid, only the core API group (specified by omitting the group field or setting it to an empty string) is supported',
    }
  if ((ref.kind ?? 'Service') !== 'Service')
    return { reason: 'InvalidKind', message: 'Kind is invalid, only Service is supported' }
  const namespace = ref.namespace || routeNamespace
  if (namespace !== routeNamespace)
    return {
      reason: 'RefNotPermitted',
      message: `Backend ref to Service ${namespace}/${ref.name} not permitted by any ReferenceGrant.`,
    }
  const service = store.get(SERVICES, namespace, ref.name)
  if (!service) return { reason: 'BackendNotFound', message: `service ${namespace}/${ref.name} not found` }
  const ports = (service.spec as { ports?: { port: number }[] } | undefined)?.ports ?? []
  if (!ports.some((p) => p.port === ref.port))
    return {
      reason: 'PortNotFound',
      message: `TCP Port ${String(ref.port)} not found on Service ${namespace}/${ref.name}`,
    }
  return undefined
}
