/**
 * The `coder` CLI the simulator serves at /bin/coder-linux-<arch>. It implements
 * `coder ssh --stdio owner/workspace.agent` as the real one does up to the network:
 * it finds the workspace and agent through the real REST API with CODER_URL and
 * CODER_SESSION_TOKEN, then, where the real CLI would dial the agent over Tailnet,
 * asks the simulator for the agent's SSH port and pipes stdio to it.
 */
export const FAKE_CODER_CLI = `#!/usr/bin/env node
const net = require('node:net')
const args = process.argv.slice(2)
if (args[0] === 'version') { console.log('Coder v2.99.0-sim'); process.exit(0) }
if (args[0] !== 'ssh' || args[1] !== '--stdio' || !args[2]) { console.error('usage: coder ssh --stdio owner/workspace.agent'); process.exit(2) }
const url = process.env.CODER_URL, token = process.env.CODER_SESSION_TOKEN
if (!url || !token) { console.error('coder: CODER_URL and CODER_SESSION_TOKEN must be set'); process.exit(1) }
const m = /^(?:([^/]+)\\/)?([^.]+)(?:\\.(.+))?$/.exec(args[2])
const owner = m[1] || 'me', name = m[2], agentName = m[3]
const get = async (path) => {
  const res = await fetch(url + '/api/v2' + path, { headers: { 'Coder-Session-Token': token } })
  const body = await res.json()
  if (!res.ok) throw new Error(body.message + (body.detail ? ': ' + body.detail : ''))
  return body
}
;(async () => {
  const ws = await get('/users/' + owner + '/workspace/' + name)
  const agents = ws.latest_build.resources.flatMap((r) => r.agents || [])
  const agent = agentName ? agents.find((a) => a.name === agentName) : agents[0]
  if (!agent) throw new Error('agent ' + (agentName || '') + ' not found in workspace ' + name)
  if (agent.status !== 'connected') throw new Error('the workspace agent is ' + agent.status)
  const { port } = await get('/workspaceagents/' + agent.id + '/sim-ssh')
  const socket = net.connect(port, '127.0.0.1')
  process.stdin.pipe(socket)
  socket.pipe(process.stdout)
  socket.on('close', () => process.exit(0))
  socket.on('error', (e) => { console.error('coder: ' + e.message); process.exit(1) })
})().catch((e) => { console.error('coder: ' + e.message); process.exit(1) })
`
