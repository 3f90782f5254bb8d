/**
 * The DevWorkspace operator's configuration as the simulated cluster applies it: the global
 * DevWorkspaceOperatorConfig, and Che's `devworkspace-config` that che-operator reconciles from the CheCluster.
 */

/** The parts of DWO's global config (DevWorkspaceOperatorConfig `config`) the simulator acts on. */
export interface DwoConfig {
  /** `config.routing.defaultRoutingClass`; DWO's default is `basic` (pkg/config/defaults.go defaultConfig). */
  readonly defaultRoutingClass: string
  /** `config.routing.clusterHostSuffix`; empty on Kubernetes unless an admin sets it (pkg/config/defaults.go). */
  readonly clusterHostSuffix: string
  /** `config.workspace.progressTimeout`, a Go duration; `5m` by default (pkg/config/defaults.go). */
  readonly progressTimeout: string
  /** `config.workspace.persistUserHome.enabled`; false by default (pkg/config/defaults.go). */
  readonly persistUserHome: boolean
}

/** A CheCluster, as far as che-operator turns it into DWO configuration. */
export interface CheClusterConfig {
  readonly name: string
  readonly namespace: string
  /** `spec.devEnvironments.startTimeoutSeconds` (default 300; che-operator api/v2/checluster_types.go). */
  readonly startTimeoutSeconds: number
  /** `spec.devEnvironments.persistUserHome.enabled`. */
  readonly persistUserHome: boolean
}

export const DEFAULT_DWO_CONFIG: DwoConfig = {
  defaultRoutingClass: 'basic',
  clusterHostSuffix: '',
  progressTimeout: '5m',
  persistUserHome: false,
}

export const DEFAULT_CHE_CLUSTER: CheClusterConfig = {
  name: 'eclipse-che',
  namespace: 'eclipse-che',
  startTimeoutSeconds: 300,
  persistUserHome: false,
}

/** The name of the DWOC che-operator writes in the CheCluster's namespace (pkg/deploy/devworkspace/dev_workspace_config.go). */
export const CHE_DWOC_NAME = 'devworkspace-config'
export const DEVWORKSPACE_CONFIG_ATTRIBUTE = 'controller.devfile.io/devworkspace-config'

/** The configuration one workspace runs with, and why (for status warnings). */
export interface ResolvedConfig extends DwoConfig {
  /** DWO's DevWorkspaceWarning when the named config could not be applied. */
  readonly warning?: string
}

/**
 * DWO pkg/config/sync.go ResolveConfigForWorkspace: the attribute `controller.devfile.io/devworkspace-config:
 * {name, namespace}` selects a DWOC that is merged over the global config. A missing or malformed reference is only
 * a warning and the global config applies (controllers/workspace/devworkspace_controller.go Reconcile). Che's DWOC
 * carries `progressTimeout: "<startTimeoutSeconds>s"` (che-operator dev_workspace_config.go updateStartTimeout) and
 * `persistUserHome` (updatePersistUserHomeConfig).
 */
export function resolveConfig(
  global: DwoConfig,
  che: CheClusterConfig | undefined,
  attributes: Record<string, unknown> | undefined,
): ResolvedConfig {
  const ref = attributes?.[DEVWORKSPACE_CONFIG_ATTRIBUTE]
  if (ref === undefined) return global
  const { name, namespace } = (typeof ref === 'object' && ref !== null ? ref : {}) as {
    name?: unknown
    namespace?: unknown
  }
  if (typeof name !== 'string' || typeof namespace !== 'string' || !name || !namespace)
    return {
      ...global,
      warning: `Error applying external DevWorkspace-Operator configuration: invalid attribute ${DEVWORKSPACE_CONFIG_ATTRIBUTE}: name and namespace are required`,
    }
  if (!che || name !== CHE_DWOC_NAME || namespace !== che.namespace)
    return {
      ...global,
      warning: `Error applying external DevWorkspace-Operator configuration: could not read DevWorkspaceOperatorConfig ${namespace}/${name}: not found`,
    }
  return { ...global, progressTimeout: `${che.startTimeoutSeconds}s`, persistUserHome: che.persistUserHome }
}

/** Parses a Go duration such as `5m`, `300s`, `1m30s` or `250ms` to milliseconds (time.ParseDuration). */
export function goDurationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let total = 0
  let rest = text
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest)
    if (!m) throw new Error(`time: invalid duration "${text}"`)
    total += Number(m[1]) * (units[m[2] as string] as number)
    rest = rest.slice(m[0].length)
  }
  return total
}
