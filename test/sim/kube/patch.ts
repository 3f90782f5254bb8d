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
