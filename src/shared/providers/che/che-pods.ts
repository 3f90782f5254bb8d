import type { CoreV1Api, V1Pod } from '@kubernetes/client-node'
import { WorkspaceStartError } from '../../errors.js'
import { DEFAULT_RETRY, Deadline, type RetryPolicy, sleep, withRetry } from '../../wait.js'
import { isRetryableKubeError, kubeRetryAfterMs, normalizeKubeError } from './kube-errors.js'

export const DW_ID_LABEL = 'controller.devfile.io/devworkspace_id'
const INIT_CONTAINERS_TO_SKIP = new Set(['project-clone', 'che-code-injector', 'init-persistent-home'])

/**
 * The workspace pod to exec in: labelled with the devworkspaceId, not terminating
 * (the Recreate strategy can leave an old pod behind), Running, with the container ready.
 * Returns undefined when there is none yet. The list is retried like every other API call (429 with its
 * Retry-After, 5xx, network errors): an API server under load throttles it as it throttles the rest.
 */
export async function findReadyPod(
  core: CoreV1Api,
  namespace: string,
  devworkspaceId: string,
  container: string,
  retry: RetryPolicy = DEFAULT_RETRY,
  signal?: AbortSignal,
): Promise<V1Pod | undefined> {
  const pods = await withRetry(
    () => core.listNamespacedPod({ namespace, labelSelector: `${DW_ID_LABEL}=${devworkspaceId}` }),
    { policy: retry, isRetryable: isRetryableKubeError, retryAfterMs: kubeRetryAfterMs, signal },
  ).catch((error: unknown) => {
    throw normalizeKubeError(error, `listing the pods of DevWorkspace ${devworkspaceId} in ${namespace}`)
  })
  return pods.items.find((pod) => {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') return false
    const statuses = pod.status?.containerStatuses ?? []
    const wanted = container || pod.spec?.containers[0]?.name
    return statuses.some((s) => s.name === wanted && s.ready)
  })
}

/** Waits, within the deadline, for `findReadyPod` to find one. */
export async function waitForReadyPod(
  core: CoreV1Api,
  namespace: string,
  devworkspaceId: string,
  container: string,
  deadline: Deadline,
  signal?: AbortSignal,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<V1Pod> {
  for (let attempt = 0; ; attempt++) {
    const pod = await findReadyPod(core, namespace, devworkspaceId, container, retry, signal)
    if (pod) return pod
    if (deadline.expired()) {
      throw new WorkspaceStartError(
        `The DevWorkspace ${namespace} (id ${devworkspaceId}) is Running, but no ready pod with container '${container || 'the first container'}' appeared within the start timeout.`,
      )
    }
    await sleep(Math.min(deadline.remainingMs(), Math.min(2_000, 100 * 2 ** attempt)), signal)
  }
}

/** Picks the exec container: the requested one, else the first non-init container. */
export function pickContainer(pod: V1Pod, requested: string): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name).filter((n) => !INIT_CONTAINERS_TO_SKIP.has(n))
  if (requested) {
    if (!names.includes(requested)) {
      throw new WorkspaceStartError(
        `The workspace pod ${pod.metadata?.name ?? ''} has no container '${requested}' (input 'container'); it has: ${names.join(', ') || 'none'}.`,
      )
    }
    return requested
  }
  const first = names[0]
  if (!first)
    throw new WorkspaceStartError(
      `The workspace pod ${pod.metadata?.name ?? ''} has no container to run the command in.`,
    )
  return first
}
