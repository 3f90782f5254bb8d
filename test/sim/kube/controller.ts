import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { simulateClone } from '../git-checkout.js'
import type { KubeFaults } from './faults.js'
import { type KubeObject, type ObjectStore } from './store.js'
import type { WorkspaceFolders } from './workspace-fs.js'

export const DW = 'devworkspaces'
export const DWT = 'devworkspacetemplates'
export const PODS = 'pods'
export const EVENTS = 'events'
export const PVCS = 'persistentvolumeclaims'
/** The PVC the `common` and `per-user` storage types share (DWO pkg/constants). */
export const COMMON_PVC = 'claim-devworkspace'

const CONDITION_ORDER = [
  'DevWorkspaceResolved',
  'StorageReady',
  'RoutingReady',
  'ServiceAccountReady',
  'PullSecretsReady',
  'KubernetesComponentsProvisioned',
  'DeploymentReady',
] as const
const CONDITION_READY_MESSAGE: Record<string, string> = {
  DevWorkspaceResolved: 'Resolved DevWorkspace',
  StorageReady: 'Storage ready',
  RoutingReady: 'Networking ready',
  ServiceAccountReady: 'DevWorkspace serviceaccount ready',
  PullSecretsReady: 'DevWorkspace secrets ready',
  KubernetesComponentsProvisioned: 'Kubernetes components ready',
  DeploymentReady: 'DevWorkspace deployment ready',
}

interface Condition {
  type: string
  status: string
  lastTransitionTime: string
  reason?: string
  message?: string
}

interface DwStatus {
  devworkspaceId?: string
  phase?: string
  message?: string
  mainUrl?: string
  conditions?: Condition[]
}

type Dw = KubeObject & {
  spec: {
    started: boolean
    template?: Record<string, unknown>
    contributions?: { name: string; kubernetes?: { name: string; namespace?: string } }[]
  }
  status?: DwStatus
}

/**
 * A DevWorkspace controller that walks the same phases and conditions as the
 * devworkspace-operator, one small step per reconcile, so clients see the same
 * sequence of watch events. It creates a labelled pod per running workspace.
 */
