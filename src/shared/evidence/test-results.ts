import { existsSync } from 'node:fs'
import path from 'node:path'
import { parseJunitFile, type TestCaseResult } from './junit-parser.js'

/** Counts over every case of every report. */
export interface TestCounts {
  readonly total: number
  readonly passed: number
  readonly failed: number
  readonly errored: number
  readonly skipped: number
  readonly flaky: number
}

/** Every case of a run's reports, merged, and the reports that could not be read. */
export interface TestResults {
  readonly cases: readonly TestCaseResult[]
  readonly counts: TestCounts
  readonly problems: readonly string[]
  /** What the summary should say about reports that were read, e.g. durations that cannot be seconds. */
  readonly notes: readonly string[]
}

/**
 * Reads and merges reports. A report that cannot be read (malformed, a DOCTYPE)
 * becomes an `error` case naming the file, so it can never pass silently.
 */
export async function readReports(dir: string, files: readonly string[]): Promise<TestResults> {
  const cases: TestCaseResult[] = []
  const problems: string[] = []
  const notes: string[] = []
  for (const file of files) {
    const parsed = await parseJunitFile(path.join(dir, file), file)
    if (parsed.durationProblem) notes.push(`${file}: ${parsed.durationProblem}.`)
    if (parsed.problem) {
      problems.push(`${file}: ${parsed.problem}`)
      cases.push({
        reportFile: file,
        suite: 'run-task',
        classname: 'run-task',
        name: `report ${file}`,
        durationMs: 0,
        status: 'error',
        flaky: false,
        message: parsed.problem,
      })
    } else for (const c of parsed.cases) cases.push(c)
  }
  return { cases, counts: countCases(cases), problems, notes }
}

export function countCases(cases: readonly TestCaseResult[]): TestCounts {
  const counts = { total: 0, passed: 0, failed: 0, errored: 0, skipped: 0, flaky: 0 }
  for (const c of cases) {
    counts.total += 1
    if (c.status === 'passed') counts.passed += 1
    else if (c.status === 'failed') counts.failed += 1
    else if (c.status === 'error') counts.errored += 1
    else counts.skipped += 1
    if (c.flaky) counts.flaky += 1
  }
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
