import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse, stringify } from 'yaml'
import { InputError } from '../shared/errors.js'
import type { InputReader } from '../shared/inputs.js'

/** Parsed command line: the subcommand and the input values it gives. */
export interface CliArguments {
  readonly command: string
  readonly values: ReadonlyMap<string, string>
  readonly help: boolean
}

export const CLI_COMMANDS = ['all', 'provision', 'run', 'collect', 'cleanup', 'smoke', 'e2e'] as const

/**
 * Parses `run-task [command] --input-name value …`. Every action input is a flag of
 * the same name; `--kubeconfig-file PATH` reads the kubeconfig from a file (only the
 * current context, or `--kube-context NAME`), and `--ssh-known-hosts-file PATH` the
 * `ssh-known-hosts` lines.
 */
export function parseCliArguments(argv: readonly string[]): CliArguments {
  const values = new Map<string, string>()
  let command = 'all'
  let help = false
  let kubeconfigFile: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') help = true
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined) throw new InputError(name, '', `a value after --${name}`)
      if (name === 'kubeconfig-file') kubeconfigFile = value
      else if (name === 'ssh-known-hosts-file') values.set('ssh-known-hosts', readInputFile(name, value, 'known_hosts'))
      else values.set(name, value)
    } else if (i === 0 && (CLI_COMMANDS as readonly string[]).includes(arg)) command = arg
    else
      throw new InputError(
        'command-line',
        arg,
        `--input-name value pairs after an optional command (${CLI_COMMANDS.join(', ')})`,
      )
  }
  if (kubeconfigFile !== undefined) {
    values.set(
      'kubeconfig',
      minifyKubeconfig(readKubeconfigFile(kubeconfigFile), kubeconfigFile, values.get('kube-context')),
    )
    values.delete('kube-context')
  }
  return { command, values, help }
}

type Named = { name?: unknown; [key: string]: unknown }

/**
 * Only what the run needs of a kubeconfig file, as `kubectl config view --minify` keeps it:
 * the current context (or `--kube-context`), its cluster and its user, so the other
 * contexts' credentials are never copied. Relative file paths in it are made absolute
 * against the file's folder (client-go resolves them so). Text that is not a kubeconfig
 * passes as it is, for the kubeconfig input's own error.
 */
export function minifyKubeconfig(text: string, file: string, contextName = ''): string {
  let doc: Record<string, unknown>
  try {
    doc = parse(text) as Record<string, unknown>
  } catch {
    return text
  }
  if (!doc || typeof doc !== 'object') return text
  const list = (key: string): Named[] => (Array.isArray(doc[key]) ? (doc[key] as Named[]) : [])
  const name = contextName || (typeof doc['current-context'] === 'string' ? doc['current-context'] : '')
  const context = list('contexts').find((c) => c.name === name)
  if (!context) {
    if (!contextName) return text
    const names = list('contexts').map((c) => String(c.name))
    throw new InputError('kube-context', contextName, `a context of ${file} (${names.join(', ') || 'it has none'})`)
  }
  const refs = (context.context ?? {}) as { cluster?: unknown; user?: unknown }
  const cluster = list('clusters').find((c) => c.name === refs.cluster)
  const user = list('users').find((u) => u.name === refs.user)
  const base = path.dirname(path.resolve(file))
  const absolute = (entry: Named | undefined, inner: string, keys: string[]): Named | undefined => {
    if (!entry || typeof entry[inner] !== 'object' || entry[inner] === null) return entry
    const fields = { ...(entry[inner] as Record<string, unknown>) }
    for (const key of keys)
      if (typeof fields[key] === 'string' && fields[key]) fields[key] = path.resolve(base, fields[key])
    return { ...entry, [inner]: fields }
  }
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [absolute(cluster, 'cluster', ['certificate-authority'])].filter(Boolean),
    users: [absolute(user, 'user', ['client-certificate', 'client-key', 'tokenFile'])].filter(Boolean),
    contexts: [context],
    'current-context': name,
  })
}

/** Flags first, then `RUN_TASK_<INPUT_NAME>` environment variables. */
export function cliInputReader(values: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv): InputReader {
  return (name) => values.get(name) ?? env[`RUN_TASK_${name.toUpperCase().replace(/-/g, '_')}`] ?? ''
}

function readKubeconfigFile(file: string): string {
  return readInputFile('kubeconfig-file', file, 'kubeconfig')
}

function readInputFile(flag: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new InputError(flag, file, `a readable ${what} file (${(error as Error).message})`)
  }
}
