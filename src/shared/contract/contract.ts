import { parse } from 'yaml'
import { InputError } from '../errors.js'
import { firstLine } from '../text.js'
import { environmentContract } from './contract-schema.js'
import { KNOWN_TOOLS } from './tools.js'

/** The environment contract (schemas/environment-contract.schema.json), validated. */
export interface EnvironmentContract {
  readonly version: 1
  readonly name: string
  readonly image: string
  readonly user: string
  readonly tools: readonly string[]
  readonly checkout: { readonly directory: string }
  /** Named commands in the order written; the first is run-task's default command. */
  readonly entrypoints: Readonly<Record<string, string>>
  readonly evidence: { readonly path: string; readonly junit: readonly string[] }
  readonly secrets: ReadonlyArray<{ readonly env: string; readonly from: string; readonly description?: string }>
  readonly resources: { readonly cpu?: string; readonly memory?: string }
  readonly setup?: string
}

/** The keys a secret's value could hide under: a contract names secrets, it never holds one. */
const VALUE_KEYS = ['value', 'data', 'stringData', 'token', 'password']

/**
 * Parses and validates a contract. Every problem names the field (as a path), the
 * value and what was expected; all are reported at once.
 */
export function parseContract(text: string, source: string): EnvironmentContract {
  let document: unknown
  try {
    document = parse(text)
  } catch (error) {
    throw new InputError('contract', source, `a YAML document (${firstLine((error as Error).message)})`)
  }
  const problems = [...inlineSecretProblems(document), ...schemaProblems(document), ...semanticProblems(document)]
  if (problems.length > 0)
    throw new InputError('contract', source, `a valid environment contract; ${[...new Set(problems)].join('; ')}`)
  const d = document as Omit<EnvironmentContract, 'user' | 'secrets' | 'resources' | 'evidence'> & {
    user?: string
    secrets?: EnvironmentContract['secrets']
    resources?: EnvironmentContract['resources']
    evidence: { path: string; junit?: string[] }
  }
  return {
    version: 1,
    name: d.name,
    image: d.image,
    user: d.user ?? 'vscode',
    tools: d.tools,
    checkout: d.checkout,
    entrypoints: d.entrypoints,
    evidence: { path: d.evidence.path, junit: d.evidence.junit ?? [] },
    secrets: d.secrets ?? [],
    resources: d.resources ?? {},
    ...(d.setup ? { setup: d.setup } : {}),
  }
}

/** The contract's default command: its first entrypoint. */
export function defaultEntrypoint(contract: EnvironmentContract): string {
  return Object.values(contract.entrypoints)[0] as string
}

function schemaProblems(document: unknown): string[] {
  if (environmentContract(document)) return []
  return (environmentContract.errors ?? [])
    .filter((e) => !(e.keyword === 'additionalProperties' && VALUE_KEYS.includes(String(e.params.additionalProperty))))
    .map((e) => {
      const at = fieldPath(e.instancePath)
      const extra = e.keyword === 'additionalProperties' ? `${at}.${String(e.params.additionalProperty)}` : at
      if (e.keyword === 'additionalProperties') return `${extra} is not a field of the contract`
      if (e.keyword === 'required') return `${at ? `${at}.` : ''}${String(e.params.missingProperty)} is required`
      const value = valueAt(document, e.instancePath)
      return `${at || 'the document'} is ${JSON.stringify(value)}, expected: ${e.message ?? 'a valid value'}`
    })
}

function semanticProblems(document: unknown): string[] {
  const d = (document ?? {}) as { tools?: unknown; user?: unknown; guardrails?: Record<string, unknown> }
  const problems: string[] = []
  if (Array.isArray(d.tools))
    d.tools.forEach((tool, i) => {
      if (typeof tool === 'string' && !(tool in KNOWN_TOOLS))
        problems.push(`tools[${i}] is "${tool}": not a known tool (known: ${Object.keys(KNOWN_TOOLS).join(', ')})`)
    })
  if (d.user === 'root' || d.user === '0')
    problems.push(`user is "${String(d.user)}": workspaces run unprivileged, expected a non-root user such as vscode`)
  for (const [key, why] of [
    ['privileged', 'workspaces run unprivileged'],
    ['telepresence', 'the platform makes no Telepresence assumptions'],
  ] as const)
    if (d.guardrails?.[key] === true) problems.push(`guardrails.${key} is true: ${why}, expected false`)
  return problems
}

function inlineSecretProblems(document: unknown): string[] {
  const secrets = (document as { secrets?: unknown } | null)?.secrets
  if (!Array.isArray(secrets)) return []
  return secrets.flatMap((secret, i) =>
    VALUE_KEYS.filter((key) => secret && typeof secret === 'object' && key in secret).map(
      (key) =>
        `secrets[${i}].${key} holds a value: a contract names a secret and never holds one; expected \`from: <the secret's name in the provider>\``,
    ),
  )
}

/** `/tools/2` → `tools[2]`, `/evidence/path` → `evidence.path`. */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '')
}

function valueAt(document: unknown, pointer: string): unknown {
  let value = document
  for (const part of pointer.split('/').slice(1)) value = (value as Record<string, unknown> | undefined)?.[part]
  return value
}
