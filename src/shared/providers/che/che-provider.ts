import { CoreV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { ProviderRequestError, RunTaskError, WorkspaceStartError } from '../../errors.js'
import { CREATED_BY, identityLabels, LABELS } from '../../identity.js'
import type {
  DestroyResult,
  Diagnostics,
  DownloadLimits,
  DownloadResult,
  ExecRequest,
  ExecResult,
  ExecStreams,
  ProvisionRequest,
  SweepRequest,
  WorkspaceHandle,
  WorkspaceProvider,
} from '../../provider.js'
import { DEFAULT_RETRY, Deadline, type RetryPolicy } from '../../wait.js'
import { withCommandDeadline } from '../command-deadline.js'
import { killCommand, tarCommand, wrapCommand } from '../exec-script.js'
import { downloadTar, textSink } from '../tar-download.js'
import { describeDevWorkspace } from './che-diagnostics.js'
import { findReadyPod, pickContainer, waitForReadyPod } from './che-pods.js'
import { checkPodGuardrails } from './pod-guardrails.js'
import type { CheSettings } from './che-settings.js'
import { findCheConfig } from './che-cluster.js'
import {
  buildDevWorkspace,
  CHE_ROUTING_CLASS,
  DW_GROUP,
  DW_PLURAL,
  DW_VERSION,
  DWT_PLURAL,
  type DevWorkspaceObject,
} from './devworkspace.js'
import { watchDevWorkspace } from './devworkspace-watch.js'
import { type AccessCheck, requirePermissions } from '../../kube/access-review.js'
import { kubeCaller } from '../../kube/kube-call.js'
import { DEFAULT_HEARTBEAT, execInPod, type Heartbeat, type PodTarget } from './pod-exec.js'

/** Transports and tunables; tests shorten the delays. */
export interface CheDependencies {
  readonly kubeConfig: KubeConfig
  readonly retry?: RetryPolicy
  readonly heartbeat?: Heartbeat
  readonly progressIntervalMs?: number
}

const FAILED_PHASES = new Set(['Failed', 'Failing', 'Error'])

/** Creates the Eclipse Che provider over an injected KubeConfig. */
export function createCheProvider(settings: CheSettings, deps: CheDependencies): WorkspaceProvider {
  return new CheProvider(settings, deps)
}

class CheProvider implements WorkspaceProvider {
  readonly name = 'che' as const
  private readonly custom: CustomObjectsApi
  private readonly core: CoreV1Api
  private readonly retry: RetryPolicy
  private readonly heartbeat: Heartbeat

  constructor(
    private readonly settings: CheSettings,
    private readonly deps: CheDependencies,
  ) {
    this.custom = deps.kubeConfig.makeApiClient(CustomObjectsApi)
    this.core = deps.kubeConfig.makeApiClient(CoreV1Api)
    this.retry = deps.retry ?? DEFAULT_RETRY
    this.heartbeat = deps.heartbeat ?? DEFAULT_HEARTBEAT
  }

  /** Every namespaced permission a run uses, asked for up front so a short Role fails before anything is created. */
  async checkPermissions(signal?: AbortSignal): Promise<void> {
    const namespace = this.settings.namespace
    const checks: AccessCheck[] = [
      ...['create', 'get', 'list', 'watch', 'patch', 'delete'].map((verb) => ({
        verb,
        group: DW_GROUP,
        resource: DW_PLURAL,
        namespace,
      })),
      // The editor and parent templates (the smoke probe reads the editor's endpoints).
      { verb: 'get', group: DW_GROUP, resource: DWT_PLURAL, namespace },
      { verb: 'list', group: '', resource: 'pods', namespace },
      // The exec upgrade is a GET; Kubernetes 1.35 also checks create.
      { verb: 'get', group: '', resource: 'pods', subresource: 'exec', namespace },
      { verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace },
      // Diagnostics of a failed start, and the smoke probe's storage check.
      { verb: 'list', group: '', resource: 'events', namespace },
      { verb: 'get', group: '', resource: 'persistentvolumeclaims', namespace },
    ]
    await requirePermissions(
      this.deps.kubeConfig,
      kubeCaller(this.deps.kubeConfig, this.retry, signal),
      checks,
      'Grant them with a Role bound to that identity.',
    )
  }

  async provision(request: ProvisionRequest, signal?: AbortSignal): Promise<WorkspaceHandle> {
    const ns = this.settings.namespace
    if (!this.settings.source) throw new Error('Provisioning on Che needs a devfile or a DevWorkspaceTemplate.')
    const che = await this.call('listing CheClusters', signal, () => findCheConfig(this.custom))
    if (che.note) request.onProgress?.(che.note)
    const body = buildDevWorkspace(
      this.settings.source,
      { name: request.name, namespace: ns, labels: identityLabels(request.identity) },
      { routingClass: this.settings.routingClass ?? CHE_ROUTING_CLASS, ...(che.config ? { config: che.config } : {}) },
    )
    const created = await this.create(body, signal)
    let handle: WorkspaceHandle = {
      provider: 'che',
      name: request.name,
      id: created.status?.devworkspaceId ?? '',
      scope: ns,
      target: '',
      createdAt: new Date().toISOString(),
    }
    await request.onCreated?.(handle)
    const deadline = new Deadline(request.startTimeoutMs)
    const running = await this.waitForRunning(request.name, deadline, request.onProgress, signal)
    handle = { ...handle, id: running.status?.devworkspaceId ?? '' }
    return this.attachPod(handle, deadline, signal)
  }

  async exec(
    handle: WorkspaceHandle,
    request: ExecRequest,
    streams: ExecStreams,
    signal?: AbortSignal,
  ): Promise<ExecResult> {
    const target = await this.podTarget(handle)
    const wrapped = wrapCommand(request.command, request.cwd, request.env)
    const started = Date.now()
    const exitCode = await withCommandDeadline(
      request.timeoutMs,
      signal,
      (execSignal) =>
        execInPod(this.deps.kubeConfig, target, wrapped.argv, streams.stdout, streams.stderr, {
          stdin: wrapped.stdin,
          signal: execSignal,
          heartbeat: this.heartbeat,
        }),
      () => this.kill(target, wrapped.token),
    )
    return { exitCode, signal: null, durationMs: Date.now() - started }
  }

  async download(
    handle: WorkspaceHandle,
    remoteDir: string,
    localDir: string,
    limits: DownloadLimits,
    signal?: AbortSignal,
  ): Promise<DownloadResult> {
    const target = await this.podTarget(handle)
    return downloadTar(
      (stdout, stderr, tarSignal) =>
        execInPod(this.deps.kubeConfig, target, tarCommand(remoteDir), stdout, stderr, {
          signal: tarSignal,
          heartbeat: this.heartbeat,
        }),
      remoteDir,
      localDir,
      limits.maxBytes,
      signal,
    )
  }

  async stop(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.setStarted(handle.name, false, signal)
    await watchDevWorkspace({
      ...this.watchBase(handle.name, new Deadline(timeoutMs), signal),
      judge: (o) =>
        o === null
          ? { fail: new WorkspaceStartError(`DevWorkspace ${handle.scope}/${handle.name} disappeared while stopping.`) }
          : o.status?.phase === 'Stopped'
            ? { done: undefined }
            : undefined,
      onTimeout: (last) =>
        new WorkspaceStartError(
          `DevWorkspace ${handle.scope}/${handle.name} did not stop within ${Math.round(timeoutMs / 1000)}s; last phase ${last?.status?.phase ?? 'unknown'}.`,
        ),
    })
  }

  async start(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<WorkspaceHandle> {
    await this.setStarted(handle.name, true, signal)
    const deadline = new Deadline(timeoutMs)
    const running = await this.waitForRunning(handle.name, deadline, undefined, signal)
    return this.attachPod({ ...handle, id: running.status?.devworkspaceId ?? handle.id }, deadline, signal)
  }

  async destroy(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<DestroyResult> {
    const doing = `deleting DevWorkspace ${handle.scope}/${handle.name}`
    try {
      await this.call(doing, signal, () =>
        this.custom.deleteNamespacedCustomObject({ ...this.resource(), name: handle.name }),
      )
    } catch (error) {
      if (error instanceof ProviderRequestError && error.status === 404) return { alreadyGone: true }
      throw error
    }
    await watchDevWorkspace({
      ...this.watchBase(handle.name, new Deadline(timeoutMs), signal),
      // DWO sets phase Error when its storage cleanup Job fails and keeps the finalizer: waiting longer is futile.
      judge: (o) =>
        o === null
          ? { done: undefined }
          : o.status?.phase === 'Error'
            ? {
                fail: new RunTaskError(
                  'provider-request',
                  `DevWorkspace ${handle.scope}/${handle.name} could not be deleted: ${o.status.message || 'phase Error'}. Its finalizers stay until an administrator resolves it.`,
                ),
              }
            : undefined,
      onTimeout: (last) =>
        new RunTaskError(
          'provider-request',
          `DevWorkspace ${handle.scope}/${handle.name} was not gone ${Math.round(timeoutMs / 1000)}s after deletion; last phase ${last?.status?.phase ?? 'unknown'}, finalizers may be stuck.`,
        ),
    })
    return { alreadyGone: false }
  }

  async diagnose(handle: WorkspaceHandle): Promise<Diagnostics> {
    try {
      const object = await this.get(handle.name)
      return { lines: await describeDevWorkspace(this.core, handle.scope, object) }
    } catch (error) {
      return { lines: [`diagnostics could not be read: ${(error as Error).message}`] }
    }
  }

  /** Nothing stays open between calls: every exec has its own WebSocket. */
  async close(): Promise<void> {}

  async sweep(request: SweepRequest, signal?: AbortSignal): Promise<string[]> {
    const list = (await this.call(`listing DevWorkspaces in ${this.settings.namespace}`, signal, () =>
      this.custom.listNamespacedCustomObject({
        ...this.resource(),
        labelSelector: `${LABELS.createdBy}=${CREATED_BY}`,
      }),
    )) as { items: DevWorkspaceObject[] }
    const cutoff = Date.now() - request.olderThanMs
    const stale = list.items.filter(
      (o) =>
        o.metadata.name.startsWith(`${request.namePrefix}-`) &&
        Date.parse(o.metadata.creationTimestamp ?? '') < cutoff &&
        !o.metadata.deletionTimestamp,
    )
    const removed: string[] = []
    for (const o of stale) {
      const handle: WorkspaceHandle = {
        provider: 'che',
        name: o.metadata.name,
        id: o.status?.devworkspaceId ?? '',
        scope: this.settings.namespace,
        target: '',
        createdAt: o.metadata.creationTimestamp ?? '',
      }
      const result = await this.destroy(handle, 5 * 60_000, signal)
      if (!result.alreadyGone) removed.push(o.metadata.name)
    }
    return removed
  }

  private async create(body: DevWorkspaceObject, signal?: AbortSignal): Promise<DevWorkspaceObject> {
    const doing = `creating DevWorkspace ${body.metadata.namespace ?? ''}/${body.metadata.name}`
    let attempts = 0
    try {
      return await this.call(doing, signal, () => {
        attempts += 1
        // Strict: a field the CRD does not know fails the create instead of being pruned without a word.
        return this.custom.createNamespacedCustomObject({
          ...this.resource(),
          body,
          fieldValidation: 'Strict',
        }) as Promise<DevWorkspaceObject>
      })
    } catch (error) {
      // A retried create can meet its own first attempt, which did land.
      if (attempts > 1 && error instanceof ProviderRequestError && error.status === 409) {
        const existing = await this.get(body.metadata.name)
        if (existing && existing.metadata.labels?.[LABELS.runId] === body.metadata.labels?.[LABELS.runId])
          return existing
      }
      throw error
    }
  }

  private async waitForRunning(
    name: string,
    deadline: Deadline,
    onProgress: ((s: string) => void) | undefined,
    signal?: AbortSignal,
  ): Promise<DevWorkspaceObject> {
    const ns = this.settings.namespace
    const settled = await watchDevWorkspace<DevWorkspaceObject>({
      ...this.watchBase(name, deadline, signal),
      onProgress,
      judge: (o) => {
        if (o === null)
          return { fail: new WorkspaceStartError(`DevWorkspace ${ns}/${name} was deleted while starting.`) }
        if (o.metadata.deletionTimestamp)
          return { fail: new WorkspaceStartError(`DevWorkspace ${ns}/${name} is being deleted.`) }
        const phase = o.status?.phase ?? ''
        return phase === 'Running' || FAILED_PHASES.has(phase) ? { done: o } : undefined
      },
      onTimeout: async (last) => {
        const seen = last
          ? `${last.status?.phase || 'no phase'}${last.status?.message ? ` (${last.status.message})` : ''}`
          : 'never seen'
        return new WorkspaceStartError(
          `DevWorkspace ${ns}/${name} was not Running within the start timeout (${Math.round(deadline.totalMs / 1000)}s); last status: ${seen}.`,
          await describeDevWorkspace(this.core, ns, last ?? null),
        )
      },
    })
    if (settled.status?.phase !== 'Running') {
      const reason = settled.status?.message || settled.status?.phase || 'no phase'
      throw new WorkspaceStartError(
        `DevWorkspace ${ns}/${name} failed to start: ${reason}`,
        await describeDevWorkspace(this.core, ns, settled),
      )
    }
    return settled
  }

  private async attachPod(handle: WorkspaceHandle, deadline: Deadline, signal?: AbortSignal): Promise<WorkspaceHandle> {
    const pod = await waitForReadyPod(
      this.core,
      handle.scope,
      handle.id,
      this.settings.container,
      deadline,
      signal,
      this.retry,
    )
    const target = pickContainer(pod, this.settings.container)
    const podSecurity = checkPodGuardrails(pod, target, this.settings.allowUnsafePod ?? [])
    return { ...handle, target, readyAt: new Date().toISOString(), podSecurity }
  }

  private async podTarget(handle: WorkspaceHandle): Promise<PodTarget> {
    const pod = await findReadyPod(this.core, handle.scope, handle.id, handle.target, this.retry)
    if (!pod?.metadata?.name) {
      throw new WorkspaceStartError(
        `DevWorkspace ${handle.scope}/${handle.name} has no ready pod with container '${handle.target}'.`,
        (await this.diagnose(handle)).lines,
      )
    }
    return { namespace: handle.scope, pod: pod.metadata.name, container: handle.target }
  }

  private async kill(target: PodTarget, token: string): Promise<void> {
    const sink = textSink()
    await execInPod(this.deps.kubeConfig, target, killCommand(token), sink.writable, sink.writable, {
      heartbeat: this.heartbeat,
    }).catch(() => undefined)
  }

  private async setStarted(name: string, started: boolean, signal?: AbortSignal): Promise<void> {
    await this.call(
      `${started ? 'starting' : 'stopping'} DevWorkspace ${this.settings.namespace}/${name}`,
      signal,
      () =>
        this.custom.patchNamespacedCustomObject(
          { ...this.resource(), name, body: { spec: { started } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
    )
  }

  private async get(name: string): Promise<DevWorkspaceObject | null> {
    try {
      return (await this.call(`reading DevWorkspace ${this.settings.namespace}/${name}`, undefined, () =>
        this.custom.getNamespacedCustomObject({ ...this.resource(), name }),
      )) as DevWorkspaceObject
    } catch (error) {
      if (error instanceof ProviderRequestError && error.status === 404) return null
      throw error
    }
  }

  private resource(): { group: string; version: string; namespace: string; plural: string } {
    return { group: DW_GROUP, version: DW_VERSION, namespace: this.settings.namespace, plural: DW_PLURAL }
  }

  private watchBase(name: string, deadline: Deadline, signal?: AbortSignal) {
    return {
      kc: this.deps.kubeConfig,
      api: this.custom,
      namespace: this.settings.namespace,
      name,
      deadline,
      signal,
      progressIntervalMs: this.deps.progressIntervalMs,
    }
  }

  /** One API call with retries for what can be retried, and one normalised error. */
  private call<T>(doing: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    return kubeCaller(this.deps.kubeConfig, this.retry, signal)(doing, fn)
  }
}
