/**
 * Runs a committed action step as the runner does (`node dist/<action>/index.js` with INPUT_*
 * variables and the file commands), draining its stdout as the runner reads the job log, and
 * reports its wall time and its own peak memory (the child's VmHWM, written as it exits).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { parseFileCommand, ROOT } from '../test/harness/action-runner.js'
import { mib } from './lib.js'

export interface MeasuredStep {
  readonly code: number | null
  readonly ms: number
  /** The step process's peak resident memory, MiB. */
  readonly peakMiB: number
  readonly stdoutBytes: number
  readonly outputs: Record<string, string>
  readonly stderr: string
}

// Loaded with --import before the entry: the child writes its own peak RSS (KiB) when it exits.
// VmHWM, not getrusage's maxRSS: that survives execve, so a child forked from the (large)
// bench process would report the bench's own peak.
const MAX_RSS_HOOK = `import { readFileSync, writeFileSync } from 'node:fs'
const peak = () => /VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
process.on('exit', () => writeFileSync(process.env.BENCH_MAX_RSS_FILE, peak()))
`

export async function runStepMeasured(
  action: string,
  jobEnv: Record<string, string>,
  inputs: Record<string, string>,
): Promise<MeasuredStep> {
  const actionDir = path.join(ROOT, 'actions', action)
  const metadata = parse(readFileSync(path.join(actionDir, 'action.yml'), 'utf8')) as {
    inputs?: Record<string, { default?: string }>
    runs: { main: string }
  }
  const files = mkdtempSync(path.join(tmpdir(), `bench-step-${action}-`))
  try {
    const file = (name: string, text = ''): string => {
      writeFileSync(path.join(files, name), text)
      return path.join(files, name)
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...jobEnv,
      GITHUB_OUTPUT: file('output'),
      GITHUB_STATE: file('state'),
      GITHUB_STEP_SUMMARY: file('summary'),
      BENCH_MAX_RSS_FILE: file('max-rss', '0'),
    }
    for (const [name, spec] of Object.entries(metadata.inputs ?? {}))
      env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = inputs[name] ?? spec.default ?? ''
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [`--import=${file('hook.mjs', MAX_RSS_HOOK)}`, path.resolve(actionDir, metadata.runs.main)],
      { env, cwd: jobEnv.GITHUB_WORKSPACE ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdoutBytes = 0
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdoutBytes += d.length))
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    const ms = performance.now() - started
    return {
      code,
      ms,
      peakMiB: mib(Number(readFileSync(path.join(files, 'max-rss'), 'utf8')) * 1024),
      stdoutBytes,
      outputs: parseFileCommand(readFileSync(path.join(files, 'output'), 'utf8')),
      stderr,
    }
  } finally {
    rmSync(files, { recursive: true, force: true })
  }
}

/** A collect row measures nothing unless the files were really copied (an evidence path that found nothing is fast). */
export function assertCopied(step: MeasuredStep, files: number): void {
  const dir = path.join(step.outputs['evidence-dir'] as string, 'workspace')
  const copied = existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
    : 0
  if (copied !== files) throw new Error(`the collect step copied ${copied} files, not ${files}`)
}

/**
 * One collect step (upload off), measured; fails unless it copied `files` files. The copy is removed afterwards, so
 * the next run writes them again.
 */
export async function collectMeasured(jobEnv: Record<string, string>, files: number): Promise<MeasuredStep> {
  const step = await runStepMeasured('collect-evidence', jobEnv, { upload: 'false', 'max-evidence-size': '1GiB' })
  if (step.code !== 0) throw new Error(`collect failed: ${step.stderr}`)
  assertCopied(step, files)
  rmSync(path.join(step.outputs['evidence-dir'] as string, 'workspace'), { recursive: true, force: true })
  return step
}
