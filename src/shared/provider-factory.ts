import { readFileSync } from 'node:fs'
import { InputError } from './errors.js'
import type { WorkspaceProvider } from './provider.js'
import { createCheProvider } from './providers/che/che-provider.js'
import type { CheSettings } from './providers/che/che-settings.js'
import { loadKubeConfig } from './settings/provision-settings.js'
import type { ProviderConnection } from './state.js'

/** Builds the provider for provisioning, from validated settings. */
export function providerForProvision(che: CheSettings): WorkspaceProvider {
  return createCheProvider(che, { kubeConfig: loadKubeConfig(che.kubeconfig) })
}

/** Rebuilds the provider in a later step from what provision recorded. */
export function providerForConnection(connection: ProviderConnection, container = ''): WorkspaceProvider {
  if (connection.provider !== 'che') throw new InputError('provider', connection.provider, 'a provider this build supports: che')
  const kubeconfig = connection.kubeconfigFile ? readFileSync(connection.kubeconfigFile, 'utf8') : ''
  return createCheProvider({ kubeconfig, namespace: connection.namespace, container }, { kubeConfig: loadKubeConfig(kubeconfig) })
}
