/**
 * Services and their endpoints in the simulated cluster: kube-controller-manager's EndpointSlice controller and
 * garbage collector, and the Service DWO creates for a workspace's endpoints. The simulator's pods run their
 * processes on this machine, so every endpoint's address is 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { DW, PODS } from './controller.js'
import { ENDPOINTSLICES, SERVICE_NAME_LABEL, SERVICES } from './gateway-api.js'
import type { KubeObject, ObjectStore } from './store.js'

/** The managed-by value of the EndpointSlice controller (kubernetes pkg/controller/endpointslice ControllerName). */
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.k8s.io'
const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by'
const DEVWORKSPACE_ID_LABEL = 'controller.devfile.io/devworkspace_id'

interface ServicePort {
  name?: string
  port: number
  targetPort?: number | string
  protocol?: string
}
type Service = KubeObject & { spec: { selector?: Record<string, string>; ports?: ServicePort[]; clusterIP?: string } }

/** Runs `work` once, `delayMs` after the first of a burst of events it cares about. */
class Debounced {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  constructor(
    private readonly delayMs: number,
    private readonly work: () => void,
  ) {}
  poke(): void {
    if (this.stopped || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.stopped) this.work()
    }, this.delayMs)
  }
  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
  }
}

/**
 * The controllers of this file, started together. `stop()` ends them all.
 */
export class ServiceControllers {
  private readonly slices: Debounced
  private readonly workspaces: Debounced
  private readonly unsubscribe: () => void
  private readonly orphans: Debounced
  private readonly deletedUids = new Set<string>()

  constructor(
    private readonly store: ObjectStore,
    stepDelayMs: number,
  ) {
    this.slices = new Debounced(stepDelayMs, () => this.reconcileSlices())
    this.workspaces = new Debounced(stepDelayMs, () => this.reconcileWorkspaceServices())
    this.orphans = new Debounced(stepDelayMs, () => this.collectGarbage())
    this.unsubscribe = store.subscribe((event) => {
      if (event.resource === SERVICES || event.resource === PODS || event.resource === ENDPOINTSLICES)
        this.slices.poke()
      if (event.resource === DW) this.workspaces.poke()
      if (event.type === 'DELETED' && event.object.metadata.uid) {
        this.deletedUids.add(event.object.metadata.uid)
        this.orphans.poke()
      }
    })
  }

  stop(): void {
    this.unsubscribe()
    this.slices.stop()
    this.workspaces.stop()
    this.orphans.stop()
  }

