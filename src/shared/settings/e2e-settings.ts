import { randomBytes } from 'node:crypto'
import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseBoolean, parseDuration, parseEnum } from '../parse.js'
import { type CleanupSettings, getCleanupSettings } from './cleanup-settings.js'
import { type CollectSettings, getCollectSettings } from './collect-settings.js'
import { getProvisionSettings, type ProvisionSettings } from './provision-settings.js'
import { type FailOn, getFailOn } from './run-settings.js'
import { runContext } from '../github-context.js'

/** Validated inputs of the E2E flow. */
export interface E2eSettings {
  readonly provision: ProvisionSettings
  readonly collect: CollectSettings
  readonly cleanup: CleanupSettings
  /** owner/name of the bot-writable repository. */
  readonly repository: string
  /** The bot's token: clone, push, open and close the PR. Secret. */
  readonly botToken: string
  readonly baseBranch: string
  readonly branch: string
  /** The one line appended to README.md, and so the expected diff. */
  readonly line: string
  readonly title: string
  readonly cloneUrl: string
  readonly apiUrl: string
  readonly author: { readonly name: string; readonly email: string }
  /** The Codex auth.json to use when Codex makes the change; empty means a plain append. Secret. */
  readonly codexAuth: string
  /** The input the Codex auth came from, e.g. `codex-auth-rotating-1` or the seed `codex-auth-1`; empty without Codex. */
  readonly codexSlot: string
  readonly closePr: boolean
  readonly checkTimeoutMs: number
  readonly failOn: FailOn
}

const REPOSITORY = /^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]+(?<![./])$/
export const CODEX_SLOTS = ['auto', '0', '1', '2'] as const

/** Reads and checks every E2E input once, before anything is created. */
export async function getE2eSettings(read: InputReader, env: NodeJS.ProcessEnv, cwd: string): Promise<E2eSettings> {
  const repository = read('repository').trim()
  if (!REPOSITORY.test(repository))
    throw new InputError('repository', repository, 'owner/name of a repository the bot token may push to')
  const context = runContext(env)
  if (repository.toLowerCase() === context.repository.toLowerCase())
    throw new InputError(
      'repository',
      repository,
      `a bot-writable sandbox repository other than ${context.repository}, which runs this workflow (E2E never pushes to it)`,
    )
  const botToken = read('bot-token').trim()
  if (!botToken)
    throw new InputError(
      'bot-token',
      '',
      'a token that may push to the repository and open pull requests (contents: write, pull-requests: write)',
    )
  const provision = await getProvisionSettings(read, env, cwd)
  const baseBranch = inputOr(read, 'base-branch', 'main')
  const branch = inputOr(
    read,
    'branch',
    `run-task/e2e-${provision.identity.runId}-${provision.identity.runAttempt}-${randomBytes(3).toString('hex')}`,
  )
  for (const [input, value] of [
    ['base-branch', baseBranch],
    ['branch', branch],
  ] as const) {
    if (!BRANCH.test(value))
      throw new InputError(input, value, 'a branch name of letters, digits and . _ / - (no .., no leading -)')
  }
  if (branch === baseBranch) throw new InputError('branch', branch, `a new branch, not the base branch ${baseBranch}`)
  const line = inputOr(read, 'line', `run-task e2e: ${branch}`)
  if (/[\r\n]/.test(line)) throw new InputError('line', line, 'one line of text')
  const useCodex = parseBoolean('use-codex', inputOr(read, 'use-codex', 'false'))
  const slot = parseEnum('codex-auth-slot', inputOr(read, 'codex-auth-slot', 'auto'), CODEX_SLOTS)
  const picked = useCodex ? pickCodexAuth(read, slot, env) : { auth: '', slot: '' }
  return {
    provision,
    collect: getCollectSettings(read),
    cleanup: getCleanupSettings(read),
    repository,
    botToken,
    baseBranch,
    branch,
    line,
    title: `run-task e2e: ${branch}`,
    cloneUrl: `${trimSlash(inputOr(read, 'github-server-url', context.serverUrl))}/${repository}.git`,
    apiUrl: trimSlash(inputOr(read, 'github-api-url', context.apiUrl)),
    author: parseAuthor(inputOr(read, 'git-author', 'run-task-bot <run-task-bot@users.noreply.github.com>')),
    codexAuth: picked.auth,
    codexSlot: picked.slot,
    closePr: parseBoolean('close-pr', inputOr(read, 'close-pr', 'true')),
    checkTimeoutMs: parseDuration('check-timeout', inputOr(read, 'check-timeout', '5m')),
    failOn: getFailOn(read),
  }
}

/**
 * The Codex auth.json (690 §1, 629 §2.2): for a slot, `codex-auth-rotating-N` (kept fresh
 * by rotation) is preferred and `codex-auth-N` (the seed it was rotated from) is the
 * fallback when it is empty. `auto` takes the slots in turn from the run number on, so
 * concurrent runs spread over them. The slot is named by its input, never by its content.
 */
function pickCodexAuth(
  read: InputReader,
  slot: (typeof CODEX_SLOTS)[number],
  env: NodeJS.ProcessEnv,
): { auth: string; slot: string } {
  const filled = (i: number): { auth: string; slot: string } | undefined =>
    codexSlotInputs(i)
      .map((input) => ({ auth: read(input).trim(), slot: input }))
      .find((candidate) => candidate.auth !== '')
  if (slot !== 'auto') {
    const picked = filled(Number(slot))
    if (!picked)
      throw new InputError('codex-auth-slot', slot, `a slot whose ${codexSlotInputs(Number(slot)).join(' or ')} is set`)
    return picked
  }
  const start = Number.parseInt(env.GITHUB_RUN_NUMBER ?? '0', 10) % 3 || 0
  for (let k = 0; k < 3; k++) {
    const picked = filled((start + k) % 3)
    if (picked) return picked
  }
  throw new InputError(
    'use-codex',
    'true',
    'at least one of codex-auth-rotating-0, -1, -2 or the seed slots codex-auth-0, -1, -2 (a Codex auth.json)',
  )
}

/** The inputs of one Codex slot, preferred first: the rotating credential, then its seed. */
function codexSlotInputs(slot: number): [string, string] {
  return [`codex-auth-rotating-${slot}`, `codex-auth-${slot}`]
}

function parseAuthor(value: string): { name: string; email: string } {
  const m = /^([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(value.trim())
  if (!m) throw new InputError('git-author', value, 'Name <email>')
  return { name: m[1] as string, email: m[2] as string }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}
