/**
 * Shared pieces of `npm run bench`: the row every group returns, timing and
 * memory helpers, and the BENCHMARKS.md writer. Figures are reported, never asserted.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import os from 'node:os'

/** One figure of the benchmark, next to its reference measured in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "Coder exec of `true` on an open connection". */
  readonly figure: string
  /** The toolkit's figure, formatted with its unit ("16 ms", "55 MiB/s"). */
  readonly value: string
  /** The reference and its figure ("OpenSSH ControlMaster 8 ms"), when the row has one. */
  readonly reference?: string
  /** value ÷ reference for times (reference ÷ value for rates): lower is better, 1 = as fast as the reference. */
  readonly ratio?: number
  /** The target from the issue, e.g. "≤ 2×" or "≤ 150 MiB peak". */
  readonly target?: string
  /** Whether the target was met, when there is one. */
  readonly met?: boolean
  /** Peak resident memory of the measured process, MiB. */
  readonly peakMiB?: number
}

/** A group of rows, run by `npm run bench [group...]`. */
export interface BenchGroup {
  readonly name: string
  readonly run: () => Promise<BenchRow[]>
}

export const mib = (bytes: number): number => bytes / 1024 / 1024
export const fmtMs = (ms: number): string => `${ms.toFixed(0)} ms`
export const fmtMiB = (bytes: number): string => `${mib(bytes).toFixed(1)} MiB`

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now()
  const value = await fn()
  return [value, performance.now() - started]
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const at = (i: number): number => sorted[i] ?? Number.NaN
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2
}

/**
 * Runs `subject` and `reference` alternately `runs` times and returns both medians,
 * so that load on the machine hits both sides alike.
 */
export async function alternate(
  runs: number,
  subject: () => Promise<unknown>,
  reference: () => Promise<unknown>,
): Promise<{ subjectMs: number; referenceMs: number }> {
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < runs; i++) {
    a.push((await timed(subject))[1])
    b.push((await timed(reference))[1])
  }
  return { subjectMs: median(a), referenceMs: median(b) }
}

/** Samples this process's RSS; `peak()` gives the highest value since `start()`. */
export function rssSampler(intervalMs = 10): { start: () => void; peak: () => number; stop: () => void } {
  let peak = 0
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), intervalMs)
  timer.unref()
  return {
    start: () => (peak = process.memoryUsage().rss),
    peak: () => Math.max(peak, process.memoryUsage().rss),
    stop: () => clearInterval(timer),
  }
}

/** A row for a time figure against a reference time, with a ratio target such as 2 (≤ 2×). */
export function timeRow(
  figure: string,
  ms: number,
  reference: { name: string; ms: number },
  maxRatio?: number,
  peakMiB?: number,
): BenchRow {
  const ratio = ms / reference.ms
  return {
    figure,
    value: fmtMs(ms),
    reference: `${reference.name} ${fmtMs(reference.ms)}`,
    ratio,
    target: maxRatio === undefined ? undefined : `≤ ${maxRatio}×`,
    met: maxRatio === undefined ? undefined : ratio <= maxRatio,
    peakMiB,
  }
}

function cell(value: string | number | boolean | undefined): string {
  if (value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'yes' : '**no**'
  if (typeof value === 'number') return `${value.toFixed(2)}×`
  return value.replaceAll('|', '\\|')
}

/** Renders the rows as the BENCHMARKS.md table, with the machine they ran on. */
export function renderBenchmarks(groups: ReadonlyArray<{ name: string; rows: readonly BenchRow[] }>): string {
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` in one run; each reference was measured in the same run, alternating with the',
    'figure it is compared to. Timings are never asserted by the tests.',
    '',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${fmtMiB(os.totalmem())},`,
    `Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end of the run.`,
    '',
  ]
  for (const group of groups) {
    lines.push(`## ${group.name}`, '', '| figure | value | reference | ratio | target | met | peak memory |')
    lines.push('|---|---|---|---|---|---|---|')
    for (const row of group.rows) {
      const peak = row.peakMiB === undefined ? '' : `${row.peakMiB.toFixed(0)} MiB`
      lines.push(
        `| ${[row.figure, row.value, row.reference, row.ratio, row.target, row.met, peak].map(cell).join(' | ')} |`,
      )
    }
    lines.push('')
  }
  return lines.join('\n')
}

export function writeBenchmarks(
  file: string,
  groups: ReadonlyArray<{ name: string; rows: readonly BenchRow[] }>,
): void {
  writeFileSync(file, renderBenchmarks(groups) + missedTargetNotes())
}

/**
 * The profiles and reasons for the targets a run misses: written by hand from
 * `node --cpu-prof` and memory figures (bench/MISSED-TARGETS.md), kept in every
 * BENCHMARKS.md the bench writes.
 */
function missedTargetNotes(): string {
  const notes = path.join(import.meta.dirname, 'MISSED-TARGETS.md')
  return existsSync(notes) ? `\n${readFileSync(notes, 'utf8')}` : ''
}
