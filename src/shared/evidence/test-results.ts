import { existsSync } from 'node:fs'
import path from 'node:path'
import { type CaseReceiver, readJunitFile, type TestCaseResult } from './junit-parser.js'

/** Counts over every case of every report. */
export interface TestCounts {
  readonly total: number
  readonly passed: number
  readonly failed: number
  readonly errored: number
  readonly skipped: number
  readonly flaky: number
}

/**
 * What the reports hold, in bounded memory: counts over every case, and the cases
 * the summary, annotations, check run and outputs show: the first failed or
 * errored cases, the first flaky ones and the slowest. A run of 1,000,000 cases
 * keeps a few thousand, not a million.
 */
export interface TestResults {
  readonly cases: readonly TestCaseResult[]
  readonly counts: TestCounts
  readonly problems: readonly string[]
  /** What the summary should say about reports that were read, e.g. durations that cannot be seconds. */
  readonly notes: readonly string[]
}

/** Failed or errored cases kept in full; the check run annotates at most this many too. */
export const FAILED_CASES_KEPT = 1_000
const FLAKY_CASES_KEPT = 100
const SLOWEST_CASES_KEPT = 10

/** Keeps what TestResults promises while cases stream by. */
class CaseKeeper {
  readonly counts = { total: 0, passed: 0, failed: 0, errored: 0, skipped: 0, flaky: 0 }
  private readonly failed: Array<[number, TestCaseResult]> = []
  private readonly flaky: Array<[number, TestCaseResult]> = []
  /** Slowest first. */
  private readonly slowest: Array<[number, TestCaseResult]> = []
  private seen = 0

  readonly receive: CaseReceiver = (c, make) => this.take(c, make)

  /** Counts a case and keeps it if it is shown. */
  take(c: Pick<TestCaseResult, 'status' | 'flaky' | 'durationMs'>, make: () => TestCaseResult): void {
    count(this.counts, c.status, c.flaky && c.status === 'passed')
    this.keep(c, make)
  }

  private keep(c: Pick<TestCaseResult, 'status' | 'flaky' | 'durationMs'>, make: () => TestCaseResult): void {
    const order = this.seen++
    let made: TestCaseResult | undefined
    const get = (): TestCaseResult => (made ??= make())
    if (c.status === 'failed' || c.status === 'error') {
      if (this.failed.length < FAILED_CASES_KEPT) this.failed.push([order, get()])
    } else if (c.flaky && c.status === 'passed' && this.flaky.length < FLAKY_CASES_KEPT) this.flaky.push([order, get()])
    const last = this.slowest.at(-1)
    if (c.durationMs > 0 && (this.slowest.length < SLOWEST_CASES_KEPT || (last && c.durationMs > last[1].durationMs))) {
      const entry: [number, TestCaseResult] = [order, get()]
      const at = this.slowest.findIndex(([, s]) => s.durationMs < c.durationMs)
      this.slowest.splice(at < 0 ? this.slowest.length : at, 0, entry)
      this.slowest.length = Math.min(this.slowest.length, SLOWEST_CASES_KEPT)
    }
  }

  /** Takes over what another keeper kept (one report), optionally without its durations. */
  merge(other: CaseKeeper, withoutDurations: boolean): void {
    for (const key of Object.keys(this.counts) as Array<keyof TestCounts>) this.counts[key] += other.counts[key]
    for (const [, c] of other.kept()) {
      const kept = withoutDurations ? { ...c, durationMs: 0 } : c
      this.keep(kept, () => kept)
    }
  }

  /** The kept cases, each once, in the order the reports listed them. */
  kept(): Array<[number, TestCaseResult]> {
    const unique = new Map<number, TestCaseResult>()
    for (const [order, c] of [...this.failed, ...this.flaky, ...this.slowest]) unique.set(order, c)
    return [...unique].sort((a, b) => a[0] - b[0])
  }
}

function count(
  counts: { -readonly [K in keyof TestCounts]: number },
  status: TestCaseResult['status'],
  flaky: boolean,
) {
  counts.total += 1
  if (status === 'passed') counts.passed += 1
  else if (status === 'failed') counts.failed += 1
  else if (status === 'error') counts.errored += 1
  else counts.skipped += 1
  if (flaky) counts.flaky += 1
}

/**
 * Reads and merges reports as streams. A report that cannot be read (malformed,
 * a DOCTYPE) becomes an `error` case naming the file, so it can never pass silently.
 */
export async function readReports(dir: string, files: readonly string[]): Promise<TestResults> {
  const all = new CaseKeeper()
  const problems: string[] = []
  const notes: string[] = []
  for (const file of files) {
    const report = new CaseKeeper()
    const outcome = await readJunitFile(path.join(dir, file), file, report.receive)
    if (outcome.durationProblem) notes.push(`${file}: ${outcome.durationProblem}.`)
    if (outcome.problem) {
      problems.push(`${file}: ${outcome.problem}`)
      const problemCase: TestCaseResult = {
        reportFile: file,
        suite: 'run-task',
        classname: 'run-task',
        name: `report ${file}`,
        durationMs: 0,
        status: 'error',
        flaky: false,
        message: outcome.problem,
      }
      all.take(problemCase, () => problemCase)
    } else all.merge(report, outcome.durationProblem !== undefined)
  }
  return { cases: all.kept().map(([, c]) => c), counts: { ...all.counts }, problems, notes }
}

export function countCases(cases: readonly TestCaseResult[]): TestCounts {
  const counts = { total: 0, passed: 0, failed: 0, errored: 0, skipped: 0, flaky: 0 }
  for (const c of cases) count(counts, c.status, c.flaky)
  return counts
}

export const NO_TESTS: TestCounts = { total: 0, passed: 0, failed: 0, errored: 0, skipped: 0, flaky: 0 }

/**
 * `classname › name`, or the name alone when it already ends with the class
 * (mocha-junit-reporter writes the full title as name and the test's own as class).
 */
export function caseTitle(c: TestCaseResult): string {
  return c.classname && !c.name.endsWith(c.classname) ? `${c.classname} › ${c.name}` : c.name
}

/**
 * A report's file path as the repository knows it: absolute paths from the
 * workspace (`/projects/app/src/a.test.ts`) lose leading folders until the rest
 * names a file in the checkout, so annotations land on the right file. An absolute
 * path that names no file in the checkout stays absolute: it is not the repository's.
 */
export function repoRelative(file: string | undefined, repoRoot: string | undefined): string | undefined {
  if (!file) return undefined
  const parts = file.replace(/\\/g, '/').split('/').filter(Boolean)
  if (!path.isAbsolute(file) && !file.startsWith('./')) return parts.join('/')
  if (repoRoot) {
    for (let i = 0; i < parts.length; i++) {
      const rest = parts.slice(i).join('/')
      if (existsSync(path.join(repoRoot, rest))) return rest
    }
  }
  return file.startsWith('./') ? parts.slice(1).join('/') : `/${parts.join('/')}`
}
