/**
 * The fields of the four `rbac.authorization.k8s.io/v1` kinds (k8s.io/api rbac/v1 types.go: Role, ClusterRole,
 * RoleBinding, ClusterRoleBinding, PolicyRule, AggregationRule, RoleRef, Subject), as structural schemas for
 * `pruning.ts`. The apiserver decodes a built-in kind strictly (k8s.io/apimachinery pkg/runtime/serializer/json
 * strict decoding, sigs.k8s.io/json UnknownFieldPaths): a field the type does not have is dropped with a warning, or
 * refused under `fieldValidation=Strict` — the same answers `pruning.ts` gives for a custom resource. So a typo in a
 * rendered manifest (`resourceName:`) fails here as it would on a cluster, instead of silently granting more.
 */

const strings = { items: {} }
const labelSelector = {
  properties: {
    matchLabels: { additionalProperties: {} },
    matchExpressions: { items: { properties: { key: {}, operator: {}, values: strings } } },
  },
}
const policyRule = {
  properties: {
    verbs: strings,
    apiGroups: strings,
    resources: strings,
    resourceNames: strings,
    nonResourceURLs: strings,
  },
}
const envelope = { apiVersion: {}, kind: {}, metadata: {} }
const binding = {
  properties: {
    ...envelope,
    subjects: { items: { properties: { kind: {}, apiGroup: {}, name: {}, namespace: {} } } },
    roleRef: { properties: { apiGroup: {}, kind: {}, name: {} } },
  },
}

const SCHEMAS: Record<string, object> = {
  roles: { properties: { ...envelope, rules: { items: policyRule } } },
  clusterroles: {
    properties: {
      ...envelope,
      rules: { items: policyRule },
      aggregationRule: { properties: { clusterRoleSelectors: { items: labelSelector } } },
    },
  },
  rolebindings: binding,
  clusterrolebindings: binding,
}

/** The structural schema of an RBAC resource, or undefined for any other. */
export function rbacSchema(group: string, resource: string): object | undefined {
  return group === 'rbac.authorization.k8s.io' ? SCHEMAS[resource] : undefined
}
