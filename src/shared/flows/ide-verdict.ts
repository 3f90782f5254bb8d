import { credentialUrlProblem } from '../credential-http.js'
import { proxyAwareFetch } from '../proxy.js'
import type { IdeEndpoint } from '../providers/probe.js'

/** What one request through the provider's proxy proved about the IDE. */
export interface IdeVerdict {
  readonly status: 'passed' | 'failed' | 'skipped'
  readonly message: string
}

const MAX_REDIRECTS = 5
const SIGN_IN_PATH = /login|sign[-_]?in|oauth|openid|\/auth\b|\/authorize/i

/**
 * GETs the IDE through the proxy with the runner's credentials and judges the answer. Only a 2xx proves the IDE
 * is routed and the credential accepted. A same-origin redirect that is not a sign-in page (code-server sends
 * `/` to `/?folder=…`) is followed. A 401, a 403 or a redirect to sign-in or to another origin (the identity
 * provider) never passes: it fails, or, when the provider says the proxy takes no non-interactive credential
 * (`endpoint.signInOnly`), it is skipped as "routed, sign-in required" with that reason.
 */
export async function judgeIde(endpoint: IdeEndpoint, signal: AbortSignal): Promise<IdeVerdict> {
  let url = endpoint.proxyUrl
  // The run's credential (the kube bearer token, the Coder token) never crosses a network in clear.
  const insecure = Object.keys(endpoint.headers).length ? credentialUrlProblem(new URL(url)) : undefined
  if (insecure)
    return {
      status: 'failed',
      message: `${url}: the run's credentials are not sent there; the IDE URL must be ${insecure}`,
    }
  for (let hop = 0; ; hop++) {
    const response = await proxyAwareFetch(url, { headers: endpoint.headers, redirect: 'manual', signal })
    await response.body?.cancel()
    const what = `GET ${url} → ${response.status}`
    const location = response.headers.get('location')
    if (response.status >= 200 && response.status < 300) return { status: 'passed', message: what }
    if (response.status >= 500)
      return { status: 'failed', message: `${what}: the proxy could not reach ${endpoint.name}` }
    if (response.status === 401 || response.status === 403) return signInAnswer(endpoint, `${what}: not signed in`)
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url)
      if (next.origin !== new URL(url).origin || SIGN_IN_PATH.test(next.pathname + next.search))
        return signInAnswer(endpoint, `${what}: redirected to sign-in (${next.origin}${next.pathname})`)
      if (hop >= MAX_REDIRECTS) return { status: 'failed', message: `${what}: more than ${MAX_REDIRECTS} redirects` }
      url = next.href
      continue
    }
    return { status: 'failed', message: `${what}: the IDE did not answer through the proxy` }
  }
}

function signInAnswer(endpoint: IdeEndpoint, what: string): IdeVerdict {
  if (endpoint.signInOnly)
    return { status: 'skipped', message: `routed, sign-in required: ${what}; ${endpoint.signInOnly}` }
  return { status: 'failed', message: `${what}; the proxy did not accept the run's credentials` }
}
