import type { UserInfo } from './auth.js'
import { statusBody } from './faults.js'
import { describeMissing, type PolicyRule, type RequestAttributes, ruleAllows, uncoveredRules } from './rbac.js'
import type { KubeObject, ObjectStore } from './store.js'

/**
 * The apiserver's authorizer and RBAC registry over the simulator's store. Every request, SelfSubjectAccessReview and
 * exec upgrade is decided here from the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings stored in the
 * simulated cluster (kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go RBACAuthorizer.Authorize over
 * pkg/registry/rbac/validation/rule.go DefaultRuleResolver.VisitRulesFor), after the `system:masters` authorizer
 * (pkg/kubeapiserver/authorizer/config.go New puts apiserver authorizerfactory NewPrivilegedGroups first). Writes of
 * those four kinds are checked for privilege escalation as the policy-based RBAC storage does.
 */

export const RBAC_GROUP = 'rbac.authorization.k8s.io'
/** k8s.io/apiserver pkg/authentication/user SystemPrivilegedGroup: allowed everything, never checked for escalation. */
export const SYSTEM_MASTERS = 'system:masters'

/** An authorizer's answer: `reason` is what a SelfSubjectAccessReview reports, and a 403 appends when non-empty. */
export interface Decision {
  readonly allowed: boolean
  readonly reason: string
}

/** A refused write: the HTTP status and the Status body to send. */
export interface Refusal {
  readonly code: number
  readonly body: Record<string, unknown>
}

interface Subject {
  kind?: string
  apiGroup?: string
  name?: string
  namespace?: string
}
interface RoleRef {
  apiGroup?: string
  kind?: string
  name?: string
}
interface StoredRules {
  readonly rules?: readonly Partial<PolicyRule>[]
  readonly aggregationRule?: unknown
}
interface StoredBinding {
  roleRef?: RoleRef
  subjects?: Subject[]
}

/** Sees each rule with where it came from (RBAC's "allowed by" text); returns false to stop the visit. */
type Visitor = (source: string, rule: PolicyRule) => boolean
/** A role reference resolved to its rules, or why it did not resolve. */
type RoleRefRules =
  { readonly rules: PolicyRule[] } | { readonly missing: 'role' | 'clusterrole' } | { readonly unsupported: string }

