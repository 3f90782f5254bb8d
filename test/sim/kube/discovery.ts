import type { IncomingMessage, ServerResponse } from 'node:http'

/** One resource as discovery describes it (k8s.io/apimachinery pkg/apis/meta/v1 APIResource). */
export interface Resource {
  readonly name: string
  readonly singularName: string
  readonly kind: string
  readonly namespaced: boolean
  readonly verbs: readonly string[]
  readonly shortNames?: readonly string[]
  readonly categories?: readonly string[]
  readonly subresources?: readonly { name: string; kind: string; verbs: string[] }[]
}

export interface GroupVersion {
  readonly group: string
  readonly version: string
  readonly resources: readonly Resource[]
}

const CRUD = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

/** What the simulated cluster serves, and nothing more (kubectl api-resources lists exactly this). */
export const SERVED: readonly GroupVersion[] = [
  {
    group: '',
    version: 'v1',
    resources: [
      // kubernetes pkg/registry/core/rest/storage_core.go: the core resources the simulator serves.
      {
        name: 'events',
        singularName: 'event',
        kind: 'Event',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['ev'],
      },
      {
        name: 'namespaces',
        singularName: 'namespace',
        kind: 'Namespace',
        namespaced: false,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        shortNames: ['ns'],
        subresources: [{ name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] }],
      },
      {
        name: 'persistentvolumeclaims',
        singularName: 'persistentvolumeclaim',
        kind: 'PersistentVolumeClaim',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['pvc'],
      },
      {
        name: 'pods',
        singularName: 'pod',
        kind: 'Pod',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['po'],
        categories: ['all'],
        subresources: [
          { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
          { name: 'status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
        ],
      },
      {
        name: 'services',
        singularName: 'service',
        kind: 'Service',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['svc'],
        categories: ['all'],
        subresources: [{ name: 'status', kind: 'Service', verbs: ['get', 'patch', 'update'] }],
      },
    ],
  },
  {
    // kubernetes pkg/registry/discovery/rest/storage_discovery.go.
    group: 'discovery.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'endpointslices',
        singularName: 'endpointslice',
        kind: 'EndpointSlice',
        namespaced: true,
        verbs: CRUD,
      },
    ],
  },
  {
    // kubernetes pkg/registry/rbac/rest/storage_rbac.go.
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'clusterrolebindings',
        singularName: 'clusterrolebinding',
        kind: 'ClusterRoleBinding',
        namespaced: false,
        verbs: CRUD,
      },
      { name: 'clusterroles', singularName: 'clusterrole', kind: 'ClusterRole', namespaced: false, verbs: CRUD },
      { name: 'rolebindings', singularName: 'rolebinding', kind: 'RoleBinding', namespaced: true, verbs: CRUD },
      { name: 'roles', singularName: 'role', kind: 'Role', namespaced: true, verbs: CRUD },
    ],
  },
  {
    // Gateway API standard channel CRDs (kubernetes-sigs/gateway-api config/crd/standard/gateway.networking.k8s.io_*.yaml).
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'gatewayclasses',
        singularName: 'gatewayclass',
        kind: 'GatewayClass',
        namespaced: false,
        verbs: CRUD,
        shortNames: ['gc'],
        categories: ['gateway-api'],
        subresources: [{ name: 'status', kind: 'GatewayClass', verbs: ['get', 'patch', 'update'] }],
      },
      {
        name: 'gateways',
        singularName: 'gateway',
        kind: 'Gateway',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['gtw'],
        categories: ['gateway-api'],
        subresources: [{ name: 'status', kind: 'Gateway', verbs: ['get', 'patch', 'update'] }],
      },
      {
        name: 'httproutes',
        singularName: 'httproute',
        kind: 'HTTPRoute',
        namespaced: true,
        verbs: CRUD,
        categories: ['gateway-api'],
        subresources: [{ name: 'status', kind: 'HTTPRoute', verbs: ['get', 'patch', 'update'] }],
      },
    ],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'selfsubjectreviews',
        singularName: 'selfsubjectreview',
        kind: 'SelfSubjectReview',
        namespaced: false,
        verbs: ['create'],
      },
    ],
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resources: [
      {
        name: 'selfsubjectaccessreviews',
        singularName: 'selfsubjectaccessreview',
        kind: 'SelfSubjectAccessReview',
        namespaced: false,
        verbs: ['create'],
      },
    ],
  },
  {
    // org.eclipse.che (che-operator config/crd/bases/org.eclipse.che_checlusters.yaml).
    group: 'org.eclipse.che',
    version: 'v2',
    resources: [
      {
        name: 'checlusters',
        singularName: 'checluster',
        kind: 'CheCluster',
        namespaced: true,
        verbs: CRUD,
        subresources: [{ name: 'status', kind: 'CheCluster', verbs: ['get', 'patch', 'update'] }],
      },
    ],
  },
  {
    // devfile/api pkg/apis/workspaces/v1alpha2 devworkspace_types.go, devworkspacetemplate_types.go.
    group: 'workspace.devfile.io',
    version: 'v1alpha2',
    resources: [
      {
        name: 'devworkspaces',
        singularName: 'devworkspace',
        kind: 'DevWorkspace',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['dw'],
        subresources: [{ name: 'status', kind: 'DevWorkspace', verbs: ['get', 'patch', 'update'] }],
      },
      {
        name: 'devworkspacetemplates',
        singularName: 'devworkspacetemplate',
        kind: 'DevWorkspaceTemplate',
        namespaced: true,
        verbs: CRUD,
        shortNames: ['dwt'],
      },
    ],
  },
]

