/**
 * RBAC for every simulated request, from a configurable Role: the rules authorise both real requests (403 Forbidden
 * otherwise) and SelfSubjectAccessReviews, as the apiserver's RBAC authorizer does
 * (kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go RBACAuthorizer.Authorize, rbac/v1 helpers RuleAllows).
 */

/** One rule of a Role or ClusterRole; resources may name a subresource (`pods/exec`); `*` matches anything. */
export interface PolicyRule {
  readonly apiGroups: readonly string[]
  readonly resources: readonly string[]
  readonly verbs: readonly string[]
}

/** What one request asks to do (kubernetes apiserver/pkg/endpoints/request RequestInfo). */
export interface RequestAttributes {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string
  /** Empty for a cluster-scoped request. */
  readonly namespace?: string
  readonly name?: string
}

/** Everything allowed: a cluster admin. */
export const ALLOW_ALL: PolicyRule[] = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]

const matches = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value)

/** Whether the rules allow the request; `denied` keys (`verb resource[/subresource]`) are always refused. */
export function allows(rules: readonly PolicyRule[], denied: readonly string[], a: RequestAttributes): boolean {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  if (denied.includes(`${a.verb} ${resource}`)) return false
  return rules.some((r) => matches(r.apiGroups, a.group) && matches(r.resources, resource) && matches(r.verbs, a.verb))
}

/** The Forbidden message the apiserver writes (apiserver/pkg/endpoints/handlers/responsewriters/errors.go forbiddenMessage). */
export function forbiddenMessage(user: string, a: RequestAttributes): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const qualified = a.group ? `${a.resource}.${a.group}` : a.resource
  const object = a.name ? `${qualified} "${a.name}"` : qualified
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope'
  return `${object} is forbidden: User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${scope}`
}
