import { existsSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { errorMessage } from '../errors.js'
import type { EvidenceMeta } from '../evidence/meta.js'
import { outcomeOf } from '../evidence/meta.js'
import { credentialFiles, providerForConnection } from '../provider-factory.js'
import type { CleanupSettings } from '../settings/cleanup-settings.js'
import { recordTiming, type RunState, type StateStore } from '../state.js'
import { writeMeta } from './collect-step.js'
import { closeRunRoute, sweepRunRoutes } from './route-step.js'
import type { StepContext } from './step-context.js'

/** What cleanup did. */
export interface CleanupResult {
  readonly deleted: boolean
  readonly alreadyGone: boolean
  readonly kept: boolean
  readonly swept: readonly string[]
}

/**
 * Deletes the workspace and waits until it is gone; one that is already gone is a
 * success. With keep-on-failure, a workspace whose run did not pass is kept.
 * With sweep-older-than, stale workspaces under the same prefix go too.
 */
export async function cleanupStep(
  ctx: StepContext,
  settings: CleanupSettings,
  state: RunState | undefined,
): Promise<CleanupResult> {
  const { reporter } = ctx
  if (!state) {
    reporter.info('No workspace was provisioned in this job: nothing to delete.')
    return { deleted: false, alreadyGone: true, kept: false, swept: [] }
  }
  if (state.cleanup?.done && !state.cleanup.kept) {
    reporter.info(`Workspace ${state.workspaceName} was already cleaned up by an earlier step.`)
    return { deleted: false, alreadyGone: true, kept: false, swept: [] }
  }
  const started = Date.now()
  const result = await reporter.group(`Clean up workspace ${state.workspaceName}`, async () => {
    const { outcome } = outcomeOf(state)
    if (settings.keepOnFailure && outcome !== 'passed') {
      reporter.warning(
        `Keeping workspace ${state.workspaceName} for debugging (keep-on-failure, outcome ${outcome}). Delete it when done; the sweep removes it later.`,
      )
      return { deleted: false, alreadyGone: false, kept: true }
    }
    const gone = await destroyWorkspace(ctx, state, settings.deleteTimeoutMs)
    reporter.info(
      gone.alreadyGone
        ? `Workspace ${state.workspaceName} was already gone.`
        : `Deleted workspace ${state.workspaceName}.`,
    )
    return { deleted: !gone.alreadyGone, alreadyGone: gone.alreadyGone, kept: false }
  })
  state.cleanup = { done: true, kept: result.kept }
  recordTiming(state, 'cleanup', started)
  ctx.store.save(state)
  addCleanupTiming(state)
  const swept = settings.sweepOlderThanMs === undefined ? [] : await sweep(ctx, state, settings.sweepOlderThanMs)
  if (!result.kept) forgetCredentials(state)
  return { ...result, swept }
}

/** Deletes the workspace named in the state, by name even if its handle was never recorded. */
export async function destroyWorkspace(
  ctx: StepContext,
  state: RunState,
  timeoutMs: number,
): Promise<{ alreadyGone: boolean }> {
  // The route first: its header must stop diverting before the backend behind it goes away.
  const routeFailure = await closeRunRoute(ctx, state).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  )
  const provider = await providerForConnection(state.connection)
  const handle = state.handle ?? {
    provider: state.connection.provider,
    name: state.workspaceName,
    id: '',
    scope: state.connection.namespace,
    target: '',
    createdAt: '',
  }
  const result = await provider.destroy(handle, timeoutMs, ctx.signal)
  if (routeFailure) throw routeFailure
  return result
}

async function sweep(ctx: StepContext, state: RunState, olderThanMs: number): Promise<string[]> {
  const prefix = state.workspaceName.split('-')[0] ?? 'rt'
  try {
    const removed = await (
      await providerForConnection(state.connection)
    ).sweep({ namePrefix: prefix, olderThanMs }, ctx.signal)
    ctx.reporter.info(
      removed.length
        ? `Swept ${removed.length} stale workspaces: ${removed.join(', ')}`
        : 'Sweep found no stale workspaces.',
    )
    await sweepRunRoutes(ctx, state, prefix, olderThanMs)
    return removed
  } catch (error) {
    ctx.reporter.warning(`Sweeping stale workspaces failed: ${errorMessage(error)}`)
    return []
  }
}

/** Adds the cleanup timing to meta.json when collect already wrote it. */
function addCleanupTiming(state: RunState): void {
  const file = path.join(state.evidenceDir, 'meta.json')
  if (!existsSync(file)) return
  const meta = JSON.parse(readFileSync(file, 'utf8')) as EvidenceMeta
  writeMeta(state.evidenceDir, { ...meta, timings: state.timings })
}

function forgetCredentials(state: RunState): void {
  for (const file of credentialFiles(state.connection)) rmSync(file, { force: true })
}

/** The state for cleanup and the post step: the named or current workspace, if any. */
export function findState(store: StateStore, requested: string): RunState | undefined {
  const name = store.resolveName(requested)
  return name ? store.load(name) : undefined
}
