import { CoreV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { ProviderRequestError, RouteError } from '../errors.js'
import { CREATED_BY, LABELS } from '../identity.js'
import { type AccessCheck, deniedChecks, permissionError, whoAmI } from '../kube/access-review.js'
import { type KubeCall, kubeCaller } from '../kube/kube-call.js'
import { watchObject } from '../kube/object-watch.js'
import { ROUTING_CLUSTER_ROLE } from '../rbac/bootstrap.js'
import { DEFAULT_RETRY, Deadline, type RetryPolicy, sleep } from '../wait.js'
import { bindChecks, bindRoutingRole, grantedByRoutingRole } from './route-binding.js'
import {
  buildHttpRoute,
  GATEWAY_GROUP,
  HTTP_ROUTES,
  type HttpRouteObject,
  judgeRoute,
  type RouteTarget,
} from './http-route.js'
import { GATEWAY_ACCESS_LABEL, type GatewayRef, type RouteSettings } from './route-settings.js'

/** The run's route as the state file and meta.json record it; the header value is not a secret. */
export interface RouteRecord extends RouteTarget {
  /** Set once the Gateway accepted the route and resolved its backend. */
  acceptedAt?: string
  /** Set once the route is deleted, so the post step does not try again. */
  deletedAt?: string
}

/** The permissions routing needs in the route's namespace, for the preflight. */
export function routeChecks(settings: RouteSettings, namespace: string): AccessCheck[] {
  return [
    ...['create', 'get', 'list', 'watch', 'delete'].map((verb) => ({
      verb,
      group: GATEWAY_GROUP,
      resource: HTTP_ROUTES.plural,
      namespace,
    })),
    { verb: 'get', group: '', resource: 'services', namespace },
    ...(settings.labelNamespace
      ? [{ verb: 'patch', group: '', resource: 'namespaces', namespace: '', name: namespace }]
      : []),
  ]
}

/**
 * Fails before anything is created when the kubeconfig's identity lacks a routing permission. When every missing one
 * is the routing ClusterRole's and the bootstrap lets the identity bind it, binds it first (`log` says so) and asks
 * again: routing power comes from the predeclared role, never from a Role of the run's own.
 */
export async function checkRoutePermissions(
  kc: KubeConfig,
  settings: RouteSettings,
  namespace: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const call = kubeCaller(kc, DEFAULT_RETRY, signal)
  const checks = routeChecks(settings, namespace)
  let denied = await deniedChecks(kc, call, checks)
  if (denied.length > 0 && denied.every(grantedByRoutingRole)) {
    const who = await whoAmI(kc, call)
    if (who && (await deniedChecks(kc, call, bindChecks(namespace))).length === 0) {
      const binding = await bindRoutingRole(kc, call, namespace, who)
      log(
        `Bound ClusterRole ${ROUTING_CLUSTER_ROLE} to "${who}" in ${namespace} (RoleBinding ${binding}), as the bootstrap Role allows.`,
      )
      denied = await untilGranted(kc, call, checks, signal)
    }
  }
  if (denied.length > 0)
    throw await permissionError(
      kc,
      call,
      denied,
      `Routing power is granted at bootstrap: apply what \`run-task rbac render --namespace ${namespace}\` prints for this identity, and run-task binds the ${ROUTING_CLUSTER_ROLE} ClusterRole itself.`,
    )
}

/** The API server's authorizer sees a new binding within moments (its informer cache); ask a few times. */
async function untilGranted(
  kc: KubeConfig,
  call: KubeCall,
  checks: readonly AccessCheck[],
  signal?: AbortSignal,
): Promise<AccessCheck[]> {
  let denied = await deniedChecks(kc, call, checks)
  for (let attempt = 1; denied.length > 0 && attempt < 10; attempt++) {
    await sleep(300, signal)
    denied = await deniedChecks(kc, call, checks)
  }
  return denied
}

/** Transports and tunables of the route's lifecycle. */
export interface RouteDependencies {
  readonly kubeConfig: KubeConfig
  readonly retry?: RetryPolicy
  readonly onProgress?: (status: string) => void
  readonly progressIntervalMs?: number
  /** Called once the route exists, before the wait. */
  readonly onCreated?: () => void
}

/**
 * Opens the run's route: labels the namespace when allowed, checks the backend Service exists, creates the
 * HTTPRoute and waits, within the route timeout, until the Gateway reports it Accepted with its refs resolved.
 * Only then may the command start.
 */
export async function openRoute(
  settings: RouteSettings,
  record: RouteRecord,
  labels: Record<string, string>,
  deps: RouteDependencies,
  signal?: AbortSignal,
): Promise<void> {
  const call = kubeCaller(deps.kubeConfig, deps.retry ?? DEFAULT_RETRY, signal)
  const deadline = new Deadline(settings.timeoutMs)
  if (settings.labelNamespace) await labelNamespace(deps.kubeConfig, call, record.namespace, settings)
  await requireBackend(deps.kubeConfig, call, record)
  const custom = deps.kubeConfig.makeApiClient(CustomObjectsApi)
  const body = buildHttpRoute(record, labels)
  await call(`creating HTTPRoute ${record.namespace}/${record.name}`, () =>
    custom.createNamespacedCustomObject({ ...coordinates(record.namespace), body }),
  )
  deps.onCreated?.()
  const label = settings.labelNamespace ?? GATEWAY_ACCESS_LABEL
  await watchObject<HttpRouteObject, true>({
    kc: deps.kubeConfig,
    api: custom,
    resource: HTTP_ROUTES,
    namespace: record.namespace,
    name: record.name,
    deadline,
    signal,
    onProgress: deps.onProgress,
    progressIntervalMs: deps.progressIntervalMs,
    describe: (o) => describeStatus(o, record.gateway),
    judge: (o) => {
      if (o === null)
        return { fail: new RouteError(`HTTPRoute ${record.namespace}/${record.name} was deleted while waiting.`) }
      const verdict = judgeRoute(o, record.gateway, label)
      return verdict && ('fail' in verdict ? verdict : { done: true })
    },
    onTimeout: (last) => routeTimeout(record, settings.timeoutMs, last),
  })
}

/** Deletes the run's route; one already gone counts as deleted. */
export async function deleteRoute(
  kc: KubeConfig,
  record: { readonly namespace: string; readonly name: string },
  signal?: AbortSignal,
): Promise<{ alreadyGone: boolean }> {
  const custom = kc.makeApiClient(CustomObjectsApi)
  try {
    await kubeCaller(
      kc,
      DEFAULT_RETRY,
      signal,
    )(`deleting HTTPRoute ${record.namespace}/${record.name}`, () =>
      custom.deleteNamespacedCustomObject({ ...coordinates(record.namespace), name: record.name }),
    )
    return { alreadyGone: false }
  } catch (error) {
    if (error instanceof ProviderRequestError && error.status === 404) return { alreadyGone: true }
    throw error
  }
}

/** Deletes run-task's HTTPRoutes under the prefix older than the cutoff, as a killed run leaves them; returns their names. */
export async function sweepRoutes(
  kc: KubeConfig,
  namespace: string,
  namePrefix: string,
  olderThanMs: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const custom = kc.makeApiClient(CustomObjectsApi)
  const call = kubeCaller(kc, DEFAULT_RETRY, signal)
  const list = (await call(`listing HTTPRoutes in ${namespace}`, () =>
    custom.listNamespacedCustomObject({
      ...coordinates(namespace),
      labelSelector: `${LABELS.createdBy}=${CREATED_BY}`,
    }),
  )) as { items: HttpRouteObject[] }
  const cutoff = Date.now() - olderThanMs
  const stale = list.items.filter(
    (o) =>
      o.metadata.name.startsWith(`${namePrefix}-`) &&
      Date.parse(o.metadata.creationTimestamp ?? '') < cutoff &&
      !o.metadata.deletionTimestamp,
  )
  const removed: string[] = []
  for (const o of stale) {
    const gone = await deleteRoute(kc, { namespace, name: o.metadata.name }, signal)
    if (!gone.alreadyGone) removed.push(o.metadata.name)
  }
  return removed
}

function coordinates(namespace: string): { group: string; version: string; namespace: string; plural: string } {
  return { group: HTTP_ROUTES.group, version: HTTP_ROUTES.version, namespace, plural: HTTP_ROUTES.plural }
}

/** Opts the namespace in with the label the listener selects; never removed, other runs may rely on it. */
async function labelNamespace(
  kc: KubeConfig,
  call: KubeCall,
  namespace: string,
  settings: RouteSettings,
): Promise<void> {
  const label = settings.labelNamespace ?? GATEWAY_ACCESS_LABEL
  await call(`labelling namespace ${namespace} ${label.key}=${label.value}`, () =>
    kc
      .makeApiClient(CoreV1Api)
      .patchNamespace(
        { name: namespace, body: { metadata: { labels: { [label.key]: label.value } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
  )
}

async function requireBackend(kc: KubeConfig, call: KubeCall, record: RouteRecord): Promise<void> {
  try {
    await call(`reading the run's backend Service ${record.namespace}/${record.backendService}`, () =>
      kc.makeApiClient(CoreV1Api).readNamespacedService({ name: record.backendService, namespace: record.namespace }),
    )
  } catch (error) {
    if (error instanceof ProviderRequestError && error.status === 404)
      throw new RouteError(
        `The run's backend Service ${record.namespace}/${record.backendService} does not exist: check route-backend-service${record.backendService.endsWith('-service') ? " (on Che, the DevWorkspace Operator creates '<devworkspace id>-service' only for a devfile that declares endpoints)" : ''}.`,
      )
    throw error
  }
}

function describeStatus(o: HttpRouteObject, g: GatewayRef): string {
  const entry = o.status?.parents?.find((p) => p.parentRef.name === g.name)
  if (!entry) return `no status from Gateway ${g.namespace}/${g.name} yet`
  return (entry.conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`).join(', ')
}

function routeTimeout(record: RouteRecord, timeoutMs: number, last: HttpRouteObject | null | undefined): RouteError {
  const g = record.gateway
  const seconds = Math.round(timeoutMs / 1000)
  const seen = last ? describeStatus(last, g) : 'the route was never seen'
  const noController = !last?.status?.parents?.some((p) => p.parentRef.name === g.name)
  return new RouteError(
    `HTTPRoute ${record.namespace}/${record.name} was not Accepted with ResolvedRefs by Gateway ${g.namespace}/${g.name} within ${seconds}s (route-timeout); last status: ${seen}.${noController ? ' No controller wrote status for that Gateway: check that it exists and that its GatewayClass has a running controller.' : ''}`,
  )
}
