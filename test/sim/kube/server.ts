import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { devWorkspaceProblems } from '../../../src/shared/providers/che/schema.js'
import { answerBeforeHandlers, refuseUpgrade, requestUser, type UserInfo } from './auth.js'
import { type ClusterSetup, DevWorkspaceController, DW, DWT, EVENTS, PODS, PVCS } from './controller.js'
import { type CheClusterConfig, DEFAULT_CHE_CLUSTER, DEFAULT_DWO_CONFIG, type DwoConfig } from './dwo-config.js'
import { metadataCauses } from './metadata-validation.js'
import { prune } from './pruning.js'
import devWorkspaceSchema from '../../../src/shared/providers/che/schemas/dev-workspace.json' with { type: 'json' }
import { ALLOW_ALL, forbiddenMessage, type PolicyRule, type RequestAttributes } from './rbac.js'
import { RbacAuthorizer, type Refusal } from './rbac-authorizer.js'
import { rbacSchema } from './rbac-schema.js'
import { WEBHOOK_NAME, webhookProblems } from './webhook.js'
import { imagePath, startWorkspaceImage, type WorkspaceImage } from '../workspace-image.js'
import { answerDiscovery, findServed } from './discovery.js'
import { answerOpenApi, builtInGroup } from './openapi.js'
import { ExecServer } from './exec.js'
import { type KubeFaults, noFaults, statusBody } from './faults.js'
import { loseResponse, requestKey, resetConnection, takeRequestFault } from '../request-faults.js'
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js'
import { bodyAsJson } from './protobuf.js'
import { runCertificateAuthority } from './pki.js'
import { type KubeObject, matchesFieldSelector, matchesLabelSelector, ObjectStore } from './store.js'
import { presenterFor } from './table.js'
import { kubeconfigFor } from './kubeconfig.js'
import { WorkspaceFolders } from './workspace-fs.js'
import { addBackend, ServiceControllers } from './endpoints.js'
import { GatewayController, type RoutingOptions, seedRouting, SHARED_GATEWAY } from './gateway-controller.js'
import { startGatewayDataPlane } from './gateway-dataplane.js'
import { applyGatewayDefaults } from './gateway-defaults.js'

/** The token user: the identity a request with the simulated cluster's bearer token is authenticated as. */
export const SIM_USER = { name: 'system:serviceaccount:ci:run-task', uid: '6a2f3c1e-0000-4000-8000-00000000c0de' }
/** The token user's groups, as the service-account authenticator sets them (k8s.io/apiserver pkg/authentication/serviceaccount). */
const SIM_USER_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:ci']

export interface KubeSimOptions {
  /** Delay between controller steps; small in tests, larger for demos. */
  readonly stepDelayMs?: number
  /** Where workspace folders live; a fresh temp dir by default. */
  readonly root?: string
  readonly token?: string
  /** The OIDC issuer the CheCluster names (spec.networking.auth.identityProviderURL). */
  readonly oidcIssuer?: string
  /** DWO's global configuration; DWO's defaults (routing class basic, no clusterHostSuffix, progressTimeout 5m). */
  readonly dwo?: Partial<DwoConfig>
  /** The CheCluster; `false` for a cluster with DWO but without Che (no `che` routing, no CheCluster). */
  readonly che?: Partial<CheClusterConfig> | false
  /**
   * A Role bound to every authenticated user (the token user's GitOps-granted Role); everything by default. Roles and
   * bindings stored in the cluster add to it; set it to `[]` to leave only them.
   */
  readonly rules?: PolicyRule[]
  /**
   * Che's gateway (oauth2-proxy) with `skip_jwt_bearer_tokens = true`, so it takes the kubeconfig's bearer token.
   * che-operator never writes that setting (pkg/deploy/gateway/oauth_proxy.go kubernetesOauthProxyConfig), so it
   * is off, as on a stock Che install.
   */
  readonly gatewayTakesBearer?: boolean
  /**
   * Gateway API routing, seeded as a platform's bootstrap leaves it (README "Gateway API"): Namespaces `ci` (not
   * labelled `gateway-access=allowed` unless listed in `labelled`) and `gateway-system`, GatewayClass `sim`, Gateway
   * `gateway-system/shared`. `false` seeds nothing; the controllers run either way.
   */
  readonly routing?: RoutingOptions | false
}

