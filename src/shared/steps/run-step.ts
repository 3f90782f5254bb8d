import path from 'node:path'
import { CancelledError, RunTaskError } from '../errors.js'
import { providerForConnection } from '../provider-factory.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../provider.js'
import { Redactor } from '../redact.js'
import { type RunSettings, withContractDefaults } from '../settings/run-settings.js'
import { type Outcome, recordTiming, type RunRecord, type RunState } from '../state.js'
import { OutputCapture } from './output-capture.js'
import { loadState, logDiagnostics, recordError, type StepContext } from './step-context.js'
import { exitDescription } from '../text.js'
import { routeEnv } from './route-step.js'

/**
 * Runs the command in the workspace, streaming its redacted output, and records
 * the outcome: `passed`, `failed` (it ran and exited non-zero), or `error` (the
 * infrastructure broke, the time limit ran out, or the workspace was never ready).
 */
export async function runStep(ctx: StepContext, given: RunSettings, redactor = new Redactor()): Promise<RunRecord> {
  const { reporter, store } = ctx
  const state = loadState(store, given.workspaceName)
  const settings = withContractDefaults(given, state.contract)
  for (const value of settings.secretEnv.values()) {
    reporter.setSecret(value)
    redactor.add(value)
  }
  // Collect, a later step, redacts what it publishes with these digests.
  store.secrets.add(settings.secretEnv.values())
  const started = Date.now()
  const base = {
    command: settings.command,
    workingDirectory: settings.workingDirectory,
    evidencePath: settings.evidencePath,
  }
  let record: RunRecord
  if (!state.handle?.readyAt) {
    const why = state.provisionError
      ? `provisioning failed: ${state.provisionError.message}`
      : 'the workspace never became ready'
    reporter.error(`The command was not run: ${why}`)
    record = {
      ...base,
      outcome: 'error',
      exitCode: null,
      signal: null,
      durationMs: 0,
      outputTail: '',
      error: state.provisionError ?? { phase: 'run', kind: 'workspace-start', message: why, diagnostics: [] },
    }
  } else {
    record = await reporter.group(`Run: ${settings.command}`, () => execute(ctx, state, settings, redactor, base))
  }
  state.run = record
  // A command that never ran has no run phase to time.
  if (state.handle?.readyAt) recordTiming(state, 'run', started)
  store.save(state)
  reporter.setOutput('outcome', record.outcome)
  reporter.setOutput('exit-code', record.exitCode === null ? '' : String(record.exitCode))
  reporter.setOutput('duration-ms', String(record.durationMs))
  return record
}

async function execute(
  ctx: StepContext,
  state: RunState,
  settings: RunSettings,
  redactor: Redactor,
  base: Pick<RunRecord, 'command' | 'workingDirectory' | 'evidencePath'>,
): Promise<RunRecord> {
  const handle = state.handle
  if (!handle) throw new Error('execute() needs a ready workspace')
  const provider = await providerForConnection(state.connection, handle.target, (line) => ctx.reporter.info(line))
  try {
    return await runCommand(ctx, provider, handle, settings, redactor, state, base)
  } finally {
    await provider.close()
  }
}

async function runCommand(
  ctx: StepContext,
  provider: WorkspaceProvider,
  handle: WorkspaceHandle,
  settings: RunSettings,
  redactor: Redactor,
  state: RunState,
  base: Pick<RunRecord, 'command' | 'workingDirectory' | 'evidencePath'>,
): Promise<RunRecord> {
  const capture = new OutputCapture(ctx.reporter, redactor, path.join(state.evidenceDir, 'logs', 'command.log'))
  const env = new Map([
    ...settings.env,
    ...settings.secretEnv,
    ['RUN_TASK_EVIDENCE_DIR', settings.evidencePath],
    ['RUN_TASK_WORKSPACE', handle.name],
    ...routeEnv(state),
    ['CI', 'true'],
  ])
  const started = Date.now()
  try {
    const result = await provider.exec(
      handle,
      { command: settings.command, cwd: settings.workingDirectory, env, timeoutMs: settings.timeoutMs },
      capture,
      ctx.signal,
    )
    await capture.close()
    const outcome: Outcome = result.exitCode === 0 ? 'passed' : 'failed'
    ctx.reporter.info(
      `The command exited with ${exitDescription(result.exitCode, result.signal)} after ${Math.round(result.durationMs / 1000)}s: ${outcome}`,
    )
    return {
      ...base,
      outcome,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      outputTail: capture.tail(),
    }
  } catch (error) {
    await capture.close()
    const recorded = recordError('run', error)
    const diagnostics = error instanceof CancelledError ? [] : (await provider.diagnose(handle)).lines
    ctx.reporter.error(`Infrastructure error while running the command: ${recorded.message}`, {
      title: error instanceof RunTaskError ? error.name : 'Error',
    })
    logDiagnostics(ctx.reporter, diagnostics)
    return {
      ...base,
      outcome: 'error',
      exitCode: null,
      signal: null,
      durationMs: Date.now() - started,
      outputTail: capture.tail(),
      error: { ...recorded, diagnostics: [...recorded.diagnostics, ...diagnostics] },
    }
  }
}

/** Whether the run step should fail for this outcome, by `fail-on`. */
export function runFails(outcome: Outcome, failOn: RunSettings['failOn']): boolean {
  if (failOn === 'never') return false
  if (failOn === 'error') return outcome === 'error'
  return outcome !== 'passed'
}
