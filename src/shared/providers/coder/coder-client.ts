import { DEFAULT_RETRY, type RetryPolicy, withRetry } from '../../wait.js'
import { CoderHttpError, isRetryableCoderError, normalizeCoderError } from './coder-errors.js'
import type { CoderResponse } from './coder-types.js'
import { sameOriginFetch } from '../../credential-http.js'

/** The fetch the client uses; tests and callers inject their own. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

/** A thin coderd REST client: one place sets the token, retries, and normalises errors. */
export interface CoderClient {
  /** The deployment's URL, without a trailing slash. */
  readonly url: string
  request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    doing: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T>
  /**
   * A POST that makes something (a workspace, a build). coderd does not make these
   * idempotent: a retry after the server acted gets 409 "already exists" or "already
   * active". So after a failure where the server may have acted (a lost response, a
   * 5xx), `recover` looks up what it did, and only when it finds nothing is the POST
   * sent again. A 429 comes from the rate limiter before any handler runs: it is
   * retried as is.
   */
  create<T>(
    path: string,
    doing: string,
    body: unknown,
    recover: () => Promise<T | undefined>,
    signal?: AbortSignal,
  ): Promise<T>
  /** Opens a streaming GET (the SSE watch); the caller reads and closes the body. */
  stream(path: string, signal: AbortSignal): Promise<Response>
  /**
   * Downloads a file from the deployment (the matching `coder` CLI) with its ETag. With
   * `ifNoneMatch` (entity tags the caller holds) a 304 comes back as `notModified` and no bytes.
   */
  download(path: string, doing: string, ifNoneMatch?: readonly string[]): Promise<DownloadedFile>
}

/** A file the deployment served: its bytes (none when not modified) and its ETag header. */
export interface DownloadedFile {
  readonly notModified: boolean
  readonly etag: string | null
  readonly bytes: Uint8Array
}

export interface CoderClientOptions {
  readonly url: string
  readonly token: string
  readonly fetch?: FetchLike
  readonly retry?: RetryPolicy
}

export function createCoderClient(options: CoderClientOptions): CoderClient {
  const url = options.url.replace(/\/+$/, '')
  const fetchFn = options.fetch ?? sameOriginFetch
  const retry = options.retry ?? DEFAULT_RETRY
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    'Coder-Session-Token': options.token,
    Accept: 'application/json',
    ...extra,
  })

  const send = async (
    method: string,
    path: string,
    doing: string,
    body: unknown,
    signal: AbortSignal | undefined,
    /** Before each retry; true ends the call with null: what the failed attempt wanted is already there. */
    beforeRetry?: (lastError: unknown) => Promise<boolean>,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response | null> => {
    let lastError: unknown
    try {
      return await withRetry(
        async (attempt) => {
          if (attempt > 1 && beforeRetry) {
            if (await beforeRetry(lastError)) return null
          }
          const init: RequestInit = {
            method,
            headers: headers({
              ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
              ...extraHeaders,
            }),
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            ...(signal ? { signal } : {}),
          }
          try {
            const res = await fetchFn(`${url}${path}`, init)
            // 304 answers only a conditional download (If-None-Match); the API never sends it.
            if (!res.ok && res.status !== 304)
              throw new CoderHttpError(res.status, await readError(res), retryAfter(res))
            return res
          } catch (error) {
            lastError = error
            throw error
          }
        },
        {
          policy: retry,
          isRetryable: isRetryableCoderError,
          retryAfterMs: (e) => (e instanceof CoderHttpError ? e.retryAfterMs : undefined),
          signal,
        },
      )
    } catch (error) {
      throw normalizeCoderError(error, doing, url)
    }
  }

  return {
    url,
    async request<T>(
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      path: string,
      doing: string,
      body?: unknown,
      signal?: AbortSignal,
    ): Promise<T> {
      const res = (await send(method, `/api/v2${path}`, doing, body, signal)) as Response
      const text = await res.text()
      return (text ? JSON.parse(text) : undefined) as T
    },
    async create<T>(
      path: string,
      doing: string,
      body: unknown,
      recover: () => Promise<T | undefined>,
      signal?: AbortSignal,
    ): Promise<T> {
      let found: T | undefined
      const res = await send('POST', `/api/v2${path}`, doing, body, signal, async (lastError) => {
        if (lastError instanceof CoderHttpError && lastError.status === 429) return false
        found = await recover()
        return found !== undefined
      })
      if (res === null) return found as T
      const text = await res.text()
      return (text ? JSON.parse(text) : undefined) as T
    },
    async stream(path: string, signal: AbortSignal): Promise<Response> {
      const res = await fetchFn(`${url}/api/v2${path}`, { headers: headers({ Accept: 'text/event-stream' }), signal })
      if (!res.ok)
        throw normalizeCoderError(
          new CoderHttpError(res.status, await readError(res), retryAfter(res)),
          `watching ${path}`,
          url,
        )
      return res
    },
    async download(path: string, doing: string, ifNoneMatch: readonly string[] = []): Promise<DownloadedFile> {
      const conditional: Record<string, string> =
        ifNoneMatch.length > 0 ? { 'If-None-Match': ifNoneMatch.join(', ') } : {}
      const res = (await send('GET', path, doing, undefined, undefined, undefined, conditional)) as Response
      const etag = res.headers.get('etag')
      if (res.status === 304) {
        await res.body?.cancel()
        return { notModified: true, etag, bytes: new Uint8Array() }
      }
      return { notModified: false, etag, bytes: new Uint8Array(await res.arrayBuffer()) }
    },
  }
}

async function readError(res: Response): Promise<CoderResponse | undefined> {
  const text = await res.text().catch(() => '')
  try {
    const parsed = JSON.parse(text) as CoderResponse
    return typeof parsed.message === 'string' ? parsed : { message: text.slice(0, 500) }
  } catch {
    return text.trim() ? { message: text.trim().slice(0, 500) } : undefined
  }
}

function retryAfter(res: Response): number | undefined {
  const seconds = Number(res.headers.get('retry-after'))
  return res.headers.has('retry-after') && Number.isFinite(seconds) ? seconds * 1000 : undefined
}
