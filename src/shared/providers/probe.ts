import type { WorkspaceHandle } from '../provider.js'

/** Where the workspace's IDE is served, from outside and from inside the workspace. */
export interface IdeEndpoint {
  /** What the IDE is called here (the Coder app slug, or the Che editor endpoint). */
  readonly name: string
  /** The IDE through the provider's proxy (Coder app URL, Che mainUrl). */
  readonly proxyUrl: string
  /** Headers that authenticate a request from the runner. Secret values: never log them. */
  readonly headers: Readonly<Record<string, string>>
  /** The IDE's health endpoint as seen from inside the workspace. */
  readonly healthUrl: string
  /**
   * Set when this provider's proxy cannot accept a non-interactive credential (the reason, for the report): a
   * sign-in answer is then "routed, sign-in required" rather than a failure.
   */
  readonly signInOnly?: string
}

/** Whether the workspace keeps files across a stop, and why. */
export interface Persistence {
  readonly persistent: boolean
  readonly detail: string
}

/** One control-plane finding; `skipped` when the token may not look. */
export interface ControlPlaneFinding {
  readonly status: 'passed' | 'failed' | 'skipped'
  readonly message: string
}

export interface ControlPlaneRequest {
  /** A token with admin rights, for reads a member may not do; empty uses the run's own credentials. */
  readonly adminToken: string
  /** The OIDC issuer the deployment must name; empty only reports it. */
  readonly expectedIssuer: string
}

/**
 * What the smoke check asks a provider beyond running commands. Both providers
 * implement it next to their WorkspaceProvider, over the same transports.
 */
export interface WorkspaceProbe {
  ide(handle: WorkspaceHandle, app: string, signal?: AbortSignal): Promise<IdeEndpoint>
  /** A shell expression for the directory that survives a stop (`$HOME`, `$PROJECTS_ROOT`). */
  readonly persistentDir: string
  persistence(handle: WorkspaceHandle, signal?: AbortSignal): Promise<Persistence>
  /** While stopped: proves the workspace and its storage still exist; throws when they do not. */
  checkStopped(handle: WorkspaceHandle, signal?: AbortSignal): Promise<string>
  controlPlane(request: ControlPlaneRequest, signal?: AbortSignal): Promise<ControlPlaneFinding[]>
}
