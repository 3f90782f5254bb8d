import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { ErrorKind } from './errors.js'
import type { RunIdentity } from './identity.js'
import type { ProviderName, WorkspaceHandle } from './provider.js'
import type { UnsafePodField } from './providers/che/pod-guardrails.js'
import type { ProvisionAttempt } from './retry-attempts.js'
import { SecretStore } from './secret-store.js'
import type { ContractDefaults } from './contract/provision-contract.js'
import type { RouteRecord } from './routing/route-lifecycle.js'

/** The one outcome of a run. */
export const OUTCOMES = ['passed', 'failed', 'error'] as const
export type Outcome = (typeof OUTCOMES)[number]

export const PHASES = ['provision', 'run', 'collect', 'cleanup'] as const
export type Phase = (typeof PHASES)[number]

export interface PhaseTiming {
  readonly startedAt: string
  readonly durationMs: number
}

/** An error as recorded between steps: kind, message, diagnostics. */
export interface RecordedError {
  readonly phase: Phase
  readonly kind: ErrorKind | 'unknown'
  readonly message: string
  readonly diagnostics: readonly string[]
}

/** How to reach the provider again from a later step. No secrets: a credential lives in its own 0600 file. */
export interface ProviderConnection {
  readonly provider: ProviderName
  readonly reason: string
  /** Che: the namespace. */
  readonly namespace: string
  /** Che: the unsafe pod settings allow-unsafe-pod allows, for a restart in a later step. */
  readonly allowUnsafePod?: readonly UnsafePodField[]
  /** Che, and Coder with routing: path of the kubeconfig file written by provision; empty means default loading. */
  readonly kubeconfigFile: string
  /** What the workspace was made from (devfile path, `inline`, or a template), for meta.json. */
  readonly source: string
  /** Coder: the deployment and how to reach the agent; the token and key live in 0600 files. */
  readonly coder?: {
    readonly url: string
    readonly tokenFile: string
    readonly organization: string
    readonly agent: string
    readonly sshTunnelCommand: string
    readonly sshUser: string
    readonly sshKeyFile: string
    /** The `ssh-known-hosts` text (public keys, not a secret); empty for the Coder tunnel. */
    readonly sshKnownHosts?: string
  }
}

/** What the run step recorded about the command. */
export interface RunRecord {
  readonly command: string
  readonly workingDirectory: string
  readonly evidencePath: string
  readonly outcome: Outcome
  readonly exitCode: number | null
  readonly signal: string | null
  readonly durationMs: number
  /** The last lines of output, redacted, for a synthesised JUnit case. */
  readonly outputTail: string
  readonly error?: RecordedError
}

/** Everything one workspace's steps share, in `<state-dir>/<workspace>/state.json`. */
export interface RunState {
  readonly version: 1
  readonly workspaceName: string
  readonly identity: RunIdentity
  readonly connection: ProviderConnection
  readonly evidenceDir: string
  handle?: WorkspaceHandle
  provisionError?: RecordedError
  run?: RunRecord
  timings: Partial<Record<Phase, PhaseTiming>>
  /** Set once the workspace is deleted (or deliberately kept), so the post step does nothing. */
  cleanup?: { readonly done: boolean; readonly kept: boolean }
  artifactId?: string
  /** JUnit reports written on the runner (by the smoke and E2E checks), in evidence junit/. */
  runnerReports?: string[]
  /** E2E with Codex: the input its auth.json came from (`codex-auth-rotating-1`, or the seed `codex-auth-1`), never the content. */
  codexAuthSlot?: string
  /** issue 15: the evidence copy broke (stream dropped, runner's disk full): a passed run is then an error. */
  collectError?: RecordedError
  /** issue 15: with `retries` above 0, every provision attempt, the last one this workspace's. */
  attempts?: ProvisionAttempt[]
  /** issue 13: the environment contract provision used: the run and collect steps' defaults. */
  contract?: ContractDefaults
  /** issue 12: the run's header-diverted HTTPRoute, once provision decided its name. */
  route?: RouteRecord
}

/**
 * Reads and writes the state of the workspaces of one job. Each workspace has a
 * folder; `current` names the one provisioned last, so later steps need no wiring.
 */
export class StateStore {
  /**
   * @param baseDir the state and evidence folder
   * @param credentialDir where credential copies go: the same folder in Actions (RUNNER_TEMP is the
   *   job's own), a private temp folder for the CLI (see src/cli/credential-dir.ts)
   */
  constructor(
    readonly baseDir: string,
    readonly credentialDir: string = baseDir,
  ) {}

  /** The base folder: `$RUNNER_TEMP/run-task` in Actions, `.run-task` locally. */
  static forEnvironment(env: NodeJS.ProcessEnv, cwd = process.cwd()): StateStore {
    return new StateStore(env.RUNNER_TEMP ? path.join(env.RUNNER_TEMP, 'run-task') : path.join(cwd, '.run-task'))
  }

  /** The job's secret digests (see SecretStore), beside the workspaces' folders. */
  get secrets(): SecretStore {
    return new SecretStore(this.baseDir)
  }

  workspaceDir(name: string): string {
    return path.join(this.baseDir, name)
  }

  /** The workspace to act on: the one named, else the current one. */
  resolveName(requested: string): string | undefined {
    if (requested) return requested
    const pointer = path.join(this.baseDir, 'current')
    return existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() || undefined : undefined
  }

  load(name: string): RunState | undefined {
    const file = path.join(this.workspaceDir(name), 'state.json')
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RunState) : undefined
  }

  save(state: RunState): void {
    const dir = this.workspaceDir(state.workspaceName)
    mkdirSync(dir, { recursive: true })
    const file = path.join(dir, 'state.json')
    writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    renameSync(`${file}.tmp`, file)
    writeFileSync(path.join(this.baseDir, 'current'), `${state.workspaceName}\n`)
  }

  /** Stores a credential where only this user can read it; returns its path. */
  saveCredential(name: string, fileName: string, content: string): string {
    const dir = path.join(this.credentialDir, name)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const file = path.join(dir, fileName)
    writeFileSync(file, content, { mode: 0o600 })
    chmodSync(file, 0o600)
    return file
  }
}

/** Records how long a phase took, from `startedAt` (ms since epoch) to now. */
export function recordTiming(state: RunState, phase: Phase, startedAt: number): void {
  state.timings[phase] = { startedAt: new Date(startedAt).toISOString(), durationMs: Date.now() - startedAt }
}