/** ClusterRole storage's bar for an aggregationRule: `*` on everything (clusterrole/policybased/storage.go fullAuthority). */
const FULL_AUTHORITY: PolicyRule[] = [
  { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
  { apiGroups: [], resources: [], verbs: ['*'], nonResourceURLs: ['*'] },
]

export class RbacAuthorizer {
  /**
   * @param staticRules `sim.rules`: a Role the simulated cluster binds to every authenticated user, in every
   *   namespace, before any stored binding (ALLOW_ALL by default, so tests that do not care about RBAC pass).
   * @param denied `faults.denied`: `verb resource[/subresource]` pairs refused whatever the policy says.
   */
  constructor(
    private readonly store: ObjectStore,
    private readonly staticRules: () => readonly PolicyRule[],
    private readonly denied: () => readonly string[],
  ) {}

  /** The decision for one request (or SelfSubjectAccessReview) by `user`. */
  authorize(user: UserInfo, a: RequestAttributes): Decision {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
    if (this.denied().includes(`${a.verb} ${resource}`)) return { allowed: false, reason: '' }
    // authorizerfactory/builtin.go privilegedGroupAuthorizer.Authorize: allow, with no reason.
    if (user.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: '' }
    let reason = ''
    const errors = this.visitRulesFor(user, a.namespace ?? '', (source, rule) => {
      if (!ruleAllows(rule, a)) return true
      reason = `RBAC: allowed by ${source}`
      return false
    })
    if (reason) return { allowed: true, reason }
    // rbac.go Authorize: no opinion, with the resolution errors (utilerrors.NewAggregate) as the reason.
    const aggregate = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`
    return { allowed: false, reason: errors.length > 0 ? `RBAC: ${aggregate}` : '' }
  }

  /** Every rule that applies to `user` in `namespace` (rule.go DefaultRuleResolver.RulesFor). */
  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    const rules: PolicyRule[] = []
    this.visitRulesFor(user, namespace, (_source, rule) => (rules.push(rule), true))
    return rules
  }

  /**
   * The apiserver's checks on a create or update (PUT or PATCH, after the patch is applied) of a Role, ClusterRole,
   * RoleBinding or ClusterRoleBinding, in its order: v1 defaulting (pkg/apis/rbac/v1/defaults.go, applied to
   * `object` in place), the policy-based storage's escalation check, then validation (pkg/apis/rbac/validation).
   * `a` is the request's attributes (no name on a create); `existing` the stored object on an update. Undefined
   * when the write may go on; any other kind is let through untouched.
   */
  admitWrite(user: UserInfo, a: RequestAttributes, object: KubeObject, existing?: KubeObject): Refusal | undefined {
    if (a.group !== RBAC_GROUP || a.subresource) return undefined
    const binding = a.resource === 'rolebindings' || a.resource === 'clusterrolebindings'
    const role = a.resource === 'roles' || a.resource === 'clusterroles'
    if (!binding && !role) return undefined
    if (binding) setBindingDefaults(object as KubeObject & StoredBinding)
    // rbac/escalation_check.go EscalationAllowed: system:masters skips every escalation check.
    if (!user.groups.includes(SYSTEM_MASTERS)) {
      const refusal = binding
        ? this.bindingEscalation(user, a, object as KubeObject & StoredBinding)
        : this.roleEscalation(user, a, object as KubeObject & StoredRules)
      if (refusal) return refusal
    }
    const problems = binding
      ? bindingProblems(object as KubeObject & StoredBinding, a.resource === 'rolebindings', existing as StoredBinding)
      : ruleProblems(object as KubeObject & StoredRules, a.resource === 'roles')
    return problems.length > 0 ? invalid(a.resource, object.metadata.name, problems) : undefined
  }

  /**
   * role/policybased/storage.go and clusterrole/policybased/storage.go Create and Update: allowed with the
   * `escalate` verb on the role (escalation_check.go RoleEscalationAuthorized, which asks with the request's name,
   * empty on a create), or when the user already holds every rule it grants (validation/rule.go
   * ConfirmNoEscalation). An aggregationRule needs full authority.
   */
  private roleEscalation(user: UserInfo, a: RequestAttributes, object: KubeObject & StoredRules): Refusal | undefined {
    const namespace = a.namespace ?? ''
    const escalate = { verb: 'escalate', group: a.group, resource: a.resource, namespace, name: a.name ?? '' }
    if (this.authorize(user, escalate).allowed) return undefined
    const held = this.rulesFor(user, namespace)
    const missing = uncoveredRules(held, (object.rules ?? []).map(normalizeRule))
    if (missing.length > 0) return notHeld(user, a.resource, object.metadata.name, missing)
    if (a.resource === 'clusterroles' && object.aggregationRule && uncoveredRules(held, FULL_AUTHORITY).length > 0) {
      return forbidden(
        a.resource,
        object.metadata.name,
        'must have cluster-admin privileges to use the aggregationRule',
      )
    }
    return undefined
  }

  /**
   * rolebinding/policybased/storage.go and clusterrolebinding/policybased/storage.go Create and Update: allowed with
   * the `bind` verb on the referenced role, asked in the binding's namespace (none for a ClusterRoleBinding) with the
   * role's name (escalation_check.go BindingAuthorized, so `resourceNames` may name it), or when the user already
   * holds every rule of the referenced role, which must then exist (the registry's NotFound otherwise).
   */
  private bindingEscalation(
    user: UserInfo,
    a: RequestAttributes,
    object: KubeObject & StoredBinding,
  ): Refusal | undefined {
    const namespace = a.resource === 'rolebindings' ? (a.namespace ?? '') : ''
    const ref = object.roleRef ?? {}
    const roleResource = ref.kind === 'ClusterRole' ? 'clusterroles' : ref.kind === 'Role' ? 'roles' : undefined
    if (roleResource) {
      const bind = { verb: 'bind', group: ref.apiGroup ?? '', resource: roleResource, namespace, name: ref.name ?? '' }
      if (this.authorize(user, bind).allowed) return undefined
    }
    const resolved = this.roleRefRules(ref, namespace)
    if ('unsupported' in resolved) {
      // A plain error from GetRoleReferenceRules, which the handler turns into a 500 (apierrors.NewInternalError).
      const message = `Internal error occurred: unsupported role reference kind: "${resolved.unsupported}"`
      return { code: 500, body: statusBody(500, 'InternalError', message, { causes: [{ message }] }) }
    }
    if ('missing' in resolved) {
      const plural = `${resolved.missing}s`
      return {
        code: 404,
        body: statusBody(404, 'NotFound', `${plural}.${RBAC_GROUP} "${ref.name ?? ''}" not found`, {
          name: ref.name ?? '',
          group: RBAC_GROUP,
          kind: plural,
        }),
      }
    }
    const missing = uncoveredRules(this.rulesFor(user, namespace), resolved.rules)
    return missing.length > 0 ? notHeld(user, a.resource, object.metadata.name, missing) : undefined
  }

  /**
   * rule.go VisitRulesFor: sim.rules first, then every ClusterRoleBinding whose subjects match, then (for a
   * namespaced request) every RoleBinding of that namespace; stops when the visitor returns false. Returns the
   * errors met resolving role references (a binding to a role that does not exist).
   */
  private visitRulesFor(user: UserInfo, namespace: string, visit: Visitor): string[] {
    const errors: string[] = []
    for (const rule of this.staticRules())
      if (!visit('sim.rules (the Role the simulated cluster binds to every authenticated user)', rule)) return errors
    const scopes: [string, string][] = [['clusterrolebindings', '']]
    if (namespace) scopes.push(['rolebindings', namespace])
    for (const [resource, ns] of scopes) {
      for (const binding of this.store.list(resource, ns) as (KubeObject & StoredBinding)[]) {
        const subject = (binding.subjects ?? []).find((s) => appliesToUser(user, s, ns))
        if (!subject) continue
        const ref = binding.roleRef ?? {}
        const resolved = this.roleRefRules(ref, ns)
        if (!('rules' in resolved)) {
          // The authorizer's listers name the resource in the singular (client-go listers: v1.Resource("role")).
          errors.push(
            'missing' in resolved
              ? `${resolved.missing}.${RBAC_GROUP} "${ref.name ?? ''}" not found`
              : `unsupported role reference kind: "${resolved.unsupported}"`,
          )
          continue
        }
        // rule.go clusterRoleBindingDescriber / roleBindingDescriber.
        const name = ns ? `${binding.metadata.name}/${ns}` : binding.metadata.name
        const kind = ns ? 'RoleBinding' : 'ClusterRoleBinding'
        const source = `${kind} "${name}" of ${ref.kind} "${ref.name}" to ${describeSubject(subject, ns)}`
        for (const rule of resolved.rules) if (!visit(source, rule)) return errors
      }
    }
    return errors
  }

  /** rule.go GetRoleReferenceRules: a Role in the binding's namespace, or a ClusterRole. */
  private roleRefRules(ref: RoleRef, namespace: string): RoleRefRules {
    if (ref.kind !== 'Role' && ref.kind !== 'ClusterRole') return { unsupported: ref.kind ?? '' }
    const role =
      ref.kind === 'Role'
        ? namespace
          ? this.store.get('roles', namespace, ref.name ?? '')
          : undefined
        : this.store.get('clusterroles', '', ref.name ?? '')
    if (!role) return { missing: ref.kind === 'Role' ? 'role' : 'clusterrole' }
    return { rules: ((role as KubeObject & StoredRules).rules ?? []).map(normalizeRule) }
  }
}

/** rule.go appliesToUser: a User by name, a Group by membership, a ServiceAccount by its username. */
function appliesToUser(user: UserInfo, subject: Subject, namespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.name === subject.name
    case 'Group':
      return user.groups.includes(subject.name ?? '')
    case 'ServiceAccount': {
      // A RoleBinding's ServiceAccount subject without a namespace means one in the binding's namespace.
      const ns = subject.namespace || namespace
      // apiserver pkg/authentication/serviceaccount MatchesUsername: system:serviceaccount:<ns>:<name>.
      return ns !== '' && user.name === `system:serviceaccount:${ns}:${subject.name ?? ''}`
    }
    default:
      return false
  }
}

/** rule.go describeSubject: a ServiceAccount as `name/namespace`. */
function describeSubject(subject: Subject, bindingNamespace: string): string {
  if (subject.kind === 'ServiceAccount')
    return `ServiceAccount "${subject.name ?? ''}/${subject.namespace || bindingNamespace}"`
  return `${subject.kind ?? ''} "${subject.name ?? ''}"`
}

function normalizeRule(rule: Partial<PolicyRule>): PolicyRule {
  return {
    apiGroups: rule.apiGroups ?? [],
    resources: rule.resources ?? [],
    verbs: rule.verbs ?? [],
    ...(rule.resourceNames?.length ? { resourceNames: rule.resourceNames } : {}),
    ...(rule.nonResourceURLs?.length ? { nonResourceURLs: rule.nonResourceURLs } : {}),
  }
}

/** apimachinery errors.NewForbidden: `<resource>.<group> "<name>" is forbidden: <why>`. */
function forbidden(resource: string, name: string, why: string): Refusal {
  const message = `${resource}.${RBAC_GROUP} "${name}" is forbidden: ${why}`
  return { code: 403, body: statusBody(403, 'Forbidden', message, { name, group: RBAC_GROUP, kind: resource }) }
}

/** validation/rule.go ConfirmNoEscalation's error; Go prints the groups with %q (`["a" "b"]`). */
function notHeld(user: UserInfo, resource: string, name: string, missing: PolicyRule[]): Refusal {
  const groups = `[${user.groups.map((g) => JSON.stringify(g)).join(' ')}]`
  const why = `user ${JSON.stringify(user.name)} (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n${describeMissing(missing)}`
  return forbidden(resource, name, why)
}

/** pkg/apis/rbac/v1/defaults.go SetDefaults_RoleBinding, SetDefaults_ClusterRoleBinding, SetDefaults_Subject. */
function setBindingDefaults(binding: StoredBinding): void {
  if (binding.roleRef && !binding.roleRef.apiGroup) binding.roleRef.apiGroup = RBAC_GROUP
  for (const subject of binding.subjects ?? []) {
    if (subject.apiGroup) continue
    if (subject.kind === 'User' || subject.kind === 'Group') subject.apiGroup = RBAC_GROUP
  }
}

interface FieldProblem {
  readonly field: string
  readonly reason: 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueInvalid'
  readonly message: string
}

const required = (field: string, detail = ''): FieldProblem => ({
  field,
  reason: 'FieldValueRequired',
  message: detail ? `Required value: ${detail}` : 'Required value',
})
const notSupported = (field: string, value: string, supported: string[]): FieldProblem => ({
  field,
  reason: 'FieldValueNotSupported',
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
})

/** pkg/apis/rbac/validation/validation.go validatePolicyRule, for every rule of a Role or ClusterRole. */
function ruleProblems(role: StoredRules, namespaced: boolean): FieldProblem[] {
  return (role.rules ?? []).flatMap((rule, i) => {
    const path = `rules[${i}]`
    const out: FieldProblem[] = []
    if (!rule.verbs?.length) out.push(required(`${path}.verbs`, 'verbs must contain at least one value'))
    if (rule.nonResourceURLs?.length) {
      const value = `[]string{${rule.nonResourceURLs.map((u) => JSON.stringify(u)).join(', ')}}`
      const bad = (message: string): FieldProblem => ({
        field: `${path}.nonResourceURLs`,
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${value}: ${message}`,
      })
      if (namespaced) out.push(bad('namespaced rules cannot apply to non-resource URLs'))
      if (rule.apiGroups?.length || rule.resources?.length || rule.resourceNames?.length)
        out.push(bad('rules cannot apply to both regular resources and non-resource URLs'))
      return out
    }
    if (!rule.apiGroups?.length)
      out.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'))
    if (!rule.resources?.length)
      out.push(required(`${path}.resources`, 'resource rules must supply at least one resource'))
    if (rule.resourceNames?.length && (rule.resources?.length ?? 0) > 1)
      out.push(required(`${path}.resourceNames`, 'resource names cannot apply to multiple resources'))
    return out
  })
}

