/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch)
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy'
  path: string
  value?: unknown
  from?: string
}

/** RFC 6902 JSON patch (add, remove, replace, test, move, copy). Throws on a bad path or failed test. */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new Error('a JSON patch must be an array of operations')
  let doc = structuredClone(target)
  for (const op of operations as Operation[]) {
    if (op.op === 'test') {
      if (JSON.stringify(get(doc, op.path)) !== JSON.stringify(op.value))
        throw new Error(`test operation failed at ${op.path}`)
    } else if (op.op === 'remove') doc = set(doc, op.path, undefined, 'remove')
    else if (op.op === 'add' || op.op === 'replace') doc = set(doc, op.path, structuredClone(op.value), op.op)
    else if (op.op === 'move' || op.op === 'copy') {
      const value = structuredClone(get(doc, op.from ?? ''))
      if (op.op === 'move') doc = set(doc, op.from ?? '', undefined, 'remove')
      doc = set(doc, op.path, value, 'add')
    } else throw new Error(`unknown JSON patch operation ${String((op as { op: unknown }).op)}`)
  }
  return doc
}

function tokens(path: string): string[] {
  if (path === '') return []
  if (!path.startsWith('/')) throw new Error(`invalid JSON pointer ${path}`)
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function get(doc: unknown, path: string): unknown {
  return tokens(path).reduce<unknown>((node, t) => {
    if (node === null || typeof node !== 'object' || !(t in node)) throw new Error(`path ${path} does not exist`)
    return (node as Record<string, unknown>)[t]
  }, doc)
}

function set(doc: unknown, path: string, value: unknown, mode: 'add' | 'replace' | 'remove'): unknown {
  const parts = tokens(path)
  if (parts.length === 0) return value
  const last = parts.pop() as string
  const parent = get(
    doc,
    `/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`.replace(/^\/$/, ''),
  ) as Record<string, unknown> | unknown[]
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last)
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`bad array index in ${path}`)
    if (mode === 'add') parent.splice(index, 0, value)
    else if (mode === 'replace') parent[index] = value
    else parent.splice(index, 1)
  } else if (parent && typeof parent === 'object') {
    if (mode !== 'add' && !(last in parent)) throw new Error(`path ${path} does not exist`)
    if (mode === 'remove') delete parent[last]
    else parent[last] = value
  } else throw new Error(`path ${path} does not exist`)
  return doc
}

/**
 * The lists of the simulator's built-in kinds that merge rather than replace, by path (the `patchStrategy:"merge"` and
 * `patchMergeKey` tags of k8s.io/apimachinery meta/v1 ObjectMeta and k8s.io/api core/v1 ServiceSpec, PodSpec,
 * NamespaceStatus and PodStatus). A merge key of `''` is a list of primitives. Every other list is atomic: RBAC's
 * rules and subjects, EndpointSlice endpoints.
 */
const MERGE_LISTS: Record<string, string> = {
  'metadata.finalizers': '',
  'metadata.ownerReferences': 'uid',
  'spec.ports': 'port',
  'spec.containers': 'name',
  'spec.initContainers': 'name',
  'spec.volumes': 'name',
  'status.conditions': 'type',
}

/**
 * Strategic merge patch of a built-in kind (k8s.io/apimachinery pkg/util/strategicpatch patch.go
 * StrategicMergeMapPatch), as kubectl's client-side apply sends it: maps merge as in a JSON merge patch (null deletes),
 * lists in `MERGE_LISTS` merge by their key (a `{"$patch": "delete", key}` element removes one; primitives are a
 * union), other lists are replaced. Directives: `$patch: replace | delete` on a map, `$deleteFromPrimitiveList/<list>`,
 * `$setElementOrder/<list>` (the order of a merged list) and `$retainKeys`.
 */
export function strategicMergePatch(target: unknown, patch: unknown, path = ''): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch)
  const directives = patch as Record<string, unknown>
  if (directives.$patch === 'replace') return strip(directives)
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {}
  const orders: [string, unknown[]][] = []
  for (const [key, value] of Object.entries(directives)) {
    const at = path ? `${path}.${key}` : key
    if (key === '$patch' || key === '$retainKeys') continue
    if (key.startsWith('$setElementOrder/')) orders.push([key.slice('$setElementOrder/'.length), value as unknown[]])
    else if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length)
      const gone = new Set((value as unknown[]).map((v) => JSON.stringify(v)))
      if (Array.isArray(result[list])) result[list] = result[list].filter((v) => !gone.has(JSON.stringify(v)))
    } else if (value === null || (isMap(value) && value.$patch === 'delete')) delete result[key]
    else if (Array.isArray(value) && at in MERGE_LISTS)
      result[key] = mergeList(result[key], value, MERGE_LISTS[at] ?? '', at)
    else if (isMap(value)) result[key] = strategicMergePatch(result[key], value, at)
    else result[key] = structuredClone(value)
  }
  for (const [list, order] of orders)
    result[list] = ordered(result[list], order, MERGE_LISTS[path ? `${path}.${list}` : list] ?? '')
  if (Array.isArray(directives.$retainKeys)) {
    const keep = new Set(directives.$retainKeys as string[])
    for (const key of Object.keys(result)) if (!keep.has(key)) delete result[key]
  }
  return result
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A patch map without its directives, for `$patch: replace`. */
function strip(map: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).filter(([key]) => !key.startsWith('$')))
}

function mergeList(current: unknown, patch: unknown[], key: string, path: string): unknown[] {
  if (patch.some((item) => isMap(item) && item.$patch === 'replace'))
    return patch
      .filter((item) => !(isMap(item) && item.$patch === 'replace'))
      .map((item) => (isMap(item) ? strip(item) : item))
  const result = Array.isArray(current) ? [...current] : []
  if (!key) return [...result, ...patch.filter((v) => !result.some((r) => JSON.stringify(r) === JSON.stringify(v)))]
  for (const item of patch) {
    if (!isMap(item)) continue
    const at = result.findIndex((r) => isMap(r) && r[key] === item[key])
    if (item.$patch === 'delete') {
      if (at >= 0) result.splice(at, 1)
    } else if (at >= 0) result[at] = strategicMergePatch(result[at], item, path)
    else result.push(strategicMergePatch({}, item, path))
  }
  return result
}

/** `$setElementOrder`: the listed elements in that order, then the others as they were. */
function ordered(list: unknown, order: unknown[], key: string): unknown {
  if (!Array.isArray(list)) return list
  const id = (v: unknown) => JSON.stringify(key && isMap(v) ? v[key] : v)
  const rank = new Map(order.map((v, i) => [id(v), i]))
  return [...list].sort((a, b) => (rank.get(id(a)) ?? order.length) - (rank.get(id(b)) ?? order.length))
}
