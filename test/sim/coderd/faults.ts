import type { RequestFault } from '../request-faults.js'

/**
 * What coderd's RBAC denies one user, on top of what its roles allow (test/sim/coderd/rbac.ts). A member reads and
 * uses a template only through the template's ACL (coderd/database/db2sdk TemplateRoleActions: the `use` role is
 * read + use), so a template it has no ACL entry for is hidden, and one it reads through another role (an auditor's)
 * is read-only.
 */
export interface CoderUserPolicy {
  /** Templates the user reads but may not use: coderd answers a create with 403 "Unauthorized access to use the template". */
  readonly templatesReadOnly?: readonly string[]
  /** Templates the user may neither read nor use: coderd answers 404 for them, as for a template that does not exist. */
  readonly templatesHidden?: readonly string[]
  /** No workspace create in the organization (the token's scope or the user's roles): a create is a 403. */
  readonly workspaceCreateDenied?: boolean
}

/** Fault switches of the simulated coderd. */
export interface CoderFaults {
  /** The next start build fails with this error and these log lines. */
  buildFails: { error: string; logs: string[] } | undefined
  /** Builds stay pending: no provisioner matches their tags. */
  noProvisioner: boolean
  /** The agent never connects: its status goes to `timeout`. */
  agentNeverConnects: boolean
  /** The agent passes its connection timeout (status `timeout`) and connects this many ms later. */
  agentConnectsLateMs: number
  /** Builds with no matching provisioner are picked up this many ms later (a daemon registers on demand). */
  provisionerArrivesAfterMs: number | undefined
  /** The agent shuts down while starting and ends in this lifecycle state. */
  agentShutsDown: 'shutdown_timeout' | 'shutdown_error' | 'off' | undefined
  /** The agent's startup script has `start_blocks_login` (coder ssh waits for it). */
  startBlocksLogin: boolean
  /** The workspace user's login shell, which the agent runs commands with. */
  loginShell: string
  /** Each agent has a devcontainer sub-agent (`parent_id` set), as a template with devcontainers does. */
  subAgent: boolean
  /**
   * The server acts on the next N requests that match `${method} ${path}`, then drops
   * the connection before answering: a response lost on the way back.
   */
  loseResponses: { match: RegExp; count: number } | undefined
  /** The agent's startup script fails: lifecycle `start_error`. */
  agentStartError: boolean
  /** Extra delay before the agent becomes ready. */
  slowStartMs: number
  /** Answers the next N API requests with 429 and Retry-After. */
  rateLimited: number
  /** Answers the next N API requests with 503. */
  serverErrors: number
  /** Answers /watch with 404, as a proxy or an old coderd might: clients must poll. */
  watchUnavailable: boolean
  /** `GET /users/first` answers 404: the initial user was never created. */
  noInitialUser: boolean
  /** Cuts SSH connections once a command's output contains this marker. */
  sshDropOnOutput: string | undefined
  /**
   * The agent holds each exec request this long before starting its command. agentssh starts the command as soon as
   * the session's exec request arrives (coder/coder agent/agentssh/agentssh.go sessionStart); this stands for a
   * loaded workspace, and lets the signal tests hold a step mid-exec.
   */
  execHoldMs: number
  /** The app proxy answers with this status (502: the app is unreachable; 403: a fronting proxy refuses). */
  appProxyStatus: number | undefined
  /** Path-based apps are switched off by the administrator: the app proxy answers 401. */
  pathAppsDisabled: boolean
  /** A stop wipes the home folder, as a template without a persistent home volume does. */
  loseHomeOnStop: boolean
  /** A stop wipes the persistent volume (home volume, or /workspaces of an envbuilder template). */
  loseVolumeOnStop: boolean
  /** A stop deletes the PVC: the data is gone and the stop build lists no volume resource. */
  pvcGoneOnStop: boolean
  /** Build logs carry envbuilder's `[workspace-bootstrap]` lines, failing ones when the start fails. */
  bootstrapLogs: boolean
  /** `/bin/coder-*` bodies are altered on the way (a proxy or cache in between): the ETag no longer matches them. */
  cliTampered: boolean
  /** Breaks matching requests: 429/5xx, a reset connection, a lost answer (see RequestFault; `expired` is Kubernetes only). */
  requestFaults: RequestFault[]
  /** Closes every /watch SSE stream after this many `data` events (a proxy's idle or max-lifetime cut); clients must resume. */
  watchCloseAfterEvents: number | undefined
  /** The member's token has expired: 401 with `API key expired at "…".` (coderd/httpmw/apikey.go ExtractAPIKey). */
  tokenExpired: boolean
  /** What RBAC denies each user, by user name (an owner is never denied: its role has every permission). */
  userPolicy: Record<string, CoderUserPolicy>
}

export function noCoderFaults(): CoderFaults {
  return {
    buildFails: undefined,
    noProvisioner: false,
    agentNeverConnects: false,
    agentConnectsLateMs: 0,
    provisionerArrivesAfterMs: undefined,
    agentShutsDown: undefined,
    startBlocksLogin: false,
    loginShell: '/bin/bash',
    subAgent: false,
    loseResponses: undefined,
    agentStartError: false,
    slowStartMs: 0,
    rateLimited: 0,
    serverErrors: 0,
    watchUnavailable: false,
    noInitialUser: false,
    sshDropOnOutput: undefined,
    execHoldMs: 0,
    appProxyStatus: undefined,
    pathAppsDisabled: false,
    loseHomeOnStop: false,
    loseVolumeOnStop: false,
    pvcGoneOnStop: false,
    bootstrapLogs: false,
    cliTampered: false,
    requestFaults: [],
    watchCloseAfterEvents: undefined,
    tokenExpired: false,
    userPolicy: {},
  }
}
