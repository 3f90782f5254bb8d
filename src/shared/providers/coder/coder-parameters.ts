import { parse } from 'yaml'
import { InputError } from '../../errors.js'
import type { TemplateVersionParameter } from './coder-types.js'
import { firstLine } from '../../text.js'

/** Parses the `parameters` input: a YAML map of name to value. */
export function parseParameters(value: string): Map<string, string> {
  if (!value.trim()) return new Map()
  let doc: unknown
  try {
    doc = parse(value)
  } catch (error) {
    throw new InputError(
      'parameters',
      value,
      `a YAML map of parameter names to values (${firstLine((error as Error).message)})`,
    )
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new InputError('parameters', value, 'a YAML map of parameter names to values')
  return new Map(Object.entries(doc).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v.map(String)) : String(v)]))
}

/**
 * Checks parameter values against the template's rich parameters before anything
 * is created, and lists every problem at once: unknown names, required ones
 * missing, values outside the options, the type, the range or the pattern.
 */
export function checkParameters(
  template: string,
  given: ReadonlyMap<string, string>,
  declared: readonly TemplateVersionParameter[],
): { name: string; value: string }[] {
  const problems: string[] = []
  const byName = new Map(declared.map((p) => [p.name, p]))
  for (const name of given.keys())
    if (!byName.has(name))
      problems.push(`unknown parameter '${name}' (the template has: ${[...byName.keys()].join(', ') || 'none'})`)
  for (const p of declared) {
    const value = given.get(p.name)
    if (value === undefined) {
      if (p.required) problems.push(`required parameter '${p.name}' is missing`)
      continue
    }
    // codersdk/richparameters.go validateBuildParameter: "parameter value is required".
    if (p.required && value === '') {
      problems.push(`required parameter '${p.name}' is empty (coderd: parameter value is required)`)
      continue
    }
    const problem = valueProblem(p, value)
    if (problem) problems.push(`parameter '${p.name}' = ${JSON.stringify(value)}: ${problem}`)
  }
  if (problems.length > 0)
    throw new InputError(
      'parameters',
      [...given.keys()].join(', '),
      `values that template '${template}' accepts; ${problems.join('; ')}`,
    )
  return [...given].map(([name, value]) => ({ name, value }))
}

function valueProblem(p: TemplateVersionParameter, value: string): string | undefined {
  if (p.options.length > 0 && p.type !== 'list(string)' && !p.options.some((o) => o.value === value))
    return `expected one of ${p.options.map((o) => o.value).join(', ')}`
  if (p.type === 'bool' && value !== 'true' && value !== 'false') return 'expected true or false'
  if (p.type === 'number') {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n)) return 'expected a number'
    if (p.validation_min != null && n < p.validation_min) return `expected at least ${p.validation_min}`
    if (p.validation_max != null && n > p.validation_max) return `expected at most ${p.validation_max}`
  }
  if (p.type === 'list(string)') {
    try {
      const list = JSON.parse(value) as unknown
      if (!Array.isArray(list)) return 'expected a list'
    } catch {
      return 'expected a list'
    }
  }
  if (p.validation_regex && p.type === 'string' && !new RegExp(p.validation_regex).test(value))
    return p.validation_error || `expected to match ${p.validation_regex}`
  return undefined
}
