import * as core from '@actions/core'
import { actionInputs, runAction } from '../../shared/action-runner.js'
import { getCollectSettings } from '../../shared/settings/collect-settings.js'
import { collectStep } from '../../shared/steps/collect-step.js'

/** Collects evidence; warns about its own problems unless `fail-on-error`. */
export async function run(): Promise<void> {
  await runAction(async (ctx) => {
    const settings = getCollectSettings(actionInputs)
    const result = await collectStep(ctx, settings)
    if (settings.failOnError && result.problems.length > 0)
      core.setFailed(`Collecting evidence failed: ${result.problems.join('; ')}`)
  })
}
