import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.js'
import type { InputReader } from '../inputs.js'
import type { ProviderName } from '../provider.js'
import { unifiedDiff } from './check.js'
import { defaultEntrypoint, parseContract } from './contract.js'
import { GENERATED_FILES, generateFiles } from './generate.js'

/** What the later steps take from the contract provision used; saved in the workspace's state. */
export interface ContractDefaults {
  /** The contract file as the `contract` input names it (relative to the repository root). */
  readonly file: string
  /** The run step's command when its `command` input is empty: the contract's first entrypoint. */
  readonly entrypoint: string
  /** The evidence directory in the workspace (run's RUN_TASK_EVIDENCE_DIR, collect's evidence-path). */
  readonly evidencePath: string
  /** collect's junit-patterns when its input is empty (none: collect's own defaults). */
  readonly junitPatterns: readonly string[]
  readonly tools: readonly string[]
  readonly checkoutDirectory: string
}

/** The `contract` input, read: the defaults for later steps and, for Che, the workspace's devfile. */
export interface ProvisionContract {
  readonly defaults: ContractDefaults
  /** Che: the contract's task devfile (`.run-task/devfile.task.yaml`, generated in memory), inline YAML. */
  readonly taskDevfile: string
}

/**
 * Reads the `contract` input: one file drives both providers. On Che the contract's task devfile is the workspace
 * (its postStart runs the setup and the tool check). On Coder the deployment's envbuilder template builds the
 * workspace from the repository's `.devcontainer/coder/devcontainer.json` (629 §5.1), so that file must be the
 * contract's, as generated: a drifted or missing one is refused here, before anything is created.
 */
export function readProvisionContract(
  read: InputReader,
  root: string,
  provider: ProviderName,
): ProvisionContract | undefined {
  const value = read('contract').trim()
  if (!value) return undefined
  const file = path.resolve(root, value)
  if (!existsSync(file))
    throw new InputError(
      'contract',
      value,
      `the path of an environment contract in the repository (no file at ${file})`,
    )
  const contract = parseContract(readFileSync(file, 'utf8'), value)
  // Named as `run-task contract generate --contract` names it, so the generated files match byte for byte.
  const generated = generateFiles(contract, value)
  if (provider === 'coder') refuseDriftedDevcontainer(root, value, generated.get(GENERATED_FILES.devcontainer) ?? '')
  return {
    defaults: {
      file: value,
      entrypoint: defaultEntrypoint(contract),
      evidencePath: contract.evidence.path,
      junitPatterns: contract.evidence.junit,
      tools: contract.tools,
      checkoutDirectory: contract.checkout.directory,
    },
    taskDevfile: generated.get(GENERATED_FILES.taskDevfile) ?? '',
  }
}

function refuseDriftedDevcontainer(root: string, contractFile: string, expected: string): void {
  const committed = path.join(root, GENERATED_FILES.devcontainer)
  const actual = existsSync(committed) ? readFileSync(committed, 'utf8') : undefined
  if (actual === expected) return
  const diff = unifiedDiff(GENERATED_FILES.devcontainer, actual ?? '', expected, actual === undefined)
  throw new InputError(
    'contract',
    contractFile,
    `a contract whose ${GENERATED_FILES.devcontainer} is committed as generated: the Coder template builds the workspace from that file, and it ${actual === undefined ? 'is missing' : `has drifted:\n${diff}\n`}; run \`run-task contract generate --contract ${contractFile}\` and commit the result`,
  )
}
