import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseBoolean, parseDuration } from '../parse.js'
import { type CleanupSettings, getCleanupSettings } from './cleanup-settings.js'
import { type CollectSettings, getCollectSettings } from './collect-settings.js'
import { getProvisionSettings, type ProvisionSettings } from './provision-settings.js'
import { type FailOn, getFailOn } from './run-settings.js'

/** Validated inputs of the smoke check: a provision, the checks, collect and cleanup. */
export interface SmokeSettings {
  readonly provision: ProvisionSettings
  readonly collect: CollectSettings
  readonly cleanup: CleanupSettings
  /** Commands that must be on the workspace's PATH. */
  readonly tools: readonly string[]
  /** The repository checkout, relative to the workspace's project directory ('' = that directory). */
  readonly checkoutPath: string
  /**
   * Where the persistence marker goes; '' lets the provider choose (Coder: /workspaces when it
   * exists, as on envbuilder templates, else the agent's directory; Che: $PROJECTS_ROOT).
   */
  readonly persistencePath: string
  /**
   * With a contract and no persistence-path: its checkout directory, used inside the provider's persistent
   * directory when it exists there (the workspace's checkout lives on the persistent volume).
   */
  readonly persistenceCheckout: string
  /** Optional (629 §1.1.3): the Codex VS Code extension `openai.chatgpt` is installed in code-server. */
  readonly checkCodexExtension: boolean
  /** Optional (629 §2.1): `coder external-auth access-token github` works for the CI user (Coder only). */
  readonly checkGithubAuth: boolean
  /** The Coder app slug of the IDE (Che uses the editor's main endpoint). */
  readonly ideApp: string
  /** The IDE health URL inside the workspace; empty asks the provider. */
  readonly ideHealthUrl: string
  readonly expectedOidcIssuer: string
  /** A token with admin rights for control-plane reads. Secret. */
  readonly adminToken: string
  readonly stopTimeoutMs: number
  /** Time limit of each check's command or request. */
  readonly checkTimeoutMs: number
  readonly failOn: FailOn
}

const TOOL_NAME = /^[A-Za-z0-9._+-]+$/
const DEFAULT_TOOLS = 'git gh'
const toolList = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean)

/** Reads and checks every smoke input once, before anything is created. */
export async function getSmokeSettings(read: InputReader, env: NodeJS.ProcessEnv, cwd: string): Promise<SmokeSettings> {
  const given = toolList(read('tools'))
  for (const tool of given)
    if (!TOOL_NAME.test(tool))
      throw new InputError(
        'tools',
        tool,
        'command names separated by spaces, commas or newlines, such as "git gh codex"',
      )
  const provision = await getProvisionSettings(read, env, cwd)
  // The contract's tools when it names the workspace and the input names none.
  const tools = given.length ? given : (provision.contract?.tools ?? toolList(DEFAULT_TOOLS))
  const checkoutPath = read('checkout-path').trim()
  if (checkoutPath.split('/').includes('..'))
    throw new InputError('checkout-path', checkoutPath, 'a path without .. segments')
  const persistencePath = read('persistence-path').trim()
  if (persistencePath && (/["'`$\\\n]/.test(persistencePath) || persistencePath.split('/').includes('..')))
    throw new InputError(
      'persistence-path',
      persistencePath,
      'a directory in the workspace with no quotes, $, backslashes or .. segments, such as /workspaces',
    )
  const ideHealthUrl = read('ide-health-url').trim()
  if (ideHealthUrl && !/^https?:\/\/[^\s'"]+$/.test(ideHealthUrl))
    throw new InputError(
      'ide-health-url',
      ideHealthUrl,
      'an http(s) URL as seen from inside the workspace, such as http://127.0.0.1:13337/healthz',
    )
  const issuer = read('expected-oidc-issuer').trim()
  if (issuer && !URL.canParse(issuer))
    throw new InputError('expected-oidc-issuer', issuer, 'an issuer URL, such as https://login.example.com/realms/ci')
  return {
    provision,
    collect: getCollectSettings(read),
    cleanup: getCleanupSettings(read),
    tools,
    checkoutPath,
    persistencePath,
    persistenceCheckout: persistencePath ? '' : (provision.contract?.checkoutDirectory ?? ''),
    checkCodexExtension: parseBoolean('check-codex-extension', inputOr(read, 'check-codex-extension', 'false')),
    checkGithubAuth: parseBoolean('check-github-auth', inputOr(read, 'check-github-auth', 'false')),
    ideApp: inputOr(read, 'ide-app', 'code-server'),
    ideHealthUrl,
    expectedOidcIssuer: issuer,
    adminToken: read('admin-token').trim(),
    stopTimeoutMs: parseDuration('stop-timeout', inputOr(read, 'stop-timeout', '10m')),
    checkTimeoutMs: parseDuration('check-timeout', inputOr(read, 'check-timeout', '2m')),
    failOn: getFailOn(read),
  }
}
