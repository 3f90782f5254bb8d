import type { PodSecurity } from './providers/che/pod-guardrails.js'
import type { Writable } from 'node:stream'
import type { RunIdentity } from './identity.js'

/** The providers the toolkit can run a workspace on. */
export const PROVIDER_NAMES = ['che', 'coder'] as const
export type ProviderName = (typeof PROVIDER_NAMES)[number]

/**
 * Everything later steps need to find a workspace again. It is written to step
 * outputs and to the state file, so it must never hold a secret.
 */
export interface WorkspaceHandle {
  readonly provider: ProviderName
  /** The workspace's name (DevWorkspace name, Coder workspace name). */
  readonly name: string
  /** The provider's id (devworkspaceId, Coder workspace UUID); empty until known. */
  readonly id: string
  /** Kubernetes namespace (Che) or organization (Coder). */
  readonly scope: string
  /** The container or agent commands run in; empty when the provider picks it. */
  readonly target: string
  /** ISO timestamps. */
  readonly createdAt: string
  readonly readyAt?: string
  /** Che: what the pod says about root, and the unsafe settings allow-unsafe-pod let through (meta.json). */
  readonly podSecurity?: PodSecurity
}

/** What provisioning needs that changes from run to run. */
export interface ProvisionRequest {
  readonly name: string
  readonly identity: RunIdentity
  readonly startTimeoutMs: number
  /** Called as soon as the workspace exists, before it is ready, so cleanup can find it. */
  readonly onCreated?: (handle: WorkspaceHandle) => void | Promise<void>
  /** Called at least every 15 s while waiting, with the last status seen. */
  readonly onProgress?: (status: string) => void
  /** Called for a problem that does not stop the run, such as a failed startup script. */
  readonly onWarning?: (message: string) => void
}

/** One command to run in the workspace. */
export interface ExecRequest {
  /** A shell command line, such as `ameide test`. */
  readonly command: string
  /** Working directory; the provider's project directory when empty. */
  readonly cwd: string
  /** Environment for the command. Travels out of band, never on the command line. */
  readonly env: ReadonlyMap<string, string>
  readonly timeoutMs: number
}

export interface ExecStreams {
  readonly stdout: Writable
  readonly stderr: Writable
}

export interface ExecResult {
  /** The command's exit code; null when it was ended by a signal. */
  readonly exitCode: number | null
  readonly signal: string | null
  readonly durationMs: number
}

export interface DownloadLimits {
  readonly maxBytes: number
}

export interface DownloadResult {
  readonly files: number
  readonly bytes: number
  /** Entries that were not extracted (links, unsafe paths), with the reason. */
  readonly skipped: readonly string[]
  /** False when the remote directory did not exist. */
  readonly found: boolean
}

export interface DestroyResult {
  /** True when the workspace was already gone before this call. */
  readonly alreadyGone: boolean
}

export interface Diagnostics {
  /** Human-readable lines: conditions, events, container states, build logs. */
  readonly lines: readonly string[]
}

export interface SweepRequest {
  readonly namePrefix: string
  readonly olderThanMs: number
}

/** A workspace provider. Both providers implement this, and the compiler checks it. */
export interface WorkspaceProvider {
  readonly name: ProviderName
  /** Checks that the identity in use may do everything a run needs; lists what is missing. */
  checkPermissions(signal?: AbortSignal): Promise<void>
  provision(request: ProvisionRequest, signal?: AbortSignal): Promise<WorkspaceHandle>
  exec(handle: WorkspaceHandle, request: ExecRequest, streams: ExecStreams, signal?: AbortSignal): Promise<ExecResult>
  download(
    handle: WorkspaceHandle,
    remoteDir: string,
    localDir: string,
    limits: DownloadLimits,
    signal?: AbortSignal,
  ): Promise<DownloadResult>
  stop(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<void>
  start(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<WorkspaceHandle>
  destroy(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<DestroyResult>
  diagnose(handle: WorkspaceHandle): Promise<Diagnostics>
  sweep(request: SweepRequest, signal?: AbortSignal): Promise<string[]>
  /**
   * Ends the connections the provider keeps open between calls (Coder: the workspace's SSH
   * connection and its tunnel process). Every step and flow calls it when done, so the
   * process exits promptly; the provider stays usable and opens them again when needed.
   */
  close(): Promise<void>
}