/** A served resource and where it lives, for the request router. */
export interface ServedResource {
  readonly group: string
  readonly version: string
  readonly resource: Resource
}

/** The resource a path names, when the simulated cluster serves it. */
export function findServed(group: string, version: string, name: string): ServedResource | undefined {
  const gv = SERVED.find((g) => g.group === group && g.version === version)
  const resource = gv?.resources.find((r) => r.name === name)
  return gv && resource ? { group, version, resource } : undefined
}

/** The media type of aggregated discovery, v2 (k8s.io/api apidiscovery/v2, served since 1.30). */
const AGGREGATED = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'

/**
 * Discovery, as kubectl uses it before any other request: `/api`, `/apis`, `/apis/{group}` and each group version's
 * APIResourceList (k8s.io/apiserver pkg/endpoints/discovery: legacy.go, root.go, group.go, version.go), and the
 * aggregated document for `/api` and `/apis` when the Accept header asks for it first
 * (k8s.io/apiserver pkg/endpoints/discovery/aggregated/handler.go ServeHTTP, negotiation.go).
 * Returns true when it answered.
 */
export function answerDiscovery(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET') return false
  const pathname = new URL(req.url ?? '/', 'https://sim').pathname.replace(/\/$/, '')
  const port = req.socket.localPort ?? 443
  if ((pathname === '/api' || pathname === '/apis') && wantsAggregated(req.headers.accept ?? '')) {
    send(
      res,
      aggregated(pathname === '/api' ? SERVED.filter((g) => !g.group) : SERVED.filter((g) => g.group)),
      AGGREGATED,
    )
    return true
  }
  if (pathname === '/api') {
    send(res, {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }],
    })
    return true
  }
  if (pathname === '/apis') {
    send(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: SERVED.filter((g) => g.group).map(apiGroup) })
    return true
  }
  const group = SERVED.find((g) => g.group && pathname === `/apis/${g.group}`)
  if (group) {
    send(res, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) })
    return true
  }
  const version = SERVED.find((g) => pathname === (g.group ? `/apis/${g.group}/${g.version}` : `/api/${g.version}`))
  if (version) {
    send(res, resourceList(version))
    return true
  }
  return false
}

/** Whether the Accept list names aggregated discovery v2 before any plain JSON (client-go discovery_client.go). */
function wantsAggregated(accept: string): boolean {
  const types = accept.split(',').map((t) => t.replace(/\s+/g, ''))
  const aggregatedAt = types.findIndex((t) => {
    const params = new Set(t.split(';').slice(1))
    return params.has('g=apidiscovery.k8s.io') && params.has('v=v2') && params.has('as=APIGroupDiscoveryList')
  })
  const plainAt = types.findIndex((t) => t === 'application/json' || t === '*/*')
  return aggregatedAt >= 0 && (plainAt < 0 || aggregatedAt < plainAt)
}

function apiGroup(g: GroupVersion): Record<string, unknown> {
  const version = { groupVersion: `${g.group}/${g.version}`, version: g.version }
  return { name: g.group, versions: [version], preferredVersion: version }
}

function resourceList(g: GroupVersion): Record<string, unknown> {
  const groupVersion = g.group ? `${g.group}/${g.version}` : g.version
  const resources = g.resources.flatMap((r) => [
    {
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    },
    ...(r.subresources ?? []).map((s) => ({
      name: `${r.name}/${s.name}`,
      singularName: '',
      namespaced: r.namespaced,
      kind: s.kind,
      verbs: s.verbs,
    })),
  ])
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources }
}

/** APIGroupDiscoveryList (k8s.io/api apidiscovery/v2 types.go); the core group's name is empty. */
function aggregated(groups: readonly GroupVersion[]): Record<string, unknown> {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map((g) => ({
      metadata: g.group ? { name: g.group } : {},
      versions: [
        {
          version: g.version,
          freshness: 'Current',
          resources: g.resources.map((r) => ({
            resource: r.name,
            responseKind: { group: g.group, version: g.version, kind: r.kind },
            scope: r.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: r.singularName,
            verbs: r.verbs,
            ...(r.shortNames ? { shortNames: r.shortNames } : {}),
            ...(r.categories ? { categories: r.categories } : {}),
            ...(r.subresources
              ? {
                  subresources: r.subresources.map((s) => ({
                    subresource: s.name,
                    responseKind: { group: g.group, version: g.version, kind: s.kind },
                    verbs: s.verbs,
                  })),
                }
              : {}),
          })),
        },
      ],
    })),
  }
}

function send(res: ServerResponse, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}
