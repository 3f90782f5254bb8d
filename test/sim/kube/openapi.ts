import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import devWorkspaceSchema from '../../../src/shared/providers/che/schemas/dev-workspace.json' with { type: 'json' }
import { type GroupVersion, type Resource, SERVED } from './discovery.js'
import { rbacSchema } from './rbac-schema.js'

/**
 * OpenAPI v3 as the apiserver publishes it, built from what the simulator serves (`SERVED`) and the schemas it already
 * holds (README "OpenAPI v3"). kubectl (1.27+, k8s.io/kubectl pkg/cmd/util/factory_client_access.go Validator) reads
 * it before `apply`/`create` with the default `--validate=strict`: when the PATCH operation of the object's kind takes
 * a `fieldValidation` query parameter (k8s.io/cli-runtime pkg/resource/query_param_verifier_v3.go
 * supportsQueryParamV3), it validates nothing itself and sends `fieldValidation=Strict`, so the apiserver's strict
 * decoding answers; otherwise it falls back to OpenAPI v2 and client-side validation.
 */

type Schema = Record<string, unknown>

/** The groups of Kubernetes' own types (k8s.io/api); every other served group is a CRD's. */
const BUILT_IN = new Set([
  '',
  'rbac.authorization.k8s.io',
  'discovery.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
])
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1'

/** Whether a group is Kubernetes' own (k8s.io/api), not a CRD's: only those take strategic merge patches. */
export function builtInGroup(group: string): boolean {
  return BUILT_IN.has(group)
}
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
/** A reference with a description next to it, as OpenAPI 3.0 allows it: wrapped in allOf (kube-openapi builder3). */
const refWith = (name: string, description: string): Schema => ({ allOf: [ref(name)], description })

/** The key of a group version in `/openapi/v3` (client-go openapi3/root.go gvToAPIPath). */
function gvKey(g: GroupVersion): string {
  return g.group ? `apis/${g.group}/${g.version}` : `api/${g.version}`
}

/**
 * The component name of a kind: `io.k8s.api.<package>.<version>.<Kind>` for Kubernetes' own types (kube-openapi's
 * definition namer over the k8s.io/api Go packages), the reversed group for a CRD (apiextensions-apiserver
 * pkg/controller/openapi/builder/builder.go gvkToModelName).
 */
