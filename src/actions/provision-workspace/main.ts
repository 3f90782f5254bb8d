import * as core from '@actions/core'
import { actionInputs, runAction } from '../../shared/action-runner.js'
import { getProvisionSettings } from '../../shared/settings/provision-settings.js'
import { getCleanupSettings } from '../../shared/settings/cleanup-settings.js'
import { destroyWorkspace, findState } from '../../shared/steps/cleanup-step.js'
import { provisionStep } from '../../shared/steps/provision-step.js'
import { errorMessage } from '../../shared/errors.js'

const IS_POST = 'isPost'
const WORKSPACE = 'workspace-name'

/** Main step: provision. Post step (post-if: always()): the safety net that deletes a workspace no cleanup removed. */
export async function run(): Promise<void> {
  if (core.getState(IS_POST)) return runPost()
  core.saveState(IS_POST, 'true')
  await runAction(async (ctx) => {
    const settings = getProvisionSettings(actionInputs, ctx.env, process.cwd())
    await provisionStep(ctx, settings).finally(() => {
      const name = ctx.store.resolveName('')
      if (name) core.saveState(WORKSPACE, name)
    })
  })
}

async function runPost(): Promise<void> {
  await runAction(async (ctx) => {
    const state = findState(ctx.store, core.getState(WORKSPACE))
    if (!state || state.cleanup?.done) return
    const { deleteTimeoutMs } = getCleanupSettings(() => '')
    ctx.reporter.info(`No cleanup ran for workspace ${state.workspaceName}: deleting it now.`)
    try {
      const { alreadyGone } = await destroyWorkspace(ctx, state, deleteTimeoutMs)
      state.cleanup = { done: true, kept: false }
      ctx.store.save(state)
      ctx.reporter.info(alreadyGone ? 'It was already gone.' : `Deleted workspace ${state.workspaceName}.`)
    } catch (error) {
      // A post step only warns: the job's result was decided by the steps before it.
      ctx.reporter.warning(`Could not delete workspace ${state.workspaceName}: ${errorMessage(error)}. The sweep will remove it.`)
    }
  })
}
