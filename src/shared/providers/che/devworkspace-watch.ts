import { type CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node'
import { CancelledError, RunTaskError } from '../../errors.js'
import { DEFAULT_RETRY, Deadline, retryDelayMs, sleep } from '../../wait.js'
import { DW_GROUP, DW_PLURAL, DW_VERSION, type DevWorkspaceObject } from './devworkspace.js'
import { isRetryableKubeError, kubeRetryAfterMs, kubeStatusCode, normalizeKubeError } from './kube-errors.js'

/** What a predicate says about the latest state of the watched DevWorkspace (null: it is gone). */
export type WatchVerdict<T> = { done: T } | { fail: RunTaskError } | undefined

export interface WatchDevWorkspaceOptions<T> {
  readonly kc: KubeConfig
  readonly api: CustomObjectsApi
  readonly namespace: string
  readonly name: string
  readonly deadline: Deadline
  /** Builds the error thrown when the deadline passes, from the last state seen. */
  readonly onTimeout: (last: DevWorkspaceObject | null | undefined) => Promise<RunTaskError> | RunTaskError
  readonly judge: (object: DevWorkspaceObject | null) => WatchVerdict<T>
  readonly onProgress?: ((status: string) => void) | undefined
  readonly progressIntervalMs?: number
  readonly signal?: AbortSignal | undefined
}

/**
 * Follows one DevWorkspace with a watch until `judge` returns a verdict.
 * Lists first (for a resourceVersion), then watches from it; a watch that closes is
 * resumed from the last resourceVersion seen, and a 410 Gone starts over with a new
 * list. Network failures and 5xx back off and retry; a 429 waits its Retry-After.
 * Every wait is bounded by `deadline`.
 */
export async function watchDevWorkspace<T>(options: WatchDevWorkspaceOptions<T>): Promise<T> {
  const state: { last: DevWorkspaceObject | null | undefined } = { last: undefined }
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
          throw normalizeKubeError(error, `watching DevWorkspace ${options.namespace}/${options.name}`)
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

async function listOne<T>(
  options: WatchDevWorkspaceOptions<T>,
): Promise<{ object: DevWorkspaceObject | null; resourceVersion: string }> {
  const list = (await options.api.listNamespacedCustomObject({
    group: DW_GROUP,
    version: DW_VERSION,
    namespace: options.namespace,
    plural: DW_PLURAL,
    fieldSelector: `metadata.name=${options.name}`,
  })) as { items?: DevWorkspaceObject[]; metadata?: { resourceVersion?: string } }
  return { object: list.items?.[0] ?? null, resourceVersion: list.metadata?.resourceVersion ?? '' }
}

type WatchOutcome<T> = { verdict: WatchVerdict<T> } | { gone: boolean; resourceVersion: string | undefined }

/** One watch connection: ends on a verdict, on close, on 410, or at the deadline. */
function watchOnce<T>(
  options: WatchDevWorkspaceOptions<T>,
  resourceVersion: string,
  onObject: (o: DevWorkspaceObject | null) => WatchVerdict<T>,
): Promise<WatchOutcome<T>> {
  const path = `/apis/${DW_GROUP}/${DW_VERSION}/namespaces/${options.namespace}/${DW_PLURAL}`
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
        (type, object: DevWorkspaceObject & { code?: number }) => {
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

function startProgress<T>(
  options: WatchDevWorkspaceOptions<T>,
  last: () => DevWorkspaceObject | null | undefined,
): () => void {
  if (!options.onProgress) return () => undefined
  const started = Date.now()
  const timer = setInterval(() => {
    const object = last()
    const seen =
      object === undefined
        ? 'not seen yet'
        : object === null
          ? 'gone'
          : `${object.status?.phase || 'no phase yet'}${object.status?.message ? `: ${object.status.message}` : ''}`
    options.onProgress?.(
      `DevWorkspace ${options.namespace}/${options.name} after ${Math.round((Date.now() - started) / 1000)}s: ${seen}`,
    )
  }, options.progressIntervalMs ?? 15_000)
  timer.unref()
  return () => clearInterval(timer)
}
