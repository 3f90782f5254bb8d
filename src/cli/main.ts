import { errorMessage, InputError, RunTaskError } from '../shared/errors.js'
import type { InputReader } from '../shared/inputs.js'
import { actionsReporter, consoleReporter, type Reporter } from '../shared/reporter.js'
import { getCleanupSettings } from '../shared/settings/cleanup-settings.js'
import { getCollectSettings } from '../shared/settings/collect-settings.js'
import { getProvisionSettings } from '../shared/settings/provision-settings.js'
import { type FailOn, getRunSettings, withContractDefaults } from '../shared/settings/run-settings.js'
import { getSmokeSettings } from '../shared/settings/smoke-settings.js'
import { type FlowResult, setFlowOutputs } from '../shared/flows/flow.js'
import { smokeFlow } from '../shared/flows/smoke.js'
import { e2eFlow } from '../shared/flows/e2e.js'
import { getE2eSettings } from '../shared/settings/e2e-settings.js'
import { type Outcome, StateStore } from '../shared/state.js'
import { cleanupStep, findState } from '../shared/steps/cleanup-step.js'
import { collectStep } from '../shared/steps/collect-step.js'
import { provisionStep } from '../shared/steps/provision-step.js'
import { runFails, runStep } from '../shared/steps/run-step.js'
import type { StepContext } from '../shared/steps/step-context.js'
import { cliInputReader, parseCliArguments } from './cli-inputs.js'
import { contractCommand } from './contract-command.js'
import { rbacCommand } from './rbac-command.js'
import { type CredentialDir, credentialDirFor } from './credential-dir.js'
import { USAGE } from './usage.js'

/** Exit statuses: a failing test and a broken infrastructure are told apart. */
export const EXIT = { passed: 0, failed: 1, input: 2, error: 3 } as const

/** Runs the CLI; resolves with the exit status (never calls process.exit). */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { cwd?: string; signal?: AbortSignal; out?: NodeJS.WritableStream } = {},
): Promise<number> {
  const outputs = new Map<string, string>()
  const reporter =
    env.GITHUB_ACTIONS === 'true' && env.GITHUB_OUTPUT
      ? capturing(actionsReporter(), outputs)
      : consoleReporter({
          outputs,
          inActions: env.GITHUB_ACTIONS === 'true',
          ...(options.out ? { out: options.out } : {}),
        })
  const cwd = options.cwd ?? process.cwd()
  let credentials: CredentialDir | undefined
  try {
    // Contract and RBAC commands touch no provider and no state.
    if (argv[0] === 'contract') return contractCommand(argv.slice(1), cwd, reporter)
    if (argv[0] === 'rbac') return rbacCommand(argv.slice(1), (yaml) => process.stdout.write(yaml))
    const args = parseCliArguments(argv)
    if (args.help) {
      reporter.info(USAGE)
      return EXIT.passed
    }
    const state = StateStore.forEnvironment(env, cwd)
    credentials = credentialDirFor(args.command, state.baseDir)
    const ctx: StepContext = {
      reporter,
      store: new StateStore(state.baseDir, credentials.path),
      env,
      signal: options.signal ?? new AbortController().signal,
    }
    const read = cliInputReader(args.values, env)
    const status = await dispatch(args.command, ctx, read, cwd)
    // The chain, a flow and cleanup end the job's use of the workspace: the secret digests go too.
    if (!['provision', 'run', 'collect'].includes(args.command)) ctx.store.secrets.remove()
    for (const [name, value] of outputs) reporter.info(`${name}=${value}`)
    const evidence = outputs.get('evidence-dir')
    if (evidence) reporter.info(`Evidence written to ${evidence}`)
    return status
  } catch (error) {
    reporter.error(`${error instanceof RunTaskError ? error.name : 'Unexpected error'}: ${errorMessage(error)}`)
    return error instanceof InputError ? EXIT.input : EXIT.error
  } finally {
    credentials?.release()
  }
}

/** Runs one command of the CLI and returns its exit status. */
async function dispatch(command: string, ctx: StepContext, read: InputReader, cwd: string): Promise<number> {
  switch (command) {
    case 'provision':
      await provisionStep(ctx, await getProvisionSettings(read, ctx.env, cwd))
      return EXIT.passed
    case 'run': {
      const settings = getRunSettings(read)
      const { outcome } = await runStep(ctx, settings)
      return runFails(outcome, settings.failOn) ? EXIT[outcome] : EXIT.passed
    }
    case 'collect': {
      // As the action: collecting warns about its own problems unless fail-on-error.
      const settings = getCollectSettings(read)
      const result = await collectStep(ctx, settings)
      return settings.failOnError && result.problems.length > 0 ? EXIT.error : EXIT.passed
    }
    case 'smoke':
      return flowCommand(ctx, await getSmokeSettings(read, ctx.env, cwd), smokeFlow)
    case 'e2e':
      return flowCommand(ctx, await getE2eSettings(read, ctx.env, cwd), e2eFlow)
    case 'cleanup': {
      const settings = getCleanupSettings(read)
      await cleanupStep(ctx, settings, findState(ctx.store, settings.workspaceName))
      return EXIT.passed
    }
    default:
      return EXIT[await runChain(ctx, read, cwd)]
  }
}

/** Runs a flow (smoke, E2E) and turns its outcome into an exit status by `fail-on`. */
async function flowCommand<S extends { failOn: FailOn }>(
  ctx: StepContext,
  settings: S,
  flow: (ctx: StepContext, settings: S) => Promise<FlowResult>,
): Promise<number> {
  const result = await flow(ctx, settings)
  setFlowOutputs(ctx, result)
  return runFails(result.outcome, settings.failOn) ? EXIT[result.outcome] : EXIT.passed
}

/** The Actions reporter, also keeping the outputs for the closing lines. */
function capturing(reporter: Reporter, outputs: Map<string, string>): Reporter {
  return {
    ...reporter,
    setOutput: (name, value) => {
      outputs.set(name, String(value))
      reporter.setOutput(name, value)
    },
  }
}

/**
 * provision → run → collect → cleanup. Every input is validated before anything is
 * created; collect and cleanup run whatever happened before them.
 */
async function runChain(ctx: StepContext, read: InputReader, cwd: string): Promise<Outcome> {
  const provision = await getProvisionSettings(read, ctx.env, cwd)
  const run = withContractDefaults(getRunSettings(read), provision.contract)
  const collect = getCollectSettings(read)
  const cleanup = getCleanupSettings(read)
  let state
  try {
    state = await provisionStep(ctx, provision).catch((error: unknown) => {
      ctx.reporter.error(`Provisioning failed: ${errorMessage(error)}`)
      return undefined
    })
    if (state) await runStep(ctx, { ...run, workspaceName: state.workspaceName })
    const result = await collectStep(ctx, { ...collect, workspaceName: state?.workspaceName ?? collect.workspaceName })
    return result.meta.outcome
  } finally {
    const current = findState(ctx.store, state?.workspaceName ?? ctx.store.resolveName('') ?? '')
    await cleanupStep({ ...ctx, signal: new AbortController().signal }, cleanup, current).catch((error: unknown) =>
      ctx.reporter.warning(`Cleanup failed: ${errorMessage(error)}`),
    )
  }
}