/**
 * validation.go ValidateRoleBinding / ValidateClusterRoleBinding (roleRef and subjects) and their Update
 * counterparts ("cannot change roleRef").
 */
function bindingProblems(binding: StoredBinding, namespaced: boolean, existing?: StoredBinding): FieldProblem[] {
  const out: FieldProblem[] = []
  const ref = binding.roleRef ?? {}
  if (ref.apiGroup !== RBAC_GROUP) out.push(notSupported('roleRef.apiGroup', ref.apiGroup ?? '', [RBAC_GROUP]))
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole']
  if (!kinds.includes(ref.kind ?? '')) out.push(notSupported('roleRef.kind', ref.kind ?? '', kinds))
  if (!ref.name) out.push(required('roleRef.name'))
  ;(binding.subjects ?? []).forEach((s, i) => {
    const path = `subjects[${i}]`
    if (!s.name) out.push(required(`${path}.name`))
    if (s.kind === 'ServiceAccount') {
      if (s.apiGroup) out.push(notSupported(`${path}.apiGroup`, s.apiGroup, ['']))
      if (!namespaced && !s.namespace) out.push(required(`${path}.namespace`))
    } else if (s.kind === 'User' || s.kind === 'Group') {
      if (s.apiGroup !== RBAC_GROUP) out.push(notSupported(`${path}.apiGroup`, s.apiGroup ?? '', [RBAC_GROUP]))
    } else {
      out.push(notSupported(`${path}.kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']))
    }
  })
  const old = existing?.roleRef
  if (old && (old.apiGroup !== ref.apiGroup || old.kind !== ref.kind || old.name !== ref.name)) {
    // field.Invalid prints a struct value with Go's %#v.
    const value = `rbac.RoleRef{APIGroup:${JSON.stringify(ref.apiGroup ?? '')}, Kind:${JSON.stringify(ref.kind ?? '')}, Name:${JSON.stringify(ref.name ?? '')}}`
    out.push({
      field: 'roleRef',
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${value}: cannot change roleRef`,
    })
  }
  return out
}

const KINDS: Record<string, string> = {
  roles: 'Role',
  clusterroles: 'ClusterRole',
  rolebindings: 'RoleBinding',
  clusterrolebindings: 'ClusterRoleBinding',
}

/** apimachinery errors.NewInvalid: `<Kind>.<group> "<name>" is invalid: <field>: <problem>` (several in brackets). */
function invalid(resource: string, name: string, problems: FieldProblem[]): Refusal {
  const kind = KINDS[resource] ?? resource
  const list = problems.map((p) => `${p.field}: ${p.message}`)
  const message = `${kind}.${RBAC_GROUP} "${name}" is invalid: ${list.length > 1 ? `[${list.join(', ')}]` : list[0]}`
  return {
    code: 422,
    body: statusBody(422, 'Invalid', message, { name, group: RBAC_GROUP, kind, causes: problems }),
  }
}
