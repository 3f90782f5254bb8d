import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node'
import { RunTaskError } from '../../errors.js'
import { DEFAULT_RETRY, withRetry } from '../../wait.js'
import type { ControlPlaneFinding, ControlPlaneRequest, IdeEndpoint, Persistence, WorkspaceProbe } from '../probe.js'
import { DW_GROUP, DW_PLURAL, DW_VERSION, DWT_PLURAL, type DevWorkspaceObject } from './devworkspace.js'
import { isRetryableKubeError, kubeRetryAfterMs, kubeStatusCode, normalizeKubeError } from './kube-errors.js'

/** che-code's main endpoint port, when the editor's own definition cannot be read. */
const DEFAULT_EDITOR_PORT = 3100
/** The PVC the `common` and `per-user` storage types share (DWO pkg/constants). */
const COMMON_PVC = 'claim-devworkspace'
/** Che's older common PVC, which DWO uses instead when it exists (DWO pkg/provision/storage checkForAlternatePVC). */
const LEGACY_COMMON_PVC = 'claim-che-workspace'
/**
 * Why Che's gateway refuses the runner's token: che-operator configures its oauth2-proxy without
 * `skip_jwt_bearer_tokens` (che-operator pkg/deploy/gateway/oauth_proxy.go), so only a browser session gets through.
 */
const CHE_GATEWAY_SIGN_IN =
  "Che's gateway (oauth2-proxy as che-operator configures it) accepts no bearer token, only an interactive sign-in"

interface Endpoint {
  readonly name: string
  readonly targetPort: number
  readonly attributes?: Record<string, unknown>
}
type Template = { components?: { container?: { endpoints?: Endpoint[] } }[] }

/** The Che side of the smoke check: mainUrl, storage, and the operator's API and CheCluster. */
export function createCheProbe(kubeConfig: KubeConfig, namespace: string): WorkspaceProbe {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi)
  const core = kubeConfig.makeApiClient(CoreV1Api)
  const call = <T>(doing: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, { policy: DEFAULT_RETRY, isRetryable: isRetryableKubeError, retryAfterMs: kubeRetryAfterMs }).catch(
      (error: unknown) => {
        throw normalizeKubeError(error, doing, kubeConfig.getCurrentCluster()?.server)
      },
    )
  const get = (name: string): Promise<DevWorkspaceObject> =>
    call(`reading DevWorkspace ${namespace}/${name}`, () =>
      custom.getNamespacedCustomObject({ group: DW_GROUP, version: DW_VERSION, namespace, plural: DW_PLURAL, name }),
    ) as Promise<DevWorkspaceObject>

  /** The endpoint with attribute `type: main`, in the workspace's own components or its contributions (the editor). */
  const mainEndpoint = async (dw: DevWorkspaceObject): Promise<Endpoint | undefined> => {
    const refs = ((dw.spec.contributions ?? []) as { kubernetes?: { name: string; namespace?: string } }[]).flatMap(
      (c) => (c.kubernetes ? [c.kubernetes] : []),
    )
    const contributed = await Promise.all(
      refs.map(
        async (r) =>
          (
            (await call(`reading DevWorkspaceTemplate ${r.name}`, () =>
              custom.getNamespacedCustomObject({
                group: DW_GROUP,
                version: DW_VERSION,
                namespace: r.namespace ?? namespace,
                plural: DWT_PLURAL,
                name: r.name,
              }),
            )) as { spec?: Template }
          ).spec,
      ),
    )
    const templates = [dw.spec.template as Template | undefined, ...contributed]
    return templates
      .flatMap((t) => t?.components ?? [])
      .flatMap((c) => c.container?.endpoints ?? [])
      .find((e) => e.attributes?.type === 'main')
  }

  /** The shared PVC DWO uses in this namespace: Che's legacy claim when present, else `claim-devworkspace`. */
  const commonClaim = async (ns: string): Promise<string> => {
    try {
      await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: LEGACY_COMMON_PVC })
      return LEGACY_COMMON_PVC
    } catch (error) {
      if (kubeStatusCode(error) === 404) return COMMON_PVC
      throw normalizeKubeError(error, `reading PVC ${ns}/${LEGACY_COMMON_PVC}`)
    }
  }

  return {
    persistentDir: '$PROJECTS_ROOT',
    async ide(handle): Promise<IdeEndpoint> {
      const dw = await get(handle.name)
      const mainUrl = dw.status?.mainUrl
      if (!mainUrl)
        throw new RunTaskError(
          'workspace-start',
          `DevWorkspace ${handle.name} has no mainUrl: no component has an endpoint with attribute type: main (set the editor input, e.g. che-code).`,
        )
      const endpoint = await mainEndpoint(dw)
      const options: { headers?: Record<string, string> } = {}
      await kubeConfig.applyToHTTPSOptions(options)
      const authorization = options.headers?.Authorization ?? options.headers?.authorization
      return {
        name: endpoint?.name ?? 'editor',
        proxyUrl: mainUrl,
        headers: authorization ? { Authorization: authorization } : {},
        healthUrl: `http://127.0.0.1:${endpoint?.targetPort ?? DEFAULT_EDITOR_PORT}/healthz`,
        // The `che` routing class puts mainUrl behind che-operator's gateway; `basic` routes have no sign-in.
        ...(dw.spec.routingClass === 'che' ? { signInOnly: CHE_GATEWAY_SIGN_IN } : {}),
      }
    },
    async persistence(handle): Promise<Persistence> {
      const type = storageType(await get(handle.name))
      return type === 'ephemeral'
        ? {
            persistent: false,
            detail:
              'storage-type ephemeral keeps /projects in an emptyDir, which a stop deletes; use per-workspace or per-user to check persistence',
          }
        : { persistent: true, detail: `storage-type ${type}` }
    },
    async checkStopped(handle): Promise<string> {
      const dw = await get(handle.name)
      if (dw.status?.phase !== 'Stopped')
        throw new RunTaskError(
          'workspace-start',
          `DevWorkspace ${handle.name} should be Stopped, but its phase is ${dw.status?.phase ?? 'unknown'}.`,
        )
      const claim =
        storageType(dw) === 'per-workspace'
          ? `storage-${dw.status.devworkspaceId ?? handle.id}`
          : await commonClaim(namespace)
      try {
        const pvc = await call(`reading PVC ${namespace}/${claim}`, () =>
          core.readNamespacedPersistentVolumeClaim({ namespace, name: claim }),
        )
        return `DevWorkspace ${handle.name} still exists (Stopped); PVC ${claim} is ${pvc.status?.phase ?? 'present'}`
      } catch (error) {
        if (
          kubeStatusCode(error) === 404 ||
          (error instanceof RunTaskError && /\b404\b|not found/i.test(error.message))
        )
          throw new RunTaskError(
            'workspace-start',
            `PVC ${namespace}/${claim} of DevWorkspace ${handle.name} is gone while it is stopped.`,
          )
        throw error
      }
    },
    async controlPlane(request: ControlPlaneRequest): Promise<ControlPlaneFinding[]> {
      const admin = request.adminToken
        ? withToken(kubeConfig, request.adminToken).makeApiClient(CustomObjectsApi)
        : custom
      return [await operatorApi(custom), await cheIssuer(admin, request.expectedIssuer)]
    },
  }
}

