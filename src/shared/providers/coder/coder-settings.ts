/** Validated Coder settings. */
export interface CoderSettings {
  readonly url: string
  /** The session token. Never logged; masked as soon as it is read. */
  readonly token: string
  readonly organization: string
  readonly template: string
  /** A template version name; empty uses the template's active version. */
  readonly templateVersion: string
  /** Rich parameter values by name, as strings (lists as JSON arrays). */
  readonly parameters: ReadonlyMap<string, string>
  /** The agent to run in; empty means the workspace's only agent. */
  readonly agent: string
  /** Autostop safety net, in ms. */
  readonly ttlMs: number
  /** Command whose stdin/stdout is the SSH connection; `{workspace}` becomes owner/name.agent. */
  readonly sshTunnelCommand: string
  readonly sshUser: string
  /** A private key for SSH servers that need one (the Coder tunnel does not). Secret. */
  readonly sshPrivateKey: string
  /**
   * OpenSSH known_hosts text: the host keys the SSH server must present. Required for a
   * custom tunnel; empty for the default, whose `coder ssh` authenticates the agent itself.
   */
  readonly sshKnownHosts: string
}

export const DEFAULT_TUNNEL_COMMAND = 'coder ssh --stdio --disable-autostart {workspace}'

/** The default tunnel, also in the spelling of earlier releases: both use the deployment's own CLI. */
export function isDefaultTunnel(command: string): boolean {
  return command === DEFAULT_TUNNEL_COMMAND || command === 'coder ssh --stdio {workspace}'
}
