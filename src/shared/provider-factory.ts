import { readFileSync } from 'node:fs'
import { kubeconfigSecrets } from './credential-secrets.js'
import type { WorkspaceProvider } from './provider.js'
import type { WorkspaceProbe } from './providers/probe.js'
import type { CoderSettings } from './providers/coder/coder-settings.js'
import type { ProvisionSettings } from './settings/provision-settings.js'
import type { ProviderConnection, StateStore } from './state.js'

// Each provider's modules are imported only when that provider is used: a Coder step
// never loads @kubernetes/client-node, a Che step never loads ssh2 (issue 16, start-up).
const che = async () => ({
  ...(await import('./providers/che/che-provider.js')),
  ...(await import('./providers/che/che-probe.js')),
  ...(await import('./settings/che-inputs.js')),
})
const coder = async () => ({
  ...(await import('./providers/coder/coder-provider.js')),
  ...(await import('./providers/coder/coder-probe.js')),
  ...(await import('./providers/coder/coder-client.js')),
})

/** The secret values of the provision inputs, to mask before anything is logged. */
export function provisionSecrets(settings: ProvisionSettings): string[] {
  // The credentials inside the kubeconfig, not the whole file: a multi-line secret is
  // masked line by line (by the runner too), and lines such as `apiVersion: v1` or
  // `clusters:` would then be masked in every log and evidence file, and make the
  // evidence scan look for dozens of short forms.
  return [
    ...kubeconfigSecrets(settings.che?.kubeconfig ?? settings.route?.kubeconfig ?? ''),
    settings.coder?.token ?? '',
    settings.coder?.sshPrivateKey ?? '',
  ].filter((s) => s.trim() !== '')
}

/** Builds the provider for provisioning, from validated settings. */
export async function providerForProvision(settings: ProvisionSettings): Promise<WorkspaceProvider> {
  if (settings.coder) return coderProvider(settings.coder)
  const cheSettings = settings.che
  if (!cheSettings) throw new Error(`No settings for provider ${settings.provider}`)
  const { createCheProvider, loadKubeConfig } = await che()
  return createCheProvider(cheSettings, { kubeConfig: loadKubeConfig(cheSettings.kubeconfig) })
}

/**
 * What later steps need to reach the provider again. Credentials go to 0600
 * files in the workspace's state folder; the connection only names them.
 */
export function connectionFor(settings: ProvisionSettings, store: StateStore, name: string): ProviderConnection {
  const base = { provider: settings.provider, reason: settings.providerReason, source: settings.source }
  // Coder keeps a kubeconfig only for its route (issue 12).
  const kubeconfig = settings.che?.kubeconfig ?? settings.route?.kubeconfig ?? ''
  const che = {
    namespace: settings.che?.namespace ?? '',
    ...(settings.che?.allowUnsafePod?.length ? { allowUnsafePod: settings.che.allowUnsafePod } : {}),
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
      sshKnownHosts: c.sshKnownHosts,
    },
  }
}

/** Rebuilds the provider in a later step from what provision recorded; `log` gets its connection notes. */
export async function providerForConnection(
  connection: ProviderConnection,
  target = '',
  log?: (line: string) => void,
): Promise<WorkspaceProvider> {
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
        sshKnownHosts: c.sshKnownHosts ?? '',
      },
      log,
    )
  }
  const kubeconfig = connection.kubeconfigFile ? readFileSync(connection.kubeconfigFile, 'utf8') : ''
  const { createCheProvider, loadKubeConfig } = await che()
  return createCheProvider(
    { kubeconfig, namespace: connection.namespace, container: target, allowUnsafePod: connection.allowUnsafePod ?? [] },
    { kubeConfig: loadKubeConfig(kubeconfig) },
  )
}

/** Credential files of a connection, to delete once the workspace is gone. */
export function credentialFiles(connection: ProviderConnection): string[] {
  return [connection.kubeconfigFile, connection.coder?.tokenFile ?? '', connection.coder?.sshKeyFile ?? ''].filter(
    Boolean,
  )
}

async function coderProvider(settings: CoderSettings, log?: (line: string) => void): Promise<WorkspaceProvider> {
  const { createCoderProvider, createCoderClient } = await coder()
  return createCoderProvider(settings, {
    client: createCoderClient({ url: settings.url, token: settings.token }),
    ...(log ? { log } : {}),
  })
}

/** The smoke check's view of the provider, over the same credentials as provisioning (see WorkspaceProbe). */
export async function probeForProvision(settings: ProvisionSettings): Promise<WorkspaceProbe> {
  if (settings.coder) {
    const { createCoderProbe, createCoderClient } = await coder()
    return createCoderProbe(
      createCoderClient({ url: settings.coder.url, token: settings.coder.token }),
      settings.coder.token,
    )
  }
  const cheSettings = settings.che
  if (!cheSettings) throw new Error(`No settings for provider ${settings.provider}`)
  const { createCheProbe, loadKubeConfig } = await che()
  return createCheProbe(loadKubeConfig(cheSettings.kubeconfig), cheSettings.namespace)
}
