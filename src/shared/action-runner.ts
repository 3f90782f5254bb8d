import * as core from '@actions/core'
import { errorMessage, RunTaskError } from './errors.js'
import type { InputReader } from './inputs.js'
import { actionsReporter } from './reporter.js'
import { StateStore } from './state.js'
import type { StepContext } from './steps/step-context.js'

/** Reads action inputs without trimming away meaning: `core.getInput` trims whitespace only. */
export const actionInputs: InputReader = (name) => core.getInput(name)

/**
 * Runs an action's main function with a step context. SIGINT and SIGTERM (how the
 * runner cancels a step) abort the context's signal, so waits end at once and the
 * step can record what happened before the runner kills it 7.5 s later.
 * Any error fails the step through `core.setFailed`; nothing calls process.exit.
 */
export async function runAction(main: (ctx: StepContext) => Promise<void>): Promise<void> {
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    core.warning(`Received ${signal}: the job was cancelled or timed out; stopping.`)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const ctx: StepContext = {
    reporter: actionsReporter(),
    store: StateStore.forEnvironment(process.env),
    env: process.env,
    signal: controller.signal,
  }
  try {
    await main(ctx)
  } catch (error) {
    const title = error instanceof RunTaskError ? error.name : 'Unexpected error'
    core.setFailed(`${title}: ${errorMessage(error)}`)
    if (!(error instanceof RunTaskError) && error instanceof Error && error.stack) core.debug(error.stack)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