  /**
   * kubernetes pkg/controller/endpointslice endpointslice_controller.go syncService and staging k8s.io/endpointslice
   * reconciler.go: a Service with a selector gets an EndpointSlice (generateName `<service>-`, labels
   * `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, the Service's own labels, a controller
   * ownerReference to the Service) listing its namespace's pods that match the selector, one per pod with conditions
   * ready/serving/terminating and a targetRef (utils.go podToEndpoint), and one port per Service port, the
   * targetPort resolved (utils.go getEndpointPorts, FindPort: a named targetPort no container declares is left
   * out). With no pods the slice stays, empty. Services without a selector are left to whoever writes their slices.
   */
  private reconcileSlices(): void {
    for (const service of this.store.list(SERVICES, undefined) as Service[]) {
      const selector = service.spec?.selector
      if (!selector || Object.keys(selector).length === 0) continue
      const namespace = service.metadata.namespace ?? ''
      const pods = this.store
        .list(PODS, namespace)
        .filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v))
      const ports = (service.spec.ports ?? []).flatMap((p) => {
        const port = resolveTargetPort(p, pods[0])
        return port === undefined ? [] : [{ name: p.name ?? '', port, protocol: p.protocol ?? 'TCP' }]
      })
      const endpoints = pods.map((pod) => {
        const serving = podReady(pod)
        const terminating = pod.metadata.deletionTimestamp !== undefined
        return {
          addresses: ['127.0.0.1'],
          conditions: { ready: serving && !terminating, serving, terminating },
          targetRef: { kind: 'Pod', namespace, name: pod.metadata.name, uid: pod.metadata.uid },
          nodeName: 'sim-node',
        }
      })
      const labels = {
        ...service.metadata.labels,
        [SERVICE_NAME_LABEL]: service.metadata.name,
        [MANAGED_BY]: ENDPOINTSLICE_CONTROLLER,
      }
      const owned = this.store
        .list(ENDPOINTSLICES, namespace)
        .find((s) =>
          (s.metadata as { ownerReferences?: { uid: string }[] }).ownerReferences?.some(
            (o) => o.uid === service.metadata.uid,
          ),
        )
      const body = { addressType: 'IPv4', endpoints, ports }
      if (!owned) {
        this.store.create(ENDPOINTSLICES, {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: `${service.metadata.name}-${randomSuffix()}`,
            namespace,
            labels,
            ownerReferences: [ownerReference('v1', 'Service', service)],
          } as KubeObject['metadata'],
          ...body,
        })
        continue
      }
      const next = { ...owned, metadata: { ...owned.metadata, labels }, ...body }
      if (JSON.stringify(next) !== JSON.stringify(owned)) this.store.update(ENDPOINTSLICES, next)
    }
  }

  /**
   * DWO controllers/controller/devworkspacerouting/solvers/common.go getServicesForEndpoints and
   * GetServiceForEndpoints, once the workspace's routing is ready: Service `<devworkspaceId>-service`
   * (pkg/common/naming.go ServiceName) labelled and selecting `controller.devfile.io/devworkspace_id: <id>`,
   * type ClusterIP, one TCP port per distinct targetPort of the devfile's `public` and `internal` endpoints, named
   * after the endpoint (naming.go EndpointName: lower case, runs of other characters as `-`). DWO makes the
   * DevWorkspaceRouting `routing-<id>` its owner, which the DevWorkspace owns; the simulator has no
   * DevWorkspaceRouting, so the DevWorkspace owns the Service directly and it goes with the workspace.
   */
  private reconcileWorkspaceServices(): void {
    for (const dw of this.store.list(DW, undefined)) {
      const status = dw.status as
        { devworkspaceId?: string; conditions?: { type: string; status: string }[] } | undefined
      const id = status?.devworkspaceId
      const routed = status?.conditions?.some((c) => c.type === 'RoutingReady' && c.status === 'True')
      if (!id || !routed || dw.metadata.deletionTimestamp) continue
      const seen = new Set<number>()
      const ports = workspaceEndpoints(dw, this.store).flatMap((e) => {
        if (seen.has(e.targetPort) || !['public', 'internal'].includes(e.exposure ?? 'public')) return []
        seen.add(e.targetPort)
        const name = e.name
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-+|-+$/g, '')
        return [{ name, protocol: 'TCP', port: e.targetPort, targetPort: e.targetPort }]
      })
      if (ports.length === 0) continue
      const namespace = dw.metadata.namespace ?? ''
      const name = `${id}-service`
      const spec = { selector: { [DEVWORKSPACE_ID_LABEL]: id }, type: 'ClusterIP', ports }
      const existing = this.store.get(SERVICES, namespace, name) as Service | undefined
      if (!existing) {
        this.store.create(SERVICES, {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name,
            namespace,
            labels: { [DEVWORKSPACE_ID_LABEL]: id },
            ownerReferences: [ownerReference('workspace.devfile.io/v1alpha2', 'DevWorkspace', dw)],
          } as KubeObject['metadata'],
          spec: { ...spec, clusterIP: clusterIp(name) },
        })
      } else if (JSON.stringify({ ...existing.spec, clusterIP: undefined }) !== JSON.stringify({ ...spec })) {
        this.store.update(SERVICES, { ...existing, spec: { ...spec, clusterIP: existing.spec.clusterIP } }, true)
      }
    }
  }

  /**
   * kube-controller-manager's garbage collector (kubernetes pkg/controller/garbagecollector): once an owner is
   * gone, its dependents are deleted (background propagation). Here: Services, EndpointSlices and HTTPRoutes.
   */
  private collectGarbage(): void {
    const gone = new Set(this.deletedUids)
    this.deletedUids.clear()
    for (const resource of [SERVICES, ENDPOINTSLICES, 'httproutes'])
      for (const o of this.store.list(resource, undefined)) {
        const owners = (o.metadata as { ownerReferences?: { uid: string }[] }).ownerReferences ?? []
        if (owners.length > 0 && owners.every((r) => gone.has(r.uid)))
          this.store.remove(resource, o.metadata.namespace ?? '', o.metadata.name)
      }
  }
}

