import { actionInputs } from '../../shared/action-runner.js'
import { getProvisionSettings } from '../../shared/settings/provision-settings.js'
import { provisionStep } from '../../shared/steps/provision-step.js'
import { runWithSafetyNet } from '../../shared/steps/safety-net.js'

/** Main step: provision. Post step (post-if: always()): the safety net that deletes a workspace no cleanup removed. */
export async function run(): Promise<void> {
  await runWithSafetyNet(async (ctx) => {
    await provisionStep(ctx, await getProvisionSettings(actionInputs, ctx.env, process.cwd()))
  })
}
