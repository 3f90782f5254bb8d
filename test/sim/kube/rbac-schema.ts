/**
 * The fields of the four `rbac.authorization.k8s.io/v1` kinds (k8s.io/api rbac/v1 types.go: Role, ClusterRole,
 * RoleBinding, ClusterRoleBinding, PolicyRule, AggregationRule, RoleRef, Subject), as structural schemas for
 * `pruning.ts`, typed so that `openapi.ts` can publish them. The apiserver decodes a built-in kind strictly
 * (k8s.io/apimachinery pkg/runtime/serializer/json strict decoding, sigs.k8s.io/json UnknownFieldPaths): a field the
 * type does not have is dropped with a warning, or refused under `fieldValidation=Strict` — the same answers
 * `pruning.ts` gives for a custom resource. So a typo in a rendered manifest (`resourceName:`) fails here as it would
 * on a cluster, instead of silently granting more.
 */

const str = { type: 'string' }
const strings = { type: 'array', items: str }
const labelSelector = {
  type: 'object',
  properties: {
    matchLabels: { type: 'object', additionalProperties: str },
    matchExpressions: {
      type: 'array',
      items: { type: 'object', properties: { key: str, operator: str, values: strings } },
    },
  },
}
const policyRule = {
  type: 'object',
  properties: {
    verbs: strings,
    apiGroups: strings,
    resources: strings,
    resourceNames: strings,
    nonResourceURLs: strings,
  },
}
const envelope = { apiVersion: str, kind: str, metadata: { type: 'object' } }
const binding = {
  type: 'object',
  properties: {
    ...envelope,
    subjects: {
      type: 'array',
      items: { type: 'object', properties: { kind: str, apiGroup: str, name: str, namespace: str } },
    },
    roleRef: { type: 'object', properties: { apiGroup: str, kind: str, name: str } },
  },
}

const SCHEMAS: Record<string, object> = {
  roles: { type: 'object', properties: { ...envelope, rules: { type: 'array', items: policyRule } } },
  clusterroles: {
    type: 'object',
    properties: {
      ...envelope,
      rules: { type: 'array', items: policyRule },
      aggregationRule: {
        type: 'object',
        properties: { clusterRoleSelectors: { type: 'array', items: labelSelector } },
      },
    },
  },
  rolebindings: binding,
  clusterrolebindings: binding,
}

/** The structural schema of an RBAC resource, or undefined for any other. */
export function rbacSchema(group: string, resource: string): object | undefined {
  return group === 'rbac.authorization.k8s.io' ? SCHEMAS[resource] : undefined
}
