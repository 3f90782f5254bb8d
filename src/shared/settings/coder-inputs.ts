import { credentialUrlProblem } from '../credential-http.js'
import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseDuration } from '../parse.js'
import { parseParameters } from '../providers/coder/coder-parameters.js'
import { type CoderSettings, DEFAULT_TUNNEL_COMMAND } from '../providers/coder/coder-settings.js'

const MINUTE = 60_000
const THIRTY_DAYS = 30 * 24 * 60 * MINUTE

/** codersdk/name.go NameValid: at most 32 characters, alphanumeric words joined by single hyphens. */
const CODER_NAME = /^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$/
const CODER_NAME_MAX = 32

/**
 * Checks that the names this prefix gives are names coderd accepts, before anything
 * is created (coderd answers 400 to a workspace name NameValid refuses).
 */
export function checkCoderWorkspaceName(prefix: string, sample: string): void {
  if (sample.length <= CODER_NAME_MAX && CODER_NAME.test(sample)) return
  const room = CODER_NAME_MAX - (sample.length - prefix.length)
  throw new InputError(
    'workspace-name-prefix',
    prefix,
    `a prefix of at most ${Math.max(room, 0)} characters with no "--": Coder workspace names are at most ${CODER_NAME_MAX} characters of letters, digits and single hyphens (codersdk NameValid), and this run's name would be ${sample} (${sample.length} characters)`,
  )
}

/** Reads and checks the Coder inputs. */
export function getCoderSettings(read: InputReader): CoderSettings {
  const url = read('coder-url').trim()
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol))
    throw new InputError('coder-url', url, 'the URL of the Coder deployment, such as https://coder.example.com')
  const insecure = credentialUrlProblem(parsed)
  if (insecure) throw new InputError('coder-url', url, insecure)
  const token = read('coder-token').trim()
  if (!token) throw new InputError('coder-token', '', 'a Coder session token (coder tokens create)')
  const template = read('template').trim()
  if (!template) throw new InputError('template', '', 'the name of the Coder template to create the workspace from')
  const ttlText = inputOr(read, 'ttl', '2h')
  // 0 asks for the template's default autostop (coderd workspaces.go validWorkspaceTTLMillis).
  const ttlMs = ttlText === '0' ? 0 : parseDuration('ttl', ttlText)
  if (ttlMs !== 0 && (ttlMs < MINUTE || ttlMs > THIRTY_DAYS))
    throw new InputError(
      'ttl',
      read('ttl'),
      "a duration from 1m to 30 days (coderd rejects anything else), or 0 for the template's default",
    )
  const agent = read('agent').trim()
  if (agent && !/^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$/.test(agent))
    throw new InputError('agent', agent, 'an agent name')
  return {
    url: url.replace(/\/+$/, ''),
    token,
    organization: inputOr(read, 'coder-organization', 'default'),
    template,
    templateVersion: read('template-version').trim(),
    parameters: parseParameters(read('parameters')),
    agent,
    ttlMs,
    sshTunnelCommand: inputOr(read, 'ssh-tunnel-command', DEFAULT_TUNNEL_COMMAND),
    sshUser: inputOr(read, 'ssh-user', 'coder'),
    sshPrivateKey: read('ssh-private-key'),
  }
}
