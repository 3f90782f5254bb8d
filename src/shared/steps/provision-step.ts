import path from 'node:path'
import { workspaceName } from '../identity.js'
import { formatDuration } from '../parse.js'
import { connectionFor, providerForProvision, provisionSecrets } from '../provider-factory.js'
import type { WorkspaceHandle } from '../provider.js'
import type { ProvisionSettings } from '../settings/provision-settings.js'
import { recordTiming, type RunState } from '../state.js'
import { logDiagnostics, recordError, type StepContext } from './step-context.js'

/**
 * Creates the workspace and waits until it is ready. State is saved as soon as
 * the workspace exists, so the post step or cleanup can delete it whatever happens next.
 */
export async function provisionStep(ctx: StepContext, settings: ProvisionSettings): Promise<RunState> {
  const { reporter, store } = ctx
  const secrets = provisionSecrets(settings)
  for (const secret of secrets) reporter.setSecret(secret)
  store.secrets.add(secrets)
  const name = workspaceName(settings.workspaceNamePrefix, settings.identity)
  const state: RunState = {
    version: 1,
    workspaceName: name,
    identity: settings.identity,
    connection: connectionFor(settings, store, name),
    evidenceDir: path.join(store.workspaceDir(name), 'evidence'),
    timings: {},
  }
  store.save(state)
  reporter.setOutput('provider', settings.provider)
  reporter.setOutput('workspace-name', name)
  reporter.setOutput('evidence-dir', state.evidenceDir)

  for (const warning of settings.che?.warnings ?? []) reporter.warning(warning)
  const started = Date.now()
  const provider = await providerForProvision(settings)
  try {
    const handle = await reporter.group(`Provision ${settings.provider} workspace ${name}`, async () => {
      reporter.info(`Provider: ${settings.provider} (${settings.providerReason})`)
      reporter.info(
        `Source: ${settings.source}; ${settings.coder ? `deployment ${settings.coder.url}` : `namespace ${settings.che?.namespace ?? ''}`}; start timeout ${formatDuration(settings.startTimeoutMs)}`,
      )
      await provider.checkPermissions(ctx.signal)
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
    recordTiming(state, 'provision', started)
    store.save(state)
    reporter.info(
      `Workspace ${handle.name} is ready (id ${handle.id}, container ${handle.target}) after ${Math.round((Date.now() - started) / 1000)}s`,
    )
    reporter.setOutput('workspace-id', handle.id)
    reporter.setOutput('handle', JSON.stringify(handle))
    return state
  } catch (error) {
    state.provisionError = recordError('provision', error)
    recordTiming(state, 'provision', started)
    store.save(state)
    reporter.setOutput('outcome', 'error')
    logDiagnostics(reporter, state.provisionError.diagnostics)
    throw error
  }
}
