import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { devWorkspaceProblems } from '../../../src/shared/providers/che/schema.js'
import { answerBeforeHandlers, refuseUpgrade, type UserInfo } from './auth.js'
import { DevWorkspaceController, DW, DWT, EVENTS, PODS, PVCS } from './controller.js'
import { imagePath, startWorkspaceImage, type WorkspaceImage } from '../workspace-image.js'
import { answerDiscovery } from './discovery.js'
import { ExecServer } from './exec.js'
import { type KubeFaults, noFaults, statusBody } from './faults.js'
import { jsonPatch, mergePatch } from './patch.js'
import { bodyAsJson } from './protobuf.js'
import { runCertificateAuthority } from './pki.js'
import { type KubeObject, matchesFieldSelector, matchesLabelSelector, ObjectStore } from './store.js'
import { presenterFor } from './table.js'
import { kubeconfigFor } from './kubeconfig.js'
import { WorkspaceFolders } from './workspace-fs.js'

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
  readonly store: ObjectStore
  readonly folders: WorkspaceFolders
  /** The workspace image: its tools and the editor (che-code) every workspace serves. */
  readonly image: WorkspaceImage
  /** Creates a che-code-like editor DevWorkspaceTemplate whose main endpoint is the image's IDE. */
  addEditor(namespace: string, name: string): void
  /** Names of the DevWorkspaces in a namespace. */
  devWorkspaces(namespace: string): string[]
  /** Every request the server received, as `METHOD path`. */
  readonly requests: string[]
  close(): Promise<void>
}

interface Route {
  readonly resource: string
  readonly namespace: string
  readonly name?: string
  readonly subresource?: string
  readonly group: string
}

