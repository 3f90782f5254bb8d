import type { CustomObjectsApi } from '@kubernetes/client-node'
import type { ConfigRef } from './devworkspace.js'
import { kubeStatusCode } from './kube-errors.js'

/** The DevWorkspaceOperatorConfig che-operator writes next to its CheCluster (pkg/deploy/devworkspace/dev_workspace_config.go). */
export const CHE_DWOC_NAME = 'devworkspace-config'

/** What discovery found: Che's config, or a note saying why the workspace gets DWO's global config instead. */
export interface CheDiscovery {
  readonly config?: ConfigRef
  readonly note?: string
}

/**
 * Finds the CheCluster and names the `devworkspace-config` che-operator reconciles from its `devEnvironments`
 * (start timeout, storage, persistUserHome, security contexts), as Che's dashboard does with its own namespace
 * (che-dashboard devWorkspaceClient.ts managePvcStrategy). A user that may not list CheClusters, or a cluster
 * without Che, gets no attribute: DWO then applies its global config.
 */
export async function findCheConfig(custom: CustomObjectsApi): Promise<CheDiscovery> {
  try {
    const list = (await custom.listClusterCustomObject({
      group: 'org.eclipse.che',
      version: 'v2',
      plural: 'checlusters',
    })) as { items?: { metadata?: { namespace?: string } }[] }
    const namespace = list.items?.[0]?.metadata?.namespace
    return namespace
      ? { config: { name: CHE_DWOC_NAME, namespace } }
      : { note: "No CheCluster found: the DevWorkspace gets the DevWorkspace operator's global configuration." }
  } catch (error) {
    const status = kubeStatusCode(error)
    if (status === 403 || status === 404)
      return {
        note: `CheClusters could not be read (${status === 403 ? 'forbidden' : 'not served'}): the DevWorkspace gets the DevWorkspace operator's global configuration, not Che's devEnvironments.`,
      }
    // Raw, so the caller's retry still sees a 429 or 5xx as one (it normalizes what it gives up on).
    throw error
  }
}
