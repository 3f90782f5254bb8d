import * as core from '@actions/core'
import { actionInputs } from '../../shared/action-runner.js'
import { runWithSafetyNet } from '../../shared/steps/safety-net.js'
import { e2eFlow } from '../../shared/flows/e2e.js'
import { setFlowOutputs } from '../../shared/flows/flow.js'
import { getE2eSettings } from '../../shared/settings/e2e-settings.js'
import { runFails } from '../../shared/steps/run-step.js'

/** The E2E developer flow as one step; fails by `fail-on` when a step failed. Its post step deletes a workspace a cancelled run left. */
export async function run(): Promise<void> {
  await runWithSafetyNet(async (ctx) => {
    const settings = await getE2eSettings(actionInputs, ctx.env, process.cwd())
    const result = await e2eFlow(ctx, settings)
    setFlowOutputs(ctx, result)
    ctx.reporter.setOutput('branch', settings.branch)
    if (runFails(result.outcome, settings.failOn))
      core.setFailed(
        `E2E ${result.outcome}: ${
          result.checks
            .filter((c) => c.status === 'failed')
            .map((c) => `${c.name} (${c.message})`)
            .join('; ') || 'see the summary'
        }`,
      )
  })
}
