import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { errorMessage } from '../errors.js'
import { type CheckResult, checksJunit } from '../evidence/checks-junit.js'
import { providerForConnection, provisionSecrets } from '../provider-factory.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../provider.js'
import { Redactor } from '../redact.js'
import type { CleanupSettings } from '../settings/cleanup-settings.js'
import type { CollectSettings } from '../settings/collect-settings.js'
import type { ProvisionSettings } from '../settings/provision-settings.js'
import type { Outcome, RunState } from '../state.js'
import { cleanupStep } from '../steps/cleanup-step.js'
import { collectStep } from '../steps/collect-step.js'
import { provisionStep } from '../steps/provision-step.js'
import type { StepContext } from '../steps/step-context.js'
import { exitDescription, firstLine } from '../text.js'

/** The steps every flow is made of. */
export interface FlowSettings {
  readonly provision: ProvisionSettings
  readonly collect: CollectSettings
  readonly cleanup: CleanupSettings
}

/** What a flow's checks get: the ready workspace and a way to record checks. */
export interface FlowRun {
  readonly ctx: StepContext
  readonly state: RunState
  readonly provider: WorkspaceProvider
  /** The workspace; replaced after a stop and start. */
  handle: WorkspaceHandle
  readonly redactor: Redactor
  /** Runs one check, timing it; a thrown error fails it with the error's message. */
  check(name: string, fn: () => Promise<Omit<CheckResult, 'name' | 'durationMs'>>): Promise<CheckResult>
  skip(name: string, message: string): void
  /** Runs a shell command in the workspace; output is captured, redacted and logged. */
  exec(
    command: string,
    env: ReadonlyMap<string, string>,
    timeoutMs: number,
    cwd?: string,
  ): Promise<{ exitCode: number | null; output: string }>
}

export interface FlowResult {
  readonly outcome: Outcome
  readonly checks: readonly CheckResult[]
  readonly evidenceDir: string
}

export interface FlowDefinition {
  /** The JUnit suite and report name, e.g. `smoke`. */
  readonly suite: string
  /** The checks after "workspace is created" and before "workspace is deleted". */
  readonly names: readonly string[]
  readonly secrets?: readonly string[]
  /** Checks that need no workspace (control-plane reads) run even when provisioning failed. */
  readonly withoutWorkspace?: (run: Pick<FlowRun, 'check' | 'skip' | 'ctx'>) => Promise<void>
  readonly body: (run: FlowRun) => Promise<void>
}

const OUTPUT_LIMIT = 16_000
export const CREATED = 'workspace is created'
export const DELETED = 'workspace is deleted'

/**
 * provision → the flow's checks → cleanup → collect. Each step is a JUnit case.
 * Cleanup runs before collect so that "workspace is deleted" is in the evidence;
 * the checks' output is kept on the runner, so nothing in the workspace is lost.
 */
export async function runFlow(ctx: StepContext, settings: FlowSettings, flow: FlowDefinition): Promise<FlowResult> {
  const checks: CheckResult[] = []
  const redactor = new Redactor()
  // The provider's credentials too: a workspace may print them (a health body, a check's output).
  const secrets = [...(flow.secrets ?? []), ...provisionSecrets(settings.provision)]
  for (const secret of secrets) {
    redactor.add(secret)
    ctx.reporter.setSecret(secret)
  }
  ctx.store.secrets.add(secrets)
  const check = async (
    name: string,
    fn: () => Promise<Omit<CheckResult, 'name' | 'durationMs'>>,
  ): Promise<CheckResult> => {
    const started = Date.now()
    const result = await ctx.reporter.group(`Check: ${name}`, async () => {
      try {
        return await fn()
      } catch (error) {
        return { status: 'failed' as const, message: redactor.redact(errorMessage(error)), output: '' }
      }
    })
    const recorded = { name, ...result, durationMs: Date.now() - started }
    checks.push(recorded)
    const line = `${name}: ${result.status}${result.message ? ` (${result.message})` : ''}`
    if (result.status === 'failed') ctx.reporter.error(`Check failed: ${line}`)
    else ctx.reporter.info(line)
    return recorded
  }
  const skip = (name: string, message: string): void => {
    checks.push({ name, status: 'skipped', message, output: '', durationMs: 0 })
    ctx.reporter.info(`${name}: skipped (${message})`)
  }

  let state: RunState | undefined
  // Only a workspace this flow created may be cleaned up, never one an earlier step of the job left current.
  const previous = ctx.store.resolveName('')
  const created = (): RunState | undefined =>
    state ?? ((s) => (s && s.workspaceName !== previous ? s : undefined))(current(ctx))
  const started = Date.now()
  try {
    await check(CREATED, async () => {
      state = await provisionStep(ctx, settings.provision)
      return {
        status: 'passed',
        message: `${[state.handle?.scope, state.workspaceName].filter(Boolean).join('/')} from ${settings.provision.source}`,
        output: '',
      }
    })
    const ready = state?.handle?.readyAt ? state : undefined
    if (ready?.handle) {
      const run = await flowRun(ctx, ready, ready.handle, redactor, check, skip)
      // One SSH connection per workspace start for all the checks, ended before cleanup.
      await flow.body(run).finally(() => run.provider.close())
    } else {
      for (const name of flow.names) skip(name, 'the workspace was not created')
    }
    await flow.withoutWorkspace?.({ ctx, check, skip })
  } finally {
    const mine = created()
    // The outcome so far decides keep-on-failure; the report is written again with the last case.
    if (mine) recordChecks(ctx, mine, flow.suite, checks, Date.now() - started)
    await check(DELETED, async () => {
      const result = await cleanupStep({ ...ctx, signal: new AbortController().signal }, settings.cleanup, mine)
      if (result.kept) return { status: 'failed', message: 'kept by keep-on-failure', output: '' }
      return { status: 'passed', message: result.alreadyGone ? 'already gone' : 'deleted and gone', output: '' }
    })
  }
  const final = created()
  if (!final) return { outcome: 'error', checks, evidenceDir: '' }
  recordChecks(ctx, final, flow.suite, checks, Date.now() - started)
  const collected = await collectStep(ctx, { ...settings.collect, workspaceName: final.workspaceName })
  return { outcome: collected.meta.outcome, checks, evidenceDir: collected.evidenceDir }
}

