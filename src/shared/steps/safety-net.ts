import * as core from '@actions/core'
import { runAction } from '../action-runner.js'
import { errorMessage } from '../errors.js'
import { getCleanupSettings } from '../settings/cleanup-settings.js'
import { destroyWorkspace, findState } from './cleanup-step.js'
import type { StepContext } from './step-context.js'

const IS_POST = 'isPost'
const WORKSPACE = 'workspace-name'
const PREVIOUS = 'previous-workspace'

/**
 * For an action whose `post:` is its own entry (`post-if: always()`): the main run
 * does `main`, and the post run deletes the workspace it created if no cleanup did,
 * which covers a cancelled or killed job.
 */
export async function runWithSafetyNet(main: (ctx: StepContext) => Promise<void>): Promise<void> {
  if (core.getState(IS_POST)) return runPost()
  core.saveState(IS_POST, 'true')
  await runAction(async (ctx) => {
    // A step killed before it records its workspace must not make the post step delete an earlier step's.
    core.saveState(PREVIOUS, ctx.store.resolveName('') ?? '')
    await main(ctx).finally(() => {
      const name = ctx.store.resolveName('')
      if (name) core.saveState(WORKSPACE, name)
    })
  })
}

async function runPost(): Promise<void> {
  await runAction(async (ctx) => {
    // Post steps run after every main step of the job: no collect needs the secret digests any more.
    ctx.store.secrets.remove()
    const state = findState(ctx.store, core.getState(WORKSPACE))
    if (!state || state.cleanup?.done || (!core.getState(WORKSPACE) && state.workspaceName === core.getState(PREVIOUS)))
      return
    const { deleteTimeoutMs } = getCleanupSettings(() => '')
    ctx.reporter.info(`No cleanup ran for workspace ${state.workspaceName}: deleting it now.`)
    try {
      const { alreadyGone } = await destroyWorkspace(ctx, state, deleteTimeoutMs)
      state.cleanup = { done: true, kept: false }
      ctx.store.save(state)
      ctx.reporter.info(alreadyGone ? 'It was already gone.' : `Deleted workspace ${state.workspaceName}.`)
    } catch (error) {
      // A post step only warns: the job's result was decided by the steps before it.
      ctx.reporter.warning(
        `Could not delete workspace ${state.workspaceName}: ${errorMessage(error)}. The sweep will remove it.`,
      )
    }
  })
}
