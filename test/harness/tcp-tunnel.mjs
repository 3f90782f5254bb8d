// A tunnel command for tests: pipes stdin/stdout to a TCP port on loopback, as
// `coder ssh --stdio` pipes them to a workspace agent. Usage: tcp-tunnel.mjs HOST PORT
import net from 'node:net'

const [host, port] = process.argv.slice(2)
// No Nagle, as coder ssh --stdio has none on its side (Go sets TCP_NODELAY).
const socket = net.connect({ port: Number(port), host, noDelay: true })
process.stdin.pipe(socket)
socket.pipe(process.stdout)
socket.on('close', () => process.exit(0))
socket.on('error', (error) => {
  process.stderr.write(`tcp-tunnel: ${error.message}\n`)
  process.exit(1)
})
