/**
 * Structural pruning of a custom resource against its CRD schema, as the apiserver does on every write
 * (apiextensions-apiserver pkg/apiserver/schema/pruning/algorithm.go Prune): fields the schema does not declare are
 * dropped, except under `additionalProperties: true` / `x-kubernetes-preserve-unknown-fields`. With server-side
 * field validation (apiserver pkg/endpoints/handlers fieldmanager, `fieldValidation` query parameter, default Warn
 * since Kubernetes 1.27) each dropped field is a `Warning` header, and `fieldValidation=Strict` refuses the request.
 * The schema is the DevWorkspace JSON schema of devfile/api 2.3.0, from which DWO's CRD is generated.
 */

interface Schema {
  properties?: Record<string, Schema>
  additionalProperties?: boolean | Schema
  items?: Schema
  'x-kubernetes-preserve-unknown-fields'?: boolean
}

/** Drops undeclared fields from `object` in place and returns their paths (`spec.template.foo`). */
export function prune(object: unknown, structural: object, path = ''): string[] {
  const schema = structural as Schema
  if (Array.isArray(object))
    return object.flatMap((item, i) => (schema.items ? prune(item, schema.items, `${path}[${i}]`) : []))
  if (typeof object !== 'object' || object === null) return []
  if (schema['x-kubernetes-preserve-unknown-fields'] || schema.additionalProperties === true) return []
  const record = object as Record<string, unknown>
  const pruned: string[] = []
  for (const key of Object.keys(record)) {
    const at = path ? `${path}.${key}` : key
    const declared = schema.properties?.[key]
    const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined
    if (declared || extra) {
      // ObjectMeta is decoded by the apiserver itself, not pruned by the CRD schema.
      if (at !== 'metadata') pruned.push(...prune(record[key], (declared ?? extra) as Schema, at))
    } else if (schema.properties) {
      delete record[key]
      pruned.push(at)
    }
  }
  return pruned
}
