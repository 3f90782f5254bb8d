import { PermissionError } from '../../errors.js'
import type { CoderClient } from './coder-client.js'
import type {
  AuthorizationCheck,
  AuthorizationRequest,
  AuthorizationResponse,
  CoderOrganization,
  CoderTemplate,
  CoderUser,
} from './coder-types.js'

/** Who creates the workspace, in which organization, from which template: what the preflight asks about. */
export interface CoderAccessTarget {
  readonly me: CoderUser
  readonly organization: CoderOrganization
  readonly template: CoderTemplate
}

/** One permission a run needs: its key in the authcheck request, the check, and what to say when it is missing. */
export interface NeededAccess {
  readonly key: string
  readonly check: AuthorizationCheck
  /** `may not …`, naming the resource. */
  readonly missing: string
  /** What an administrator changes to grant it. */
  readonly fix: string
}

/**
 * The permissions coderd checks when it creates a workspace (coderd/workspaces.go createWorkspace), in its order:
 * `create` on a workspace of the user in the template's organization, then `use` on the template. A named template
 * version has no permission of its own: coderd authorizes a version through its template
 * (coderd/database/modelmethods.go TemplateVersion.RBACObject). `use` comes from the template's ACL, so the check
 * names the template by `resource_id`; without it coderd has no ACL to match and answers false for a member.
 */
export function neededAccess(target: CoderAccessTarget): NeededAccess[] {
  const org = JSON.stringify(target.organization.name)
  const template = JSON.stringify(target.template.name)
  return [
    {
      key: 'create_workspace',
      check: {
        object: {
          resource_type: 'workspace',
          owner_id: target.me.id,
          organization_id: target.template.organization_id,
        },
        action: 'create',
      },
      missing: `may not create workspaces in organization ${org}`,
      fix: `To create workspaces, the user's roles in organization ${org} and the token's scope must allow it.`,
    },
    {
      key: 'use_template',
      check: {
        object: {
          resource_type: 'template',
          resource_id: target.template.id,
          organization_id: target.template.organization_id,
        },
        action: 'use',
      },
      missing: `may not use template ${template} (organization ${org})`,
      fix: `To use the template, a template administrator grants Use on the template (its Permissions: the Everyone group, a group of the user, or the user).`,
    },
  ]
}

/** The `POST /api/v2/authcheck` body for these permissions (codersdk.AuthorizationRequest). */
export function accessRequest(needed: readonly NeededAccess[]): AuthorizationRequest {
  return { checks: Object.fromEntries(needed.map((n) => [n.key, n.check])) }
}

/** The permissions coderd did not answer `true` for; a key it left out counts as denied. */
export function missingAccess(
  needed: readonly NeededAccess[],
  response: AuthorizationResponse | undefined,
): NeededAccess[] {
  return needed.filter((n) => response?.[n.key] !== true)
}

/** The error for what is missing: every permission by name, then how to grant each. */
export function accessError(me: CoderUser, missing: readonly NeededAccess[]): PermissionError {
  return new PermissionError(
    `Coder user ${JSON.stringify(me.username)} lacks permissions: ${missing.map((m) => m.missing).join('; ')}. ${missing.map((m) => m.fix).join(' ')}`,
  )
}

/**
 * Asks coderd, before anything is created, whether the token's user may create the workspace from the template
 * (`POST /api/v2/authcheck`, coderd/authorize.go checkAuthorization, which factors in the user's roles and the
 * token's scope). Throws a PermissionError that lists exactly what is missing.
 */
export async function checkCoderAccess(
  client: CoderClient,
  target: CoderAccessTarget,
  signal?: AbortSignal,
): Promise<void> {
  const needed = neededAccess(target)
  const response = await client.request<AuthorizationResponse>(
    'POST',
    '/authcheck',
    `checking the permissions of Coder user ${target.me.username}`,
    accessRequest(needed),
    signal,
  )
  const missing = missingAccess(needed, response)
  if (missing.length > 0) throw accessError(target.me, missing)
}
