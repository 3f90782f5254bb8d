import * as core from '@actions/core'
import { actionInputs, runAction } from '../../shared/action-runner.js'
import { errorMessage } from '../../shared/errors.js'
import { getCleanupSettings } from '../../shared/settings/cleanup-settings.js'
import { cleanupStep, findState } from '../../shared/steps/cleanup-step.js'

/** Deletes the workspace; a failure to delete only warns (the post step and the sweep are the safety nets). */
export async function run(): Promise<void> {
  await runAction(async (ctx) => {
    const settings = getCleanupSettings(actionInputs)
    try {
      await cleanupStep(ctx, settings, findState(ctx.store, settings.workspaceName))
    } catch (error) {
      core.warning(`Cleanup failed: ${errorMessage(error)}`)
    }
  })
}
