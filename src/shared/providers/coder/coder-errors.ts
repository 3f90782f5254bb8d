import { errorMessage, ProviderRequestError, ProviderUnavailableError, RunTaskError } from '../../errors.js'
import type { CoderResponse } from './coder-types.js'

/** A non-2xx answer from coderd, with its parsed `{message, detail, validations}` body. */
export class CoderHttpError extends Error {
  override readonly name = 'CoderHttpError'
  constructor(
    readonly status: number,
    readonly body: CoderResponse | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(formatCoderResponse(body) || `HTTP ${status}`)
  }
}

/** `message: detail (field: detail; …)`, the way coder's own UI shows an error. */
export function formatCoderResponse(body: CoderResponse | undefined): string {
  if (!body) return ''
  const validations = (body.validations ?? []).map((v) => `${v.field}: ${v.detail}`).join('; ')
  return `${body.message}${body.detail ? `: ${body.detail}` : ''}${validations ? ` (${validations})` : ''}`
}

/** True for 429, 5xx and network failures: the only ones worth another try. */
export function isRetryableCoderError(error: unknown): boolean {
  if (error instanceof CoderHttpError) return error.status === 429 || error.status >= 500
  return !(error instanceof RunTaskError) && isNetworkError(error)
}

/**
 * The one place coderd failures become typed errors: what was being done, coderd's
 * own message and detail, and the status. 429/5xx/network are "unavailable".
 */
export function normalizeCoderError(error: unknown, doing: string, url: string): RunTaskError {
  if (error instanceof RunTaskError) return error
  if (error instanceof CoderHttpError) {
    const text = `${doing}: ${error.message} (HTTP ${error.status})${coderAuthHint(error.status)}`
    if (error.status === 429 || error.status >= 500) return new ProviderUnavailableError(text, error)
    return new ProviderRequestError(text, error.status, error)
  }
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause
  return new ProviderUnavailableError(
    `${doing}: coderd at ${url} could not be reached (${cause?.code ?? cause?.message ?? errorMessage(error)})`,
    error,
  )
}

function isNetworkError(error: unknown): boolean {
  const text = `${errorMessage(error)} ${errorMessage((error as { cause?: unknown } | null)?.cause ?? '')}`
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|fetch failed|other side closed|UND_ERR/i.test(
    text,
  )
}

/** A 401 is a token coderd does not accept; a 403 is a known user that coderd's RBAC does not allow. */
function coderAuthHint(status: number): string {
  if (status === 401)
    return '. coderd did not accept the token (a login problem, not a permission): it has expired or was revoked, or it belongs to another deployment; create a new one with `coder tokens create`'
  if (status === 403)
    return ". coderd knows the token's user, but its roles do not allow this: the template's permissions (its groups or \"Everyone\" use) or the user's roles must grant it"
  return ''
}
