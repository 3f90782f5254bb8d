import type { PodSecurity } from '../providers/che/pod-guardrails.js'
import type { TestCounts } from './test-results.js'
import type { Outcome, RecordedError, RunState } from '../state.js'
import type { ProvisionAttempt } from '../retry-attempts.js'
import type { RouteRecord } from '../routing/route-lifecycle.js'

/** The meta.json document: the contract evidence consumers read. */
export interface EvidenceMeta {
  readonly schemaVersion: 1
  readonly provider: string
  readonly providerReason: string
  readonly source: string
  readonly workspace: { readonly name: string; readonly id: string; readonly scope: string; readonly target: string }
  readonly identity: RunState['identity']
  readonly commit: string
  readonly command: string
  readonly workingDirectory: string
  readonly timings: RunState['timings']
  readonly exitCode: number | null
  readonly outcome: Outcome
  readonly error: RecordedError | null
  readonly tests: TestCounts
  readonly evidence: {
    readonly files: number
    readonly bytes: number
    readonly skipped: readonly string[]
    readonly problems: readonly string[]
  }
  readonly artifactId: string
  /** E2E with Codex: the slot input its auth.json came from (never the content); null otherwise. */
  readonly codexAuthSlot: string | null
  /** Che: runAsNonRoot of the pod and the command's container, and the unsafe settings allow-unsafe-pod let through; null on Coder. */
  readonly podSecurity: PodSecurity | null
  /** issue 15: every provision attempt when the `retries` input is above 0; absent otherwise. */
  readonly attempts?: readonly ProvisionAttempt[]
  /** issue 12: the run's header-diverted HTTPRoute (the header value is the workspace name, not a secret); absent without routing. */
  readonly route?: RouteRecord
}

/** The outcome of a workspace's run, from whatever was recorded. */
export function outcomeOf(state: RunState): { outcome: Outcome; error: RecordedError | null } {
  // A passed command whose evidence could not be copied is unproven: its reports may say otherwise.
  if (state.run?.outcome === 'passed' && state.collectError) return { outcome: 'error', error: state.collectError }
  if (state.run) return { outcome: state.run.outcome, error: state.run.error ?? null }
  if (state.provisionError) return { outcome: 'error', error: state.provisionError }
  return {
    outcome: 'error',
    error: {
      phase: 'run',
      kind: 'unknown',
      message: 'The command never ran: the run step did not record a result.',
      diagnostics: [],
    },
  }
}

export function buildMeta(
  state: RunState,
  tests: TestCounts,
  evidence: EvidenceMeta['evidence'],
  artifactId: string,
): EvidenceMeta {
  const { outcome, error } = outcomeOf(state)
  return {
    schemaVersion: 1,
    provider: state.connection.provider,
    providerReason: state.connection.reason,
    source: state.connection.source,
    workspace: {
      name: state.workspaceName,
      id: state.handle?.id ?? '',
      scope: state.handle?.scope ?? state.connection.namespace,
      target: state.handle?.target ?? '',
    },
    identity: state.identity,
    commit: state.identity.sha,
    command: state.run?.command ?? '',
    workingDirectory: state.run?.workingDirectory ?? '',
    timings: state.timings,
    exitCode: state.run?.exitCode ?? null,
    outcome,
    error,
    tests,
    evidence,
    artifactId,
    codexAuthSlot: state.codexAuthSlot ?? null,
    podSecurity: state.handle?.podSecurity ?? null,
    ...(state.attempts ? { attempts: state.attempts } : {}),
    ...(state.route ? { route: state.route } : {}),
  }
}
