import assert from 'node:assert/strict'
import { ApiException } from '@kubernetes/client-node'
import { describe, it } from 'node:test'
import { ProviderRequestError, ProviderUnavailableError } from '../../src/shared/errors.js'
import {
  isRetryableKubeError,
  kubeRetryAfterMs,
  normalizeKubeError,
} from '../../src/shared/providers/che/kube-errors.js'

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code })

describe('normalizeKubeError', () => {
  it('quotes the Status message and reason, and says what was being done', () => {
    const error = normalizeKubeError(
      new ApiException(
        409,
        'Unknown API Status Code!',
        status(409, 'AlreadyExists', 'devworkspaces.workspace.devfile.io "rt-1" already exists'),
        {},
      ),
      'creating DevWorkspace ci/rt-1',
    )
    assert.ok(error instanceof ProviderRequestError)
    assert.equal(error.status, 409)
    assert.equal(
      error.message,
      'creating DevWorkspace ci/rt-1: devworkspaces.workspace.devfile.io "rt-1" already exists (reason: AlreadyExists, code: 409)',
    )
  })

  it('classifies 5xx and 429 as unavailable and retryable, 4xx as not', () => {
    const unavailable = new ApiException(503, 'x', status(503, 'ServiceUnavailable', 'down'), {})
    assert.ok(normalizeKubeError(unavailable, 'x') instanceof ProviderUnavailableError)
    assert.equal(isRetryableKubeError(unavailable), true)
    assert.equal(isRetryableKubeError(new ApiException(429, 'x', '', { 'retry-after': '3' })), true)
    assert.equal(kubeRetryAfterMs(new ApiException(429, 'x', '', { 'retry-after': '3' })), 3000)
    assert.equal(isRetryableKubeError(new ApiException(404, 'x', '', {})), false)
    assert.equal(isRetryableKubeError(new ApiException(422, 'x', '', {})), false)
  })

  it('reports an unreachable API server with the network cause', () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    })
    const error = normalizeKubeError(refused, 'listing pods')
    assert.ok(error instanceof ProviderUnavailableError)
    assert.equal(error.message, 'listing pods: the Kubernetes API could not be reached (ECONNREFUSED)')
    assert.equal(isRetryableKubeError(refused), true)
  })

  it('explains a 401 without a body', () => {
    assert.match(
      normalizeKubeError(new ApiException(401, 'Unauthorized', undefined, {}), 'x').message,
      /Unauthorized: the kubeconfig credentials were rejected \(code: 401\)\. .*a login problem, not a permission.*--oidc-issuer-url/,
    )
  })

  it('tells a 403 (RBAC denies a known identity) from a 401 (credentials not accepted)', () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'Forbidden',
      code: 403,
      message: 'pods is forbidden: User "u" cannot list resource "pods"',
    })
    const forbidden = normalizeKubeError(new ApiException(403, 'Forbidden', body, {}), 'listing pods').message
    assert.match(
      forbidden,
      /User "u" cannot list .*\(reason: Forbidden, code: 403\)\. .*RBAC does not allow.*Role and RoleBinding/,
    )
    assert.doesNotMatch(forbidden, /login problem/)
  })
})
