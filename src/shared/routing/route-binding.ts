import { createHash } from 'node:crypto'
import { type KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node'
import { ProviderRequestError } from '../errors.js'
import type { AccessCheck } from '../kube/access-review.js'
import type { KubeCall } from '../kube/kube-call.js'
import { RBAC_GROUP, ROUTING_CLUSTER_ROLE, ROUTING_RULES } from '../rbac/bootstrap.js'

/** Whether the predeclared routing ClusterRole grants the check (rbac/v1 helpers RuleAllows, without resourceNames). */
export function grantedByRoutingRole(c: AccessCheck): boolean {
  const resource = c.subresource ? `${c.resource}/${c.subresource}` : c.resource
  return ROUTING_RULES.some(
    (r) => r.apiGroups.includes(c.group) && r.resources.includes(resource) && r.verbs.includes(c.verb),
  )
}

/** What binding the routing ClusterRole in a namespace takes: `bind` on it by name, and creating RoleBindings. */
export function bindChecks(namespace: string): AccessCheck[] {
  return [
    { verb: 'bind', group: RBAC_GROUP, resource: 'clusterroles', name: ROUTING_CLUSTER_ROLE, namespace },
    { verb: 'create', group: RBAC_GROUP, resource: 'rolebindings', namespace },
  ]
}

/**
 * Binds the routing ClusterRole to the identity in the namespace, as the GitOps-owned bind-only Role allows
 * (`run-task rbac render`): a RoleBinding named after the user, so identities sharing a namespace do not collide,
 * and kept (it is the namespace's opt-in, not the run's). One that already exists is fine.
 */
export async function bindRoutingRole(
  kc: KubeConfig,
  call: KubeCall,
  namespace: string,
  user: string,
): Promise<string> {
  const name = `${ROUTING_CLUSTER_ROLE}-${createHash('sha256').update(user).digest('hex').slice(0, 10)}`
  const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user)
  const subject = serviceAccount
    ? { kind: 'ServiceAccount', namespace: serviceAccount[1] as string, name: serviceAccount[2] as string }
    : { kind: 'User', apiGroup: RBAC_GROUP, name: user }
  try {
    await call(`binding ClusterRole ${ROUTING_CLUSTER_ROLE} to "${user}" in ${namespace}`, () =>
      kc.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
        namespace,
        body: {
          apiVersion: `${RBAC_GROUP}/v1`,
          kind: 'RoleBinding',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'run-task' } },
          roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: ROUTING_CLUSTER_ROLE },
          subjects: [subject],
        },
      }),
    )
  } catch (error) {
    if (!(error instanceof ProviderRequestError && error.status === 409)) throw error
  }
  return name
}
