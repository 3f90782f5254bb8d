import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'

export const ROOT = path.resolve(import.meta.dirname, '../..')

/** What one action step left behind, as a runner would see it. */
export interface StepResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly outputs: Record<string, string>
  /** State saved with core.saveState, to hand to the post step as STATE_* variables. */
  readonly state: Record<string, string>
  readonly summary: string
}

export interface StepOptions {
  /** The job's shared environment: RUNNER_TEMP, GITHUB_* and the artifact token. */
  readonly env: Record<string, string>
  readonly inputs?: Record<string, string>
  /** Runs the action's post entry with this saved state. */
  readonly post?: Record<string, string>
  /** Sends SIGINT once stdout contains this text (a cancelled job). */
  readonly interruptOn?: string
  /** The signal interruptOn sends: SIGKILL stands for a runner that gave up waiting. */
  readonly interruptWith?: NodeJS.Signals
  /** After interruptOn's signal, SIGTERM this many ms later if the step still runs (the runner's cancel: 7.5 s). */
  readonly escalateAfterMs?: number
  /** Options for node before the entry file (the benchmark preloads a peak-memory probe). */
  readonly nodeArgs?: readonly string[]
  /** Counts stdout instead of keeping it (stdout is then its byte count): the benchmark sends hundreds of MiB. */
  readonly countStdout?: boolean
}

/**
 * Runs an action the way the runner does: `node <runs.main|post>` with INPUT_*
 * variables (the action.yml defaults filled in), and GITHUB_OUTPUT, GITHUB_STATE
 * and GITHUB_STEP_SUMMARY files that are parsed afterwards.
 */
export async function runActionStep(action: string, options: StepOptions): Promise<StepResult> {
  const actionDir = path.join(ROOT, 'actions', action)
  const metadata = parse(readFileSync(path.join(actionDir, 'action.yml'), 'utf8')) as {
    inputs?: Record<string, { default?: string }>
    runs: { main: string; post?: string }
  }
  const files = mkdtempSync(path.join(tmpdir(), `step-${action}-`))
  const outputFile = path.join(files, 'output')
  const stateFile = path.join(files, 'state')
  const summaryFile = path.join(files, 'summary')
  for (const f of [outputFile, stateFile, summaryFile]) writeFileSync(f, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...options.env,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STATE: stateFile,
    GITHUB_STEP_SUMMARY: summaryFile,
  }
  for (const [name, spec] of Object.entries(metadata.inputs ?? {})) {
    const value = options.inputs?.[name] ?? spec.default ?? ''
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  for (const [key, value] of Object.entries(options.post ?? {})) env[`STATE_${key}`] = value
  const entry = path.resolve(actionDir, options.post ? (metadata.runs.post as string) : metadata.runs.main)
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    env,
    cwd: options.env.GITHUB_WORKSPACE ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let interrupted = false
  let counted = 0
  child.stdout.on('data', (d: Buffer) => {
    if (options.countStdout) return void (counted += d.length)
    stdout += d.toString()
    if (options.interruptOn && !interrupted && stdout.includes(options.interruptOn)) {
      interrupted = true
      child.kill(options.interruptWith ?? 'SIGINT')
      if (options.escalateAfterMs !== undefined) {
        const timer = setTimeout(() => child.kill('SIGTERM'), options.escalateAfterMs)
        child.on('close', () => clearTimeout(timer))
      }
    }
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  )
  return {
    code,
    signal,
    stdout: options.countStdout ? String(counted) : stdout,
    stderr,
    outputs: parseFileCommand(readFileSync(outputFile, 'utf8')),
    state: parseFileCommand(readFileSync(stateFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
  }
}

/** Parses the `name<<delimiter` format the toolkit writes to GITHUB_OUTPUT and GITHUB_STATE. */
export function parseFileCommand(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] as string)
    if (!match) continue
    const value: string[] = []
    while (++i < lines.length && lines[i] !== match[2]) value.push(lines[i] as string)
    result[match[1] as string] = value.join('\n')
  }
  return result
}