const ROUTES: { pattern: RegExp; resource: (m: RegExpExecArray) => string; group: string }[] = [
  {
    pattern:
      /^\/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/([^/]+)\/(devworkspaces|devworkspacetemplates)(?:\/([^/]+))?(?:\/(status))?$/,
    resource: (m) => m[2] as string,
    group: 'workspace.devfile.io',
  },
  {
    pattern: /^\/api\/v1\/namespaces\/([^/]+)\/(pods|events|persistentvolumeclaims)(?:\/([^/]+))?()$/,
    resource: (m) => m[2] as string,
    group: '',
  },
]

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
  const ca = runCertificateAuthority()
  const serving = ca.serving('kube-apiserver')
  const tokens = new Map<string, UserInfo>([[token, { ...SIM_USER, groups: SIM_USER_GROUPS }]])
  // The apiserver asks for a client certificate but does not require one (--client-ca-file).
  const tls = { cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false }
  const context: Context = { store, faults, token, openWatches, image, oidcIssuer: options.oidcIssuer ?? '' }
  const server: Server = createHttpsServer(tls, (req, res) => {
    requests.push(`${req.method} ${req.url}`)
    if (answerBeforeHandlers(req, res, tokens)) return
    handle(req, res, context).catch((error: unknown) => send(res, 500, statusBody(500, 'InternalError', String(error))))
  })
  server.on('upgrade', (req, socket, head) => {
    requests.push(`UPGRADE ${req.url}`)
    const refusal = refuseUpgrade(req, tokens)
    if (refusal) return void socket.end(refusal)
    exec.upgrade(req, socket, head)
  })
  // The Che gateway is another host on a real cluster; here it is plain http on its own port.
  const gateway: Server = createServer((req, res) => {
    const match = GATEWAY_PATH.exec(req.url ?? '')
    if (!match) return send(res, 404, statusBody(404, 'NotFound', '404 page not found'))
    proxyEditor(req, res, match, context)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/gateway`
  const controller = new DevWorkspaceController(store, folders, faults, options.stepDelayMs ?? 10, gatewayUrl)
  return {
    url,
    token,
    kubeconfig: kubeconfigFor(url, ca.cert, { token }),
    caCert: ca.cert,
    clientCertKubeconfig: (user, groups) => kubeconfigFor(url, ca.cert, { certificate: ca.client(user, groups) }),
    faults,
    store,
    folders,
    image,
    addEditor: (namespace, name) => void store.create(DWT, editorTemplate(namespace, name, image.idePort)),
    requests,
    devWorkspaces: (namespace) => store.list(DW, namespace).map((o) => o.metadata.name),
    close: async () => {
      controller.stop()
      exec.close()
      await image.close()
      for (const res of openWatches) res.destroy()
      server.closeAllConnections()
      gateway.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => gateway.close(() => resolve()))
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
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  if (ctx.faults.unavailable)
    return send(res, 503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'))
  if (answerDiscovery(req, res)) return
  const url = new URL(req.url ?? '/', 'http://sim')
  let body: string
  try {
    body = bodyAsJson(req.headers['content-type'], await readBody(req))
  } catch (error) {
    return send(res, 415, statusBody(415, 'UnsupportedMediaType', (error as Error).message))
  }
  if (url.pathname === '/apis/org.eclipse.che/v2/checlusters' && req.method === 'GET') return listCheClusters(res, ctx)
  if (url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' && req.method === 'POST')
    return accessReview(res, body, ctx)
  const route = matchRoute(url.pathname)
  if (!route) return send(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'))
  const { store } = ctx
  if (route.name === undefined) {
    if (req.method === 'GET' && url.searchParams.get('watch') === 'true') return watch(req, res, route, url, ctx)
    if (req.method === 'GET') return send(res, 200, presenterFor(req)(listBody(route, store, url)))
    if (req.method === 'POST') return createObject(res, route, body, ctx)
    return send(res, 405, statusBody(405, 'MethodNotAllowed', `method ${req.method} not allowed`))
  }
  const existing = store.get(route.resource, route.namespace, route.name)
  if (!existing) return send(res, 404, notFound(route))
  if (req.method === 'GET') return send(res, 200, presenterFor(req)(existing))
  if (req.method === 'DELETE') return deleteObject(res, route, existing, store)
  if (req.method === 'PUT' || req.method === 'PATCH') return writeObject(req, res, route, existing, body, store)
  return send(res, 405, statusBody(405, 'MethodNotAllowed', `method ${req.method} not allowed`))
}

function matchRoute(pathname: string): Route | undefined {
  for (const r of ROUTES) {
    const m = r.pattern.exec(pathname)
    if (m)
      return {
        resource: r.resource(m),
        namespace: m[1] as string,
        group: r.group,
        ...(m[3] ? { name: m[3] } : {}),
        ...(m[4] ? { subresource: m[4] } : {}),
      }
  }
  return undefined
}

function listBody(route: Route, store: ObjectStore, url: URL): Record<string, unknown> {
  const items = store.list(route.resource, route.namespace).filter((o) => matches(o, url))
  const kind = {
    devworkspaces: 'DevWorkspaceList',
    devworkspacetemplates: 'DevWorkspaceTemplateList',
    pods: 'PodList',
    events: 'EventList',
    persistentvolumeclaims: 'PersistentVolumeClaimList',
  }[route.resource]
  return {
    apiVersion: route.group ? `${route.group}/v1alpha2` : 'v1',
    kind,
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
    resource === route.resource && object.metadata.namespace === route.namespace && matches(object, url)
  if (!rvParam || rvParam === '0') {
    for (const o of store.list(route.resource, route.namespace).filter((o) => matches(o, url))) emit('ADDED', o)
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

function createObject(res: ServerResponse, route: Route, body: string, ctx: Context): void {
  if (route.resource === DW && ctx.faults.createServerErrors > 0) {
    ctx.faults.createServerErrors -= 1
    return send(res, 503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'))
  }
  if (route.resource === PODS || route.resource === EVENTS || route.resource === PVCS)
    return send(res, 405, statusBody(405, 'MethodNotAllowed', 'the simulator creates pods and events itself'))
  const object = parseJson(body) as KubeObject | undefined
  if (!object?.metadata?.name)
    return send(
      res,
      422,
      invalid(route, object?.metadata?.name ?? '', ['metadata.name: Required value: name or generateName is required']),
    )
  if (object.metadata.namespace && object.metadata.namespace !== route.namespace) {
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
  if (route.resource === DW) {
    const problems = devWorkspaceProblems(object)
    if (problems.length > 0) return send(res, 422, invalid(route, object.metadata.name, problems))
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
  const fresh: KubeObject = { ...object, metadata: { ...object.metadata, namespace: route.namespace } }
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
): void {
  let next: KubeObject
  try {
    next =
      req.method === 'PUT'
        ? (parseJson(body) as KubeObject)
        : applyPatch(req.headers['content-type'] ?? '', existing, body)
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
            namespace: route.namespace,
            name: existing.metadata.name,
          },
          ...(existing.status === undefined ? {} : { status: existing.status }),
        }
  if (route.resource === DW && route.subresource !== 'status') {
    const problems = devWorkspaceProblems(merged)
    if (problems.length > 0) return send(res, 422, invalid(route, existing.metadata.name, problems))
  }
  const specChanged = JSON.stringify(merged.spec) !== JSON.stringify(existing.spec)
  const stored = store.update(route.resource, merged, specChanged)
  if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length)
    store.remove(route.resource, route.namespace, stored.metadata.name)
  send(res, 200, stored)
}

function applyPatch(contentType: string, existing: KubeObject, body: string): KubeObject {
  const type = contentType.split(';')[0]?.trim()
  const patch = parseJson(body)
  if (type === 'application/merge-patch+json') return mergePatch(existing, patch) as KubeObject
  if (type === 'application/json-patch+json') return jsonPatch(existing, patch) as KubeObject
  throw Object.assign(
    new Error(
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
    ),
    { code: 415 },
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
 * The Che gateway in front of mainUrl, `/gateway/<namespace>/<workspace>/<port>/…`:
 * its oauth proxy takes a bearer token; it proxies to the editor while the workspace runs.
 */
function proxyEditor(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, ctx: Context): void {
  const [, namespace, name, , rest] = m as unknown as [string, string, string, string, string]
  const text = (code: number, body: string): void => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(body)
  }
  if (req.headers.authorization !== `Bearer ${ctx.token}`) {
    res.writeHead(302, { Location: `/oauth/sign_in?rd=${encodeURIComponent(req.url ?? '/')}` })
    return void res.end()
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

/** Cluster-wide CheCluster list; `list checlusters` in faults.denied makes it 403, as for a non-admin. */
function listCheClusters(res: ServerResponse, ctx: Context): void {
  if (ctx.faults.denied.includes('list checlusters')) {
    return send(
      res,
      403,
      statusBody(
        403,
        'Forbidden',
        `checlusters.org.eclipse.che is forbidden: User "${SIM_USER.name}" cannot list resource "checlusters" in API group "org.eclipse.che" at the cluster scope`,
        { group: 'org.eclipse.che', kind: 'checlusters' },
      ),
    )
  }
  const cluster = {
    apiVersion: 'org.eclipse.che/v2',
    kind: 'CheCluster',
    metadata: { name: 'eclipse-che', namespace: 'eclipse-che' },
    spec: { networking: { auth: { identityProviderURL: ctx.oidcIssuer } } },
    status: { chePhase: 'Active', cheURL: 'https://che.sim.invalid' },
  }
  send(res, 200, {
    apiVersion: 'org.eclipse.che/v2',
    kind: 'CheClusterList',
    metadata: { resourceVersion: '1' },
    items: [cluster],
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

function accessReview(res: ServerResponse, body: string, ctx: Context): void {
  const review = parseJson(body) as
    { spec?: { resourceAttributes?: { verb?: string; resource?: string; subresource?: string } } } | undefined
  const attrs = review?.spec?.resourceAttributes ?? {}
  const key = `${attrs.verb} ${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ''}`
  const allowed = !ctx.faults.denied.includes(key)
  send(res, 201, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    metadata: {},
    spec: review?.spec ?? {},
    status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by sim' } : {}) },
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
