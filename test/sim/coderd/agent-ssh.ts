import { type ChildProcess, spawn } from 'node:child_process'
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import ssh2 from 'ssh2'
import { killProcessTree } from '../process-tree.js'
import type { CoderFaults } from './faults.js'

// ssh2 is CommonJS without named-export hints.
const { Server, utils } = ssh2
type Connection = ssh2.Connection
type ServerChannel = ssh2.ServerChannel

const HOST_KEY = utils.generateKeyPairSync('ed25519').private

/**
 * The SSH server a workspace agent runs (the Coder tunnel delivers connections to
 * it): any authentication is accepted, as the tunnel already authenticated the
 * user. Exec requests run `<login shell> -c <command>` in the workspace folder with
 * no PTY (agent/agentssh/agentssh.go CreateCommand: the user's shell from
 * usershell.Get, `-c`); the exit code is sent back as SSH exit-status, and a
 * command killed by a signal as exit-status 255, never exit-signal
 * (agentssh.go sessionStart: an ExitCode of -1 becomes 255).
 */
export class AgentSshServer {
  private readonly server: InstanceType<typeof Server>
  private readonly listener: NetServer
  private readonly children = new Set<ChildProcess>()
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor(
    /** Where sessions start: the agent's directory. */
    private readonly directory: string,
    private readonly home: string,
    private readonly env: Record<string, string>,
    /** The deployment's fault switches this agent obeys: sshDropOnOutput and execHoldMs. */
    private readonly faults: () => Pick<CoderFaults, 'sshDropOnOutput' | 'execHoldMs'>,
    /** The workspace user's login shell. */
    private readonly shell = '/bin/bash',
    /** Told of every SSH handshake (a new connection that authenticated). */
    private readonly onHandshake: () => void = () => undefined,
  ) {
    this.server = new Server({ hostKeys: [HOST_KEY] }, (client) => {
      client.on('authentication', (ctx) => ctx.accept())
      client.once('ready', () => this.onHandshake())
      client.on('error', () => undefined)
      client.on('session', (acceptSession) => {
        const session = acceptSession()
        session.on('env', (accept) => accept?.())
        session.on('exec', (accept, _reject, info) => {
          const channel = accept()
          // A loaded workspace: the command starts late (tests use it to hold a step mid-exec).
          const hold = this.faults().execHoldMs
          if (hold > 0) setTimeout(() => this.run(client, channel, info.command), hold)
          else this.run(client, channel, info.command)
        })
      })
    })
    // The agent's SSH listener is a TCP endpoint of the tailnet's userspace netstack (coder/coder
    // tailnet/conn.go Listen, agent/agent.go on workspacesdk.AgentSSHPort), and gVisor turns Nagle on
    // only when the stack's TCPDelayEnabled option is set (pkg/tcpip/transport/tcp/endpoint.go
    // newEndpoint), which tailscale's netstack leaves off; Go sets TCP_NODELAY on every socket it
    // opens too (net/tcpsock_posix.go newTCPConn). So no Nagle here either: each small handshake
    // packet would otherwise wait for the previous one's delayed ACK (~40 ms each, ~300 ms in all).
    this.listener = createServer((socket) => {
      socket.setNoDelay(true)
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      this.server.injectSocket(socket)
    })
  }

  /** Runs one exec request's command in the session's channel. */
  private run(client: Connection, channel: ServerChannel, command: string): void {
    const child = spawn(this.shell, ['-c', command], {
      cwd: this.directory,
      env: { ...this.env, HOME: this.home, SHELL: this.shell },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.children.add(child)
    let dropped = false
    // agentssh copies the process's output into the session with io.Copy, and x/crypto/ssh's
    // channel Write blocks while the client's window is full: the process waits for a slow reader.
    const forward = (target: Writable, source: Readable) => (data: Buffer) => {
      if (dropped) return
      if (!target.write(data)) {
        source.pause()
        target.once('drain', () => source.resume())
      }
      const marker = this.faults().sshDropOnOutput
      if (marker && data.includes(marker)) {
        dropped = true
        client.end()
      }
    }
    child.stdout.on('data', forward(channel, child.stdout))
    child.stderr.on('data', forward(channel.stderr, child.stderr))
    child.stdin.on('error', () => undefined)
    channel.on('data', (d: Buffer) => child.stdin.write(d))
    channel.on('eof', () => child.stdin.end())
    channel.on('error', () => undefined)
    child.on('close', (code, signal) => {
      this.children.delete(child)
      if (dropped) return
      channel.exit(signal ? 255 : (code ?? 0))
      channel.end()
    })
    child.on('error', (error) => {
      channel.stderr.write(`sh: ${error.message}\n`)
      channel.exit(127)
      channel.end()
    })
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.sockets.size
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.listener.listen(0, '127.0.0.1', resolve))
    this.port = (this.listener.address() as AddressInfo).port
    return this.port
  }

  /** Cuts every connection, as a network path that went away does (tests: a connection dead while idle). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  /**
   * The agent goes away (a stop, a delete): the build's `terraform apply` with transition stop or delete removes the
   * template's container or VM (coder/coder provisioner/terraform/provision.go Apply; the templates count the
   * docker_container or kubernetes_deployment by data.coder_workspace.me.start_count), and every process in it with
   * it, the commands' own sessions included (killProcessTree).
   */
  close(): void {
    for (const child of this.children) if (child.pid) killProcessTree(child.pid)
    for (const socket of this.sockets) socket.destroy()
    this.listener.close()
  }
}
