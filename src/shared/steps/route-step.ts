import { readFileSync } from 'node:fs'
import type { KubeConfig } from '@kubernetes/client-node'
import { errorMessage } from '../errors.js'
import { identityLabels } from '../identity.js'
import type { WorkspaceHandle } from '../provider.js'
import type { RouteRecord } from '../routing/route-lifecycle.js'
import type { RouteSettings } from '../routing/route-settings.js'
import type { ProvisionSettings } from '../settings/provision-settings.js'
import type { RunState } from '../state.js'
import type { StepContext } from './step-context.js'

// Routing modules load only when a run routes: a Coder step without a route never compiles the Kubernetes client.
const routing = async () => ({
  ...(await import('../routing/route-lifecycle.js')),
  ...(await import('../settings/che-inputs.js')),
})

/** The namespace the route goes in: route-namespace on Coder, the workspace's on Che. */
export function routeNamespace(settings: ProvisionSettings, route: RouteSettings): string {
  return route.namespace || settings.che?.namespace || ''
}

async function provisionKubeConfig(settings: ProvisionSettings, route: RouteSettings): Promise<KubeConfig> {
  const { loadKubeConfig } = await routing()
  return loadKubeConfig(settings.che?.kubeconfig ?? route.kubeconfig)
}

/** Issue 12's preflight: fails, before anything is created, when the identity may not route. */
export async function preflightRoute(ctx: StepContext, settings: ProvisionSettings): Promise<void> {
  const route = settings.route
  if (!route) return
  const { checkRoutePermissions } = await routing()
  await checkRoutePermissions(
    await provisionKubeConfig(settings, route),
    route,
    routeNamespace(settings, route),
    (line) => ctx.reporter.info(line),
    ctx.signal,
  )
}

/**
 * Creates the run's HTTPRoute once the workspace is ready, and waits until the Gateway accepts it: the run step
 * never starts before. The record is saved before the create, so cleanup deletes the route whatever happens next.
 */
export async function openRunRoute(
  ctx: StepContext,
  settings: ProvisionSettings,
  state: RunState,
  handle: WorkspaceHandle,
): Promise<void> {
  const route = settings.route
  if (!route) return
  const namespace = routeNamespace(settings, route)
  const record: RouteRecord = {
    namespace,
    name: state.workspaceName,
    // A bare Gateway name in route-gateway is one in the route's own namespace.
    gateway: { ...route.gateway, namespace: route.gateway.namespace || namespace },
    hostname: route.hostname,
    headerName: route.headerName,
    headerValue: state.workspaceName,
    // DevWorkspace Operator's Service for the workspace's endpoints (pkg/common naming.go ServiceName).
    backendService: route.backendService || `${handle.id}-service`,
    backendPort: route.backendPort,
  }
  state.route = record
  ctx.store.save(state)
  const { openRoute } = await routing()
  const started = Date.now()
  await ctx.reporter.group(
    `Route ${record.hostname} with header ${record.headerName} to ${record.backendService}:${record.backendPort}`,
    async () => {
      await openRoute(
        route,
        record,
        identityLabels(settings.identity),
        {
          kubeConfig: await provisionKubeConfig(settings, route),
          onProgress: (s) => ctx.reporter.info(s),
          onCreated: () =>
            ctx.reporter.info(
              `Created HTTPRoute ${record.namespace}/${record.name} on Gateway ${record.gateway.namespace}/${record.gateway.name}; waiting for Accepted and ResolvedRefs`,
            ),
        },
        ctx.signal,
      )
    },
  )
  record.acceptedAt = new Date().toISOString()
  ctx.store.save(state)
  ctx.reporter.info(`The Gateway accepted the route after ${Math.round((Date.now() - started) / 1000)}s.`)
  ctx.reporter.setOutput('route-name', `${record.namespace}/${record.name}`)
  ctx.reporter.setOutput('route-header-name', record.headerName)
  ctx.reporter.setOutput('route-header-value', record.headerValue)
}

/** The command's view of the route, for Playwright's extraHTTPHeaders. */
export function routeEnv(state: RunState): [string, string][] {
  const r = state.route
  if (!r) return []
  return [
    ['RUN_TASK_ROUTE_HEADER_NAME', r.headerName],
    ['RUN_TASK_ROUTE_HEADER_VALUE', r.headerValue],
    ['RUN_TASK_ROUTE_HOSTNAME', r.hostname],
  ]
}

/** The kubeconfig provision saved for the route (Che's, or Coder's route kubeconfig). */
async function savedKubeConfig(state: RunState): Promise<KubeConfig> {
  const { loadKubeConfig } = await routing()
  const file = state.connection.kubeconfigFile
  return loadKubeConfig(file ? readFileSync(file, 'utf8') : '')
}

/** Deletes the run's route if it has one that is not yet deleted; the post step and every cleanup path call this. */
export async function closeRunRoute(ctx: StepContext, state: RunState): Promise<void> {
  const record = state.route
  if (!record || record.deletedAt) return
  const { deleteRoute } = await routing()
  const { alreadyGone } = await deleteRoute(await savedKubeConfig(state), record, ctx.signal)
  record.deletedAt = new Date().toISOString()
  ctx.store.save(state)
  ctx.reporter.info(
    alreadyGone
      ? `HTTPRoute ${record.namespace}/${record.name} was already gone.`
      : `Deleted HTTPRoute ${record.namespace}/${record.name}: header ${record.headerName} no longer diverts.`,
  )
}

/** Sweeps HTTPRoutes that killed runs left in the route's namespace; only warns when it cannot. */
export async function sweepRunRoutes(
  ctx: StepContext,
  state: RunState,
  prefix: string,
  olderThanMs: number,
): Promise<void> {
  const record = state.route
  if (!record) return
  try {
    const { sweepRoutes } = await routing()
    const removed = await sweepRoutes(await savedKubeConfig(state), record.namespace, prefix, olderThanMs, ctx.signal)
    ctx.reporter.info(
      removed.length
        ? `Swept ${removed.length} stale HTTPRoutes: ${removed.join(', ')}`
        : 'Sweep found no stale HTTPRoutes.',
    )
  } catch (error) {
    ctx.reporter.warning(`Sweeping stale HTTPRoutes failed: ${errorMessage(error)}`)
  }
}
