import { type InputReader, inputOr } from '../inputs.js'
import { parseBoolean, parseDuration } from '../parse.js'

/** Validated inputs of the cleanup step. */
export interface CleanupSettings {
  /** Keep a workspace whose run did not pass, for debugging. */
  readonly keepOnFailure: boolean
  /** When set, also delete this toolkit's workspaces under the prefix older than this. */
  readonly sweepOlderThanMs: number | undefined
  readonly deleteTimeoutMs: number
  readonly workspaceName: string
}

/** Reads and checks every cleanup input once. */
export function getCleanupSettings(read: InputReader): CleanupSettings {
  const sweep = read('sweep-older-than').trim()
  return {
    keepOnFailure: parseBoolean('keep-on-failure', inputOr(read, 'keep-on-failure', 'false')),
    sweepOlderThanMs: sweep ? parseDuration('sweep-older-than', sweep) : undefined,
    deleteTimeoutMs: parseDuration('delete-timeout', inputOr(read, 'delete-timeout', '5m')),
    workspaceName: read('workspace-name').trim(),
  }
}
