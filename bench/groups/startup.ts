/**
 * Step start-up: each action's bundle as a runner starts it, timed from spawn to its
 * first request (provision) or to its exit (inputs that end the step early), against
 * `node -e 0` in the same run. Peak memory is the child's own VmHWM.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type BenchRow, alternate, mib, timeRow } from '../lib.js'

const NODE = process.execPath
const RUNS = 9
// Prints the child's peak RSS when it exits; used only in the memory run, not the timed ones.
// VmHWM, not getrusage's maxRSS: that survives execve, so a child forked from the (large)
// bench process would report the bench's own peak.
const PEAK_HOOK = `data:text/javascript,${encodeURIComponent("const fs = process.getBuiltinModule('node:fs'); process.on('exit', () => process._rawDebug('PEAK_RSS ' + /VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]))")}`

interface Case {
  readonly figure: string
  readonly entry: string
  readonly env: (url: string) => Record<string, string>
  /** Ends at the first request to the loopback server instead of at exit. */
  readonly untilRequest: boolean
  readonly maxRatio: number
}

const CASES: readonly Case[] = [
  {
    figure: 'start-up to first request: provision, Coder',
    entry: 'provision-workspace',
    env: (url) => ({ INPUT_PROVIDER: 'coder', 'INPUT_CODER-URL': url, 'INPUT_CODER-TOKEN': 'x', INPUT_TEMPLATE: 't' }),
    untilRequest: true,
    maxRatio: 4,
  },
  {
    figure: 'start-up to first request: provision, Che',
    entry: 'provision-workspace',
    env: (url) => ({
      INPUT_PROVIDER: 'che',
      INPUT_KUBECONFIG: kubeconfig(url),
      INPUT_DEVFILE:
        'schemaVersion: 2.2.0\nmetadata:\n  name: b\ncomponents:\n  - name: dev\n    container:\n      image: busybox\n',
    }),
    untilRequest: true,
    maxRatio: 6,
  },
  {
    figure: 'start-up to exit: provision, bad provider',
    entry: 'provision-workspace',
    env: () => ({ INPUT_PROVIDER: 'nope' }),
    untilRequest: false,
    maxRatio: 4,
  },
  {
    figure: 'start-up to exit: run-task, bad timeout',
    entry: 'run-task',
    env: () => ({ INPUT_COMMAND: 'true', INPUT_TIMEOUT: '10x' }),
    untilRequest: false,
    maxRatio: 4,
  },
  {
    figure: 'start-up to exit: collect-evidence, bad size',
    entry: 'collect-evidence',
    env: () => ({ 'INPUT_MAX-EVIDENCE-SIZE': 'lots' }),
    untilRequest: false,
    maxRatio: 4,
  },
  {
    figure: 'start-up to exit: cleanup, bad timeout',
    entry: 'cleanup',
    env: () => ({ 'INPUT_DELETE-TIMEOUT': '10x' }),
    untilRequest: false,
    maxRatio: 4,
  },
]

function kubeconfig(url: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "' + url + '", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: t}}]',
    'contexts: [{name: x, context: {cluster: c, user: u, namespace: ci}}]',
    'current-context: x',
  ].join('\n')
}

/** Starts the entry and resolves when it sends its first request or exits; reports its peak RSS when asked. */
function startStep(
  c: Case,
  server: { url: string; next: () => Promise<void> },
  runnerTemp: string,
  withPeak = false,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...(withPeak ? ['--import', PEAK_HOOK] : []), `dist/${c.entry}/index.js`], {
      env: { PATH: process.env.PATH, RUNNER_TEMP: runnerTemp, ...c.env(server.url) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    if (c.untilRequest)
      void server.next().then(() => {
        if (!withPeak) child.kill('SIGKILL')
      })
    child.on('error', reject)
    child.on('close', () => {
      const peak = /PEAK_RSS (\d+)/.exec(stderr)
      resolve(peak ? Number(peak[1]) * 1024 : 0)
    })
  })
}

async function loopbackServer(): Promise<{ server: Server; url: string; next: () => Promise<void> }> {
  let waiting: Array<() => void> = []
  const server = createServer((_req, res) => {
    for (const resolve of waiting) resolve()
    waiting = []
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"bench"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    next: () => new Promise<void>((resolve) => waiting.push(resolve)),
  }
}

function nodeE0(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['-e', '0'], { stdio: 'ignore' })
    child.on('error', reject)
    child.on('close', () => resolve())
  })
}

export async function benchStartup(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const loopback = await loopbackServer()
  const runnerTemp = mkdtempSync(path.join(tmpdir(), 'bench-startup-'))
  try {
    for (const c of CASES) {
      await startStep(c, loopback, runnerTemp) // warms the compile cache, as the job's earlier steps would
      const { subjectMs, referenceMs } = await alternate(RUNS, () => startStep(c, loopback, runnerTemp), nodeE0)
      const peak = await startStep(c, loopback, runnerTemp, true)
      const row = timeRow(c.figure, subjectMs, { name: '`node -e 0`', ms: referenceMs }, c.maxRatio, mib(peak))
      const peakMet = mib(peak) <= 90
      rows.push({ ...row, target: `${row.target ?? ''}, peak ≤ 90 MiB`, met: row.met === true && peakMet })
    }
  } finally {
    rmSync(runnerTemp, { recursive: true, force: true })
    loopback.server.close()
  }
  return rows
}
