import type { KubeConfig } from '@kubernetes/client-node'
import { isRetryableKubeError, kubeRetryAfterMs, normalizeKubeError } from '../providers/che/kube-errors.js'
import { type RetryPolicy, withRetry } from '../wait.js'

/** One Kubernetes API call, retried when it can be and failing with one normalised error that says what was being done. */
export type KubeCall = <T>(doing: string, fn: () => Promise<T>) => Promise<T>

/** The call wrapper for one cluster: retries 429, 5xx and network failures; names the server on a TLS failure. */
export function kubeCaller(kc: KubeConfig, policy: RetryPolicy, signal?: AbortSignal): KubeCall {
  return <T>(doing: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, { policy, isRetryable: isRetryableKubeError, retryAfterMs: kubeRetryAfterMs, signal }).catch(
      (error: unknown) => {
        throw normalizeKubeError(error, doing, kc.getCurrentCluster()?.server)
      },
    )
}
