import type { SimTemplate, SimWorkspace } from './engine.js'
import type { CoderUserPolicy } from './faults.js'

/** A user as the simulator keeps it: what coderd's RBAC subject is built from. */
export interface SimUser {
  readonly id: string
  readonly username: string
  readonly organization_ids: readonly string[]
  readonly roles: readonly { readonly name: string }[]
}

/**
 * An RBAC object (coderd/rbac/object.go Object): its type, the user and organization that own it, and, for one
 * template, the template itself (its ACL decides read and use).
 */
export interface SimRbacObject {
  readonly type: string
  readonly ownerId?: string
  readonly orgId?: string
  readonly template?: SimTemplate
}

/** Where `/authcheck` looks up an object named by `resource_id` (coderd/authorize.go checkAuthorization). */
export interface SimObjectLookup {
  template(id: string): SimTemplate | undefined
  workspace(id: string): SimWorkspace | undefined
  user(id: string): SimUser | undefined
}

/** A response for the route to send. */
export interface SimAnswer {
  readonly status: number
  readonly body: unknown
}

const WORKSPACE_ACTIONS = new Set(['create', 'read', 'update', 'delete', 'ssh', 'application_connect', 'start', 'stop'])
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** coderd/authorize.go checkAuthorization: at most this many checks may name a `resource_id`. */
const MAX_ID_FETCH = 10

/**
 * The simulator's RBAC, a small model of coderd/rbac (roles.go, the Rego policy) for the resources a run touches.
 * The owner role has every permission (roles.go builtInRoles owner: site-wide wildcard). A member:
 * - reads and uses a template only through the template's ACL (coderd/database/modelmethods.go Template.RBACObject
 *   carries the user and group ACLs; db2sdk TemplateRoleActions gives the `use` role read and use). A check on
 *   templates in general (no `resource_id`) has no ACL to match, so it is false.
 * - does anything to its own workspaces (roles.go: the member's owner-scoped workspace permissions), `create` in an
 *   organization it belongs to, unless the policy denies it (a token scope or roles without it).
 * - reads the organizations it belongs to, and itself.
 */
export function authorize(user: SimUser, policy: CoderUserPolicy, action: string, object: SimRbacObject): boolean {
  if (user.roles.some((r) => r.name === 'owner')) return true
  const inOrg = object.orgId === undefined || object.orgId === '' || user.organization_ids.includes(object.orgId)
  switch (object.type) {
    case 'template': {
      const t = object.template
      if (!t || !inOrg || policy.templatesHidden?.includes(t.name)) return false
      if (action === 'read') return true
      return action === 'use' && !policy.templatesReadOnly?.includes(t.name)
    }
    case 'workspace':
      if (object.ownerId !== user.id || !inOrg || !WORKSPACE_ACTIONS.has(action)) return false
      return action !== 'create' || !policy.workspaceCreateDenied
    case 'organization':
      return action === 'read' && object.orgId !== undefined && user.organization_ids.includes(object.orgId)
    case 'user':
      return action === 'read' && object.ownerId === user.id
    default:
      return false
  }
}

/**
 * `POST /api/v2/authcheck` (coderd/authorize.go checkAuthorization, codersdk/authorization.go AuthorizationRequest):
 * `{checks: {key: {object: {resource_type, owner_id?, organization_id?, resource_id?}, action}}}` answered with
 * `{key: bool}` for the token's user. `owner_id: "me"` is the user; a `resource_id` replaces the object with the
 * stored resource (only workspaces, templates, users and groups), and one the user may not read, or that does not
 * exist, is `false`.
 */
export function answerAuthcheck(
  body: unknown,
  user: SimUser,
  policy: CoderUserPolicy,
  lookup: SimObjectLookup,
): SimAnswer {
  // httpapi.Read: a body that is not JSON.
  if (body === undefined || typeof body !== 'object' || body === null)
    return { status: 400, body: { message: 'Request body must be valid JSON.' } }
  const checks = Object.entries((body as { checks?: Record<string, AuthCheck> }).checks ?? {})
  const idFetch = checks.filter(([, c]) => c.object?.resource_id).length
  if (idFetch > MAX_ID_FETCH)
    return {
      status: 400,
      body: {
        message: `Endpoint only supports using "resource_id" field ${MAX_ID_FETCH} times, found ${idFetch} usages. Remove ${idFetch - MAX_ID_FETCH} objects with this field set.`,
      },
    }
  const answer: Record<string, boolean> = {}
  for (const [key, check] of checks) {
    const result = checkOne(key, check, user, policy, lookup)
    if (typeof result !== 'boolean') return result
    answer[key] = result
  }
  return { status: 200, body: answer }
}

interface AuthCheck {
  readonly object?: {
    readonly resource_type?: string
    readonly owner_id?: string
    readonly organization_id?: string
    readonly resource_id?: string
  }
  readonly action?: string
}

/** One check of checkAuthorization's loop: its answer, or the 400 that ends the request. */
function checkOne(
  key: string,
  check: AuthCheck,
  user: SimUser,
  policy: CoderUserPolicy,
  lookup: SimObjectLookup,
): boolean | SimAnswer {
  const o = check.object ?? {}
  const type = o.resource_type ?? ''
  if (!type)
    return {
      status: 400,
      body: { message: `Object's "resource_type" field must be defined for key ${JSON.stringify(key)}.` },
    }
  const ownerId = o.owner_id === 'me' ? user.id : o.owner_id
  const action = check.action ?? ''
  if (!o.resource_id) return authorize(user, policy, action, { type, ownerId, orgId: o.organization_id })
  if (!UUID.test(o.resource_id))
    return {
      status: 400,
      body: {
        message: `Object ${JSON.stringify(o.resource_id)} id is not a valid uuid.`,
        // github.com/google/uuid Parse: the length is checked first.
        validations: [
          {
            field: 'resource_id',
            detail:
              o.resource_id.length === 36 ? 'invalid UUID format' : `invalid UUID length: ${o.resource_id.length}`,
          },
        ],
      },
    }
  const stored = storedObject(type, o.resource_id, lookup)
  if (stored === 'unsupported') {
    const message = `Object type ${JSON.stringify(type)} does not support "resource_id" field.`
    return { status: 400, body: { message, validations: [{ field: 'resource_type', detail: message }] } }
  }
  // The fetch runs as the user (dbauthz): a resource it may not read is an error, and "404 or unauthorized is false".
  if (!stored || !authorize(user, policy, 'read', stored)) return false
  return authorize(user, policy, action, stored)
}

/** The RBAC object of a stored resource, as its RBACObject method builds it; undefined when there is none. */
function storedObject(type: string, id: string, lookup: SimObjectLookup): SimRbacObject | undefined | 'unsupported' {
  switch (type) {
    case 'template': {
      const t = lookup.template(id)
      return t && { type, orgId: t.organization_id, template: t }
    }
    case 'workspace': {
      const w = lookup.workspace(id)
      return w && !w.deleted ? { type, ownerId: w.owner_id, orgId: w.organization_id } : undefined
    }
    case 'user': {
      const u = lookup.user(id)
      return u && { type, ownerId: u.id }
    }
    case 'group':
      // The simulator has no groups: every group id is unknown.
      return undefined
    default:
      return 'unsupported'
  }
}
