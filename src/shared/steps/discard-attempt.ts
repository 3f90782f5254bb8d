import { rmSync } from 'node:fs'
import { errorMessage } from '../errors.js'
import { credentialFiles } from '../provider-factory.js'
import type { RunState } from '../state.js'
import { destroyWorkspace } from './cleanup-step.js'
import type { StepContext } from './step-context.js'

/**
 * Deletes a failed attempt's workspace before the next attempt, and forgets its credential copies.
 * Returns false when the delete failed: the caller stops retrying, so the state still names this
 * workspace and cleanup or the post step deletes it (never two workspaces left behind).
 */
export async function discardAttempt(ctx: StepContext, state: RunState, deleteTimeoutMs: number): Promise<boolean> {
  try {
    const { alreadyGone } = await destroyWorkspace(ctx, state, deleteTimeoutMs)
    state.cleanup = { done: true, kept: false }
    ctx.store.save(state)
    for (const file of credentialFiles(state.connection)) rmSync(file, { force: true })
    ctx.reporter.info(`${alreadyGone ? 'It was already gone' : `Deleted workspace ${state.workspaceName}`}.`)
    return true
  } catch (error) {
    ctx.reporter.warning(
      `Could not delete workspace ${state.workspaceName} of the failed attempt: ${errorMessage(error).replace(/\.$/, '')}. Not retrying; cleanup deletes it.`,
    )
    return false
  }
}
