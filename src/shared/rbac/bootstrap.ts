import { stringify } from 'yaml'
import { InputError } from '../errors.js'

/** The predeclared ClusterRole a run's routing needs: its own HTTPRoutes, and reading the Services they point at. */
export const ROUTING_CLUSTER_ROLE = 'run-task-routing'
/** The namespaced Role that lets the workspace identity bind ROUTING_CLUSTER_ROLE, and nothing more. */
export const BIND_ROLE = 'run-task-bind-routing'

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
export const RBAC_GROUP = 'rbac.authorization.k8s.io'

/** One rule of a Role or ClusterRole (rbac/v1 PolicyRule), as rendered. */
export interface RenderedRule {
  readonly apiGroups: readonly string[]
  readonly resources: readonly string[]
  readonly verbs: readonly string[]
  readonly resourceNames?: readonly string[]
}

/** What ROUTING_CLUSTER_ROLE grants: the run's HTTPRoutes, and reading the Services they point at. */
export const ROUTING_RULES: readonly RenderedRule[] = [
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: ['httproutes'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes/status'], verbs: ['get'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list'] },
]
const LABELS = { 'app.kubernetes.io/part-of': 'run-task', 'app.kubernetes.io/managed-by': 'gitops' }

/** Who the workspace runs as: a user the API server authenticates (OIDC), or a ServiceAccount. */
export type WorkspaceIdentity =
  | { readonly kind: 'User'; readonly name: string }
  | { readonly kind: 'ServiceAccount'; readonly namespace: string; readonly name: string }

export interface BootstrapRequest {
  /** The workspace namespace the routes live in. */
  readonly namespace: string
  readonly identity: WorkspaceIdentity
  /** Lets the identity label this one namespace (opting in to a Gateway's allowedRoutes selector). */
  readonly labelNamespace: boolean
}

/**
 * The GitOps-owned RBAC of routing for one namespace, as YAML documents. Routing power is granted at bootstrap: the
 * workspace identity may only bind the predeclared ClusterRole, by name (the API server lets a RoleBinding to a role
 * be created by whoever has `bind` on that role: kubernetes pkg/registry/rbac/escalation_check.go
 * BindingAuthorized), never create or change a Role of its own.
 */
export function renderRoutingRbac(request: BootstrapRequest): string {
  checkRequest(request)
  const { namespace, labelNamespace } = request
  const subject = subjectOf(request.identity)
  const documents: object[] = [
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { name: ROUTING_CLUSTER_ROLE, labels: LABELS },
      rules: ROUTING_RULES,
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'Role',
      metadata: { name: BIND_ROLE, namespace, labels: LABELS },
      rules: [
        {
          apiGroups: [RBAC_GROUP],
          resources: ['clusterroles'],
          verbs: ['bind'],
          resourceNames: [ROUTING_CLUSTER_ROLE],
        },
        { apiGroups: [RBAC_GROUP], resources: ['rolebindings'], verbs: ['get', 'list', 'create', 'delete'] },
      ],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'RoleBinding',
      metadata: { name: BIND_ROLE, namespace, labels: LABELS },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: BIND_ROLE },
      subjects: [subject],
    },
  ]
  if (labelNamespace) {
    const name = `run-task-label-namespace-${namespace}`
    documents.push(
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: 'ClusterRole',
        metadata: { name, labels: LABELS },
        rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'], resourceNames: [namespace] }],
      },
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: 'ClusterRoleBinding',
        metadata: { name, labels: LABELS },
        roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name },
        subjects: [subject],
      },
    )
  }
  return documents.map((d) => stringify(d, { lineWidth: 0 })).join('---\n')
}

function subjectOf(identity: WorkspaceIdentity): object {
  return identity.kind === 'User'
    ? { apiGroup: RBAC_GROUP, kind: 'User', name: identity.name }
    : { kind: 'ServiceAccount', namespace: identity.namespace, name: identity.name }
}

function checkRequest({ namespace, identity }: BootstrapRequest): void {
  if (!DNS_LABEL.test(namespace)) throw new InputError('namespace', namespace, 'a Kubernetes namespace (a DNS label)')
  if (identity.kind === 'User' && !identity.name.trim())
    throw new InputError('user', identity.name, 'the user name the API server authenticates the workspace as')
  if (identity.kind === 'ServiceAccount' && !(DNS_LABEL.test(identity.namespace) && identity.name))
    throw new InputError(
      'service-account',
      `${identity.namespace}/${identity.name}`,
      'namespace/name of a ServiceAccount',
    )
}