/** A running simulated cluster. */
export interface KubeSim {
  readonly url: string
  readonly token: string
  /** A kubeconfig for the token user: https, the run's CA as certificate-authority-data, a bearer token. */
  readonly kubeconfig: string
  /** The PEM of the CA that signed the server's certificate (one per test process). */
  readonly caCert: string
  /** A kubeconfig for a client-certificate user (CN = user, O = groups), signed by the cluster's CA. */
  clientCertKubeconfig(user: string, groups: readonly string[]): string
  readonly faults: KubeFaults
  /** DWO's config and the CheCluster; tests may change them between runs. */
  readonly cluster: ClusterSetup
  /** The Role bound to every authenticated user, besides the stored RBAC objects; tests may replace it. */
  rules: PolicyRule[]
  readonly store: ObjectStore
  readonly folders: WorkspaceFolders
  /** The workspace image: its tools and the editor (che-code) every workspace serves. */
  readonly image: WorkspaceImage
  /** Creates a che-code-like editor DevWorkspaceTemplate whose main endpoint is the image's IDE. */
  addEditor(namespace: string, name: string): void
  /** Names of the DevWorkspaces in a namespace. */
  devWorkspaces(namespace: string): string[]
  /** The operator restarts and reconciles every DevWorkspace (after a fault is lifted). */
  resyncController(): void
  /** The Gateway controller reconciles every route and Gateway (after `faults.gatewayControllerDown` is lifted). */
  resyncGatewayController(): void
  /** Every request the server received, as `METHOD path`. */
  readonly requests: string[]
  /** Bytes the exec server has read from commands' stdout and stderr so far. */
  readonly execOutputBytesRead: number
  /** Fields structural pruning dropped from DevWorkspaces and RBAC objects created, as `<name>: <path>`. */
  readonly pruned: string[]
  /** The shared Gateway's data plane (`http://127.0.0.1:<port>`); send the route's hostname as the Host header. */
  readonly gatewayUrl: string
  /** A selector-less Service `name` (port 80 to targetPort `port`) and an EndpointSlice for 127.0.0.1:`port`. */
  addBackend(namespace: string, name: string, port: number): void
  close(): Promise<void>
}

/** What one resource request addresses, from its path (apiserver pkg/endpoints/request/requestinfo.go). */
interface Route {
  readonly resource: string
  /** Empty for a cluster-scoped resource; undefined for a list across all namespaces. */
  readonly namespace: string
  readonly allNamespaces?: boolean
  readonly name?: string
  readonly subresource?: string
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly namespaced: boolean
}

/** `/api/v1/…` and `/apis/{group}/{version}/…`, then an optional `namespaces/{ns}/`, a resource, a name, a subresource. */
const RESOURCE_PATH =
  /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/

/**
 * The token file of an API server that accepts no bearer token (`faults.tokenRejected`): a bearer token no
 * authenticator knows is 401 (k8s.io/apiserver pkg/authentication/request/bearertoken/bearertoken.go AuthenticateRequest).
 */
const NO_TOKENS: ReadonlyMap<string, UserInfo> = new Map()

