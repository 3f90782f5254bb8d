import { escapeXml } from './junit.js'

/** One check of a flow (smoke, E2E), reported as one JUnit test case. */
export interface CheckResult {
  readonly name: string
  readonly status: 'passed' | 'failed' | 'skipped'
  /** One line: why it failed or was skipped, or what it found. */
  readonly message: string
  /** Longer detail: command output, response snippets. */
  readonly output: string
  readonly durationMs: number
}

/** A JUnit report with one test case per check, in order. */
export function checksJunit(suite: string, classname: string, checks: readonly CheckResult[]): string {
  const count = (status: CheckResult['status']): number => checks.filter((c) => c.status === status).length
  const seconds = (ms: number): string => (ms / 1000).toFixed(3)
  const total = seconds(checks.reduce((sum, c) => sum + c.durationMs, 0))
  const cases = checks.map((c) => {
    const body =
      c.status === 'failed'
        ? `\n      <failure message="${escapeXml(c.message)}" type="CheckFailed">${escapeXml([c.message, c.output].filter(Boolean).join('\n\n'))}</failure>`
        : c.status === 'skipped'
          ? `\n      <skipped message="${escapeXml(c.message)}"/>`
          : ''
    const out =
      c.status !== 'failed' && (c.message || c.output)
        ? `\n      <system-out>${escapeXml([c.message, c.output].filter(Boolean).join('\n\n'))}</system-out>`
        : ''
    return `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(c.name)}" time="${seconds(c.durationMs)}">${body}${out}\n    </testcase>`
  })
  const attrs = `tests="${checks.length}" failures="${count('failed')}" errors="0" skipped="${count('skipped')}" time="${total}"`
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="${escapeXml(suite)}" ${attrs}>
  <testsuite name="${escapeXml(suite)}" ${attrs}>
${cases.join('\n')}
  </testsuite>
</testsuites>
`
}
