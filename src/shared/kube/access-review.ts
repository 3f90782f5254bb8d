import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node'
import { PermissionError } from '../errors.js'
import type { KubeCall } from './kube-call.js'

/** One permission a run needs: a SelfSubjectAccessReview's resourceAttributes. */
export interface AccessCheck {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string
  /** Empty for a cluster-scoped resource. */
  readonly namespace: string
  /** Set when a Role may grant it by resourceNames (a namespace's own labels). */
  readonly name?: string
}

/** `create httproutes.gateway.networking.k8s.io in ci`, as the error lists it. */
export function describeCheck(c: AccessCheck): string {
  const resource = `${c.group ? `${c.resource}.${c.group}` : c.resource}${c.subresource ? `/${c.subresource}` : ''}`
  const object = c.name ? ` "${c.name}"` : ''
  return `${c.verb} ${resource}${object}${c.namespace ? ` in ${c.namespace}` : ' (cluster scope)'}`
}

/**
 * Asks the API server, with one SelfSubjectAccessReview each, which of the checks the kubeconfig's identity may not
 * do, and throws one PermissionError that lists every missing permission and who the identity is. A 401
 * (credentials not accepted) fails the review itself, with its own message (kube-errors.ts authHint).
 */
export async function requirePermissions(
  kc: KubeConfig,
  call: KubeCall,
  checks: readonly AccessCheck[],
  grantHint: string,
): Promise<void> {
  const denied = await deniedChecks(kc, call, checks)
  if (denied.length > 0) throw await permissionError(kc, call, denied, grantHint)
}

/** The checks the kubeconfig's identity may not do, one SelfSubjectAccessReview each. */
export async function deniedChecks(
  kc: KubeConfig,
  call: KubeCall,
  checks: readonly AccessCheck[],
): Promise<AccessCheck[]> {
  const auth = kc.makeApiClient(AuthorizationV1Api)
  const allowed = await Promise.all(
    checks.map(async (c) => {
      const review = await call(`checking permission to ${describeCheck(c)}`, () =>
        auth.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { ...c } },
          },
        }),
      )
      return review.status?.allowed === true
    }),
  )
  return checks.filter((_, i) => !allowed[i])
}

/** The error for denied checks: each by name, who the API server says the identity is, and how to grant them. */
export async function permissionError(
  kc: KubeConfig,
  call: KubeCall,
  denied: readonly AccessCheck[],
  grantHint: string,
): Promise<PermissionError> {
  const who = await whoAmI(kc, call)
  const identity = who
    ? `The kubeconfig's identity (the API server authenticates it as user "${who}")`
    : "The kubeconfig's identity"
  const bound = who
    ? ` If a RoleBinding exists for another name, the API server maps the token to "${who}" (its OIDC username claim and prefix): bind that name, or change the claim.`
    : ''
  const missing = denied.map(describeCheck).sort().join(', ')
  return new PermissionError(`${identity} lacks permissions: ${missing}. ${grantHint}${bound}`)
}

/** The user name the API server authenticates the kubeconfig as (SelfSubjectReview, Kubernetes 1.28+); undefined when it cannot say. */
export async function whoAmI(kc: KubeConfig, call: KubeCall): Promise<string | undefined> {
  try {
    const review = await call('asking the API server who the kubeconfig is', () =>
      kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      }),
    )
    return review.status?.userInfo?.username
  } catch {
    return undefined
  }
}
