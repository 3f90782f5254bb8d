import type { Reporter } from '../reporter.js'
import type { TestCaseResult } from './junit-parser.js'
import { caseTitle, repoRelative, type TestCounts } from './test-results.js'

/** GitHub shows at most 10 error and 10 warning annotations per step. */
export const ANNOTATIONS_PER_KIND = 10

/**
 * One error annotation per failed or errored test, with its file and line when the
 * report has them, and one warning per flaky test, within GitHub's per-step limits.
 * What does not fit is summarised in one more line instead of being dropped silently.
 */
export function annotateTests(
  reporter: Reporter,
  cases: readonly TestCaseResult[],
  repoRoot: string | undefined,
  counts?: Pick<TestCounts, 'failed' | 'errored' | 'flaky'>,
): void {
  const failed = cases.filter((c) => c.status === 'failed' || c.status === 'error')
  const flaky = cases.filter((c) => c.flaky)
  // The cases may be only the kept ones (test-results.ts); the counts cover every case.
  const failedTotal = Math.max(failed.length, counts ? counts.failed + counts.errored : 0)
  const flakyTotal = Math.max(flaky.length, counts?.flaky ?? 0)
  const errorSlots = failedTotal > ANNOTATIONS_PER_KIND ? ANNOTATIONS_PER_KIND - 1 : ANNOTATIONS_PER_KIND
  for (const c of failed.slice(0, errorSlots))
    reporter.error(
      annotationText(c),
      location(c, repoRoot, `${c.status === 'error' ? 'Error' : 'Failed'}: ${caseTitle(c)}`),
    )
  if (failedTotal > errorSlots)
    reporter.error(
      `${failedTotal - errorSlots} more failed tests are not annotated (GitHub shows ${ANNOTATIONS_PER_KIND} per step); the job summary lists them.`,
      { title: 'More failed tests' },
    )
  const warningSlots = flakyTotal > ANNOTATIONS_PER_KIND ? ANNOTATIONS_PER_KIND - 1 : ANNOTATIONS_PER_KIND
  for (const c of flaky.slice(0, warningSlots))
    reporter.warning(`Passed only after a retry: ${caseTitle(c)}`, location(c, repoRoot, `Flaky: ${caseTitle(c)}`))
  if (flakyTotal > warningSlots)
    reporter.warning(`${flakyTotal - warningSlots} more flaky tests are not annotated.`, {
      title: 'More flaky tests',
    })
}

function annotationText(c: TestCaseResult): string {
  const text = [c.message, c.details && c.details !== c.message ? c.details : undefined].filter(Boolean).join('\n')
  return (text || `${c.status} without a message`).slice(0, 4_000)
}

function location(
  c: TestCaseResult,
  repoRoot: string | undefined,
  title: string,
): { title: string; file?: string; startLine?: number } {
  const file = repoRelative(c.file, repoRoot)
  return { title, ...(file ? { file } : {}), ...(file && c.line ? { startLine: c.line } : {}) }
}
