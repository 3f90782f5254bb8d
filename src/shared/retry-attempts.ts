import { RunTaskError } from './errors.js'
import { inlineText } from './evidence/markdown.js'
import { type InputReader, inputOr } from './inputs.js'
import { parseInteger } from './parse.js'
import type { RecordedError, RunState } from './state.js'

/** The most re-provisions the `retries` input allows: each one costs a whole workspace start. */
export const MAX_RETRIES = 5

/** One provision attempt, as meta.json (`attempts`) and the job summary record it. */
export interface ProvisionAttempt {
  /** 1 for the first attempt. */
  readonly number: number
  /** `ready` when the workspace became ready, `error` when provisioning failed. */
  readonly outcome: 'ready' | 'error'
  readonly workspaceName: string
  /** The provider's id; empty when the workspace was never created (or its id never seen). */
  readonly workspaceId: string
  /** Why the attempt failed: the phase is always `provision`. */
  readonly error?: Pick<RecordedError, 'phase' | 'kind' | 'message'>
  /** True when this attempt's workspace was deleted before the next attempt started. */
  readonly deleted: boolean
}

/** Reads the `retries` input: a whole number from 0 to MAX_RETRIES, 0 when empty. */
export function parseRetries(read: InputReader): number {
  return parseInteger('retries', inputOr(read, 'retries', '0'), 0, MAX_RETRIES)
}

/**
 * Kinds a new workspace can cure: the provider was briefly unavailable, or this workspace failed to start
 * (a node that could not pull, a build that broke, an agent that never connected). Bad input, a missing
 * permission, a refused request and a cancelled job fail the same way on every attempt, so they never retry.
 */
const RETRYABLE_KINDS: ReadonlySet<string> = new Set(['provider-unavailable', 'workspace-start'])

/** True when a provision error may be retried with a fresh workspace. */
export function isRetryableProvisionError(error: unknown, signal: AbortSignal): boolean {
  return !signal.aborted && error instanceof RunTaskError && RETRYABLE_KINDS.has(error.kind)
}

/** The attempt record of a finished attempt. */
export function attemptRecord(number: number, state: RunState, deleted: boolean): ProvisionAttempt {
  const error = state.provisionError
  return {
    number,
    outcome: error ? 'error' : 'ready',
    workspaceName: state.workspaceName,
    workspaceId: state.handle?.id ?? '',
    ...(error ? { error: { phase: error.phase, kind: error.kind, message: error.message } } : {}),
    deleted,
  }
}

/** Markdown lines for the job summary: one row per attempt, shown only when there was more than one. */
export function attemptLines(attempts: readonly ProvisionAttempt[] | undefined): string[] {
  if (!attempts || attempts.length < 2) return []
  const rows = attempts.map(
    (a) =>
      `| ${a.number} | ${a.outcome} | \`${a.workspaceName}\` | ${a.workspaceId ? `\`${a.workspaceId}\`` : '–'} | ${a.deleted ? 'yes' : 'no'} | ${a.error ? `${a.error.phase} (${a.error.kind}): ${inlineText(a.error.message, 300)}` : ''} |`,
  )
  return [
    `Provisioned in ${attempts.length} attempts (\`retries\`):`,
    '',
    '| Attempt | Outcome | Workspace | Id | Deleted | Error |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ]
}