function modelName(group: string, version: string, kind: string): string {
  if (BUILT_IN.has(group)) return `io.k8s.api.${group ? (group.split('.')[0] as string) : 'core'}.${version}.${kind}`
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`
}

const typeMeta = {
  apiVersion: {
    type: 'string',
    description: 'APIVersion defines the versioned schema of this representation of an object.',
  },
  kind: {
    type: 'string',
    description: 'Kind is a string value representing the REST resource this object represents.',
  },
}

/** Drops what a CRD's published schema never carries: JSON-schema titles and `additionalProperties: false`. */
function asPublished(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(asPublished)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Schema = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'title' || (key === 'additionalProperties' && value === false)) continue
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, asPublished(v)]))
        : asPublished(value)
  }
  return out
}

const dw = devWorkspaceSchema as unknown as {
  properties: Record<string, Schema & { properties?: Record<string, Schema> }>
}

/**
 * ObjectMeta, from the DevWorkspace schema (devfile/api generates it from k8s.io/apimachinery meta/v1 ObjectMeta), with
 * the patch strategies of its Go struct tags (k8s.io/apimachinery pkg/apis/meta/v1 types.go: finalizers
 * `patchStrategy:"merge"`, ownerReferences `patchStrategy:"merge" patchMergeKey:"uid"`), which kubectl's strategic
 * merge patch reads (k8s.io/apimachinery pkg/util/strategicpatch meta.go PatchMetaFromOpenAPIV3).
 */
function objectMeta(): Schema {
  const meta = structuredClone(asPublished(dw.properties.metadata)) as Schema & { properties: Record<string, Schema> }
  meta.properties.finalizers = { ...meta.properties.finalizers, 'x-kubernetes-patch-strategy': 'merge' }
  meta.properties.ownerReferences = {
    ...meta.properties.ownerReferences,
    'x-kubernetes-patch-merge-key': 'uid',
    'x-kubernetes-patch-strategy': 'merge',
  }
  return meta
}

/** The schema of a kind, and whether it is complete (every field the real type has) or reduced. */
function kindSchema(g: GroupVersion, r: Resource): { schema: Schema; complete: boolean } {
  const metadata = refWith(`${META}.ObjectMeta`, "Standard object's metadata.")
  const rbac = rbacSchema(g.group, r.name) as (Schema & { properties: Schema }) | undefined
  if (rbac) return { schema: { ...rbac, properties: { ...rbac.properties, ...typeMeta, metadata } }, complete: true }
  if (r.kind === 'DevWorkspace') {
    const published = asPublished(dw) as Schema & { properties: Schema }
    return { schema: { ...published, properties: { ...published.properties, ...typeMeta, metadata } }, complete: true }
  }
  if (r.kind === 'DevWorkspaceTemplate') {
    // devfile/api devworkspacetemplate_types.go: the spec is a DevWorkspace's spec.template.
    const spec = asPublished(dw.properties.spec?.properties?.template) as Schema
    const description = 'DevWorkspaceTemplate is the Schema for the devworkspacetemplates API'
    return { schema: { description, type: 'object', properties: { ...typeMeta, metadata, spec } }, complete: true }
  }
  // What the simulator does not model field by field: spec and status (the top-level fields of an Event or an
  // EndpointSlice, which have neither) are kept as sent, and only named here.
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }
  const parts = NO_SPEC.has(r.kind)
    ? {}
    : { spec: { ...open, description: 'Not described by the simulator.' }, status: open }
  return {
    schema: {
      description: `${r.kind}, reduced by the simulator: fields past apiVersion, kind and metadata are not described.`,
      type: 'object',
      properties: { ...typeMeta, metadata, ...parts },
      'x-kubernetes-preserve-unknown-fields': true,
    },
    complete: false,
  }
}

/** Kinds whose fields sit at the top level (k8s.io/api core/v1 Event, discovery/v1 EndpointSlice). */
const NO_SPEC = new Set(['Event', 'EndpointSlice'])

const gvkOf = (group: string, version: string, kind: string): Schema => ({ group, kind, version })

/** The components of one group version: its kinds, their lists, and the meta/v1 types they refer to. */
function components(g: GroupVersion): { schemas: Record<string, Schema>; complete: Set<string> } {
  const schemas: Record<string, Schema> = {
    [`${META}.ObjectMeta`]: objectMeta(),
    [`${META}.ListMeta`]: {
      description: 'ListMeta describes metadata that synthetic resources must have, including lists.',
      type: 'object',
      properties: {
        continue: { type: 'string' },
        remainingItemCount: { type: 'integer', format: 'int64' },
        resourceVersion: { type: 'string' },
        selfLink: { type: 'string' },
      },
    },
    [`${META}.Patch`]: {
      description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
      type: 'object',
    },
    [`${META}.Status`]: {
      description: "Status is a return value for calls that don't return other objects.",
      type: 'object',
      properties: {
        ...typeMeta,
        code: { type: 'integer', format: 'int32' },
        details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        message: { type: 'string' },
        metadata: refWith(`${META}.ListMeta`, 'Standard list metadata.'),
        reason: { type: 'string' },
        status: { type: 'string' },
      },
      'x-kubernetes-group-version-kind': [gvkOf('', 'v1', 'Status')],
    },
  }
  const complete = new Set<string>()
  for (const r of g.resources) {
    const name = modelName(g.group, g.version, r.kind)
    const { schema, complete: whole } = kindSchema(g, r)
    if (whole) complete.add(r.kind)
    schemas[name] = { ...schema, 'x-kubernetes-group-version-kind': [gvkOf(g.group, g.version, r.kind)] }
    if (!r.verbs.includes('list')) continue
    schemas[`${name}List`] = {
      description: `${r.kind}List is a list of ${r.kind}`,
      type: 'object',
      required: ['items'],
      properties: {
        ...typeMeta,
        items: { type: 'array', items: ref(name) },
        metadata: refWith(`${META}.ListMeta`, 'Standard list metadata.'),
      },
      'x-kubernetes-group-version-kind': [gvkOf(g.group, g.version, `${r.kind}List`)],
    }
  }
  return { schemas, complete }
}

/** A query parameter as the v3 document inlines it (kube-openapi builder3; the v2 document refers to #/parameters). */
const query = (name: string, description: string): Schema => ({
  name,
  in: 'query',
  description,
  schema: { type: 'string', uniqueItems: true },
})
const PRETTY = query('pretty', "If 'true', then the output is pretty printed.")
const FIELD_MANAGER = query(
  'fieldManager',
  'fieldManager is a name associated with the actor or entity that is making these changes.',
)
/** What makes kubectl leave validation to the server (cli-runtime query_param_verifier_v3.go supportsQueryParamV3). */
const FIELD_VALIDATION = query(
  'fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore (drop them silently), Warn (drop them with a Warning header; the default), Strict (fail the request with a BadRequest error).',
)
const LIST_PARAMS = [
  query('fieldSelector', 'A selector to restrict the list of returned objects by their fields.'),
  query('labelSelector', 'A selector to restrict the list of returned objects by their labels.'),
  query('resourceVersion', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  {
    ...query(
      'watch',
      'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
    ),
    schema: { type: 'boolean', uniqueItems: true },
  },
]
const pathParam = (name: string, description: string): Schema => ({
  name,
  in: 'path',
  description,
  required: true,
  schema: { type: 'string', uniqueItems: true },
})

/**
 * The paths of one resource, as the apiserver's installer (k8s.io/apiserver pkg/endpoints/installer.go registerResourceHandlers)
 * and the CRD builder (builder.go buildRoute) lay them out: the collection (list, create, deletecollection), all
 * namespaces (list), the object (read, replace, patch, delete) and its status subresource. Only the verbs the
 * simulator serves, and only the patch types it accepts.
 */
function resourcePaths(g: GroupVersion, r: Resource, complete: boolean): Record<string, Schema> {
  const builtIn = BUILT_IN.has(g.group)
  const base = g.group ? `/apis/${g.group}/${g.version}` : `/api/${g.version}`
  const collection = r.namespaced ? `${base}/namespaces/{namespace}/${r.name}` : `${base}/${r.name}`
  const model = modelName(g.group, g.version, r.kind)
  const groupId = camel(g.group ? g.group.replace(/\.k8s\.io$/, '') : 'core')
  const tag = `${groupId}_${g.version}`
  const idFor = (verb: string, suffix = '') =>
    `${verb}${upper(groupId)}${upper(g.version)}${r.namespaced ? 'Namespaced' : ''}${r.kind}${suffix}`
  const json = (schema: Schema) => ({ 'application/json': { schema } })
  const responses = (codes: Record<string, string>, schema: Schema): Schema => ({
    ...Object.fromEntries(
      Object.entries(codes).map(([code, description]) => [code, { description, content: json(schema) }]),
    ),
    '401': { description: 'Unauthorized' },
  })
  const op = (action: string, operationId: string, description: string, extra: Schema): Schema => ({
    tags: [tag],
    description,
    operationId,
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvkOf(g.group, g.version, r.kind),
  })
  const body = { content: builtIn ? { '*/*': { schema: ref(model) } } : json(ref(model)) }
  // Strategic merge patch is listed for Kubernetes' own kinds whose schema here is complete (the patch strategies
  // kubectl reads from it are then the real ones); for a reduced one kubectl computes the same patch from its
  // compiled-in types (k8s.io/kubectl pkg/cmd/apply/patcher.go patchSimple).
  const patchTypes = [
    'application/json-patch+json',
    'application/merge-patch+json',
    ...(builtIn && complete ? ['application/strategic-merge-patch+json'] : []),
  ]
  const patchBody = {
    content: Object.fromEntries(patchTypes.map((t) => [t, { schema: ref(`${META}.Patch`) }])),
  }
  const has = (verb: string) => r.verbs.includes(verb)
  const listed = builtIn ? 'list or watch objects of kind' : 'list objects of kind'
  const paths: Record<string, Schema> = {}
  const scope = r.namespaced
    ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')]
    : []
  const collectionOps: Schema = {}
  if (has('list'))
    collectionOps.get = op('list', idFor('list'), `${listed} ${r.kind}`, {
      parameters: LIST_PARAMS,
      responses: responses({ '200': 'OK' }, ref(`${model}List`)),
    })
  if (has('create'))
    collectionOps.post = op('post', idFor('create'), `create ${article(r.kind)} ${r.kind}`, {
      parameters: [FIELD_MANAGER, FIELD_VALIDATION],
      requestBody: body,
      responses: responses({ '200': 'OK', '201': 'Created', '202': 'Accepted' }, ref(model)),
    })
  if (has('deletecollection'))
    collectionOps.delete = op('deletecollection', idFor('deleteCollection'), `delete collection of ${r.kind}`, {
      parameters: LIST_PARAMS.slice(0, 3),
      responses: responses({ '200': 'OK' }, ref(`${META}.Status`)),
    })
  if (Object.keys(collectionOps).length > 0) paths[collection] = { ...collectionOps, parameters: [...scope, PRETTY] }
  if (r.namespaced && has('list'))
    paths[`${base}/${r.name}`] = {
      get: op('list', `list${upper(groupId)}${upper(g.version)}${r.kind}ForAllNamespaces`, `${listed} ${r.kind}`, {
        responses: responses({ '200': 'OK' }, ref(`${model}List`)),
      }),
      parameters: [...LIST_PARAMS, PRETTY],
    }
  const itemParams = [pathParam('name', `name of the ${r.kind}`), ...scope, PRETTY]
  const itemOps = (sub: string): Schema => {
    const of = sub ? ` ${sub} of` : ''
    const suffix = sub ? upper(sub) : ''
    const ops: Schema = {}
    if (has('get'))
      ops.get = op('get', idFor('read', suffix), `read${of} the specified ${r.kind}`, {
        responses: responses({ '200': 'OK' }, ref(model)),
      })
    if (has('update'))
      ops.put = op('put', idFor('replace', suffix), `replace${of} the specified ${r.kind}`, {
        parameters: [FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: body,
        responses: responses({ '200': 'OK', '201': 'Created' }, ref(model)),
      })
    if (has('patch'))
      ops.patch = op('patch', idFor('patch', suffix), `partially update${of} the specified ${r.kind}`, {
        parameters: [FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: patchBody,
        responses: responses({ '200': 'OK', '201': 'Created' }, ref(model)),
      })
    if (has('delete') && !sub)
      ops.delete = op('delete', idFor('delete'), `delete ${article(r.kind)} ${r.kind}`, {
        responses: responses({ '200': 'OK', '202': 'Accepted' }, ref(`${META}.Status`)),
      })
    return ops
  }
  if (has('get')) paths[`${collection}/{name}`] = { ...itemOps(''), parameters: itemParams }
  if (r.subresources?.some((s) => s.name === 'status'))
    paths[`${collection}/{name}/status`] = { ...itemOps('status'), parameters: itemParams }
  return paths
}

/** The OpenAPI 3.0 document of one group version (kube-openapi builder3 BuildOpenAPISpecFromRoutes). */
function document(g: GroupVersion): Schema {
  const { schemas, complete } = components(g)
  const paths = Object.assign({}, ...g.resources.map((r) => resourcePaths(g, r, complete.has(r.kind)))) as Schema
  const builtIn = BUILT_IN.has(g.group)
  return {
    openapi: '3.0.0',
    info: builtIn
      ? { title: 'Kubernetes', version: 'v1.33.0' }
      : { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' },
    paths,
    components: { schemas },
  }
}

interface Published {
  readonly bytes: Buffer
  /** kube-openapi handler3.go computeETag: the upper-case hex SHA-512 of the JSON. */
  readonly etag: string
}

let published: Map<string, Published> | undefined

/** Every group version's document, built once: what the simulator serves never changes while it runs. */
function documents(): Map<string, Published> {
  published ??= new Map(
    SERVED.map((g) => {
      const bytes = Buffer.from(JSON.stringify(document(g)))
      return [gvKey(g), { bytes, etag: createHash('sha512').update(bytes).digest('hex').toUpperCase() }]
    }),
  )
  return published
}

/** kube-openapi handler3.go constructServerRelativeURL. */
const serverRelativeURL = (key: string, etag: string) => `/openapi/v3/${key}?hash=${etag}`
const STARTED = new Date().toUTCString()

/**
 * `GET /openapi/v3` and `GET /openapi/v3/{api/v1 | apis/<group>/<version>}`; true when it answered. The index is the
 * aggregator's merged root (kube-aggregator pkg/controllers/openapiv3/aggregator/aggregator.go handleDiscovery:
 * `{"paths": {"apis/rbac.authorization.k8s.io/v1": {"serverRelativeURL": "/openapi/v3/apis/…?hash=<ETAG>"}}}`, no
 * ETag, served by http.ServeContent, which sniffs its type as text/plain). A group version that is not served is a
 * bare 404 (aggregator.go handleGroupVersion). A document (kube-openapi pkg/handler3/handler.go HandleGroupVersion)
 * is JSON for `application/json` or any wildcard, in Accept order (client-go openapi3/root.go asks for
 * application/json); its ETag is quoted; `If-None-Match` with it is 304 (net/http ServeContent); with `?hash=` that
 * is current it is `Cache-Control: public, immutable` and Expires a year on, with a stale hash a 301 to the current
 * URL. The protobuf form is not served: asked for only that, the answer is 406.
 */
export function answerOpenApi(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  const url = new URL(req.url ?? '/', 'https://sim')
  if (url.pathname === '/openapi/v3' || url.pathname === '/openapi/v3/') {
    const paths = Object.fromEntries(
      [...documents()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, doc]) => [key, { serverRelativeURL: serverRelativeURL(key, doc.etag) }]),
    )
    const body = JSON.stringify({ paths })
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Last-Modified': new Date().toUTCString(),
    })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
  if (!url.pathname.startsWith('/openapi/v3/')) return false
  const key = url.pathname.slice('/openapi/v3/'.length)
  const doc = documents().get(key)
  if (!doc) {
    res.writeHead(404, { 'Content-Length': 0 })
    res.end()
    return true
  }
  if (!acceptsJson(req.headers.accept ?? '*/*')) {
    res.writeHead(406, { Vary: 'Accept', 'Content-Length': 0 })
    res.end()
    return true
  }
  const headers: Record<string, string | number> = {
    Vary: 'Accept',
    'Content-Type': 'application/json',
    Etag: `"${doc.etag}"`,
    'Last-Modified': STARTED,
  }
  const hash = url.searchParams.get('hash')
  if (hash && hash !== doc.etag) {
    const location = serverRelativeURL(key, doc.etag)
    const text = `<a href="${location}">Moved Permanently</a>.\n\n`
    res.writeHead(301, {
      ...headers,
      'Content-Type': 'text/html; charset=utf-8',
      Location: location,
      'Content-Length': Buffer.byteLength(text),
    })
    res.end(text)
    return true
  }
  if (hash)
    Object.assign(headers, {
      'Cache-Control': 'public, immutable',
      Expires: new Date(Date.now() + 365 * 86_400_000).toUTCString(),
    })
  if ((req.headers['if-none-match'] ?? '').split(',').some((t) => t.trim() === `"${doc.etag}"`)) {
    res.writeHead(304, headers)
    res.end()
    return true
  }
  res.writeHead(200, { ...headers, 'Content-Length': doc.bytes.length })
  res.end(req.method === 'HEAD' ? undefined : doc.bytes)
  return true
}

/**
 * Whether the Accept header picks JSON before protobuf (handler3.go: clauses by quality, github.com/munnerz/goautoneg
 * ParseAccept, each matched against application/json, then the two protobuf types).
 */
function acceptsJson(accept: string): boolean {
  const clauses = accept
    .split(',')
    .map((c) => {
      const [type = '', ...params] = c.split(';').map((p) => p.trim())
      const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1)
      return { type: type.toLowerCase(), q: Number.isFinite(q) ? q : 1 }
    })
    .filter((c) => c.type && c.q > 0)
    .sort((a, b) => b.q - a.q)
  for (const { type } of clauses) {
    const [main, sub] = type.split('/')
    if ((main === 'application' || main === '*') && (sub === 'json' || sub === '*')) return true
    if (main === 'application' && sub?.startsWith('com.github.proto-openapi.spec.v3')) return false
  }
  return false
}

/** kube-openapi ToValidOperationID: `rbac.authorization` → `rbacAuthorization`. */
function camel(text: string): string {
  return text.replace(/[.\-/]+(.)/g, (_, c: string) => c.toUpperCase())
}
function upper(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
/** "a" or "an" before a kind (k8s.io/apiserver pkg/endpoints installer.go GetArticleForNoun). */
function article(noun: string): string {
  return /^[AEIOU]/.test(noun) ? 'an' : 'a'
}
