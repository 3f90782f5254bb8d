import { CancelledError, ProviderRequestError, type RunTaskError } from '../../errors.js'
import { type Deadline, sleep } from '../../wait.js'
import type { CoderClient } from './coder-client.js'
import type { Workspace } from './coder-types.js'

/** A verdict on the latest state of a workspace (null: deleted). */
export type Verdict<T> = { done: T } | { fail: RunTaskError } | undefined

export interface WatchWorkspaceOptions<T> {
  readonly client: CoderClient
  readonly workspaceId: string
  readonly deadline: Deadline
  readonly judge: (workspace: Workspace | null) => Verdict<T>
  readonly onTimeout: (last: Workspace | null | undefined) => Promise<RunTaskError> | RunTaskError
  readonly onProgress?: ((status: string) => void) | undefined
  readonly progressIntervalMs?: number
  readonly pollIntervalMs?: number
  readonly signal?: AbortSignal | undefined
}

/**
 * Follows a workspace through coderd's `/watch` server-sent events until `judge`
 * decides. A stream that ends is reopened; when the stream cannot be had (an old
 * coderd, a proxy that buffers), it falls back to polling. Bounded by the deadline.
 */
export async function watchWorkspace<T>(options: WatchWorkspaceOptions<T>): Promise<T> {
  const state: { last: Workspace | null | undefined } = { last: undefined }
  const judge = (w: Workspace | null): Verdict<T> => {
    state.last = w
    return options.judge(w)
  }
  const stopProgress = startProgress(options, () => state.last)
  try {
    let streamFailures = 0
    while (!options.deadline.expired()) {
      if (options.signal?.aborted) throw new CancelledError()
      const verdict =
        streamFailures < 3 ? await followStream(options, judge).catch(() => undefined) : await pollOnce(options, judge)
      if (verdict) return settle(verdict)
      if (streamFailures < 3) streamFailures += 1
      else await sleep(Math.min(options.pollIntervalMs ?? 1_000, options.deadline.remainingMs()), options.signal)
    }
    throw await options.onTimeout(state.last)
  } finally {
    stopProgress()
  }
}

function settle<T>(verdict: NonNullable<Verdict<T>>): T {
  if ('fail' in verdict) throw verdict.fail
  return verdict.done
}

/** Reads the SSE stream until a verdict, the end of the stream, or the deadline. */
async function followStream<T>(
  options: WatchWorkspaceOptions<T>,
  judge: (w: Workspace | null) => Verdict<T>,
): Promise<Verdict<T>> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), Math.max(1, options.deadline.remainingMs()))
  const onAbort = (): void => controller.abort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const res = await options.client.stream(`/workspaces/${options.workspaceId}/watch`, controller.signal)
    if (!res.body) return undefined
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = parseEvent(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (event.type === 'error') throw new Error(`watch error: ${event.data}`)
        if (event.type !== 'data' || !event.data) continue
        const verdict = judge(JSON.parse(event.data) as Workspace)
        if (verdict) return verdict
      }
    }
    return undefined
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    controller.abort()
  }
}

async function pollOnce<T>(
  options: WatchWorkspaceOptions<T>,
  judge: (w: Workspace | null) => Verdict<T>,
): Promise<Verdict<T>> {
  try {
    return judge(
      await options.client.request<Workspace>(
        'GET',
        `/workspaces/${options.workspaceId}`,
        `reading workspace ${options.workspaceId}`,
        undefined,
        options.signal,
      ),
    )
  } catch (error) {
    if (error instanceof ProviderRequestError && (error.status === 410 || error.status === 404)) return judge(null)
    throw error
  }
}

function parseEvent(block: string): { type: string; data: string } {
  let type = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
  }
  return { type, data: data.join('\n') }
}

function startProgress<T>(options: WatchWorkspaceOptions<T>, last: () => Workspace | null | undefined): () => void {
  if (!options.onProgress) return () => undefined
  const started = Date.now()
  const timer = setInterval(() => {
    const w = last()
    const agent = w?.latest_build.resources.flatMap((r) => r.agents ?? [])[0]
    const seen =
      w === undefined
        ? 'not seen yet'
        : w === null
          ? 'deleted'
          : `build ${w.latest_build.status}${agent ? `, agent ${agent.status}/${agent.lifecycle_state}` : ''}`
    options.onProgress?.(
      `Workspace ${w?.owner_name ?? ''}/${w?.name ?? options.workspaceId} after ${Math.round((Date.now() - started) / 1000)}s: ${seen}`,
    )
  }, options.progressIntervalMs ?? 15_000)
  timer.unref()
  return () => clearInterval(timer)
}
