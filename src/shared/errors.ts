/**
 * Typed errors. Every failure the toolkit reports is one of these kinds, so the
 * actions and the CLI can tell bad input from a broken provider from a failing test.
 */

/** What went wrong, in the terms a user acts on. */
export type ErrorKind =
  | 'input'
  | 'permission'
  | 'provider-unavailable'
  | 'provider-request'
  | 'workspace-start'
  | 'routing'
  | 'exec-broken'
  | 'command-timeout'
  | 'evidence'
  | 'cancelled'

/** Base class: carries a kind and, optionally, diagnostics for the summary. */
export class RunTaskError extends Error {
  readonly kind: ErrorKind
  /** Extra lines (build logs, conditions, events) shown under the message. */
  readonly diagnostics: readonly string[]

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; diagnostics?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.kind = kind
    this.diagnostics = options.diagnostics ?? []
  }

  /** True for errors that come from the infrastructure rather than the user's input. */
  static isInfrastructure(error: unknown): boolean {
    return error instanceof RunTaskError && error.kind !== 'input'
  }
}

/** An input has a value the toolkit cannot use. Raised before anything is created. */
export class InputError extends RunTaskError {
  override readonly name = 'InputError'
  constructor(input: string, value: string, expected: string) {
    super('input', `Input '${input}' has the value ${quote(value)}, but expected ${expected}.`)
  }
}

/** The identity in use may not do something the run needs. */
export class PermissionError extends RunTaskError {
  override readonly name = 'PermissionError'
  constructor(message: string) {
    super('permission', message)
  }
}

/** The provider could not be reached or answered with a server error. Retryable. */
export class ProviderUnavailableError extends RunTaskError {
  override readonly name = 'ProviderUnavailableError'
  constructor(message: string, cause?: unknown) {
    super('provider-unavailable', message, { cause })
  }
}

/** The run's HTTPRoute was not accepted by the Gateway, or its backend did not resolve. Not retryable. */
export class RouteError extends RunTaskError {
  override readonly name = 'RouteError'
  constructor(message: string, diagnostics: readonly string[] = []) {
    super('routing', message, { diagnostics })
  }
}

/** The provider refused a request (4xx other than 429). Not retryable. */
export class ProviderRequestError extends RunTaskError {
  override readonly name = 'ProviderRequestError'
  readonly status: number | undefined
  constructor(message: string, status?: number, cause?: unknown) {
    super('provider-request', message, { cause })
    this.status = status
  }
}

/** The workspace did not become ready: it failed, or the start time limit ran out. */
export class WorkspaceStartError extends RunTaskError {
  override readonly name = 'WorkspaceStartError'
  constructor(message: string, diagnostics: readonly string[] = []) {
    super('workspace-start', message, { diagnostics })
  }
}

/** The exec channel broke before the command's exit status arrived. */
export class ExecStreamError extends RunTaskError {
  override readonly name = 'ExecStreamError'
  constructor(message: string, cause?: unknown) {
    super('exec-broken', message, { cause })
  }
}

/** The command ran past its time limit and was stopped. */
export class CommandTimeoutError extends RunTaskError {
  override readonly name = 'CommandTimeoutError'
  constructor(message: string) {
    super('command-timeout', message)
  }
}

/** Evidence could not be read or was unsafe. */
export class EvidenceError extends RunTaskError {
  override readonly name = 'EvidenceError'
  constructor(message: string, cause?: unknown) {
    super('evidence', message, { cause })
  }
}

/** The job was cancelled while a step was waiting. */
export class CancelledError extends RunTaskError {
  override readonly name = 'CancelledError'
  constructor(message = 'The operation was cancelled.') {
    super('cancelled', message)
  }
}

/** A message for any thrown value, never "[object Object]". */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

function quote(value: string): string {
  const shown = value.length > 200 ? `${value.slice(0, 200)}…` : value
  return JSON.stringify(shown)
}
