import * as core from '@actions/core'
import { actionInputs, runAction } from '../../shared/action-runner.js'
import { getRunSettings } from '../../shared/settings/run-settings.js'
import { runFails, runStep } from '../../shared/steps/run-step.js'
import { exitDescription } from '../../shared/text.js'

/** Runs the command; fails the step by `fail-on`. */
export async function run(): Promise<void> {
  await runAction(async (ctx) => {
    const settings = getRunSettings(actionInputs)
    const record = await runStep(ctx, settings)
    if (runFails(record.outcome, settings.failOn)) {
      const what =
        record.outcome === 'error'
          ? `Infrastructure error: ${record.error?.message ?? 'unknown'}`
          : `The command failed with exit ${exitDescription(record.exitCode, record.signal)}.`
      core.setFailed(what)
    }
  })
}