export class DevWorkspaceController {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; due: number }>()
  private readonly podReadyAt = new Map<string, number>()
  private stopped = false

  constructor(
    private readonly store: ObjectStore,
    private readonly folders: WorkspaceFolders,
    private readonly faults: KubeFaults,
    private readonly stepDelayMs: number,
    /** Base URL of the simulated Che gateway that serves mainUrl. */
    private readonly gatewayUrl: string,
  ) {
    store.subscribe((event) => {
      if (event.resource === DW && event.type !== 'DELETED')
        this.schedule(event.object.metadata.namespace ?? '', event.object.metadata.name)
    })
  }

  stop(): void {
    this.stopped = true
    for (const { timer } of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }

  /** Reconciles after `delay`; an earlier reconcile already due wins, a later one is brought forward. */
  private schedule(namespace: string, name: string, delay = this.stepDelayMs): void {
    const k = `${namespace}/${name}`
    const due = Date.now() + delay
    const existing = this.pending.get(k)
    if (this.stopped || (existing && existing.due <= due)) return
    if (existing) clearTimeout(existing.timer)
    const timer = setTimeout(() => {
      this.pending.delete(k)
      const dw = this.store.get(DW, namespace, name) as Dw | undefined
      if (dw) this.reconcile(dw)
    }, delay)
    this.pending.set(k, { timer, due })
  }

  private reconcile(dw: Dw): void {
    const status: DwStatus = dw.status ?? {}
    if (dw.metadata.deletionTimestamp) return this.finalize(dw, status)
    if (!status.devworkspaceId)
      return this.writeStatus(dw, { devworkspaceId: devworkspaceId(dw.metadata.uid ?? ''), phase: '' })
    if (dw.spec.started) return this.reconcileStarted(dw, status)
    return this.reconcileStopped(dw, status)
  }

  private reconcileStarted(dw: Dw, status: DwStatus): void {
    const phase = status.phase ?? ''
    if (phase === 'Failed' || phase === 'Running') return
    if (phase === 'Failing') {
      // DWO stops a workspace that failed to start by setting spec.started=false itself.
      return void this.store.update(DW, { ...dw, spec: { ...dw.spec, started: false } }, true)
    }
    if (phase !== 'Starting')
      return this.writeStatus(dw, {
        ...status,
        phase: 'Starting',
        message: 'Initializing DevWorkspace',
        conditions: [condition('Started', 'True', 'DevWorkspace is starting')],
      })
    const unresolved = this.unresolvedTemplates(dw)
    if (unresolved) return this.fail(dw, status, `Error processing devfile: ${unresolved}`, 'BadRequest')
    if (!dw.metadata.finalizers?.length) {
      const finalizers = [
        'rbac.controller.devfile.io',
        ...(needsStorageFinalizer(dw) ? ['storage.controller.devfile.io'] : []),
      ]
      return void this.store.update(DW, { ...dw, metadata: { ...dw.metadata, finalizers } })
    }
    const conditions = status.conditions ?? []
    const next = CONDITION_ORDER.find((type) => !conditions.some((c) => c.type === type))
    if (next && next !== 'DeploymentReady')
      return this.writeStatus(dw, {
        ...status,
        conditions: [...conditions, condition(next, 'True', CONDITION_READY_MESSAGE[next] ?? '')],
      })
    if (next === 'DeploymentReady')
      return this.writeStatus(dw, {
        ...status,
        message: 'Waiting for workspace deployment',
        conditions: [...conditions, condition('DeploymentReady', 'False', 'Waiting for workspace deployment')],
      })
    this.progressDeployment(dw, status)
  }

  private progressDeployment(dw: Dw, status: DwStatus): void {
    const ns = dw.metadata.namespace ?? ''
    const id = status.devworkspaceId ?? ''
    const pod = this.livePods(ns, id)[0]
    if (!pod) {
      this.createPod(dw, id)
      return this.schedule(ns, dw.metadata.name)
    }
    if (this.faults.failStart) {
      const fault = this.faults.failStart
      this.faults.failStart = undefined
      if (fault.eventReason) this.event(ns, pod, fault.eventReason, fault.eventMessage ?? fault.message)
      return this.fail(
        dw,
        status,
        `DevWorkspace failed to progress past step '${fault.message}' for longer than timeout (5m)`,
        'InfrastructureFailure',
      )
    }
    const readyAt = this.podReadyAt.get(pod.metadata.name) ?? 0
    if (Date.now() < readyAt) return this.schedule(ns, dw.metadata.name, readyAt - Date.now())
    if ((pod.status as { phase?: string }).phase !== 'Running') {
      this.markPodRunning(pod)
      return this.schedule(ns, dw.metadata.name)
    }
    const conditions = (status.conditions ?? []).map((c) =>
      c.type === 'DeploymentReady'
        ? condition('DeploymentReady', 'True', CONDITION_READY_MESSAGE.DeploymentReady ?? '')
        : c,
    )
    const annotations = { ...dw.metadata.annotations, 'controller.devfile.io/started-at': String(Date.now()) }
    const updated = this.store.update(DW, { ...dw, metadata: { ...dw.metadata, annotations } }) as Dw
    const mainUrl = this.mainUrl(dw)
    this.writeStatus(updated, {
      ...status,
      phase: 'Running',
      message: mainUrl ?? 'Workspace is running',
      ...(mainUrl ? { mainUrl } : {}),
      conditions: [...conditions, condition('Ready', 'True', '')],
    })
  }

  /** The gateway URL of the endpoint with attribute `type: main`, as Che's routing builds it. */
  private mainUrl(dw: Dw): string | undefined {
    const port = this.mainEndpointPort(dw)
    return port === undefined ? undefined : `${this.gatewayUrl}/${dw.metadata.namespace}/${dw.metadata.name}/${port}/`
  }

  /** The target port of the main endpoint among the workspace's and its editor's components. */
  mainEndpointPort(dw: Dw): number | undefined {
    const ns = dw.metadata.namespace ?? ''
    const contributed = (dw.spec.contributions ?? []).map(
      (c) =>
        c.kubernetes &&
        (
          this.store.get(DWT, c.kubernetes.namespace ?? ns, c.kubernetes.name) as
            { spec?: Record<string, unknown> } | undefined
        )?.spec,
    )
    const components = [dw.spec.template, ...contributed].flatMap(
      (t) =>
        (t?.components as
          | { container?: { endpoints?: { targetPort: number; attributes?: Record<string, unknown> }[] } }[]
          | undefined) ?? [],
    )
    return components.flatMap((c) => c.container?.endpoints ?? []).find((e) => e.attributes?.type === 'main')
      ?.targetPort
  }

  private ensureClaim(dw: Dw, id: string): void {
    const ns = dw.metadata.namespace ?? ''
    const type = storageType(dw)
    if (type === 'ephemeral') return
    const name = type === 'per-workspace' ? `storage-${id}` : COMMON_PVC
    if (this.store.get(PVCS, ns, name)) return
    this.store.create(PVCS, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        namespace: ns,
        labels: { 'controller.devfile.io/devworkspace_id': type === 'per-workspace' ? id : '' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: type === 'per-workspace' ? '5Gi' : '10Gi' } },
      },
      status: { phase: 'Bound' },
    })
  }

  private reconcileStopped(dw: Dw, status: DwStatus): void {
    const ns = dw.metadata.namespace ?? ''
    const pods = this.livePods(ns, status.devworkspaceId ?? '')
    if (status.phase === 'Failing') {
      for (const pod of pods) this.store.remove(PODS, ns, pod.metadata.name)
      const conditions = (status.conditions ?? []).map((c) =>
        c.type === 'Started' ? condition('Started', 'False', 'Workspace stopped due to error') : c,
      )
      return this.writeStatus(dw, { ...status, phase: 'Failed', conditions })
    }
    if (status.phase === 'Failed' || status.phase === 'Stopped') return
    if (pods.length > 0) {
      for (const pod of pods) this.store.remove(PODS, ns, pod.metadata.name)
      if (storageType(dw) === 'ephemeral' || this.faults.loseProjectsOnStop)
        this.folders.wipeProjects(ns, dw.metadata.name)
      return this.writeStatus(dw, { ...status, phase: 'Stopping', message: 'Stopping' })
    }
    const conditions = (status.conditions ?? [])
      .filter((c) => c.type !== 'Ready' && c.type !== 'DeploymentReady')
      .map((c) => (c.type === 'Started' ? condition('Started', 'False', 'Workspace is stopped') : c))
    this.writeStatus(dw, { ...status, phase: 'Stopped', message: 'Stopped', conditions })
  }

  private finalize(dw: Dw, status: DwStatus): void {
    const ns = dw.metadata.namespace ?? ''
    if (status.phase !== 'Terminating') {
      const conditions = [condition('Started', 'False', 'Cleaning up resources for deletion')]
      return this.writeStatus(dw, {
        ...status,
        phase: 'Terminating',
        message: 'Cleaning up resources for deletion',
        conditions,
      })
    }
    const pods = this.livePods(ns, status.devworkspaceId ?? '')
    if (pods.length > 0) {
      for (const pod of pods) this.store.remove(PODS, ns, pod.metadata.name)
      return this.schedule(ns, dw.metadata.name)
    }
    if (this.faults.stuckFinalizers) return
    // A per-workspace PVC is owned by the workspace and garbage-collected with it.
    if (this.store.get(PVCS, ns, `storage-${status.devworkspaceId}`))
      this.store.remove(PVCS, ns, `storage-${status.devworkspaceId}`)
    this.store.update(DW, { ...dw, metadata: { ...dw.metadata, finalizers: [] } })
    this.store.remove(DW, ns, dw.metadata.name)
    this.folders.remove(ns, dw.metadata.name)
  }

  private fail(dw: Dw, status: DwStatus, message: string, reason: string): void {
    const conditions = [...(status.conditions ?? []), { ...condition('FailedStart', 'True', message), reason }]
    this.writeStatus(dw, { ...status, phase: 'Failing', message, conditions })
  }

  private writeStatus(dw: Dw, status: DwStatus): void {
    this.store.update(DW, { ...dw, status })
  }

  private unresolvedTemplates(dw: Dw): string | undefined {
    const refs = [
      (dw.spec.template?.parent as { kubernetes?: { name: string; namespace?: string } } | undefined)?.kubernetes,
      ...(dw.spec.contributions ?? []).map((c) => c.kubernetes),
    ].filter((r): r is { name: string; namespace?: string } => r !== undefined)
    const missing = refs.find((r) => !this.store.get(DWT, r.namespace ?? dw.metadata.namespace ?? '', r.name))
    return (
      missing &&
      `failed to retrieve referenced kubernetes name and namespace for parent: devworkspacetemplates.workspace.devfile.io "${missing.name}" not found`
    )
  }

  private containerComponents(
    dw: Dw,
  ): { name: string; container: { image: string; env?: { name: string; value: string }[] } }[] {
    const ns = dw.metadata.namespace ?? ''
    const templates = [dw.spec.template ?? {}]
    const parent = (dw.spec.template?.parent as { kubernetes?: { name: string; namespace?: string } } | undefined)
      ?.kubernetes
    if (parent)
      templates.unshift(
        (this.store.get(DWT, parent.namespace ?? ns, parent.name) as { spec?: Record<string, unknown> } | undefined)
          ?.spec ?? {},
      )
    const components = templates.flatMap(
      (t) => (t.components as { name: string; container?: { image: string } }[] | undefined) ?? [],
    )
    return components.filter((c) => c.container) as { name: string; container: { image: string } }[]
  }

  private createPod(dw: Dw, id: string): void {
    const ns = dw.metadata.namespace ?? ''
    const declared =
      (dw.spec.template?.projects as { name: string; git?: { remotes?: Record<string, string> } }[] | undefined) ?? []
    const projects = declared.map((p) => p.name)
    const dir = this.folders.ensure(ns, dw.metadata.name, projects)
    // project-clone: each project with a git remote is cloned before the containers start.
    for (const p of declared) {
      const remote = Object.values(p.git?.remotes ?? {})[0]
      if (remote) simulateClone(remote, path.join(dir, 'projects', p.name))
    }
    const env = Object.entries(this.folders.env(ns, dw.metadata.name, projects)).map(([name, value]) => ({
      name,
      value,
    }))
    const components = this.containerComponents(dw)
    const name = `${id}-${randomBytes(5).toString('hex').slice(0, 10)}-${randomBytes(3).toString('hex').slice(0, 5)}`
    const securityContext = this.faults.privilegedPod ? { privileged: true } : undefined
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: {
          'controller.devfile.io/devworkspace_id': id,
          'controller.devfile.io/devworkspace_name': dw.metadata.name,
          'controller.devfile.io/creator': dw.metadata.labels?.['controller.devfile.io/creator'] ?? '',
        },
      },
      spec: {
        securityContext: { runAsUser: 1234, runAsGroup: 0, runAsNonRoot: true, fsGroup: 1234 },
        initContainers: [{ name: 'project-clone', image: 'quay.io/devfile/project-clone:next' }],
        containers: components.map((c) => ({
          name: c.name,
          image: c.container.image,
          env,
          ...(securityContext ? { securityContext } : {}),
        })),
      },
      status: {
        phase: 'Pending',
        containerStatuses: components.map((c) => ({
          name: c.name,
          ready: false,
          restartCount: 0,
          image: c.container.image,
          state: { waiting: { reason: 'ContainerCreating' } },
        })),
      },
    }
    this.ensureClaim(dw, id)
    this.store.create(PODS, pod)
    this.podReadyAt.set(name, Date.now() + this.faults.slowStartMs)
    this.event(ns, pod, 'Scheduled', `Successfully assigned ${ns}/${name} to sim-node`, 'Normal')
  }

  private markPodRunning(pod: KubeObject): void {
    const statuses = ((pod.status as { containerStatuses?: Record<string, unknown>[] }).containerStatuses ?? []).map(
      (s) => ({ ...s, ready: true, started: true, state: { running: { startedAt: new Date().toISOString() } } }),
    )
    this.store.update(PODS, {
      ...pod,
      status: {
        phase: 'Running',
        containerStatuses: statuses,
        initContainerStatuses: [
          {
            name: 'project-clone',
            ready: true,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed' } },
          },
        ],
      },
    })
    for (const s of statuses)
      this.event(
        pod.metadata.namespace ?? '',
        pod,
        'Started',
        `Started container ${String((s as { name?: unknown }).name)}`,
        'Normal',
      )
  }

  private livePods(namespace: string, id: string): KubeObject[] {
    return this.store
      .list(PODS, namespace)
      .filter((p) => p.metadata.labels?.['controller.devfile.io/devworkspace_id'] === id)
  }

  private event(namespace: string, pod: KubeObject, reason: string, message: string, type = 'Warning'): void {
    const now = new Date().toISOString()
    this.store.create(EVENTS, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { kind: 'Pod', name: pod.metadata.name, namespace, apiVersion: 'v1' },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'sim-kubelet' },
    })
  }
}

/** `workspace` + the first three groups of the UID, without dashes (DWO getWorkspaceId). */
export function devworkspaceId(uid: string): string {
  return `workspace${uid.split('-').slice(0, 3).join('')}`
}

function storageType(dw: Dw): string {
  const storage = (dw.spec.template?.attributes as Record<string, unknown> | undefined)?.[
    'controller.devfile.io/storage-type'
  ]
  return typeof storage === 'string' ? storage : 'per-user'
}

function needsStorageFinalizer(dw: Dw): boolean {
  const storage = storageType(dw)
  return storage === 'per-user' || storage === 'common' || storage === 'async'
}

function condition(type: string, status: string, message: string): Condition {
  return {
    type,
    status,
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(message ? { message } : {}),
  }
}
