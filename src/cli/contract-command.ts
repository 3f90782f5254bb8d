import { InputError } from '../shared/errors.js'
import type { Reporter } from '../shared/reporter.js'
import { reportContractDrift, writeContractFiles } from '../shared/contract/check.js'

/** The contract file when `--contract` is not given. */
export const DEFAULT_CONTRACT = 'environment-contract.yaml'

/**
 * `run-task contract generate|check [--contract FILE] [--root DIR]`: writes the
 * provider files from the contract, or fails (exit 1) with a diff when a committed
 * one has drifted. Returns the exit status.
 */
export function contractCommand(argv: readonly string[], cwd: string, reporter: Reporter): number {
  const [action, ...rest] = argv
  if (action !== 'generate' && action !== 'check')
    throw new InputError('contract', action ?? '', 'a subcommand: generate or check')
  const flags = new Map<string, string>()
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i] ?? ''
    const value = rest[i + 1]
    if (!['--contract', '--root'].includes(name) || value === undefined)
      throw new InputError('command-line', rest.join(' '), '--contract FILE and --root DIR, each with a value')
    flags.set(name, value)
  }
  const root = flags.get('--root') ?? cwd
  const contract = flags.get('--contract') ?? DEFAULT_CONTRACT
  if (action === 'generate') {
    for (const file of writeContractFiles(root, contract)) reporter.info(`wrote ${file}`)
    return 0
  }
  const failure = reportContractDrift(root, contract, reporter)
  if (!failure) return 0
  reporter.error(failure)
  return 1
}
