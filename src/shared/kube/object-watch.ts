import { type CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node'
import { CancelledError, RunTaskError } from '../errors.js'
import { DEFAULT_RETRY, Deadline, retryDelayMs, sleep } from '../wait.js'
import {
  isRetryableKubeError,
  kubeRetryAfterMs,
  kubeStatusCode,
  normalizeKubeError,
} from '../providers/che/kube-errors.js'

/** What a predicate says about the latest state of the watched object (null: it is gone). */
export type WatchVerdict<T> = { done: T } | { fail: RunTaskError } | undefined

/** A custom resource's coordinates, and its kind for messages. */
export interface CustomResource {
  readonly group: string
  readonly version: string
  readonly plural: string
  readonly kind: string
}

/** The part of any watched object the watch reads. */
export interface WatchedObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string }
}

export interface WatchObjectOptions<O extends WatchedObject, T> {
  readonly kc: KubeConfig
  readonly api: CustomObjectsApi
  readonly resource: CustomResource
  readonly namespace: string
  readonly name: string
  readonly deadline: Deadline
  /** Builds the error thrown when the deadline passes, from the last state seen. */
  readonly onTimeout: (last: O | null | undefined) => Promise<RunTaskError> | RunTaskError
  readonly judge: (object: O | null) => WatchVerdict<T>
  /** The object's state in a progress line (a DevWorkspace's phase). */
  readonly describe?: (object: O) => string
  readonly onProgress?: ((status: string) => void) | undefined
  readonly progressIntervalMs?: number
  readonly signal?: AbortSignal | undefined
}

/**
 * Follows one custom object with a watch until `judge` returns a verdict.
 * Lists first (for a resourceVersion), then watches from it; a watch that closes is
 * resumed from the last resourceVersion seen, and a 410 Gone starts over with a new
 * list. Network failures and 5xx back off and retry; a 429 waits its Retry-After.
 * Every wait is bounded by `deadline`.
 */
export async function watchObject<O extends WatchedObject, T>(options: WatchObjectOptions<O, T>): Promise<T> {
  const state: { last: O | null | undefined } = { last: undefined }
  const progress = startProgress(options, () => state.last)
  try {
    let resourceVersion: string | undefined
    let failures = 0
    while (!options.deadline.expired()) {
      if (options.signal?.aborted) throw new CancelledError()
      try {
        if (resourceVersion === undefined) {
          const listed = await listOne(options)
          state.last = listed.object
          const verdict = settle(options.judge(listed.object))
          if (verdict) return verdict.value
          resourceVersion = listed.resourceVersion
        }
        const outcome = await watchOnce(options, resourceVersion, (object) => {
          state.last = object
          return options.judge(object)
        })
        if ('verdict' in outcome) {
          const verdict = settle(outcome.verdict)
          if (verdict) return verdict.value
        } else {
          resourceVersion = outcome.gone ? undefined : outcome.resourceVersion
        }
        failures = 0
      } catch (error) {
        if (error instanceof RunTaskError) throw error
        if (kubeStatusCode(error) === 410) {
          resourceVersion = undefined
          continue
        }
        if (!isRetryableKubeError(error))
          throw normalizeKubeError(error, `watching ${options.resource.kind} ${options.namespace}/${options.name}`)
        failures += 1
        // A 429 (or 503) list says when to come back: never sooner, with jitter (a watch's error carries no headers).
        const retryAfter = kubeRetryAfterMs(error)
        const wait =
          retryAfter === undefined
            ? Math.min(5_000, 100 * 2 ** failures)
            : retryDelayMs(failures, DEFAULT_RETRY, retryAfter)
        await sleep(Math.min(options.deadline.remainingMs(), wait), options.signal)
      }
    }
    throw await options.onTimeout(state.last)
  } finally {
    progress()
  }
}

function settle<T>(verdict: WatchVerdict<T>): { value: T } | undefined {
  if (!verdict) return undefined
  if ('fail' in verdict) throw verdict.fail
  return { value: verdict.done }
}

async function listOne<O extends WatchedObject, T>(
  options: WatchObjectOptions<O, T>,
): Promise<{ object: O | null; resourceVersion: string }> {
  const { group, version, plural } = options.resource
  const list = (await options.api.listNamespacedCustomObject({
    group,
    version,
    namespace: options.namespace,
    plural,
    fieldSelector: `metadata.name=${options.name}`,
  })) as { items?: O[]; metadata?: { resourceVersion?: string } }
  return { object: list.items?.[0] ?? null, resourceVersion: list.metadata?.resourceVersion ?? '' }
}

type WatchOutcome<T> = { verdict: WatchVerdict<T> } | { gone: boolean; resourceVersion: string | undefined }

/** One watch connection: ends on a verdict, on close, on 410, or at the deadline. */
function watchOnce<O extends WatchedObject, T>(
  options: WatchObjectOptions<O, T>,
  resourceVersion: string,
  onObject: (o: O | null) => WatchVerdict<T>,
): Promise<WatchOutcome<T>> {
  const { group, version, plural } = options.resource
  const path = `/apis/${group}/${version}/namespaces/${options.namespace}/${plural}`
  return new Promise<WatchOutcome<T>>((resolve, reject) => {
    let rv = resourceVersion
    let finished = false
    let controller: AbortController | undefined
    const finish = (value: WatchOutcome<T> | Error): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      controller?.abort()
      if (value instanceof Error) reject(value)
      else resolve(value)
    }
    const onAbort = (): void => finish(new CancelledError())
    const timer = setTimeout(
      () => finish({ gone: false, resourceVersion: rv }),
      Math.max(1, options.deadline.remainingMs()),
    )
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted) return onAbort()
    const query = { fieldSelector: `metadata.name=${options.name}`, resourceVersion: rv, allowWatchBookmarks: true }
    new Watch(options.kc)
      .watch(
        path,
        query,
        (type, object: O & { code?: number }) => {
          if (finished) return
          if (type === 'ERROR') {
            return finish(
              object.code === 410
                ? { gone: true, resourceVersion: undefined }
                : Object.assign(new Error(`watch error: ${JSON.stringify(object)}`), { statusCode: object.code }),
            )
          }
          rv = object.metadata?.resourceVersion ?? rv
          if (type === 'BOOKMARK') return
          const verdict = onObject(type === 'DELETED' ? null : object)
          if (verdict) finish({ verdict })
        },
        (error: unknown) => {
          // A watch that times out from inactivity or is closed by the server is normal: resume.
          if (
            !error ||
            (error as { name?: string }).name === 'TimeoutError' ||
            (error as { name?: string }).name === 'AbortError'
          )
            finish({ gone: false, resourceVersion: rv })
          else finish(error as Error)
        },
      )
      .then(
        (c) => {
          controller = c
          if (finished) c.abort()
        },
        (error: unknown) => finish(error as Error),
      )
  })
}

function startProgress<O extends WatchedObject, T>(
  options: WatchObjectOptions<O, T>,
  last: () => O | null | undefined,
): () => void {
  if (!options.onProgress) return () => undefined
  const started = Date.now()
  const timer = setInterval(() => {
    const object = last()
    const seen =
      object === undefined ? 'not seen yet' : object === null ? 'gone' : (options.describe?.(object) ?? 'present')
    options.onProgress?.(
      `${options.resource.kind} ${options.namespace}/${options.name} after ${Math.round((Date.now() - started) / 1000)}s: ${seen}`,
    )
  }, options.progressIntervalMs ?? 15_000)
  timer.unref()
  return () => clearInterval(timer)
}
