import { errorMessage, InputError, RunTaskError } from '../errors.js'
import type { Reporter } from '../reporter.js'
import type { Phase, RecordedError, RunState, StateStore } from '../state.js'

/** What every step gets: where to report, where state lives, and a cancellation signal. */
export interface StepContext {
  readonly reporter: Reporter
  readonly store: StateStore
  readonly env: NodeJS.ProcessEnv
  readonly signal: AbortSignal
}

/** Records an error for later steps and the summary. */
export function recordError(phase: Phase, error: unknown): RecordedError {
  return error instanceof RunTaskError
    ? { phase, kind: error.kind, message: error.message, diagnostics: error.diagnostics }
    : { phase, kind: 'unknown', message: errorMessage(error), diagnostics: [] }
}

/** Logs an error's diagnostics, one line each, under the message. */
export function logDiagnostics(reporter: Reporter, diagnostics: readonly string[]): void {
  if (diagnostics.length === 0) return
  reporter.info('Diagnostics:')
  for (const line of diagnostics) reporter.info(`  ${line}`)
}

/** The state of the workspace a later step acts on; an InputError names what is missing. */
export function loadState(store: StateStore, requestedName: string): RunState {
  const name = store.resolveName(requestedName)
  const state = name ? store.load(name) : undefined
  if (!state) {
    throw new InputError(
      'workspace-name',
      requestedName,
      `a workspace provisioned earlier in this job (no state under ${store.baseDir}); run provision-workspace first`,
    )
  }
  return state
}