/** Starts the simulated Kubernetes API on a free loopback port. */
export async function startKubeSim(options: KubeSimOptions = {}): Promise<KubeSim> {
  const root = options.root ?? mkdtempSync(path.join(tmpdir(), 'kube-sim-'))
  const token = options.token ?? 'sim-token'
  const store = new ObjectStore()
  const faults = noFaults()
  const image = await startWorkspaceImage(root)
  const folders = new WorkspaceFolders(root, imagePath(image))
  const exec = new ExecServer(store, faults)
  const requests: string[] = []
  const openWatches = new Set<ServerResponse>()
  const cluster: ClusterSetup = {
    dwo: { ...DEFAULT_DWO_CONFIG, ...options.dwo },
    che: options.che === false ? undefined : { ...DEFAULT_CHE_CLUSTER, ...options.che },
  }
  const ctx: Context = {
    store,
    faults,
    token,
    openWatches,
    image,
    oidcIssuer: options.oidcIssuer ?? '',
    cluster,
    rules: options.rules ?? ALLOW_ALL,
    rbac: new RbacAuthorizer(
      store,
      () => ctx.rules,
      () => faults.denied,
    ),
    gatewayTakesBearer: options.gatewayTakesBearer ?? false,
    pruned: [],
  }
  const ca = runCertificateAuthority()
  const serving = ca.serving('kube-apiserver')
  const tokens = new Map<string, UserInfo>([[token, { ...SIM_USER, groups: SIM_USER_GROUPS }]])
  // The apiserver asks for a client certificate but does not require one (--client-ca-file).
  const tls = { cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false }
  const server: Server = createHttpsServer(tls, (req, res) => {
    requests.push(`${req.method} ${req.url}`)
    if (answerBeforeHandlers(req, res, faults.tokenRejected ? NO_TOKENS : tokens)) return
    if (answerRequestFault(req, res, ctx)) return
    handle(req, res, ctx).catch((error: unknown) => send(res, 500, statusBody(500, 'InternalError', String(error))))
  })
  server.on('upgrade', (req, socket, head) => {
    requests.push(`UPGRADE ${req.url}`)
    const fault = takeRequestFault(faults.requestFaults, requestKey(req, true))
    // An exec upgrade is a long-running request, which apiserver pkg/server/filters/maxinflight.go
    // WithMaxInFlightLimit (and APF) let through untracked, so no 429 reaches it; only a reset does.
    if (fault) return void resetConnection(socket)
    const refusal = refuseUpgrade(req, faults.tokenRejected ? NO_TOKENS : tokens)
    if (refusal) return void socket.end(refusal)
    // Kubernetes 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) authorises the exec upgrade GET as both get and create.
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec/.exec(req.url ?? '')
    for (const verb of ['get', 'create']) {
      const attrs = { verb, group: '', resource: 'pods', subresource: 'exec', namespace: m?.[1], name: m?.[2] }
      const decision = ctx.rbac.authorize(requestUser(req), attrs)
      if (m && !decision.allowed) {
        const message = forbiddenMessage(requestUser(req).name, attrs, decision.reason)
        const body = JSON.stringify(statusBody(403, 'Forbidden', message))
        socket.end(
          `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        )
        return
      }
    }
    exec.upgrade(req, socket, head)
  })
  // The Che gateway is another host on a real cluster; here it is plain http on its own port.
  const gateway: Server = createServer((req, res) => {
    const gatewayRoute = GATEWAY_PATH.exec(req.url ?? '')
    if (gatewayRoute) return proxyEditor(req, res, gatewayRoute, ctx)
    const basicRoute = BASIC_PATH.exec(req.url ?? '')
    if (basicRoute) return proxyToIde(req, res, basicRoute, ctx)
    send(res, 404, statusBody(404, 'NotFound', '404 page not found'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`
  const controller = new DevWorkspaceController(store, folders, faults, options.stepDelayMs ?? 10, gatewayUrl, cluster)
  const stepDelayMs = options.stepDelayMs ?? 10
  if (options.routing !== false) seedRouting(store, options.routing)
  const gatewayController = new GatewayController(store, stepDelayMs, faults)
  const serviceControllers = new ServiceControllers(store, stepDelayMs)
  const dataPlane = await startGatewayDataPlane(store, SHARED_GATEWAY)
  return {
    url,
    token,
    kubeconfig: kubeconfigFor(url, ca.cert, { token }),
    caCert: ca.cert,
    clientCertKubeconfig: (user, groups) => kubeconfigFor(url, ca.cert, { certificate: ca.client(user, groups) }),
    faults,
    cluster,
    get rules() {
      return ctx.rules
    },
    set rules(rules: PolicyRule[]) {
      ctx.rules = rules
    },
    store,
    folders,
    image,
    addEditor: (namespace, name) => void store.create(DWT, editorTemplate(namespace, name, image.idePort)),
    requests,
    get execOutputBytesRead() {
      return exec.outputBytesRead
    },
    pruned: ctx.pruned,
    devWorkspaces: (namespace) => store.list(DW, namespace).map((o) => o.metadata.name),
    resyncController: () => controller.resync(),
    resyncGatewayController: () => gatewayController.resync(),
    gatewayUrl: `http://127.0.0.1:${(dataPlane.address() as AddressInfo).port}`,
    addBackend: (namespace, name, port) => addBackend(store, namespace, name, port),
    close: async () => {
      controller.stop()
      gatewayController.stop()
      serviceControllers.stop()
      exec.close()
      await image.close()
      for (const res of openWatches) res.destroy()
      server.closeAllConnections()
      gateway.closeAllConnections()
      dataPlane.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => gateway.close(() => resolve()))
      await new Promise<void>((resolve) => dataPlane.close(() => resolve()))
      if (!options.root) rmSync(root, { recursive: true, force: true })
    },
  }
}

interface Context {
  readonly store: ObjectStore
  readonly faults: KubeFaults
  readonly token: string
  readonly openWatches: Set<ServerResponse>
  readonly image: WorkspaceImage
  readonly oidcIssuer: string
  readonly cluster: ClusterSetup
  rules: PolicyRule[]
  /** Decides every request from `rules` and the RBAC objects in the store. */
  readonly rbac: RbacAuthorizer
  readonly gatewayTakesBearer: boolean
  readonly pruned: string[]
}

/** The RBAC admission of a write: a refusal to send, or undefined to go on (`RbacAuthorizer.admitWrite`). */
type Admission = (object: KubeObject, existing?: KubeObject) => Refusal | undefined

/** Applies the first matching request fault; true when the request was answered (or its connection reset). */
function answerRequestFault(req: IncomingMessage, res: ServerResponse, ctx: Context): boolean {
  const fault = takeRequestFault(ctx.faults.requestFaults, requestKey(req))
  if (!fault) return false
  if (fault.kind === 'reset') return (resetConnection(req.socket), true)
  if (fault.kind === 'lose') return (loseResponse(req, res), false)
  // apiserver storage/cacher watch_cache.go: a watch from a compacted resourceVersion ends with ERROR 410 Expired.
  if (fault.kind === 'expired') return (ctx.store.compact(), false)
  const status = fault.status ?? 503
  if (status === 429) {
    // apiserver pkg/server/filters/maxinflight.go tooManyRequests (also used by APF, priority-and-fairness.go):
    // a Retry-After header and a plain-text body, not a Status object.
    res.writeHead(429, {
      'Retry-After': String(fault.retryAfterSeconds ?? 1),
      'Content-Type': 'text/plain; charset=utf-8',
    })
    res.end('Too many requests, please try again later.\n')
    return true
  }
  // A 500 InternalError carrying etcd's "etcdserver: request timed out" (apiserver pkg/storage/etcd3 errors pass
  // through as InternalError), or a 503 with apimachinery's wording for it (k8s.io/apimachinery pkg/api/errors
  // errors.go NewGenericServerResponse, StatusReasonServiceUnavailable).
  const reason = status === 500 ? 'InternalError' : 'ServiceUnavailable'
  const message =
    status === 500 ? 'etcdserver: request timed out' : 'the server is currently unable to handle the request'
  if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds))
  send(res, status, statusBody(status, reason, message))
  return true
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  if (ctx.faults.unavailable)
    return send(res, 503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'))
  if (answerDiscovery(req, res) || answerOpenApi(req, res)) return
  const url = new URL(req.url ?? '/', 'http://sim')
  let body: string
  try {
    body = bodyAsJson(req.headers['content-type'], await readBody(req))
  } catch (error) {
    return send(res, 415, statusBody(415, 'UnsupportedMediaType', (error as Error).message))
  }
  if (url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' && req.method === 'POST')
    return accessReview(req, res, body, ctx)
  if (url.pathname === '/apis/org.eclipse.che/v2/checlusters' && req.method === 'GET') {
    const attrs = { verb: 'list', group: 'org.eclipse.che', resource: 'checlusters' }
    const decision = ctx.rbac.authorize(requestUser(req), attrs)
    if (!decision.allowed) return forbid(req, res, attrs, decision.reason)
    return listCheClusters(res, ctx)
  }
  const route = matchRoute(url.pathname)
  if (!route) return send(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'))
  const attrs = requestAttributes(req.method ?? 'GET', url, route)
  const decision = ctx.rbac.authorize(requestUser(req), attrs)
  if (!decision.allowed) return forbid(req, res, attrs, decision.reason)
  // Roles and bindings: defaulting, escalation prevention and validation, on the object about to be stored.
  const admit = (object: KubeObject, existing?: KubeObject) =>
    ctx.rbac.admitWrite(requestUser(req), attrs, object, existing)
  const { store } = ctx
  if (route.allNamespaces && (route.name !== undefined || req.method !== 'GET'))
    return send(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'))
  if (route.name === undefined) {
    if (req.method === 'GET' && url.searchParams.get('watch') === 'true') return watch(req, res, route, url, ctx)
    if (req.method === 'GET') return send(res, 200, presenterFor(req)(listBody(route, store, url)))
    if (req.method === 'POST')
      return createObject(res, route, body, ctx, url.searchParams.get('fieldValidation'), admit)
    return send(res, 405, statusBody(405, 'MethodNotAllowed', `method ${req.method} not allowed`))
  }
  const existing = store.get(route.resource, route.namespace, route.name)
  if (!existing) return send(res, 404, notFound(route))
  if (req.method === 'GET') return send(res, 200, presenterFor(req)(existing))
  if (req.method === 'DELETE') return deleteObject(res, route, existing, store)
  if (req.method === 'PUT' || req.method === 'PATCH')
    return writeObject(req, res, route, existing, body, store, admit, url.searchParams.get('fieldValidation'))
  return send(res, 405, statusBody(405, 'MethodNotAllowed', `method ${req.method} not allowed`))
}

/** The RBAC verb of a request (apiserver pkg/endpoints/request/requestinfo.go NewRequestInfo). */
function requestAttributes(method: string, url: URL, route: Route): RequestAttributes {
  const named = route.name !== undefined
  const verb =
    method === 'GET'
      ? url.searchParams.get('watch') === 'true'
        ? 'watch'
        : named
          ? 'get'
          : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: named ? 'delete' : 'deletecollection' }[method] ??
        method.toLowerCase())
  return {
    verb,
    group: route.group,
    resource: route.resource,
    namespace: route.namespace,
    ...(route.subresource ? { subresource: route.subresource } : {}),
    ...(named ? { name: route.name } : {}),
  }
}

function forbid(req: IncomingMessage, res: ServerResponse, attrs: RequestAttributes, reason = ''): void {
  send(
    res,
    403,
    statusBody(403, 'Forbidden', forbiddenMessage(requestUser(req).name, attrs, reason), {
      ...(attrs.name ? { name: attrs.name } : {}),
      group: attrs.group,
      kind: attrs.resource,
    }),
  )
}

/** The served resource a path addresses; undefined (404) for anything the simulated cluster does not serve. */
function matchRoute(pathname: string): Route | undefined {
  const m = RESOURCE_PATH.exec(pathname)
  if (!m) return undefined
  const [, coreVersion, group = '', groupVersion, namespace, resource, name, subresource] = m
  const served = findServed(group, coreVersion ?? groupVersion ?? '', resource as string)
  if (!served) return undefined
  const r = served.resource
  if (namespace !== undefined && !r.namespaced) return undefined
  if (subresource && !r.subresources?.some((s) => s.name === subresource)) return undefined
  return {
    resource: r.name,
    namespace: namespace ?? '',
    ...(r.namespaced && namespace === undefined ? { allNamespaces: true } : {}),
    group,
    version: served.version,
    kind: r.kind,
    namespaced: r.namespaced,
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  }
}

/** A namespaced object's namespace; a cluster-scoped object has none. */
function scope(route: Route): { namespace?: string } {
  return route.namespaced ? { namespace: route.namespace } : {}
}

function listBody(route: Route, store: ObjectStore, url: URL): Record<string, unknown> {
  const items = store
    .list(route.resource, route.allNamespaces ? undefined : route.namespace)
    .filter((o) => matches(o, url))
  return {
    apiVersion: route.group ? `${route.group}/${route.version}` : route.version,
    kind: `${route.kind}List`,
    metadata: { resourceVersion: String(store.currentRevision) },
    items,
  }
}

function matches(object: KubeObject, url: URL): boolean {
  return (
    matchesLabelSelector(object.metadata.labels, url.searchParams.get('labelSelector')) &&
    matchesFieldSelector(object, url.searchParams.get('fieldSelector'))
  )
}

/** Chunked NDJSON watch: replay from a resourceVersion (or synthetic ADDED), then live; 410 when too old. */
function watch(req: IncomingMessage, res: ServerResponse, route: Route, url: URL, ctx: Context): void {
  const { store, faults } = ctx
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })
  res.flushHeaders()
  ctx.openWatches.add(res)
  let sent = 0
  const present = presenterFor(req)
  const emit = (type: string, object: unknown): void => {
    if (res.writableEnded) return
    res.write(`${JSON.stringify({ type, object: present(object as Record<string, unknown>) })}\n`)
    sent += 1
    if (faults.watchCloseAfterEvents !== undefined && sent >= faults.watchCloseAfterEvents) res.end()
  }
  const rvParam = url.searchParams.get('resourceVersion')
  const relevant = (resource: string, object: KubeObject): boolean =>
    resource === route.resource &&
    (route.allNamespaces || (object.metadata.namespace ?? '') === route.namespace) &&
    matches(object, url)
  if (!rvParam || rvParam === '0') {
    const listed = store.list(route.resource, route.allNamespaces ? undefined : route.namespace)
    for (const o of listed.filter((o) => matches(o, url))) emit('ADDED', o)
  } else {
    const rv = Number(rvParam)
    if (!Number.isFinite(rv) || !store.canResumeFrom(rv)) {
      emit('ERROR', statusBody(410, 'Expired', `too old resource version: ${rvParam} (${store.droppedThrough + 1})`))
      return void res.end()
    }
    for (const e of store.eventsSince(rv)) if (relevant(e.resource, e.object)) emit(e.type, e.object)
  }
  if (res.writableEnded) return void ctx.openWatches.delete(res)
  const unsubscribe = store.subscribe((e) => {
    if (!res.writableEnded && relevant(e.resource, e.object)) emit(e.type, e.object)
  })
  const end = (): void => {
    unsubscribe()
    ctx.openWatches.delete(res)
  }
  res.on('close', end)
  req.on('close', end)
}

function createObject(
  res: ServerResponse,
  route: Route,
  body: string,
  ctx: Context,
  fieldValidation: string | null,
  admit: Admission,
): void {
  if (route.resource === DW && ctx.faults.createServerErrors > 0) {
    ctx.faults.createServerErrors -= 1
    return send(res, 503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'))
  }
  if (route.resource === PODS || route.resource === EVENTS || route.resource === PVCS)
    return send(res, 405, statusBody(405, 'MethodNotAllowed', 'the simulator creates pods and events itself'))
  const object = parseJson(body) as KubeObject | undefined
  if (!object?.metadata) return send(res, 400, statusBody(400, 'BadRequest', 'the request body is not a valid object'))
  const causes = metadataCauses(object.metadata)
  if (causes.length > 0) return send(res, 422, invalidMetadata(route, object.metadata.name ?? '', causes))
  // A cluster-scoped create drops any namespace (apiserver pkg/registry/rest/create.go BeforeCreate).
  if (route.namespaced && object.metadata.namespace && object.metadata.namespace !== route.namespace) {
    return send(
      res,
      400,
      statusBody(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      ),
    )
  }
  // The status subresource: a create never sets status (PrepareForCreate drops it before validation).
  delete object.status
  applyGatewayDefaults(route.resource, object)
  const schema = route.resource === DW ? devWorkspaceSchema : rbacSchema(route.group, route.resource)
  if (schema) {
    const dropped = prune(object, schema)
    if (dropped.length > 0 && fieldValidation === 'Strict')
      return send(
        res,
        400,
        statusBody(
          400,
          'BadRequest',
          // apiserver pkg/endpoints/handlers/create.go, rest.go transformDecodeError over the strict decoding error.
          `${route.kind} in version "${route.version}" cannot be handled as a ${route.kind}: ${strictDecodingError(dropped)}`,
        ),
      )
    if (dropped.length > 0 && fieldValidation !== 'Ignore') {
      res.setHeader('Warning', unknownFieldWarning(dropped))
      ctx.pruned.push(...dropped.map((f) => `${object.metadata.name}: ${f}`))
    }
  }
  const refusal = admit(object)
  if (refusal) return send(res, refusal.code, refusal.body)
  if (route.resource === DW) {
    const problems = devWorkspaceProblems(object)
    if (problems.length > 0) return send(res, 422, invalid(route, object.metadata.name, problems))
    const denied = webhookProblems((object.spec as { template?: Record<string, unknown> } | undefined)?.template)
    if (denied.length > 0) return send(res, 403, webhookDenial(denied))
  }
  if (ctx.store.get(route.resource, route.namespace, object.metadata.name)) {
    return send(
      res,
      409,
      statusBody(409, 'AlreadyExists', `${route.resource}.${route.group} "${object.metadata.name}" already exists`, {
        name: object.metadata.name,
        group: route.group,
        kind: route.resource,
      }),
    )
  }
  const metadata = { ...object.metadata }
  delete metadata.namespace
  const fresh: KubeObject = { ...object, metadata: { ...metadata, ...scope(route) } }
  if (route.resource === DW) {
    // DWO's mutating webhook records who created the workspace.
    fresh.metadata.labels = { ...fresh.metadata.labels, 'controller.devfile.io/creator': SIM_USER.uid }
  }
  send(res, 201, ctx.store.create(route.resource, fresh))
}

function writeObject(
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  existing: KubeObject,
  body: string,
  store: ObjectStore,
  admit: Admission,
  fieldValidation: string | null,
): void {
  let next: KubeObject
  try {
    next =
      req.method === 'PUT'
        ? (parseJson(body) as KubeObject)
        : applyPatch(req.headers['content-type'] ?? '', existing, body, builtInGroup(route.group))
  } catch (error) {
    const code = (error as { code?: number }).code ?? 422
    return send(
      res,
      code,
      statusBody(code, code === 415 ? 'UnsupportedMediaType' : 'Invalid', (error as Error).message),
    )
  }
  if (!next?.metadata) return send(res, 400, statusBody(400, 'BadRequest', 'the request body is not a valid object'))
  if (
    req.method === 'PUT' &&
    next.metadata.resourceVersion &&
    next.metadata.resourceVersion !== existing.metadata.resourceVersion
  ) {
    return send(
      res,
      409,
      statusBody(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${route.resource}.${route.group} "${existing.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      ),
    )
  }
  // The status subresource: spec writes ignore status, status writes ignore everything else.
  const merged: KubeObject =
    route.subresource === 'status'
      ? { ...existing, status: next.status }
      : {
          ...next,
          metadata: {
            ...next.metadata,
            uid: existing.metadata.uid,
            creationTimestamp: existing.metadata.creationTimestamp,
            ...scope(route),
            name: existing.metadata.name,
          },
          ...(existing.status === undefined ? {} : { status: existing.status }),
        }
  if (route.subresource !== 'status') applyGatewayDefaults(route.resource, merged)
  const schema = route.resource === DW ? devWorkspaceSchema : rbacSchema(route.group, route.resource)
  if (schema && route.subresource !== 'status') {
    const patched = structuredClone(merged)
    const dropped = prune(merged, schema)
    if (dropped.length > 0 && fieldValidation === 'Strict')
      return send(res, ...strictRefusal(req, route, patched, body, dropped))
    if (dropped.length > 0 && fieldValidation !== 'Ignore') res.setHeader('Warning', unknownFieldWarning(dropped))
  }
  const refusal = admit(merged, existing)
  if (refusal) return send(res, refusal.code, refusal.body)
  const causes = metadataCauses(merged.metadata)
  if (causes.length > 0) return send(res, 422, invalidMetadata(route, existing.metadata.name, causes))
  if (route.resource === DW && route.subresource !== 'status') {
    const problems = devWorkspaceProblems(merged)
    if (problems.length > 0) return send(res, 422, invalid(route, existing.metadata.name, problems))
    const denied = webhookProblems((merged.spec as { template?: Record<string, unknown> } | undefined)?.template)
    if (denied.length > 0) return send(res, 403, webhookDenial(denied))
  }
  const specChanged = JSON.stringify(merged.spec) !== JSON.stringify(existing.spec)
  const stored = store.update(route.resource, merged, specChanged)
  if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length)
    store.remove(route.resource, route.namespace, stored.metadata.name)
  send(res, 200, stored)
}

/** apimachinery pkg/runtime/error.go strictDecodingError.Error, over unknown-field errors. */
function strictDecodingError(dropped: string[]): string {
  return `strict decoding error: ${dropped.map((f) => `unknown field "${f}"`).join(', ')}`
}

/** The apiserver's warning for pruned fields (fieldValidation=Warn): `299 - "unknown field \"spec.x\""`. */
function unknownFieldWarning(dropped: string[]): string {
  return dropped.map((f) => `299 - "unknown field \\"${f}\\""`).join(', ')
}

/**
 * The patch types the apiserver takes (apiserver pkg/endpoints/handlers/patch.go PatchResource): strategic merge patch
 * only for Kubernetes' own kinds, never for a custom resource (415); server-side apply is not simulated (415 too).
 */
function applyPatch(contentType: string, existing: KubeObject, body: string, builtIn: boolean): KubeObject {
  const type = contentType.split(';')[0]?.trim()
  const patch = parseJson(body)
  if (type === 'application/merge-patch+json') return mergePatch(existing, patch) as KubeObject
  if (type === 'application/json-patch+json') return jsonPatch(existing, patch) as KubeObject
  if (type === 'application/strategic-merge-patch+json' && builtIn)
    return strategicMergePatch(existing, patch) as KubeObject
  const strategic = builtIn ? ', application/strategic-merge-patch+json' : ''
  throw Object.assign(
    new Error(
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${strategic}`,
    ),
    { code: 415 },
  )
}

/**
 * A write under `fieldValidation=Strict` that names fields the kind does not have. A PUT is decoded as a create is
 * (apiserver pkg/endpoints/handlers/update.go, rest.go transformDecodeError): 400 BadRequest. A PATCH fails after the
 * patch is applied (patch.go jsonPatcher.applyPatchToCurrentObject, applyPatchToObject for a strategic merge patch):
 * 422 Invalid for field `patch`, whose value is the patched object's JSON, or the patch as Go prints a map (`%+v`).
 */
function strictRefusal(
  req: IncomingMessage,
  route: Route,
  patched: KubeObject,
  body: string,
  dropped: string[],
): [number, Record<string, unknown>] {
  const error = strictDecodingError(dropped)
  if (req.method === 'PUT')
    return [
      400,
      statusBody(
        400,
        'BadRequest',
        `${route.kind} in version "${route.version}" cannot be handled as a ${route.kind}: ${error}`,
      ),
    ]
  const strategic = (req.headers['content-type'] ?? '').startsWith('application/strategic-merge-patch+json')
  const value = strategic ? goFormat(parseJson(body)) : JSON.stringify(sortedKeys(patched))
  const cause = `Invalid value: ${JSON.stringify(value)}: ${error}`
  return [
    422,
    statusBody(422, 'Invalid', ` "" is invalid: patch: ${cause}`, {
      causes: [{ reason: 'FieldValueInvalid', message: cause, field: 'patch' }],
    }),
  ]
}

/** A value as Go's fmt prints what encoding/json decoded (`map[k:v]`, `[a b]`, `<nil>`), map keys sorted. */
function goFormat(value: unknown): string {
  if (value === null || value === undefined) return '<nil>'
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`
  if (typeof value === 'object')
    return `map[${Object.keys(value)
      .sort()
      .map((k) => `${k}:${goFormat((value as Record<string, unknown>)[k])}`)
      .join(' ')}]`
  return String(value)
}

/** JSON with every map's keys sorted, as Go's encoding/json writes a map (evanphx/json-patch MergePatch's output). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  )
}

function deleteObject(res: ServerResponse, route: Route, existing: KubeObject, store: ObjectStore): void {
  if (existing.metadata.finalizers?.length) {
    if (existing.metadata.deletionTimestamp) return send(res, 200, existing)
    const marked = store.update(route.resource, {
      ...existing,
      metadata: { ...existing.metadata, deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
    })
    return send(res, 200, marked)
  }
  send(res, 200, store.remove(route.resource, route.namespace, existing.metadata.name))
}

/**
 * Che's gateway in front of mainUrl, `/gateway/<namespace>/<workspace>/<port>/…`: oauth2-proxy before traefik, as
 * che-operator configures it (pkg/deploy/gateway/oauth_proxy.go kubernetesOauthProxyConfig). With no session it
 * never proxies: a JSON request (`Accept: application/json`, oauth2-proxy pkg/requests IsAjax / api_routes) gets
 * 401, any other a 302 to the identity provider (`skip_provider_button = true` starts the OAuth flow at once). A
 * bearer token is a session only with `skip_jwt_bearer_tokens = true`, which che-operator never writes.
 */
function proxyEditor(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, ctx: Context): void {
  const bearer = req.headers.authorization === `Bearer ${ctx.token}`
  if (!(ctx.gatewayTakesBearer && bearer)) {
    if ((req.headers.accept ?? '').includes('application/json')) {
      res.writeHead(401, { 'Content-Type': 'application/json' })
      return void res.end('{}')
    }
    const issuer = ctx.oidcIssuer || 'https://idp.sim.invalid'
    const query = new URLSearchParams({
      client_id: 'che-public',
      redirect_uri: 'https://che.sim.invalid/oauth/callback',
      response_type: 'code',
      scope: 'openid email profile',
      state: `sim:${req.url ?? '/'}`,
    })
    res.writeHead(302, { Location: `${issuer}/auth?${query}` })
    return void res.end()
  }
  proxyToIde(req, res, m, ctx)
}

/** Proxies to the workspace's IDE while it runs; for `basic` routing this is the whole route (no authentication). */
function proxyToIde(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, ctx: Context): void {
  const [, namespace, name, , rest] = m as unknown as [string, string, string, string, string]
  const text = (code: number, body: string): void => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(body)
  }
  const dw = ctx.store.get(DW, namespace, name) as { status?: { phase?: string } } | undefined
  if (!dw) return text(404, '404 page not found')
  if (ctx.faults.gatewayStatus !== undefined) return text(ctx.faults.gatewayStatus, 'Bad Gateway')
  if (dw.status?.phase !== 'Running') return text(503, 'Service Unavailable: the workspace is not running')
  const upstream = httpRequest(`${ctx.image.ideUrl}/${rest}`, { method: req.method }, (up) => {
    res.writeHead(up.statusCode ?? 502, { 'Content-Type': up.headers['content-type'] ?? 'text/plain' })
    up.pipe(res)
  })
  upstream.on('error', () => text(502, 'Bad Gateway'))
  req.pipe(upstream)
}

/** Cluster-wide CheCluster list (che-operator api/v2/checluster_types.go); empty on a cluster without Che. */
function listCheClusters(res: ServerResponse, ctx: Context): void {
  const che = ctx.cluster.che
  const items = che
    ? [
        {
          apiVersion: 'org.eclipse.che/v2',
          kind: 'CheCluster',
          metadata: { name: che.name, namespace: che.namespace },
          spec: {
            devEnvironments: {
              startTimeoutSeconds: che.startTimeoutSeconds,
              persistUserHome: { enabled: che.persistUserHome },
            },
            networking: { auth: { identityProviderURL: ctx.oidcIssuer } },
          },
          status: { chePhase: 'Active', cheURL: 'https://che.sim.invalid' },
        },
      ]
    : []
  send(res, 200, {
    apiVersion: 'org.eclipse.che/v2',
    kind: 'CheClusterList',
    metadata: { resourceVersion: '1' },
    items,
  })
}

function editorTemplate(namespace: string, name: string, port: number): KubeObject {
  return {
    apiVersion: 'workspace.devfile.io/v1alpha2',
    kind: 'DevWorkspaceTemplate',
    metadata: { name, namespace },
    spec: {
      components: [
        {
          name: 'che-code-runtime-description',
          attributes: { 'controller.devfile.io/container-contribution': true },
          container: {
            image: 'quay.io/che-incubator/che-code:latest',
            endpoints: [
              {
                name: 'che-code',
                targetPort: port,
                exposure: 'public',
                secure: true,
                protocol: 'https',
                attributes: { type: 'main', cookiesAuthEnabled: true, discoverable: false, urlRewriteSupported: true },
              },
            ],
          },
        },
      ],
    },
  }
}

const GATEWAY_PATH = /^\/gateway\/([^/]+)\/([^/]+)\/(\d+)\/(.*)$/
const BASIC_PATH = /^\/basic\/([^/]+)\/([^/]+)\/(\d+)\/(.*)$/

/**
 * kubernetes pkg/registry/authorization/selfsubjectaccessreview/rest.go Create: the requesting user, asked with every
 * resource attribute of the review (namespace and name included) through the same authorizer as real requests.
 */
function accessReview(req: IncomingMessage, res: ServerResponse, body: string, ctx: Context): void {
  const review = parseJson(body) as
    | {
        spec?: {
          resourceAttributes?: {
            verb?: string
            group?: string
            resource?: string
            subresource?: string
            namespace?: string
            name?: string
          }
        }
      }
    | undefined
  const attrs = review?.spec?.resourceAttributes ?? {}
  const { allowed, reason } = ctx.rbac.authorize(requestUser(req), {
    verb: attrs.verb ?? '',
    group: attrs.group ?? '',
    resource: attrs.resource ?? '',
    ...(attrs.subresource ? { subresource: attrs.subresource } : {}),
    namespace: attrs.namespace ?? '',
    name: attrs.name ?? '',
  })
  send(res, 201, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    metadata: {},
    spec: review?.spec ?? {},
    status: { allowed, ...(reason ? { reason } : {}) },
  })
}

function notFound(route: Route): Record<string, unknown> {
  const qualified = route.group ? `${route.resource}.${route.group}` : route.resource
  return statusBody(404, 'NotFound', `${qualified} "${route.name}" not found`, {
    name: route.name,
    group: route.group,
    kind: route.resource,
  })
}

/** A metadata 422 as the apiserver writes it (apimachinery/pkg/api/errors NewInvalid, field.ErrorList). */
function invalidMetadata(
  route: Route,
  name: string,
  causes: { reason: string; message: string; field: string }[],
): Record<string, unknown> {
  const kind = route.resource === DW ? 'DevWorkspace' : route.resource === DWT ? 'DevWorkspaceTemplate' : route.resource
  const qualified = route.group ? `${kind}.${route.group}` : kind
  const list = causes.map((c) => `${c.field}: ${c.message}`)
  return statusBody(
    422,
    'Invalid',
    `${qualified} "${name}" is invalid: ${list.length > 1 ? `[${list.join(', ')}]` : list[0]}`,
    { name, group: route.group, kind, causes },
  )
}

/** A validating webhook's denial (apiserver admission/plugin/webhook/errors ToStatusErr): 403 with its message. */
function webhookDenial(problems: string[]): Record<string, unknown> {
  return statusBody(
    403,
    'Forbidden',
    `admission webhook "${WEBHOOK_NAME}" denied the request: \n${problems.join('\n')}\n`,
  )
}

function invalid(route: Route, name: string, problems: string[]): Record<string, unknown> {
  const kind = route.resource === DW ? 'DevWorkspace' : route.resource
  return statusBody(422, 'Invalid', `${kind}.${route.group} "${name}" is invalid: ${problems.join(', ')}`, {
    name,
    group: route.group,
    kind,
    causes: problems.map((p) => ({ reason: 'FieldValueInvalid', message: p })),
  })
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

export { DWT }
