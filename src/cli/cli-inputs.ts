import { readFileSync } from 'node:fs'
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
 * the same name; `--kubeconfig-file PATH` reads the kubeconfig from a file, and
 * `--ssh-known-hosts-file PATH` the `ssh-known-hosts` lines.
 */
export function parseCliArguments(argv: readonly string[]): CliArguments {
  const values = new Map<string, string>()
  let command = 'all'
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') help = true
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined) throw new InputError(name, '', `a value after --${name}`)
      if (name === 'kubeconfig-file') values.set('kubeconfig', readKubeconfigFile(value))
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
  return { command, values, help }
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
