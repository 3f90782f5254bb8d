import type { Outcome } from '../state.js'

/** What the synthesised report says about a run. */
export interface SyntheticCase {
  readonly outcome: Outcome
  readonly command: string
  readonly exitCode: number | null
  readonly durationMs: number
  /** Why the run is an error, or a note on a failure. */
  readonly message: string
  readonly outputTail: string
  readonly diagnostics: readonly string[]
}

/**
 * One JUnit report with one test case for the run itself, so every run has JUnit:
 * passed, a failure (with the exit code and output tail), or an error (with what broke).
 */
export function synthesizeJunit(run: SyntheticCase): string {
  const seconds = (run.durationMs / 1000).toFixed(3)
  const name = `run-task: ${run.command}`
  const failures = run.outcome === 'failed' ? 1 : 0
  const errors = run.outcome === 'error' ? 1 : 0
  const details = [
    run.message,
    ...(run.diagnostics.length ? ['', 'Diagnostics:', ...run.diagnostics] : []),
    ...(run.outputTail ? ['', 'Output (last lines):', run.outputTail] : []),
  ].join('\n')
  const element = run.outcome === 'failed' ? 'failure' : 'error'
  const body =
    run.outcome === 'passed'
      ? ''
      : `\n      <${element} message="${escapeXml(run.message)}" type="${run.outcome === 'failed' ? 'NonZeroExitCode' : 'InfrastructureError'}">${escapeXml(details)}</${element}>`
  const out = run.outputTail ? `\n      <system-out>${escapeXml(run.outputTail)}</system-out>` : ''
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="run-task" tests="1" failures="${failures}" errors="${errors}" skipped="0" time="${seconds}">
  <testsuite name="run-task" tests="1" failures="${failures}" errors="${errors}" skipped="0" time="${seconds}">
    <testcase classname="run-task" name="${escapeXml(name)}" time="${seconds}">${body}${out}
    </testcase>
  </testsuite>
</testsuites>
`
}

/** Escapes text for XML, dropping characters XML 1.0 cannot hold. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}
