/**
 * The `coder` CLI the simulator serves at /bin/coder-<os>-<arch>. It implements
 * `coder ssh --stdio [--disable-autostart] owner/workspace.agent` as the real one does
 * up to the network: it finds the workspace and agent through the real REST API with
 * CODER_URL and CODER_SESSION_TOKEN; like cli/ssh.go getWorkspaceAndAgent it starts a
 * workspace whose latest build is not a start (unless --disable-autostart or
 * CODER_SSH_DISABLE_AUTOSTART), and like cli/cliui/agent.go Agent it waits, with no
 * limit of its own, for a connecting or timed-out agent. Where the real CLI would dial
 * the agent over Tailnet, it asks the simulator for the agent's SSH port and pipes
 * stdio to it.
 */
export const FAKE_CODER_CLI = `#!/usr/bin/env node
const net = require('node:net')
const args = process.argv.slice(2)
if (args[0] === 'version') { console.log('Coder v2.99.1-sim'); process.exit(0) }
const flags = args.filter((a) => a.startsWith('--'))
const target = args.slice(1).find((a) => !a.startsWith('--'))
if (args[0] !== 'ssh' || !flags.includes('--stdio') || !target) { console.error('usage: coder ssh --stdio [--disable-autostart] owner/workspace.agent'); process.exit(2) }
const noAutostart = flags.includes('--disable-autostart') || /^(1|true)$/i.test(process.env.CODER_SSH_DISABLE_AUTOSTART || '')
const url = process.env.CODER_URL, token = process.env.CODER_SESSION_TOKEN
if (!url || !token) { console.error('coder: CODER_URL and CODER_SESSION_TOKEN must be set'); process.exit(1) }
const m = /^(?:([^/]+)\\/)?([^.]+)(?:\\.(.+))?$/.exec(target)
const owner = m[1] || 'me', name = m[2], agentName = m[3]
const call = async (method, path, body) => {
  const res = await fetch(url + '/api/v2' + path, { method, headers: { 'Coder-Session-Token': token, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) })
  const parsed = await res.json()
  if (!res.ok) throw new Error(parsed.message + (parsed.detail ? ': ' + parsed.detail : ''))
  return parsed
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const agentsOf = (ws) => ws.latest_build.resources.flatMap((r) => r.agents || []).filter((a) => !a.parent_id)
;(async () => {
  let ws = await call('GET', '/users/' + owner + '/workspace/' + name)
  if (ws.latest_build.transition !== 'start') {
    if (noAutostart) throw new Error('workspace must be started')
    process.stderr.write('Workspace was stopped, starting workspace to allow connecting to "' + ws.name + '"...\\n')
    await call('POST', '/workspaces/' + ws.id + '/builds', { transition: 'start' })
  }
  for (;;) {
    ws = await call('GET', '/workspaces/' + ws.id)
    if (ws.latest_build.job.status === 'failed') throw new Error('the workspace build failed')
    if (ws.latest_build.status === 'running') break
    await sleep(100)
  }
  let agent
  for (;;) {
    const agents = agentsOf(await call('GET', '/workspaces/' + ws.id))
    agent = agentName ? agents.find((a) => a.name === agentName) : agents[0]
    if (!agent) throw new Error('agent ' + (agentName || '') + ' not found in workspace ' + name)
    if (['shutting_down', 'shutdown_timeout', 'shutdown_error', 'off'].includes(agent.lifecycle_state)) throw new Error('agent is shutting down')
    if (agent.status === 'connected') break
    await sleep(100)
  }
  const { port } = await call('GET', '/workspaceagents/' + agent.id + '/sim-ssh')
  // Go dials with TCP_NODELAY (net/tcpsock_posix.go newTCPConn); the tailnet path has no Nagle either.
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  process.stdin.pipe(socket)
  socket.pipe(process.stdout)
  socket.on('close', () => process.exit(0))
  socket.on('error', (e) => { console.error('coder: ' + e.message); process.exit(1) })
})().catch((e) => { console.error('coder: ' + e.message); process.exit(1) })
`
