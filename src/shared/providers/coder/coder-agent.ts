import type { Workspace, WorkspaceAgent } from './coder-types.js'

/** codersdk WorkspaceAgentLifecycle.ShuttingDown: the agent is going away, whatever its connection says. */
const SHUTTING_DOWN: ReadonlySet<string> = new Set(['shutting_down', 'shutdown_timeout', 'shutdown_error', 'off'])
/** codersdk WorkspaceAgentLifecycle.Starting. */
const STARTING: ReadonlySet<string> = new Set(['created', 'starting'])

/**
 * The workspace's own agents. A devcontainer sub-agent has `parent_id` set; coderd's
 * convertWorkspace and `coder ssh` leave those out when they choose an agent.
 */
export function topLevelAgents(w: Workspace): WorkspaceAgent[] {
  return w.latest_build.resources.flatMap((r) => r.agents ?? []).filter((a) => !a.parent_id)
}

/**
 * Whether `coder ssh` waits for the startup scripts (cli/ssh.go, `--wait=auto`): only
 * when a script that runs on start has `start_blocks_login`. Deployments older than
 * agent scripts say so with `startup_script_behavior: blocking`.
 */
export function loginWaitsForScripts(agent: WorkspaceAgent): boolean {
  if (agent.scripts) return agent.scripts.some((s) => s.run_on_start && s.start_blocks_login)
  return agent.startup_script_behavior === 'blocking'
}

/**
 * What `cliui.Agent` (cli/cliui/agent.go) would make of the agent: `ready` when
 * `coder ssh` would connect, `shutting-down` when it gives up, and undefined while it
 * keeps waiting. `connecting`, `timeout` (never connected within
 * connection_timeout_seconds, but it may still connect: coderd
 * database/modelmethods.go WorkspaceAgent.Status) and `disconnected` all wait.
 */
export function agentReadiness(agent: WorkspaceAgent): 'ready' | 'shutting-down' | undefined {
  if (SHUTTING_DOWN.has(agent.lifecycle_state)) return 'shutting-down'
  if (agent.status !== 'connected') return undefined
  if (loginWaitsForScripts(agent) && STARTING.has(agent.lifecycle_state)) return undefined
  return 'ready'
}
