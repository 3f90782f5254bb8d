import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseDuration, parseEnum, parseEnvLines } from '../parse.js'
import type { ContractDefaults } from '../contract/provision-contract.js'

/** Which outcomes fail the run step. */
export const FAIL_ON = ['failure', 'error', 'never'] as const
export type FailOn = (typeof FAIL_ON)[number]

/** Validated inputs of the run step. */
export interface RunSettings {
  /** Empty: the first entrypoint of the contract provision used (withContractDefaults). */
  readonly command: string
  readonly workingDirectory: string
  readonly env: ReadonlyMap<string, string>
  /** Masked everywhere; travels like `env`, never on a command line. */
  readonly secretEnv: ReadonlyMap<string, string>
  readonly timeoutMs: number
  readonly failOn: FailOn
  /**
   * The evidence directory in the workspace; relative paths are under the projects root. Empty: the contract's,
   * else DEFAULT_EVIDENCE_PATH (withContractDefaults).
   */
  readonly evidencePath: string
  /** The workspace to run in; empty means the one provisioned last. */
  readonly workspaceName: string
}

export const DEFAULT_EVIDENCE_PATH = '.run-task/evidence'
const RESERVED_PREFIX = 'RUN_TASK_'

/**
 * Reads and checks every run input once. An empty command or evidence path is filled from the contract provision
 * used, once the workspace's state is known (withContractDefaults).
 */
export function getRunSettings(read: InputReader): RunSettings {
  const command = read('command').trim()
  const env = parseEnvLines('env', read('env'))
  const secretEnv = new Map(parseEnvLines('secret-env', read('secret-env')))
  const gitToken = read('git-token').trim()
  if (gitToken) {
    secretEnv.set('GIT_TOKEN', gitToken)
    secretEnv.set('GH_TOKEN', gitToken)
  }
  for (const [input, map] of [
    ['env', env],
    ['secret-env', secretEnv],
  ] as const) {
    for (const name of map.keys()) {
      if (name.startsWith(RESERVED_PREFIX))
        throw new InputError(input, name, `names that do not start with ${RESERVED_PREFIX} (run-task sets those)`)
      if (input === 'secret-env' && env.has(name))
        throw new InputError('secret-env', name, 'names that are not also set in env')
    }
  }
  const evidencePath = read('evidence-path').trim()
  if (evidencePath.split('/').includes('..'))
    throw new InputError('evidence-path', evidencePath, 'a path without .. segments')
  return {
    command,
    workingDirectory: read('working-directory').trim(),
    env,
    secretEnv,
    timeoutMs: parseDuration('timeout', inputOr(read, 'timeout', '60m')),
    failOn: getFailOn(read),
    evidencePath,
    workspaceName: read('workspace-name').trim(),
  }
}

/**
 * The settings with the contract's defaults: its first entrypoint as the command, its evidence path. Without a
 * contract the command is required.
 */
export function withContractDefaults(settings: RunSettings, contract: ContractDefaults | undefined): RunSettings {
  const command = settings.command || contract?.entrypoint || ''
  if (!command)
    throw new InputError(
      'command',
      '',
      'one command line to run in the workspace, such as "ameide test" (or a contract on provision, whose first entrypoint is the default)',
    )
  return {
    ...settings,
    command,
    evidencePath: settings.evidencePath || contract?.evidencePath || DEFAULT_EVIDENCE_PATH,
  }
}

/** The `fail-on` input: which outcomes fail the step. */
export function getFailOn(read: InputReader): FailOn {
  return parseEnum('fail-on', inputOr(read, 'fail-on', 'failure'), FAIL_ON)
}
