import path from 'node:path'
import { workspaceName } from '../identity.js'
import { formatDuration } from '../parse.js'
import { connectionFor, providerForProvision, provisionSecrets } from '../provider-factory.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../provider.js'
import { attemptRecord, isRetryableProvisionError, type ProvisionAttempt } from '../retry-attempts.js'
import { getCleanupSettings } from '../settings/cleanup-settings.js'
import type { ProvisionSettings } from '../settings/provision-settings.js'
import { recordTiming, type RunState } from '../state.js'
import { discardAttempt } from './discard-attempt.js'
import { openRunRoute, preflightRoute } from './route-step.js'
import { logDiagnostics, recordError, type StepContext } from './step-context.js'

/**
 * Creates the workspace and waits until it is ready. State is saved as soon as
 * the workspace exists, so the post step or cleanup can delete it whatever happens next.
 * With `retries`, an infrastructure error re-provisions a new workspace (a new name) after
 * the failed one is deleted; every attempt is recorded in the state for meta.json.
 */
export async function provisionStep(ctx: StepContext, settings: ProvisionSettings): Promise<RunState> {
  const { reporter, store } = ctx
  const secrets = provisionSecrets(settings)
  for (const secret of secrets) reporter.setSecret(secret)
  store.secrets.add(secrets)
  for (const warning of settings.che?.warnings ?? []) reporter.warning(warning)
  const started = Date.now()
  const provider = await providerForProvision(settings)
  const attempts: ProvisionAttempt[] = []
  for (let number = 1; ; number++) {
    const state = newAttemptState(ctx, settings)
    if (settings.retries > 0) state.attempts = attempts
    try {
      await provisionAttempt(ctx, settings, provider, state, number)
      attempts.push(attemptRecord(number, state, false))
      recordTiming(state, 'provision', started)
      store.save(state)
      return state
    } catch (error) {
      state.provisionError = recordError('provision', error)
      const retry = number <= settings.retries && isRetryableProvisionError(error, ctx.signal)
      if (retry)
        reporter.warning(`Attempt ${number} of ${settings.retries + 1} failed: ${state.provisionError.message}`)
      const deleted = retry && (await discardFailedAttempt(ctx, state))
      attempts.push(attemptRecord(number, state, deleted))
      recordTiming(state, 'provision', started)
      store.save(state)
      if (deleted) continue
      reporter.setOutput('outcome', 'error')
      logDiagnostics(reporter, state.provisionError.diagnostics)
      throw error
    }
  }
}

/** A fresh name and state for one attempt, saved at once (the post step finds it even if the step is killed). */
function newAttemptState(ctx: StepContext, settings: ProvisionSettings): RunState {
  const name = workspaceName(settings.workspaceNamePrefix, settings.identity)
  const state: RunState = {
    version: 1,
    workspaceName: name,
    identity: settings.identity,
    connection: connectionFor(settings, ctx.store, name),
    evidenceDir: path.join(ctx.store.workspaceDir(name), 'evidence'),
    timings: {},
    ...(settings.contract ? { contract: settings.contract } : {}),
  }
  ctx.store.save(state)
  ctx.reporter.setOutput('provider', settings.provider)
  ctx.reporter.setOutput('workspace-name', name)
  ctx.reporter.setOutput('evidence-dir', state.evidenceDir)
  return state
}

async function provisionAttempt(
  ctx: StepContext,
  settings: ProvisionSettings,
  provider: WorkspaceProvider,
  state: RunState,
  number: number,
): Promise<void> {
  const { reporter, store } = ctx
  const name = state.workspaceName
  const started = Date.now()
  const of = settings.retries > 0 ? ` (attempt ${number} of ${settings.retries + 1})` : ''
  const handle = await reporter.group(`Provision ${settings.provider} workspace ${name}${of}`, async () => {
    reporter.info(`Provider: ${settings.provider} (${settings.providerReason})`)
    reporter.info(
      `Source: ${settings.source}; ${settings.coder ? `deployment ${settings.coder.url}` : `namespace ${settings.che?.namespace ?? ''}`}; start timeout ${formatDuration(settings.startTimeoutMs)}`,
    )
    await provider.checkPermissions(ctx.signal)
    // After the provider's: routing may bind its role, which only a run that can otherwise go ahead should do.
    await preflightRoute(ctx, settings)
    return provider.provision(
      {
        name,
        identity: settings.identity,
        startTimeoutMs: settings.startTimeoutMs,
        onCreated: (created: WorkspaceHandle) => {
          state.handle = created
          store.save(state)
          reporter.info(`Created workspace ${created.scope}/${created.name}; waiting for it to be ready`)
        },
        onProgress: (status) => reporter.info(status),
        onWarning: (message) => reporter.warning(message),
      },
      ctx.signal,
    )
  })
  state.handle = handle
  store.save(state)
  reporter.info(
    `Workspace ${handle.name} is ready (id ${handle.id}, container ${handle.target}) after ${Math.round((Date.now() - started) / 1000)}s`,
  )
  reporter.setOutput('workspace-id', handle.id)
  reporter.setOutput('handle', JSON.stringify(handle))
  await openRunRoute(ctx, settings, state, handle)
}

/** Logs the failed attempt's diagnostics, then deletes its workspace; true when it is gone. */
async function discardFailedAttempt(ctx: StepContext, state: RunState): Promise<boolean> {
  logDiagnostics(ctx.reporter, state.provisionError?.diagnostics ?? [])
  ctx.reporter.info(`Deleting workspace ${state.workspaceName} of the failed attempt before the next one.`)
  return discardAttempt(ctx, state, getCleanupSettings(() => '').deleteTimeoutMs)
}
