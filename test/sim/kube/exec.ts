import { type ChildProcess, spawn } from 'node:child_process'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { PODS } from './controller.js'
import { type KubeFaults, statusBody } from './faults.js'
import type { ObjectStore } from './store.js'
import { killProcessTree } from '../process-tree.js'

const STDIN = 0
const STDOUT = 1
const STDERR = 2
const STATUS = 3
const RESIZE = 4
const CLOSE = 255
/** Output the server has sent but the socket has not yet written out; above this it stops reading the command. */
const MAX_IN_FLIGHT = 1024 * 1024

interface PodShape {
  spec: { containers: { name: string; env?: { name: string; value: string }[] }[] }
  status: { phase?: string }
}

/**
 * Pod exec over WebSocket, as the API server proxies it from the kubelet: the
 * `v5.channel.k8s.io` / `v4.channel.k8s.io` subprotocols, binary frames with a
 * channel byte, one empty frame first, output on 1 and 2, then exactly one status
 * on 3. The command really runs, with bash available, in the workspace's folder.
 */
export class ExecServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => this.faults.execProtocols.find((p) => protocols.has(p)) ?? false,
  })
  /** The commands running in each pod (`namespace/name`): they die with the pod. */
  private readonly children = new Map<string, Set<ChildProcess>>()
  /** Bytes read from the commands' stdout and stderr so far: a test compares it with what its client took in. */
  outputBytesRead = 0

  constructor(
    private readonly store: ObjectStore,
    private readonly faults: KubeFaults,
  ) {
    store.subscribe((event) => {
      if (event.resource === PODS && event.type === 'DELETED')
        this.killPod(`${event.object.metadata.namespace ?? ''}/${event.object.metadata.name}`)
    })
  }

  /** Handles an HTTP upgrade on `/api/v1/namespaces/{ns}/pods/{pod}/exec`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://sim')
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname)
    if (!match)
      return refuse(socket, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'))
    const [, ns, podName] = match as unknown as [string, string, string]
    if (this.faults.execUpgradeStatus)
      return refuse(
        socket,
        this.faults.execUpgradeStatus,
        statusBody(this.faults.execUpgradeStatus, 'Forbidden', `pods "${podName}" is forbidden: exec is not allowed`),
      )
    const pod = this.store.get(PODS, ns, podName) as unknown as PodShape | undefined
    if (!pod)
      return refuse(
        socket,
        404,
        statusBody(404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' }),
      )
    const containerName = url.searchParams.get('container') ?? pod.spec.containers[0]?.name
    const container = pod.spec.containers.find((c) => c.name === containerName)
    if (!container)
      return refuse(
        socket,
        400,
        statusBody(400, 'BadRequest', `container ${containerName} is not valid for pod ${podName}`),
      )
    if (pod.status.phase !== 'Running')
      return refuse(socket, 400, statusBody(400, 'BadRequest', `pod ${podName} is not running`))
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    if (!this.faults.execProtocols.some((p) => offered.includes(p)))
      return refuse(socket, 400, statusBody(400, 'BadRequest', 'no supported channel subprotocol was offered'))
    const command = url.searchParams.getAll('command')
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]))
    const accept = (): void =>
      this.wss.handleUpgrade(req, socket, head, (ws) =>
        this.run(ws, `${ns}/${podName}`, command, env, url.searchParams),
      )
    if (this.faults.execUpgradeDelayMs > 0) setTimeout(accept, this.faults.execUpgradeDelayMs)
    else accept()
  }

  /** Kills every command still running. */
  close(): void {
    for (const pod of this.children.keys()) this.killPod(pod)
    this.wss.close()
  }

  /**
   * A deleted pod's containers are gone, and every process in them with them: the kubelet stops each container
   * (kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go killContainer, StopContainer through the CRI), and
   * the runtime kills the container's whole PID namespace, the exec'd commands' own sessions included.
   */
  private killPod(pod: string): void {
    for (const child of this.children.get(pod) ?? []) if (child.pid) killProcessTree(child.pid)
    this.children.delete(pod)
  }

  private run(
    ws: WebSocket,
    pod: string,
    command: string[],
    env: Record<string, string>,
    params: URLSearchParams,
  ): void {
    const v5 = ws.protocol === 'v5.channel.k8s.io'
    const wantStdin = params.get('stdin') === 'true'
    const outputs = [STDOUT, STDERR].filter((ch) => params.get(ch === STDOUT ? 'stdout' : 'stderr') === 'true')
    // The API server copies the kubelet's stream to the WebSocket with blocking writes (k8s.io/apiserver
    // pkg/util/proxy/streamtranslator.go ServeHTTP, io.Copy into the websocket writer), so a client that reads
    // slowly stalls the command's pipes: output beyond what the sockets hold waits in the command.
    let inFlight = 0
    const paused = new Set<NodeJS.ReadableStream>()
    const send = (channel: number, data: Buffer, from?: NodeJS.ReadableStream): void => {
      if (ws.readyState !== ws.OPEN) return
      inFlight += data.length
      ws.send(Buffer.concat([Buffer.from([channel]), data]), () => {
        inFlight -= data.length
        if (inFlight > MAX_IN_FLIGHT / 2) return
        for (const stream of paused) stream.resume()
        paused.clear()
      })
      if (from && inFlight > MAX_IN_FLIGHT) {
        from.pause()
        paused.add(from)
      }
    }
    // The kubelet opens with one empty frame on the lowest requested output channel.
    if (outputs[0] !== undefined) send(outputs[0], Buffer.alloc(0))
    if (command.length === 0)
      return this.finish(
        ws,
        statusBody(500, 'InternalError', 'you must specify at least one command for the container'),
      )

    const child = spawn(command[0] as string, command.slice(1), { cwd: env.HOME, env, stdio: ['pipe', 'pipe', 'pipe'] })
    const running = this.children.get(pod) ?? new Set<ChildProcess>()
    this.children.set(pod, running.add(child))
    let dropped = false
    const dropMarker = this.faults.execDropOnOutput
    const forward = (channel: number, from: NodeJS.ReadableStream) => (data: Buffer) => {
      this.outputBytesRead += data.length
      if (dropped) return
      if (outputs.includes(channel)) send(channel, data, from)
      if (dropMarker && data.includes(dropMarker)) {
        dropped = true
        // The connection dies mid-command: no status frame, and the process goes on.
        ws.terminate()
      }
    }
    child.stdout.on('data', forward(STDOUT, child.stdout))
    child.stderr.on('data', forward(STDERR, child.stderr))
    child.stdin.on('error', () => undefined)
    if (!wantStdin) child.stdin.end()
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (!isBinary || raw.length === 0) return
      const channel = raw[0]
      if (channel === STDIN && wantStdin) child.stdin.write(raw.subarray(1))
      else if (channel === CLOSE && v5 && raw[1] === STDIN) child.stdin.end()
      else if (channel === RESIZE) return
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      running.delete(child)
      const message =
        error.code === 'ENOENT' ? `exec: "${command[0]}": executable file not found in $PATH` : error.message
      this.finish(
        ws,
        statusBody(
          500,
          'InternalError',
          `Internal error occurred: error executing command in container: failed to exec in container: ${message}`,
        ),
      )
    })
    child.on('close', (code, signal) => {
      running.delete(child)
      if (dropped) return
      const exitCode = code ?? 128 + signalNumber(signal)
      this.finish(ws, exitCode === 0 ? { metadata: {}, status: 'Success' } : nonZeroExit(exitCode))
    })
  }

  /**
   * Sends the one status frame, then closes: k8s.io/apiserver pkg/util/proxy/streamtranslator.go ServeHTTP
   * (`defer websocketStreams.conn.Close()` runs right after the final writeStatus; x/net/websocket's Close writes a
   * close frame). kubectl waits for that close before it exits.
   */
  private finish(ws: WebSocket, status: Record<string, unknown>): void {
    if (ws.readyState !== ws.OPEN) return
    ws.send(Buffer.concat([Buffer.from([STATUS]), Buffer.from(JSON.stringify(status))]))
    ws.close(1000)
  }
}

function nonZeroExit(code: number): Record<string, unknown> {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [sh -c ...], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  }
}

function refuse(socket: Duplex, code: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body)
  socket.end(
    `HTTP/1.1 ${code} ${code === 404 ? 'Not Found' : code === 403 ? 'Forbidden' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  )
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGTERM: 15,
  }
  return (signal && numbers[signal]) ?? 1
}