/**
 * A selector-less Service `name` (port 80, named `http`, to targetPort `port`) and the EndpointSlice its owner
 * writes for it, with one ready endpoint at 127.0.0.1:`port` (kubernetes docs "Services without selectors").
 */
export function addBackend(store: ObjectStore, namespace: string, name: string, port: number): void {
  store.create(SERVICES, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'ClusterIP',
      clusterIP: clusterIp(name),
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: port }],
    },
  })
  store.create(ENDPOINTSLICES, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace, labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY]: 'sim-test' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'http', protocol: 'TCP', port }],
  })
}

interface Endpoint {
  name: string
  targetPort: number
  exposure?: string
}

/** The endpoints of a workspace's container components: its own, its parent's and its contributions' (flattened). */
function workspaceEndpoints(dw: KubeObject, store: ObjectStore): Endpoint[] {
  const spec = dw.spec as {
    template?: Record<string, unknown>
    contributions?: { kubernetes?: { name: string; namespace?: string } }[]
  }
  const ns = dw.metadata.namespace ?? ''
  const parent = (spec.template?.parent as { kubernetes?: { name: string; namespace?: string } } | undefined)
    ?.kubernetes
  const templates = [
    spec.template,
    ...[parent, ...(spec.contributions ?? []).map((c) => c.kubernetes)].map(
      (ref) =>
        ref && (store.get('devworkspacetemplates', ref.namespace ?? ns, ref.name)?.spec as Record<string, unknown>),
    ),
  ]
  return templates.flatMap((t) =>
    ((t?.components as { container?: { endpoints?: Endpoint[] } }[] | undefined) ?? []).flatMap(
      (c) => c.container?.endpoints ?? [],
    ),
  )
}

/** kubernetes pkg/api/v1/pod IsPodReady, as the simulator's pods carry it: Running with every container ready. */
function podReady(pod: KubeObject): boolean {
  const status = pod.status as { phase?: string; containerStatuses?: { ready?: boolean }[] } | undefined
  return status?.phase === 'Running' && (status.containerStatuses ?? []).every((c) => c.ready === true)
}

/** k8s.io/endpointslice utils.go FindPort: a number as is, a name looked up in the pod's container ports. */
function resolveTargetPort(port: ServicePort, pod: KubeObject | undefined): number | undefined {
  const target = port.targetPort ?? port.port
  if (typeof target === 'number') return target
  if (/^\d+$/.test(target)) return Number(target)
  const containers = (pod?.spec as { containers?: { ports?: { name?: string; containerPort: number }[] }[] })
    ?.containers
  return containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === target)?.containerPort
}

function ownerReference(apiVersion: string, kind: string, owner: KubeObject): Record<string, unknown> {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  }
}

/** apiserver names.SimpleNameGenerator: five characters from an alphabet without vowels or look-alikes. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('')
}

/** A stable address in the service CIDR (10.96.0.0/12) for a Service the simulator creates. */
function clusterIp(name: string): string {
  const h = [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7)
  return `10.96.${(h >> 8) & 255}.${(h & 254) + 1}`
}
