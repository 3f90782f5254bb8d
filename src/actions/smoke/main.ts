import * as core from '@actions/core'
import { actionInputs } from '../../shared/action-runner.js'
import { runWithSafetyNet } from '../../shared/steps/safety-net.js'
import { setFlowOutputs } from '../../shared/flows/flow.js'
import { smokeFlow } from '../../shared/flows/smoke.js'
import { getSmokeSettings } from '../../shared/settings/smoke-settings.js'
import { runFails } from '../../shared/steps/run-step.js'

/** The smoke check as one step; fails by `fail-on` when a check failed. Its post step deletes a workspace a cancelled run left. */
export async function run(): Promise<void> {
  await runWithSafetyNet(async (ctx) => {
    const settings = await getSmokeSettings(actionInputs, ctx.env, process.cwd())
    const result = await smokeFlow(ctx, settings)
    setFlowOutputs(ctx, result)
    if (runFails(result.outcome, settings.failOn))
      core.setFailed(
        `Smoke check ${result.outcome}: ${
          result.checks
            .filter((c) => c.status === 'failed')
            .map((c) => `${c.name} (${c.message})`)
            .join('; ') || 'see the summary'
        }`,
      )
  })
}
