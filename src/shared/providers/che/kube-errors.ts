import { ApiException } from '@kubernetes/client-node'
import { errorMessage, ProviderRequestError, ProviderUnavailableError, RunTaskError } from '../../errors.js'

/** The fields of a Kubernetes `Status` body that matter for a message. */
interface KubeStatus {
  readonly message?: string
  readonly reason?: string
  readonly code?: number
}

/** HTTP status of a client-node error, if it has one (ApiException or a watch error). */
export function kubeStatusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code
  const code = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof code === 'number' ? code : undefined
}

/** True for failures worth another try: 429, 5xx and network errors. */
export function isRetryableKubeError(error: unknown): boolean {
  if (error instanceof ProviderUnavailableError) return true
  if (error instanceof RunTaskError) return false
  if (tlsFailure(error)) return false
  const code = kubeStatusCode(error)
  if (code !== undefined) return code === 429 || code >= 500
  return isNetworkError(error)
}

/** Seconds from a 429's Retry-After header, in ms. */
export function kubeRetryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof ApiException)) return undefined
  const header = (error.headers as Record<string, string> | undefined)?.['retry-after']
  const seconds = Number(header)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

/**
 * Turns any client-node failure into a typed error whose message says what was
 * being done, the server's own message and its reason: `creating DevWorkspace
 * ci/rt-1: devworkspaces "rt-1" already exists (reason: AlreadyExists, code: 409)`.
 */
export function normalizeKubeError(error: unknown, doing: string, server = ''): RunTaskError {
  if (error instanceof RunTaskError) return error
  const tls = tlsFailure(error)
  if (tls) {
    const where = server || 'the Kubernetes API server'
    return new ProviderRequestError(
      `${doing}: TLS verification of ${where} failed: ${tls.message} (${tls.code}); ${tlsHint(tls.code)}`,
      undefined,
      error,
    )
  }
  const code = kubeStatusCode(error)
  if (code === undefined) {
    const detail = networkDetail(error)
    return new ProviderUnavailableError(`${doing}: the Kubernetes API could not be reached (${detail})`, error)
  }
  const status = statusBody(error)
  const message = status?.message || (error instanceof ApiException ? undefined : errorMessage(error)) || httpText(code)
  const reason = status?.reason ? `reason: ${status.reason}, ` : ''
  const text = `${doing}: ${message} (${reason}code: ${code})${authHint(code)}`
  if (code === 429 || code >= 500) return new ProviderUnavailableError(text, error)
  return new ProviderRequestError(text, code, error)
}

function statusBody(error: unknown): KubeStatus | undefined {
  if (!(error instanceof ApiException)) return undefined
  const body: unknown = error.body
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as KubeStatus
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 500) } : undefined
    }
  }
  return typeof body === 'object' && body !== null ? (body as KubeStatus) : undefined
}

/** OpenSSL's and Node's codes for a certificate or handshake that failed; retrying never helps. */
const TLS_CODE =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z0-9_]+|HOSTNAME_MISMATCH)$/

/** The TLS failure somewhere in an error's cause chain (fetch wraps it as `fetch failed`). */
export function tlsFailure(error: unknown): { code: string; message: string } | undefined {
  for (
    let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'string' && TLS_CODE.test(e.code))
      return { code: e.code, message: typeof e.message === 'string' ? e.message : '' }
    e = e.cause as typeof e
  }
  return undefined
}

function tlsHint(code: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
    return "the server's certificate is not issued for the address in the kubeconfig's server field"
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return "the server's certificate is outside its validity period"
  if (code.startsWith('ERR_SSL_'))
    return 'the server refused the TLS handshake (is the client certificate one it trusts?)'
  return "the kubeconfig's certificate-authority-data is not the CA that signed the server's certificate"
}

function isNetworkError(error: unknown): boolean {
  const text = `${errorMessage(error)} ${errorMessage((error as { cause?: unknown } | null)?.cause ?? '')}`
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|fetch failed|other side closed|UND_ERR/i.test(
    text,
  )
}

function networkDetail(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause
  return cause?.code ?? cause?.message ?? errorMessage(error)
}

/**
 * "Login works, RBAC fails" and its opposite have different fixes: a 401 is the API
 * server not accepting the credentials at all, a 403 is an identity it knows that
 * RBAC does not allow.
 */
function authHint(code: number): string {
  if (code === 401)
    return ". The API server did not accept the kubeconfig's credentials, so this is a login problem, not a permission: the token may have expired, or, for an OIDC token, the API server does not trust its issuer, audience or claims (its --oidc-issuer-url and --oidc-client-id, or the jwt issuer of its AuthenticationConfiguration)"
  if (code === 403)
    return '. The API server knows this identity, but RBAC does not allow the request: a Role and RoleBinding for it are missing'
  return ''
}

function httpText(code: number): string {
  if (code === 401) return 'Unauthorized: the kubeconfig credentials were rejected'
  if (code === 403) return 'Forbidden'
  return 'request failed'
}