/** The same cluster, authenticated with another bearer token. */
function withToken(kubeConfig: KubeConfig, token: string): KubeConfig {
  const cluster = kubeConfig.getCurrentCluster()
  if (!cluster) throw new RunTaskError('input', 'The kubeconfig has no current cluster to check the control plane of.')
  const admin = new KubeConfig()
  admin.loadFromClusterAndUser(cluster, { name: 'run-task-admin', token })
  return admin
}

function storageType(dw: DevWorkspaceObject): string {
  const value = (dw.spec.template?.attributes as Record<string, unknown> | undefined)?.[
    'controller.devfile.io/storage-type'
  ]
  return typeof value === 'string' ? value : 'per-user'
}

async function operatorApi(custom: CustomObjectsApi): Promise<ControlPlaneFinding> {
  try {
    const list = await custom.getAPIResources({ group: DW_GROUP, version: DW_VERSION })
    const served = list.resources.map((r) => r.name)
    return served.includes(DW_PLURAL)
      ? { status: 'passed', message: `DevWorkspace API: ${DW_GROUP}/${DW_VERSION} serves ${served.join(', ')}` }
      : { status: 'failed', message: `DevWorkspace API: ${DW_GROUP}/${DW_VERSION} does not serve devworkspaces` }
  } catch (error) {
    return {
      status: 'failed',
      message: `DevWorkspace API: not served (${normalizeKubeError(error, 'reading the API').message}); is the DevWorkspace operator installed?`,
    }
  }
}

async function cheIssuer(custom: CustomObjectsApi, expected: string): Promise<ControlPlaneFinding> {
  let items: { metadata?: { name?: string }; spec?: { networking?: { auth?: { identityProviderURL?: string } } } }[]
  try {
    items = (
      (await custom.listClusterCustomObject({ group: 'org.eclipse.che', version: 'v2', plural: 'checlusters' })) as {
        items: typeof items
      }
    ).items
  } catch (error) {
    const status = kubeStatusCode(error)
    if (status === 403 || status === 401)
      return {
        status: 'skipped',
        message:
          'OIDC issuer: not checked, these credentials may not read CheClusters (give admin credentials to check it)',
      }
    return { status: 'failed', message: `OIDC issuer: ${normalizeKubeError(error, 'listing CheClusters').message}` }
  }
  const issuer = items[0]?.spec?.networking?.auth?.identityProviderURL ?? ''
  if (items.length === 0)
    return { status: 'failed', message: 'OIDC issuer: no CheCluster found; is Eclipse Che installed?' }
  if (!expected) return { status: 'passed', message: `OIDC issuer: ${issuer || '(none configured)'}` }
  return issuer === expected
    ? { status: 'passed', message: `OIDC issuer: ${issuer}` }
    : {
        status: 'failed',
        message: `OIDC issuer: expected ${expected}, CheCluster ${items[0]?.metadata?.name ?? ''} names ${issuer || 'none'}`,
      }
}
