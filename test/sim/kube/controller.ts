import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { simulateClone } from '../git-checkout.js'
import {
  type CheClusterConfig,
  type DwoConfig,
  goDurationMs,
  type ResolvedConfig,
  resolveConfig,
} from './dwo-config.js'
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
/** The PVC Che created before DWO; DWO reuses it when present (DWO pkg/provision/storage/commonStorage.go). */
export const LEGACY_COMMON_PVC = 'claim-che-workspace'

/** The cluster around DWO: its global config and the CheCluster, if Che is installed. Tests may change both. */
export interface ClusterSetup {
  dwo: DwoConfig
  che: CheClusterConfig | undefined
}

/** Container states DWO fails a start on at once (pkg/library/status/check.go containerFailureStateReasons). */
const FAILURE_STATES = ['CrashLoopBackOff', 'ImagePullBackOff', 'CreateContainerError', 'RunContainerError']
/** Pod events DWO fails a start on, with how often each must occur (check.go unrecoverablePodEventReasons). */
const UNRECOVERABLE_EVENTS: Record<string, number> = {
  FailedPostStartHook: 1,
  FailedMount: 3,
  FailedScheduling: 1,
  FailedCreate: 1,
  ReplicaSetCreateError: 1,
}
const ALLOW_IMPORT_FROM = 'controller.devfile.io/allow-import-from'

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
    routingClass?: string
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
    /** Base URL of the simulated cluster; routes hang below it (`/gateway/…` for Che, `/basic/…` for basic). */
    private readonly baseUrl: string,
    private readonly cluster: ClusterSetup,
  ) {
    store.subscribe((event) => {
      if (event.resource === DW && event.type !== 'DELETED')
        this.schedule(event.object.metadata.namespace ?? '', event.object.metadata.name)
    })
  }

  /**
   * The operator restarts (after a fix): controller-runtime's informers list every object on start and
   * reconcile each one (sigs.k8s.io/controller-runtime pkg/internal/controller/controller.go Start), so a
   * workspace whose finalizer hung is finalised now.
   */
  resync(): void {
    for (const dw of this.store.list(DW, undefined)) this.schedule(dw.metadata.namespace ?? '', dw.metadata.name)
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
    const config = this.config(dw)
    const stalled = this.stallMessage(status, config)
    if (stalled) return this.fail(dw, status, stalled, 'InfrastructureFailure')
    const unresolved = this.unresolvedTemplates(dw)
    if (unresolved) return this.fail(dw, status, `Error processing devfile: ${unresolved}`, 'BadRequest')
    const storage = this.storageProblem(dw)
    if (storage) return this.fail(dw, status, `Error provisioning storage: ${storage}`, 'BadRequest')
    if (!dw.metadata.finalizers?.length) {
      const finalizers = [
        'rbac.controller.devfile.io',
        ...(needsStorageFinalizer(dw) ? ['storage.controller.devfile.io'] : []),
      ]
      return void this.store.update(DW, { ...dw, metadata: { ...dw.metadata, finalizers } })
    }
    const conditions = status.conditions ?? []
    const next = CONDITION_ORDER.find((type) => !conditions.some((c) => c.type === type && c.status === 'True'))
    if (next === 'RoutingReady') {
      const routing = this.routing(dw, config)
      if ('fail' in routing) return this.fail(dw, status, routing.fail, 'InfrastructureFailure')
      if ('wait' in routing) return this.waitOn(dw, status, config, 'RoutingReady', routing.wait)
    }
    if (next && next !== 'DeploymentReady')
      return this.writeStatus(dw, {
        ...status,
        conditions: [
          ...conditions.filter((c) => c.type !== next),
          condition(next, 'True', CONDITION_READY_MESSAGE[next] ?? ''),
        ],
      })
    if (next === 'DeploymentReady' && !conditions.some((c) => c.type === 'DeploymentReady'))
      return this.writeStatus(dw, {
        ...status,
        message: 'Waiting for workspace deployment',
        conditions: [...conditions, condition('DeploymentReady', 'False', 'Waiting for workspace deployment')],
      })
    this.progressDeployment(dw, status, config)
  }

  /** The configuration this workspace runs with (DWO pkg/config/sync.go ResolveConfigForWorkspace). */
  private config(dw: Dw): ResolvedConfig {
    return resolveConfig(this.cluster.dwo, this.cluster.che, dw.spec.template?.attributes as Record<string, unknown>)
  }

  /**
   * DWO devworkspace_controller.go checkForStartTimeout: while Starting, a workspace whose conditions have not
   * changed for progressTimeout fails, whatever the client's own timeout is.
   */
  private stallMessage(status: DwStatus, config: ResolvedConfig): string | undefined {
    const conditions = status.conditions ?? []
    const last = Math.max(...conditions.map((c) => Date.parse(c.lastTransitionTime)))
    // lastTransitionTime has whole seconds, so up to a second more passes than the timeout before it is seen.
    if (!Number.isFinite(last) || Date.now() < last + 1000 + goDurationMs(config.progressTimeout)) return undefined
    const step = conditions.find((c) => c.status === 'False')?.message ?? status.message ?? ''
    return `DevWorkspace failed to progress past step '${step}' for longer than timeout (${config.progressTimeout})`
  }

  /** Sets a condition False with what the step waits on, and looks again when progressTimeout would expire. */
  private waitOn(dw: Dw, status: DwStatus, config: ResolvedConfig, type: string, message: string): void {
    const conditions = status.conditions ?? []
    if (!conditions.some((c) => c.type === type && c.status === 'False'))
      this.writeStatus(dw, { ...status, message, conditions: [...conditions, condition(type, 'False', message)] })
    this.schedule(dw.metadata.namespace ?? '', dw.metadata.name, goDurationMs(config.progressTimeout) + 2000)
  }

  /**
   * DWO pkg/provision/workspace/routing.go getSpecRouting: an empty routingClass is the config's
   * defaultRoutingClass. The basic solver needs clusterHostSuffix (controllers/controller/devworkspacerouting/
   * solvers/basic_solver.go GetSpecObjects), its failure reaching the workspace through devworkspacerouting_controller.go
   * markRoutingFailed and SyncRoutingToCluster's FailError. `che` is solved by che-operator
   * (controllers/devworkspace/solver); a class no installed solver owns is never ready.
   */
  private routing(dw: Dw, config: ResolvedConfig): { fail: string } | { wait: string } | { ready: true } {
    const routingClass = dw.spec.routingClass || config.defaultRoutingClass
    if (routingClass === 'basic' && !config.clusterHostSuffix)
      return {
        fail: 'Failed to set up networking for workspace: Unable to provision networking for DevWorkspace: basic routing requires .config.routing.clusterHostSuffix to be set in operator config',
      }
    if (routingClass === 'basic' || (routingClass === 'che' && this.cluster.che)) return { ready: true }
    return { wait: 'Preparing networking' }
  }

  private progressDeployment(dw: Dw, status: DwStatus, config: ResolvedConfig): void {
    const ns = dw.metadata.namespace ?? ''
    const id = status.devworkspaceId ?? ''
    const pod = this.livePods(ns, id)[0]
    if (!pod) {
      this.createPod(dw, id, config)
      return this.schedule(ns, dw.metadata.name)
    }
    const unrecoverable = this.unrecoverablePodState(pod)
    if (unrecoverable)
      return this.fail(dw, status, `Error creating DevWorkspace deployment: ${unrecoverable}`, 'InfrastructureFailure')
    const readyAt = this.podReadyAt.get(pod.metadata.name) ?? 0
    if (Date.now() < readyAt)
      return this.schedule(
        ns,
        dw.metadata.name,
        Math.min(readyAt - Date.now(), goDurationMs(config.progressTimeout) + 1000),
      )
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
    const mainUrl = this.mainUrl(dw, config)
    this.writeStatus(updated, {
      ...status,
      phase: 'Running',
      message: mainUrl ?? 'Workspace is running',
      ...(mainUrl ? { mainUrl } : {}),
      conditions: [...conditions, condition('Ready', 'True', '')],
    })
  }

  /** DWO pkg/library/status/check.go CheckPodsState: a failure state of a container, or an unrecoverable event. */
  private unrecoverablePodState(pod: KubeObject): string | undefined {
    const status = pod.status as {
      containerStatuses?: { name: string; state?: { waiting?: { reason?: string } } }[]
    }
    for (const c of status.containerStatuses ?? []) {
      const reason = c.state?.waiting?.reason ?? ''
      if (FAILURE_STATES.includes(reason)) return `Container ${c.name} has state ${reason}`
    }
    const events = this.store
      .list(EVENTS, pod.metadata.namespace)
      .filter((e) => (e.involvedObject as { name?: string }).name === pod.metadata.name) as unknown as {
      reason: string
      message: string
      count: number
    }[]
    for (const e of events) {
      const threshold = UNRECOVERABLE_EVENTS[e.reason]
      if (threshold === undefined || e.count < threshold) continue
      return e.count > 1
        ? `Detected unrecoverable event ${e.reason} ${e.count} times: ${e.message}.`
        : `Detected unrecoverable event ${e.reason}: ${e.message}.`
    }
    return undefined
  }

  /**
   * The URL of the endpoint with attribute `type: main`: through Che's gateway for `che` (che-operator
   * controllers/devworkspace/solver), a plain route on the cluster host suffix for `basic` (basic_solver.go).
   */
  private mainUrl(dw: Dw, config: ResolvedConfig): string | undefined {
    const port = this.mainEndpointPort(dw)
    const route = (dw.spec.routingClass || config.defaultRoutingClass) === 'basic' ? 'basic' : 'gateway'
    return port === undefined
      ? undefined
      : `${this.baseUrl}/${route}/${dw.metadata.namespace}/${dw.metadata.name}/${port}/`
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

  /**
   * DWO pkg/provision/storage: `per-workspace` gets `storage-<id>`, owned by the workspace; the common strategies
   * share `claim-devworkspace`, or reuse Che's legacy `claim-che-workspace` when it exists
   * (commonStorage.go / asyncStorage.go checkForAlternatePVC).
   */
  private ensureClaim(dw: Dw, id: string): void {
    const ns = dw.metadata.namespace ?? ''
    const type = storageType(dw)
    if (type === 'ephemeral') return
    if (type !== 'per-workspace' && this.store.get(PVCS, ns, LEGACY_COMMON_PVC)) return
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

  /** DWO pkg/provision/storage/asyncStorage.go ProvisionStorage: one started async-storage workspace per namespace. */
  private storageProblem(dw: Dw): string | undefined {
    if (storageType(dw) !== 'async') return undefined
    const started = this.store
      .list(DW, dw.metadata.namespace)
      .filter((o) => storageType(o as Dw) === 'async' && (o as Dw).spec.started).length
    return started > 1
      ? `Cannot provision storage for workspace ${dw.metadata.name}: at most one workspace using async storage can be running in a namespace`
      : undefined
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
    if (status.phase !== 'Terminating' && status.phase !== 'Error') {
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
    if (dw.metadata.finalizers?.includes('storage.controller.devfile.io') && !this.cleanCommonStorage(dw, status))
      return
    // A per-workspace PVC is owned by the workspace and garbage-collected with it.
    if (this.store.get(PVCS, ns, `storage-${status.devworkspaceId}`))
      this.store.remove(PVCS, ns, `storage-${status.devworkspaceId}`)
    this.store.update(DW, { ...dw, metadata: { ...dw.metadata, finalizers: [] } })
    this.store.remove(DW, ns, dw.metadata.name)
    this.folders.remove(ns, dw.metadata.name)
  }

  /**
   * DWO controllers/workspace/finalize.go finalizeStorage and pkg/provision/storage/cleanup.go: the Job
   * `cleanup-<id>` removes the workspace's folder from the common PVC; when it fails, phase Error and the finalizer
   * stays. The common PVC itself is deleted once no other workspace uses it (commonStorage.go CleanupWorkspaceStorage,
   * deleteCommonPVCIfUnused).
   */
  private cleanCommonStorage(dw: Dw, status: DwStatus): boolean {
    const ns = dw.metadata.namespace ?? ''
    if (this.faults.failCleanupJob) {
      if (status.phase !== 'Error')
        this.writeStatus(dw, {
          ...status,
          phase: 'Error',
          message: `DevWorkspace PVC cleanup job failed: see logs for job "cleanup-${status.devworkspaceId}" for details. Additional information: BackoffLimitExceeded`,
        })
      return false
    }
    const others = this.store
      .list(DW, ns)
      .filter((o) => o.metadata.name !== dw.metadata.name && needsStorageFinalizer(o as Dw))
    if (others.length === 0 && this.store.get(PVCS, ns, COMMON_PVC)) this.store.remove(PVCS, ns, COMMON_PVC)
    return true
  }

  private fail(dw: Dw, status: DwStatus, message: string, reason: string): void {
    const conditions = [...(status.conditions ?? []), { ...condition('FailedStart', 'True', message), reason }]
    this.writeStatus(dw, { ...status, phase: 'Failing', message, conditions })
  }

  private writeStatus(dw: Dw, status: DwStatus): void {
    this.store.update(DW, { ...dw, status })
  }

  /**
   * DWO pkg/library/flatten: a parent (flatten.go resolveParentComponent) or plugin (contribution) template must
   * exist ("plugin for component … not found", resolvePluginComponentByKubernetesReference); one from another namespace must allow imports into this one with the annotation
   * `controller.devfile.io/allow-import-from` (`*` or a comma-separated list of namespaces).
   */
  private unresolvedTemplates(dw: Dw): string | undefined {
    const ns = dw.metadata.namespace ?? ''
    const parent = (dw.spec.template?.parent as { kubernetes?: { name: string; namespace?: string } } | undefined)
      ?.kubernetes
    const refs = [
      ...(parent ? [{ component: 'parent', ref: parent }] : []),
      ...(dw.spec.contributions ?? []).flatMap((c) => (c.kubernetes ? [{ component: c.name, ref: c.kubernetes }] : [])),
    ]
    for (const { component, ref } of refs) {
      const from = ref.namespace ?? ns
      const template = this.store.get(DWT, from, ref.name)
      if (!template)
        return component === 'parent'
          ? `failed to retrieve referenced kubernetes name and namespace for parent: devworkspacetemplates.workspace.devfile.io "${ref.name}" not found`
          : `plugin for component ${component} not found`
      const allowed = (template.metadata.annotations?.[ALLOW_IMPORT_FROM] ?? '').split(',').map((a) => a.trim())
      if (from !== ns && !allowed.includes('*') && !allowed.includes(ns))
        return `failed to retrieve plugin referenced by kubernetes name and namespace '${component}': DevWorkspaceTemplate ${from}/${ref.name} does not allow imports from namespace ${ns} (annotation ${ALLOW_IMPORT_FROM})`
    }
    return undefined
  }

  private containerComponents(dw: Dw): { name: string; container: { image: string; mountSources?: boolean } }[] {
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
    return components.filter((c) => c.container) as {
      name: string
      container: { image: string; mountSources?: boolean }
    }[]
  }

  private createPod(dw: Dw, id: string, config: ResolvedConfig): void {
    const ns = dw.metadata.namespace ?? ''
    const declared =
      (dw.spec.template?.projects as
        { name: string; clonePath?: string; git?: { remotes?: Record<string, string> } }[] | undefined) ?? []
    // The container filesystem is new on every start; home survives only on a persistUserHome PVC
    // (DWO pkg/library/home/persistentHome.go NeedsPersistentHomeDirectory).
    const keepHome = config.persistUserHome && storageType(dw) !== 'ephemeral'
    const dir = this.folders.start(ns, dw.metadata.name, { keepHome })
    // project-clone: each project with a git remote is cloned into its clonePath before the containers start.
    for (const p of declared) {
      const remote = Object.values(p.git?.remotes ?? {})[0]
      if (remote) simulateClone(remote, path.join(dir, 'projects', p.clonePath ?? p.name))
    }
    const first = declared[0]
    const components = this.containerComponents(dw)
    const name = `${id}-${randomBytes(5).toString('hex').slice(0, 10)}-${randomBytes(3).toString('hex').slice(0, 5)}`
    // What DWO puts into the pod beyond its defaults: the operator config's
    // workspace.containerSecurityContext / podSecurityContext (devworkspace-operator pkg/config),
    // applied in pkg/provision/workspace/deployment.go getSpecDeployment, and a devfile's
    // pod-overrides / container-overrides (pkg/library/overrides ApplyPodOverrides,
    // ApplyContainerOverrides). A hostPath volume can only come from a mutating webhook.
    const mutation = this.faults.podMutation
    const securityContext =
      this.faults.privilegedPod || mutation?.containerSecurityContext
        ? { ...(this.faults.privilegedPod ? { privileged: true } : {}), ...mutation?.containerSecurityContext }
        : undefined
    const hostVolume = mutation?.hostPath ? { name: 'host', hostPath: { path: mutation.hostPath } } : undefined
    const fault = this.faults.failStart
    this.faults.failStart = undefined
    const waiting = fault?.containerState ?? 'ContainerCreating'
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
        securityContext: {
          runAsUser: 1234,
          runAsGroup: 0,
          runAsNonRoot: mutation?.runAsNonRoot ?? true,
          fsGroup: 1234,
        },
        ...(mutation?.hostNetwork ? { hostNetwork: true } : {}),
        ...(mutation?.hostPID ? { hostPID: true } : {}),
        ...(mutation?.hostIPC ? { hostIPC: true } : {}),
        ...(hostVolume ? { volumes: [hostVolume] } : {}),
        initContainers: [{ name: 'project-clone', image: 'quay.io/devfile/project-clone:next' }],
        containers: components.map((c) => ({
          name: c.name,
          image: c.container.image,
          // DWO pkg/library/container/mountSources.go: only mountSources containers (nil means true) get /projects
          // and PROJECTS_ROOT / PROJECT_SOURCE (/projects/<clonePath or name> of the first project).
          env: envList(
            this.folders.env(
              ns,
              dw.metadata.name,
              c.container.mountSources !== false ? (first?.clonePath ?? first?.name ?? '') : undefined,
            ),
          ),
          ...(securityContext ? { securityContext } : {}),
          ...(hostVolume ? { volumeMounts: [{ name: hostVolume.name, mountPath: '/host' }] } : {}),
        })),
      },
      status: {
        phase: 'Pending',
        containerStatuses: components.map((c) => ({
          name: c.name,
          ready: false,
          restartCount: 0,
          image: c.container.image,
          state: { waiting: { reason: waiting } },
        })),
      },
    }
    this.ensureClaim(dw, id)
    this.store.create(PODS, pod)
    this.podReadyAt.set(name, fault ? Number.POSITIVE_INFINITY : Date.now() + this.faults.slowStartMs)
    this.event(ns, pod, 'Scheduled', `Successfully assigned ${ns}/${name} to sim-node`, 'Normal')
    if (fault?.eventReason)
      this.event(ns, pod, fault.eventReason, fault.eventMessage ?? fault.eventReason, 'Warning', fault.eventCount ?? 1)
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

  private event(
    namespace: string,
    pod: KubeObject,
    reason: string,
    message: string,
    type = 'Warning',
    count = 1,
  ): void {
    const now = new Date().toISOString()
    this.store.create(EVENTS, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { kind: 'Pod', name: pod.metadata.name, namespace, apiVersion: 'v1' },
      reason,
      message,
      type,
      count,
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

function envList(env: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(env).map(([name, value]) => ({ name, value }))
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
