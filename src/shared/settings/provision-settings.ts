import { InputError } from '../errors.js'
import { identityFromEnv, NAME_PREFIX_PATTERN, type RunIdentity, workspaceName } from '../identity.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseDuration, parseEnum } from '../parse.js'
import { PROVIDER_NAMES, type ProviderName } from '../provider.js'
import type { CheSettings } from '../providers/che/che-settings.js'
import { checkCoderWorkspaceName, getCoderSettings } from './coder-inputs.js'
import type { CoderSettings } from '../providers/coder/coder-settings.js'
import type { TemplateRef } from '../providers/che/devworkspace.js'
import { parseRetries } from '../retry-attempts.js'
import type { ContractDefaults } from '../contract/provision-contract.js'
import { getRouteSettings, type RouteSettings } from '../routing/route-settings.js'

/** Validated inputs of the provision step. */
export interface ProvisionSettings {
  readonly provider: ProviderName
  /** Why this provider: recorded in meta.json for audit. */
  readonly providerReason: string
  /** Set when provider is che. */
  readonly che?: CheSettings
  /** Set when provider is coder. */
  readonly coder?: CoderSettings
  /** What the workspace is made from, for messages and meta.json. */
  readonly source: string
  readonly workspaceNamePrefix: string
  readonly startTimeoutMs: number
  readonly identity: RunIdentity
  /** issue 15: how many times an infrastructure error in provision re-provisions (0 to 5). */
  readonly retries: number
  /** issue 13: the environment contract the workspace is made from, and the defaults it gives later steps. */
  readonly contract?: ContractDefaults
  /** issue 12: the run's header-diverted route through the shared Gateway; undefined without routing. */
  readonly route?: RouteSettings
}

/**
 * Reads and checks every provision input once; throws InputError before anything is created.
 * Async because the Che inputs are checked by a module loaded only for Che: a Coder step
 * then never compiles the Kubernetes client.
 */
export async function getProvisionSettings(
  read: InputReader,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<ProvisionSettings> {
  const provider = parseEnum('provider', read('provider').trim(), PROVIDER_NAMES)
  const workspaceNamePrefix = inputOr(read, 'workspace-name-prefix', 'rt')
  if (!NAME_PREFIX_PATTERN.test(workspaceNamePrefix)) {
    throw new InputError(
      'workspace-name-prefix',
      workspaceNamePrefix,
      'a lowercase DNS label of 1 to 20 characters that starts with a letter',
    )
  }
  const identity = identityFromEnv(env, read('matrix'))
  if (provider === 'coder') checkCoderWorkspaceName(workspaceNamePrefix, workspaceName(workspaceNamePrefix, identity))
  const startTimeoutMs = parseDuration('start-timeout', inputOr(read, 'start-timeout', '15m'))
  const retries = parseRetries(read)
  // Loaded only when asked for: a step without a contract does not compile its schema and generators.
  const contract = read('contract').trim()
    ? (await import('../contract/provision-contract.js')).readProvisionContract(
        read,
        env.GITHUB_WORKSPACE ?? cwd,
        provider,
      )
    : undefined
  const che =
    provider === 'che' ? (await import('./che-inputs.js')).getCheSettings(read, env, cwd, contract) : undefined
  const coder = provider === 'coder' ? getCoderSettings(read) : undefined
  const route = getRouteSettings(read, provider)
  // Coder's route kubeconfig is checked here, like Che's, before anything is created.
  if (coder && route) (await import('./che-inputs.js')).checkKubeconfig(route.kubeconfig)
  const source = coder
    ? `template ${coder.template}${coder.templateVersion ? `@${coder.templateVersion}` : ''}`
    : (che?.source?.devfile?.origin ?? `template ${formatRef(che?.source?.template)}`)
  const who = env.GITHUB_ACTOR ? `@${env.GITHUB_ACTOR} in workflow '${env.GITHUB_WORKFLOW ?? ''}'` : 'the local caller'
  return {
    provider,
    providerReason: inputOr(read, 'provider-reason', `the 'provider' input, set by ${who}`),
    ...(che ? { che } : {}),
    ...(coder ? { coder } : {}),
    source,
    workspaceNamePrefix,
    startTimeoutMs,
    identity,
    retries,
    ...(contract ? { contract: contract.defaults } : {}),
    ...(route ? { route } : {}),
  }
}

function formatRef(ref: TemplateRef | undefined): string {
  return ref ? `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` : ''
}
