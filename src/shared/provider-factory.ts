import { readFileSync } from 'node:fs'
import { kubeconfigSecrets } from './credential-secrets.js'
import type { WorkspaceProvider } from './provider.js'
import { createCheProbe } from './providers/che/che-probe.js'
import { createCheProvider } from './providers/che/che-provider.js'
import { createCoderProbe } from './providers/coder/coder-probe.js'
import type { WorkspaceProbe } from './providers/probe.js'
import { createCoderClient } from './providers/coder/coder-client.js'
import { createCoderProvider } from './providers/coder/coder-provider.js'
import type { CoderSettings } from './providers/coder/coder-settings.js'
import { loadKubeConfig, type ProvisionSettings } from './settings/provision-settings.js'
import type { ProviderConnection, StateStore } from './state.js'

/** The secret values of the provision inputs, to mask before anything is logged. */
export function provisionSecrets(settings: ProvisionSettings): string[] {
  const kubeconfig = settings.che?.kubeconfig ?? ''
  return [
    kubeconfig,
    ...kubeconfigSecrets(kubeconfig),
    settings.coder?.token ?? '',
    settings.coder?.sshPrivateKey ?? '',
  ].filter((s) => s.trim() !== '')
}

/** Builds the provider for provisioning, from validated settings. */
export function providerForProvision(settings: ProvisionSettings): WorkspaceProvider {
  if (settings.coder) return coderProvider(settings.coder)
  const che = settings.che
  if (!che) throw new Error(`No settings for provider ${settings.provider}`)
  return createCheProvider(che, { kubeConfig: loadKubeConfig(che.kubeconfig) })
}

/**
 * What later steps need to reach the provider again. Credentials go to 0600
 * files in the workspace's state folder; the connection only names them.
 */
export function connectionFor(settings: ProvisionSettings, store: StateStore, name: string): ProviderConnection {
  const base = { provider: settings.provider, reason: settings.providerReason, source: settings.source }
  const kubeconfig = settings.che?.kubeconfig ?? ''
  const che = {
    namespace: settings.che?.namespace ?? '',
    kubeconfigFile: kubeconfig ? store.saveCredential(name, 'kubeconfig', kubeconfig) : '',
  }
  const c = settings.coder
  if (!c) return { ...base, ...che }
  return {
    ...base,
    ...che,
    coder: {
      url: c.url,
      tokenFile: store.saveCredential(name, 'coder-token', c.token),
      organization: c.organization,
      agent: c.agent,
      sshTunnelCommand: c.sshTunnelCommand,
      sshUser: c.sshUser,
      sshKeyFile: c.sshPrivateKey ? store.saveCredential(name, 'ssh-key', c.sshPrivateKey) : '',
    },
  }
}

/** Rebuilds the provider in a later step from what provision recorded; `log` gets its connection notes. */
export function providerForConnection(
  connection: ProviderConnection,
  target = '',
  log?: (line: string) => void,
): WorkspaceProvider {
  const c = connection.coder
  if (connection.provider === 'coder' && c) {
    const read = (file: string): string => (file ? readFileSync(file, 'utf8') : '')
    return coderProvider(
      {
        url: c.url,
        token: read(c.tokenFile),
        organization: c.organization,
        template: '',
        templateVersion: '',
        parameters: new Map(),
        agent: c.agent || target,
        ttlMs: 0,
        sshTunnelCommand: c.sshTunnelCommand,
        sshUser: c.sshUser,
        sshPrivateKey: read(c.sshKeyFile),
      },
      log,
    )
  }
  const kubeconfig = connection.kubeconfigFile ? readFileSync(connection.kubeconfigFile, 'utf8') : ''
  return createCheProvider(
    { kubeconfig, namespace: connection.namespace, container: target },
    { kubeConfig: loadKubeConfig(kubeconfig) },
  )
}

/** Credential files of a connection, to delete once the workspace is gone. */
export function credentialFiles(connection: ProviderConnection): string[] {
  return [connection.kubeconfigFile, connection.coder?.tokenFile ?? '', connection.coder?.sshKeyFile ?? ''].filter(
    Boolean,
  )
}

function coderProvider(settings: CoderSettings, log?: (line: string) => void): WorkspaceProvider {
  return createCoderProvider(settings, {
    client: createCoderClient({ url: settings.url, token: settings.token }),
    ...(log ? { log } : {}),
  })
}

/** The smoke check's view of the provider, over the same credentials as provisioning (see WorkspaceProbe). */
export function probeForProvision(settings: ProvisionSettings): WorkspaceProbe {
  if (settings.coder)
    return createCoderProbe(
      createCoderClient({ url: settings.coder.url, token: settings.coder.token }),
      settings.coder.token,
    )
  const che = settings.che
  if (!che) throw new Error(`No settings for provider ${settings.provider}`)
  return createCheProbe(loadKubeConfig(che.kubeconfig), che.namespace)
}
