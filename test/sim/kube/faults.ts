import type { RequestFault } from '../request-faults.js'

/**
 * Fault switches. Tests set them on a running simulator; each one reproduces a
 * failure seen on real clusters.
 */
export interface KubeFaults {
  /**
   * The Gateway controller's pod is down: no route, Gateway or class status is written until it is lifted (and
   * `resyncGatewayController()` runs), as when the implementation's deployment is not running; a restarted
   * controller lists everything again before it reconciles (client-go tools/cache reflector.go ListAndWatch).
   */
  gatewayControllerDown: boolean
  /**
   * The API server no longer accepts the kubeconfig's bearer token: every request with it is 401, as when the
   * token expired or the OIDC issuer, audience or claims it was issued for are not the ones the server trusts
   * (k8s.io/apiserver pkg/endpoints/filters/authentication.go WithAuthentication: no authenticator accepts it).
   */
  tokenRejected: boolean
  /** Extra time before the workspace deployment becomes ready. */
  slowStartMs: number
  /**
   * Breaks the next start. With `eventReason` the pod gets that Warning event (`eventCount` times), with
   * `containerState` its containers wait in that state; DWO fails such a start at once when the event or state is
   * unrecoverable. With neither, the deployment never becomes ready: a stall that fails after progressTimeout.
   */
  failStart: { eventReason?: string; eventMessage?: string; eventCount?: number; containerState?: string } | undefined
  /** Closes every watch response after this many events (the client must resume). */
  watchCloseAfterEvents: number | undefined
  /** Drops the exec WebSocket (no status frame) once the command has written this marker. */
  execDropOnOutput: string | undefined
  /** The exec subprotocols the server speaks, best first (an API server older than 1.30 has no v5). */
  execProtocols: string[]
  /** Answers the exec upgrade with this HTTP status instead of 101. */
  execUpgradeStatus: number | undefined
  /** Holds every exec upgrade this long before answering it (a loaded node or a slow TLS handshake). */
  execUpgradeDelayMs: number
  /** Answers the next N DevWorkspace creates with 503. */
  createServerErrors: number
  /** Answers every request with 503 (the API server is down). */
  unavailable: boolean
  /** `verb resource[/subresource]` pairs the RBAC policy refuses, on real requests and SelfSubjectAccessReviews alike. */
  denied: string[]
  /** Marks the workspace container privileged. */
  privilegedPod: boolean
  /**
   * What the cluster adds to the workspace pod: container securityContext fields (DWO copies a
   * DevWorkspaceOperatorConfig's config.workspace.containerSecurityContext into every container,
   * pkg/library/container/container.go convertContainerToK8s), the pod's securityContext.runAsNonRoot
   * (config.workspace.podSecurityContext), host namespaces (a devfile's pod-overrides attribute,
   * pkg/library/overrides/pods.go ApplyPodOverrides) and a hostPath volume mounted in every container
   * (pod-overrides may not add volumes, so this stands for a mutating admission webhook).
   */
  podMutation: PodMutation | undefined
  /** Keeps finalizers forever, so deletion never completes. */
  stuckFinalizers: boolean
  /** The Che gateway answers with this status (502: the editor is unreachable) instead of proxying. */
  gatewayStatus: number | undefined
  /** A stop loses /projects even on a persistent storage type (a PVC that was recreated). */
  loseProjectsOnStop: boolean
  /** The storage cleanup Job fails, so deletion ends in phase Error with the storage finalizer kept. */
  failCleanupJob: boolean
  /** Breaks matching requests: 429/5xx, a reset connection, a lost answer, an expired watch (see RequestFault). */
  requestFaults: RequestFault[]
}

/** See KubeFaults.podMutation. */
export interface PodMutation {
  readonly containerSecurityContext?: Record<string, unknown>
  readonly runAsNonRoot?: boolean
  readonly hostPath?: string
  readonly hostNetwork?: boolean
  readonly hostPID?: boolean
  readonly hostIPC?: boolean
}

export function noFaults(): KubeFaults {
  return {
    gatewayControllerDown: false,
    tokenRejected: false,
    slowStartMs: 0,
    failStart: undefined,
    watchCloseAfterEvents: undefined,
    execDropOnOutput: undefined,
    execProtocols: ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
    execUpgradeStatus: undefined,
    execUpgradeDelayMs: 0,
    createServerErrors: 0,
    unavailable: false,
    denied: [],
    privilegedPod: false,
    podMutation: undefined,
    stuckFinalizers: false,
    gatewayStatus: undefined,
    loseProjectsOnStop: false,
    failCleanupJob: false,
    requestFaults: [],
  }
}

/** A Kubernetes `Status` failure body. */
export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  }
}