function current(ctx: StepContext): RunState | undefined {
  const name = ctx.store.resolveName('')
  return name ? ctx.store.load(name) : undefined
}

async function flowRun(
  ctx: StepContext,
  state: RunState,
  handle: WorkspaceHandle,
  redactor: Redactor,
  check: FlowRun['check'],
  skip: FlowRun['skip'],
): Promise<FlowRun> {
  const provider = await providerForConnection(state.connection, handle.target, (line) => ctx.reporter.info(line))
  const logFile = path.join(state.evidenceDir, 'logs', 'command.log')
  mkdirSync(path.dirname(logFile), { recursive: true })
  const run: FlowRun = {
    ctx,
    state,
    provider,
    handle,
    redactor,
    check,
    skip,
    async exec(command, env, timeoutMs, cwd = '') {
      let text = ''
      const stream = (): Writable =>
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            text = (text + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)
            callback()
          },
        })
      // What a command printed is logged even when it broke or ran out of time.
      const record = (ending: string): string => {
        const output = redactor.redact(text).trimEnd()
        appendFileSync(logFile, `$ ${firstLine(command)}\n${output}\n[${ending}]\n`)
        if (output) ctx.reporter.info(output)
        return output
      }
      const result = await provider
        .exec(run.handle, { command, cwd, env, timeoutMs }, { stdout: stream(), stderr: stream() }, ctx.signal)
        .catch((error: unknown) => {
          record(redactor.redact(errorMessage(error)))
          throw error
        })
      return { exitCode: result.exitCode, output: record(`exit ${exitDescription(result.exitCode, result.signal)}`) }
    },
  }
  return run
}

/** Writes the checks as the flow's JUnit report and records the flow's result as the run. */
function recordChecks(
  ctx: StepContext,
  state: RunState,
  suite: string,
  checks: readonly CheckResult[],
  durationMs: number,
): void {
  const junitDir = path.join(state.evidenceDir, 'junit')
  mkdirSync(junitDir, { recursive: true })
  const report = `run-task-${suite}.xml`
  writeFileSync(
    path.join(junitDir, report),
    checksJunit(`run-task ${suite}`, `run-task.${suite}.${state.connection.provider}`, checks),
  )
  const failed = checks.filter((c) => c.status === 'failed')
  state.runnerReports = [report]
  if (!state.provisionError) {
    state.run = {
      command: `run-task ${suite}`,
      workingDirectory: '',
      evidencePath: '',
      outcome: failed.length ? 'failed' : 'passed',
      exitCode: failed.length ? 1 : 0,
      signal: null,
      durationMs,
      outputTail: failed.map((c) => `${c.name}: ${c.message}`).join('\n'),
    }
  }
  ctx.store.save(state)
}

/** Sets the flow's own outputs (collect already set outcome, tests-*, evidence-dir). */
export function setFlowOutputs(ctx: StepContext, result: FlowResult): void {
  ctx.reporter.setOutput(
    'checks',
    JSON.stringify(result.checks.map(({ name, status, message }) => ({ name, status, message }))),
  )
  ctx.reporter.setOutput(
    'failed-checks',
    result.checks
      .filter((c) => c.status === 'failed')
      .map((c) => c.name)
      .join('\n'),
  )
}
