import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** The oldest kubectl the suite accepts: 1.30 is the first that speaks exec over WebSocket (v5) by default. */
export const MIN_KUBECTL = { major: 1, minor: 30 }

/** What one kubectl invocation left behind. */
export interface KubectlResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs kubectl with a kubeconfig of its own and a private discovery cache. */
export interface Kubectl {
  /** The version the server made kubectl use (a dispatcher picks one by the server's /version). */
  readonly version: string
  run(args: readonly string[], options?: { timeoutMs?: number }): Promise<KubectlResult>
  /** Starts a long-running kubectl (get -w); the caller kills it. */
  start(args: readonly string[]): ChildProcessWithoutNullStreams
  close(): void
}

/** The first `kubectl` on PATH, or undefined. */
export function kubectlOnPath(pathVariable = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVariable.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'kubectl')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/**
 * A kubectl for one kubeconfig. Fails, naming what was found, when PATH has no kubectl or only one older than 1.30:
 * the suite must never pass by skipping.
 */
export async function kubectlFor(kubeconfig: string, pathVariable = process.env.PATH ?? ''): Promise<Kubectl> {
  const binary = kubectlOnPath(pathVariable)
  const wanted = `kubectl ${MIN_KUBECTL.major}.${MIN_KUBECTL.minor} or later`
  if (!binary) throw new Error(`The kubectl suite needs ${wanted} on PATH, and there is no kubectl on PATH.`)
  const dir = mkdtempSync(path.join(tmpdir(), 'kubectl-'))
  const file = path.join(dir, 'kubeconfig')
  writeFileSync(file, kubeconfig, { mode: 0o600 })
  const connection = ['--kubeconfig', file, '--cache-dir', path.join(dir, 'cache')]
  const env = { ...process.env, PATH: pathVariable, KUBECONFIG: file }
  const run = (args: readonly string[], options: { timeoutMs?: number } = {}): Promise<KubectlResult> =>
    new Promise((resolve) => {
      execFile(
        binary,
        [...args, ...connection],
        { timeout: options.timeoutMs ?? 30_000, env },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
          resolve({ code, stdout, stderr })
        },
      )
    })
  // Against the server, so that a dispatcher reports the kubectl it really runs.
  const probe = await run(['version', '-o', 'json'])
  const version = (JSON.parse(probe.stdout || '{}') as { clientVersion?: { gitVersion?: string } }).clientVersion
    ?.gitVersion
  const match = /^v(\d+)\.(\d+)\./.exec(version ?? '')
  const [major, minor] = [Number(match?.[1]), Number(match?.[2])]
  if (!match || major < MIN_KUBECTL.major || (major === MIN_KUBECTL.major && minor < MIN_KUBECTL.minor)) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(
      `The kubectl suite needs ${wanted}; ${binary} is ${version ?? `unknown (kubectl version said: ${probe.stderr.trim() || probe.stdout.trim()})`}.`,
    )
  }
  return {
    version: version as string,
    run,
    start: (args) => spawn(binary, [...args, ...connection], { env }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** `kubectl apply -f -` of a manifest; its exit code and its stdout and stderr together. */
export async function applyManifest(kubectl: Kubectl, manifest: string): Promise<{ code: number | null; out: string }> {
  const child = kubectl.start(['apply', '-f', '-'])
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  child.stdin.end(manifest)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, out }
}
