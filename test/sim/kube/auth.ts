import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { statusBody } from './faults.js'

/** Who a request is, as the apiserver's authenticators hand it to authorization (k8s.io/apiserver user.Info). */
export interface UserInfo {
  readonly name: string
  readonly uid: string
  readonly groups: readonly string[]
}

/** The user of requests without credentials (k8s.io/apiserver pkg/authentication/request/anonymous). */
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'] }

/**
 * Paths every user may GET, anonymous included: the `system:public-info-viewer` ClusterRole
 * (kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go ClusterRoles).
 */
const PUBLIC_INFO = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/'])

const users = new WeakMap<IncomingMessage, UserInfo>()

/** The user a request was authenticated as (anonymous when it carried no credentials). */
export function requestUser(req: IncomingMessage): UserInfo {
  return users.get(req) ?? ANONYMOUS
}

/** Bearer tokens the simulated cluster knows, as a static token file (`--token-auth-file`) lists them. */
export type TokenUsers = ReadonlyMap<string, UserInfo>

type Authentication = { readonly user: UserInfo } | { readonly error: string }

/**
 * The apiserver's authenticator chain (kubernetes pkg/kubeapiserver/authenticator/config.go New): x509 client
 * certificates, then bearer tokens; a request with credentials that fail is 401 and never falls through to
 * anonymous (`union.NewFailOnError(authenticator, anonymous)`); one without any is anonymous.
 */
export function authenticate(req: IncomingMessage, tokens: TokenUsers): Authentication {
  const socket = req.socket as TLSSocket
  const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined
  if (cert && Object.keys(cert).length > 0) {
    // k8s.io/apiserver pkg/authentication/request/x509/x509.go AuthenticateRequest: verify against the client CA.
    if (!socket.authorized) return { error: `verifying certificate failed: ${String(socket.authorizationError)}` }
    // Node gives a repeated attribute (several O) as an array.
    const subject = cert.subject as unknown as Record<string, string | string[] | undefined>
    const groups = [subject.O ?? []].flat()
    return { user: authenticated({ name: [subject.CN ?? ''].flat()[0] ?? '', uid: '', groups }) }
  }
  const header = req.headers.authorization
  if (header !== undefined) {
    // k8s.io/apiserver pkg/authentication/request/bearertoken/bearertoken.go AuthenticateRequest.
    const match = /^bearer\s+(\S+)\s*$/i.exec(header)
    const user = match ? tokens.get(match[1] as string) : undefined
    if (!user) return { error: 'invalid bearer token' }
    return { user: authenticated(user) }
  }
  return { user: ANONYMOUS }
}

/** k8s.io/apiserver pkg/authentication/group/authenticated_group_adder.go: every authenticated user is in it. */
function authenticated(user: UserInfo): UserInfo {
  return user.groups.includes('system:authenticated')
    ? user
    : { ...user, groups: [...user.groups, 'system:authenticated'] }
}

/**
 * The filters in front of every handler: authentication (401, k8s.io/apiserver pkg/endpoints/filters/
 * authentication.go WithAuthentication), the public-info endpoints, and the 403 an anonymous user gets
 * everywhere else (pkg/endpoints/filters/authorization.go WithAuthorization, responsewriters.Forbidden).
 * Returns true when it has answered the request.
 */
export function answerBeforeHandlers(req: IncomingMessage, res: ServerResponse, tokens: TokenUsers): boolean {
  const result = authenticate(req, tokens)
  if ('error' in result) {
    sendJson(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'))
    return true
  }
  users.set(req, result.user)
  const pathname = new URL(req.url ?? '/', 'https://sim').pathname
  if (req.method === 'GET' && PUBLIC_INFO.has(pathname)) {
    answerPublicInfo(res, pathname)
    return true
  }
  if (result.user === ANONYMOUS) {
    const verb = (req.method ?? 'GET').toLowerCase()
    sendJson(
      res,
      403,
      statusBody(403, 'Forbidden', `forbidden: User "${ANONYMOUS.name}" cannot ${verb} path "${pathname}"`),
    )
    return true
  }
  if (req.method === 'POST' && pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
    answerSelfSubjectReview(res, result.user)
    return true
  }
  return false
}

/** `kubectl auth whoami` (kubernetes pkg/registry/authentication/selfsubjectreview/rest.go Create). */
function answerSelfSubjectReview(res: ServerResponse, user: UserInfo): void {
  sendJson(res, 201, {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    status: { userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups } },
  })
}

/** The result of authenticating a WebSocket upgrade: undefined when it may go on, else the refusal to write. */
export function refuseUpgrade(req: IncomingMessage, tokens: TokenUsers): string | undefined {
  const result = authenticate(req, tokens)
  if ('error' in result) return rawResponse(401, 'Unauthorized', statusBody(401, 'Unauthorized', 'Unauthorized'))
  users.set(req, result.user)
  if (result.user !== ANONYMOUS) return undefined
  const pathname = new URL(req.url ?? '/', 'https://sim').pathname
  return rawResponse(
    403,
    'Forbidden',
    statusBody(403, 'Forbidden', `forbidden: User "${ANONYMOUS.name}" cannot get path "${pathname}"`),
  )
}

/**
 * `/version` (k8s.io/apiserver pkg/endpoints/discovery/version.go, the fields of k8s.io/apimachinery
 * pkg/version Info) and the health checks, which answer `ok` as text (k8s.io/apiserver pkg/server/healthz).
 */
function answerPublicInfo(res: ServerResponse, pathname: string): void {
  if (pathname.startsWith('/version')) {
    sendJson(res, 200, {
      major: '1',
      minor: '33',
      emulationMajor: '1',
      emulationMinor: '33',
      minCompatibilityMajor: '1',
      minCompatibilityMinor: '32',
      gitVersion: 'v1.33.0-sim',
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2026-01-01T00:00:00Z',
      goVersion: 'go1.24.0',
      compiler: 'gc',
      platform: 'linux/amd64',
    })
    return
  }
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
  res.end('ok')
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function rawResponse(code: number, text: string, body: unknown): string {
  const json = JSON.stringify(body)
  return `HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`
}
