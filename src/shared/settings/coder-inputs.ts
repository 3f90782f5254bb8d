import { credentialUrlProblem } from '../credential-http.js'
import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseDuration } from '../parse.js'
import { parseParameters } from '../providers/coder/coder-parameters.js'
import { type CoderSettings, DEFAULT_TUNNEL_COMMAND, isDefaultTunnel } from '../providers/coder/coder-settings.js'
import { parseKnownHosts } from '../providers/known-hosts.js'

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
  const sshTunnelCommand = inputOr(read, 'ssh-tunnel-command', DEFAULT_TUNNEL_COMMAND)
  return {
    url: url.replace(/\/+$/, ''),
    token,
    organization: inputOr(read, 'coder-organization', 'default'),
    template,
    templateVersion: read('template-version').trim(),
    parameters: parseParameters(read('parameters')),
    agent,
    ttlMs,
    sshTunnelCommand,
    sshUser: inputOr(read, 'ssh-user', 'coder'),
    sshPrivateKey: read('ssh-private-key'),
    sshKnownHosts: checkKnownHosts(read('ssh-known-hosts'), sshTunnelCommand),
  }
}

/**
 * `ssh-known-hosts` is required with a custom tunnel: the tunnel is then a plain SSH
 * connection, and without a host key check any server on the way would receive the command
 * and its secret environment. Every line must be usable.
 */
function checkKnownHosts(text: string, tunnelCommand: string): string {
  const { keys, problems } = parseKnownHosts(text)
  if (problems.length > 0)
    throw new InputError('ssh-known-hosts', text, `OpenSSH known_hosts lines (${problems.join('; ')})`)
  if (keys.length === 0 && !isDefaultTunnel(tunnelCommand))
    throw new InputError(
      'ssh-known-hosts',
      text,
      `the host keys of the SSH server the custom ssh-tunnel-command reaches, as OpenSSH known_hosts lines (the output of ssh-keyscan -H <host>): without them any server on the way would receive the command and its secret-env`,
    )
  return text
}
