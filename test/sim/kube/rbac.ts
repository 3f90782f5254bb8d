/**
 * The rule arithmetic of Kubernetes RBAC: whether one PolicyRule allows a request (kubernetes
 * plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows, pkg/apis/rbac/v1/evaluation_helpers.go VerbMatches,
 * APIGroupMatches, ResourceMatches, ResourceNameMatches), whether a set of rules covers another (component-helpers
 * auth/rbac/validation/policy_comparator.go Covers, BreakdownRule, ruleCovers) and how the apiserver prints the rules
 * it refuses to grant (pkg/registry/rbac/validation/policy_compact.go CompactRules, evaluation_helpers.go
 * CompactString). Who holds which rules is `rbac-authorizer.ts`.
 */

/**
 * One rule of a Role or ClusterRole; resources may name a subresource (`pods/exec`; a star before the slash names
 * that subresource of every resource), `*` matches anything, and `resourceNames` (when given) limits it to those object names.
 * `nonResourceURLs` is kept for escalation checks only: the simulator authorizes no non-resource request by it.
 */
export interface PolicyRule {
  readonly apiGroups: readonly string[]
  readonly resources: readonly string[]
  readonly verbs: readonly string[]
  readonly resourceNames?: readonly string[]
  readonly nonResourceURLs?: readonly string[]
}

/** What one request asks to do (kubernetes apiserver/pkg/endpoints/request RequestInfo). */
export interface RequestAttributes {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string
  /** Empty for a cluster-scoped request. */
  readonly namespace?: string
  /** The object name from the path: empty for a create (its name is in the body) and for lists. */
  readonly name?: string
}

/** Everything allowed: a cluster admin. */
export const ALLOW_ALL: PolicyRule[] = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]

const matchesOrStar = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value)

/** rbac.go RuleAllows for a resource request. */
export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  // evaluation_helpers.go ResourceMatches: `*`, an exact `resource/subresource`, or `*/subresource`.
  const resourceMatches = rule.resources.some(
    (r) =>
      r === '*' ||
      r === combined ||
      (a.subresource !== undefined && a.subresource !== '' && r === `*/${a.subresource}`),
  )
  // ResourceNameMatches: no resourceNames matches any name; otherwise the request's name must be listed (so a
  // create, whose request carries no name, never matches a rule with resourceNames).
  const names = rule.resourceNames ?? []
  return (
    matchesOrStar(rule.verbs, a.verb) &&
    matchesOrStar(rule.apiGroups, a.group) &&
    resourceMatches &&
    (names.length === 0 || names.includes(a.name ?? ''))
  )
}

/**
 * The sub-rules of `servant` that no rule of `owner` covers (policy_comparator.go Covers): every servant rule is
 * broken down to one group, resource, verb and resource name (BreakdownRule), and each piece must be covered by a
 * single owner rule (ruleCovers). Empty when owner covers servant.
 */
export function uncoveredRules(owner: readonly PolicyRule[], servant: readonly PolicyRule[]): PolicyRule[] {
  return servant.flatMap(breakdown).filter((sub) => !owner.some((o) => ruleCovers(o, sub)))
}

function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = []
  for (const group of rule.apiGroups)
    for (const resource of rule.resources)
      for (const verb of rule.verbs) {
        const names = rule.resourceNames ?? []
        if (names.length === 0) out.push({ apiGroups: [group], resources: [resource], verbs: [verb] })
        for (const name of names)
          out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] })
      }
  for (const url of rule.nonResourceURLs ?? [])
    for (const verb of rule.verbs) out.push({ apiGroups: [], resources: [], verbs: [verb], nonResourceURLs: [url] })
  return out
}

const hasAll = (set: readonly string[], wanted: readonly string[]): boolean => wanted.every((w) => set.includes(w))

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = owner.verbs.includes('*') || hasAll(owner.verbs, sub.verbs)
  const groups = owner.apiGroups.includes('*') || hasAll(owner.apiGroups, sub.apiGroups)
  // resourceCoversAll: `*`, exact names, or `*/subresource` for a subresource.
  const resources =
    owner.resources.includes('*') ||
    sub.resources.every(
      (r) =>
        owner.resources.includes(r) ||
        (r.includes('/') && owner.resources.includes(`*/${r.split('/').slice(1).join('/')}`)),
    )
  // nonResourceURLsCoversAll: an exact URL or a `prefix*`.
  const urls = (sub.nonResourceURLs ?? []).every((u) =>
    (owner.nonResourceURLs ?? []).some((o) => o === u || (o.endsWith('*') && u.startsWith(o.replace(/\*+$/, '')))),
  )
  const ownerNames = owner.resourceNames ?? []
  const subNames = sub.resourceNames ?? []
  const names =
    subNames.length === 0 ? ownerNames.length === 0 : ownerNames.length === 0 || hasAll(ownerNames, subNames)
  return verbs && groups && resources && names && urls
}

/**
 * The missing rules as ConfirmNoEscalation lists them: simple one-group, one-resource rules merged by verb
 * (CompactRules), each printed by CompactString, sorted and one a line.
 */
export function describeMissing(missing: readonly PolicyRule[]): string {
  const merged = new Map<string, PolicyRule>()
  const complex: PolicyRule[] = []
  for (const rule of missing) {
    const simple =
      !rule.resourceNames?.length &&
      !rule.nonResourceURLs?.length &&
      rule.apiGroups.length === 1 &&
      rule.resources.length === 1
    if (!simple) {
      complex.push(rule)
      continue
    }
    const key = `${rule.apiGroups[0]}\u0000${rule.resources[0]}`
    const seen = merged.get(key)
    merged.set(key, seen ? { ...seen, verbs: [...seen.verbs, ...rule.verbs] } : rule)
  }
  const lines = new Set([...complex, ...merged.values()].map(compactString))
  return [...lines].sort().join('\n')
}

/** evaluation_helpers.go CompactString: `{APIGroups:["g"], Resources:["r"], Verbs:["v"]}` (Go's %q of a slice). */
export function compactString(rule: PolicyRule): string {
  const q = (list: readonly string[]): string => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`
  const parts: string[] = []
  if (rule.apiGroups.length > 0) parts.push(`APIGroups:${q(rule.apiGroups)}`)
  if (rule.resources.length > 0) parts.push(`Resources:${q(rule.resources)}`)
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${q(rule.nonResourceURLs)}`)
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${q(rule.resourceNames)}`)
  if (rule.verbs.length > 0) parts.push(`Verbs:${q(rule.verbs)}`)
  return `{${parts.join(', ')}}`
}

/**
 * The Forbidden message the apiserver writes (apiserver/pkg/endpoints/handlers/responsewriters/errors.go Forbidden,
 * forbiddenMessage), with the authorizer's reason after a colon when it gave one.
 */
export function forbiddenMessage(user: string, a: RequestAttributes, reason = ''): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const qualified = a.group ? `${a.resource}.${a.group}` : a.resource
  const object = a.name ? `${qualified} "${a.name}"` : qualified
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope'
  const message = `${object} is forbidden: User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${scope}`
  return reason ? `${message}: ${reason}` : message
}
