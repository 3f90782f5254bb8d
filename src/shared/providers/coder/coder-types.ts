/**
 * coderd wire types: the JSON fields run-task reads, named as the API names them
 * (codersdk). Unknown fields are ignored; field sets grow between versions.
 */

export const JOB_STATUSES = ['pending', 'running', 'succeeded', 'canceling', 'canceled', 'failed'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export const WORKSPACE_STATUSES = [
  'pending',
  'starting',
  'running',
  'stopping',
  'stopped',
  'failed',
  'canceling',
  'canceled',
  'deleting',
  'deleted',
] as const
export type WorkspaceStatus = (typeof WORKSPACE_STATUSES)[number]

export type WorkspaceTransition = 'start' | 'stop' | 'delete'

export const AGENT_STATUSES = ['connecting', 'connected', 'disconnected', 'timeout'] as const
export type AgentStatus = (typeof AGENT_STATUSES)[number]

export const AGENT_LIFECYCLES = [
  'created',
  'starting',
  'start_timeout',
  'start_error',
  'ready',
  'shutting_down',
  'shutdown_timeout',
  'shutdown_error',
  'off',
] as const
export type AgentLifecycle = (typeof AGENT_LIFECYCLES)[number]

/** `codersdk.Response`: every error body. */
export interface CoderResponse {
  readonly message: string
  readonly detail?: string
  readonly validations?: readonly { readonly field: string; readonly detail: string }[]
}

export interface CoderUser {
  readonly id: string
  readonly username: string
  readonly organization_ids: readonly string[]
  readonly roles: readonly { readonly name: string }[]
}

export interface CoderOrganization {
  readonly id: string
  readonly name: string
  readonly is_default?: boolean
}

export interface CoderTemplate {
  readonly id: string
  readonly name: string
  readonly organization_id: string
  readonly active_version_id: string
  readonly deprecated?: boolean
  readonly deprecation_message?: string
}

/** An RBAC action of coderd (coderd/rbac/policy/policy.go); the ones the preflight asks about. */
export type RbacAction = 'create' | 'read' | 'use'

/**
 * `codersdk.AuthorizationCheck`: may the token's user do `action` to `object`? `owner_id` may be `me`; with
 * `resource_id` coderd checks that one stored resource (with its ACL), which a template's `use` needs.
 */
export interface AuthorizationCheck {
  readonly object: {
    readonly resource_type: 'template' | 'workspace'
    readonly owner_id?: string
    readonly organization_id?: string
    readonly resource_id?: string
  }
  readonly action: RbacAction
}

/** `codersdk.AuthorizationRequest`, the body of `POST /api/v2/authcheck`: checks under keys of the caller's choice. */
export interface AuthorizationRequest {
  readonly checks: Readonly<Record<string, AuthorizationCheck>>
}

/** `codersdk.AuthorizationResponse`: each key of the request, true when allowed. */
export type AuthorizationResponse = Readonly<Record<string, boolean>>

export interface TemplateVersionParameter {
  readonly name: string
  readonly type: 'string' | 'number' | 'bool' | 'list(string)'
  readonly mutable: boolean
  readonly default_value: string
  readonly required: boolean
  readonly ephemeral?: boolean
  readonly options: readonly { readonly name: string; readonly value: string }[]
  readonly validation_regex?: string
  readonly validation_error?: string
  readonly validation_min?: number | null
  readonly validation_max?: number | null
}

export interface ProvisionerJob {
  readonly id: string
  readonly status: JobStatus
  readonly error?: string
  readonly queue_position?: number
}

/** codersdk.WorkspaceAgentScript: what the agent runs; `start_blocks_login` makes `coder ssh` wait for it. */
export interface WorkspaceAgentScript {
  readonly display_name?: string
  readonly run_on_start: boolean
  readonly start_blocks_login: boolean
}

export interface WorkspaceAgent {
  readonly id: string
  /** Set on a sub-agent (a devcontainer's); coderd's convertWorkspace and the CLI leave these out. */
  readonly parent_id?: string | null
  readonly name: string
  readonly status: AgentStatus
  readonly lifecycle_state: AgentLifecycle
  readonly architecture?: string
  readonly operating_system?: string
  readonly expanded_directory?: string
  readonly troubleshooting_url?: string
  readonly connection_timeout_seconds?: number
  readonly scripts?: readonly WorkspaceAgentScript[]
  /** Before coder v2.2: `blocking` when login waits for the startup script. */
  readonly startup_script_behavior?: 'blocking' | 'non-blocking'
  readonly apps?: readonly WorkspaceApp[]
}

/** An app on an agent (codersdk.WorkspaceApp); `url` is the app's internal address. */
export interface WorkspaceApp {
  readonly slug: string
  readonly url?: string
  readonly external: boolean
  readonly subdomain: boolean
  readonly subdomain_name?: string
  readonly health: 'disabled' | 'initializing' | 'healthy' | 'unhealthy'
  readonly healthcheck?: { readonly url: string; readonly interval: number; readonly threshold: number }
}

export interface WorkspaceResource {
  readonly id: string
  readonly name: string
  readonly type: string
  readonly agents?: readonly WorkspaceAgent[]
}

export interface WorkspaceBuild {
  readonly id: string
  readonly build_number: number
  readonly transition: WorkspaceTransition
  readonly status: WorkspaceStatus
  readonly job: ProvisionerJob
  readonly resources: readonly WorkspaceResource[]
  readonly matched_provisioners?: { readonly count: number; readonly available: number }
}

export interface Workspace {
  readonly id: string
  readonly name: string
  readonly owner_name: string
  readonly organization_id: string
  readonly template_name: string
  readonly created_at: string
  readonly latest_build: WorkspaceBuild
  readonly ttl_ms?: number | null
}

export interface ProvisionerJobLog {
  readonly id: number
  readonly created_at: string
  readonly log_source: string
  readonly log_level: string
  readonly stage: string
  readonly output: string
}

/** codersdk.CreateWorkspaceRequest: exactly one of template_id and template_version_id. */
export interface CreateWorkspaceRequest {
  readonly name: string
  readonly template_id?: string
  readonly template_version_id?: string
  readonly ttl_ms?: number
  readonly rich_parameter_values: readonly { readonly name: string; readonly value: string }[]
}
