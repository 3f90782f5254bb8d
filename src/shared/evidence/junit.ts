import { XMLParser, XMLValidator } from 'fast-xml-parser'
import type { Outcome } from '../state.js'

/** Test counts read from JUnit reports. */
export interface TestCounts {
  readonly total: number
  readonly failed: number
  readonly errored: number
  readonly skipped: number
}

export const NO_TESTS: TestCounts = { total: 0, failed: 0, errored: 0, skipped: 0 }

/** Counts of one report, or why it could not be read. */
export type ReportCounts = { readonly counts: TestCounts } | { readonly problem: string }

type XmlNode = Record<string, unknown>

/**
 * Counts the test cases of one JUnit report by walking its testsuite elements
 * (any nesting, a `testsuites` or a bare `testsuite` root). The counts come from
 * the testcase elements, not from summary attributes, which tools often get wrong.
 * DOCTYPEs are refused, so no entity is ever expanded.
 */
export function countJunit(xml: string): ReportCounts {
  if (/<!DOCTYPE/i.test(xml)) return { problem: 'the report has a DOCTYPE; entities are not expanded, so it is not read' }
  const valid = XMLValidator.validate(xml)
  if (valid !== true) return { problem: `the report is not well-formed XML (${valid.err.msg} at line ${valid.err.line})` }
  const parser = new XMLParser({ ignoreAttributes: false, processEntities: false, isArray: (name) => name === 'testsuite' || name === 'testcase' })
  const doc = parser.parse(xml) as XmlNode
  const roots = [...asArray(doc.testsuites).flatMap((s) => asArray((s as XmlNode).testsuite)), ...asArray(doc.testsuite)]
  if (roots.length === 0) return { problem: 'the report has no testsuites or testsuite root element' }
  const totals = { total: 0, failed: 0, errored: 0, skipped: 0 }
  const walk = (suite: XmlNode): void => {
    for (const tc of asArray(suite.testcase) as XmlNode[]) {
      totals.total += 1
      if (tc && typeof tc === 'object') {
        if ('failure' in tc) totals.failed += 1
        else if ('error' in tc) totals.errored += 1
        else if ('skipped' in tc) totals.skipped += 1
      }
    }
    for (const child of asArray(suite.testsuite) as XmlNode[]) walk(child)
  }
  for (const root of roots as XmlNode[]) walk(root)
  return { counts: totals }
}

/** Adds counts together. */
export function addCounts(a: TestCounts, b: TestCounts): TestCounts {
  return { total: a.total + b.total, failed: a.failed + b.failed, errored: a.errored + b.errored, skipped: a.skipped + b.skipped }
}

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
  const details = [run.message, ...(run.diagnostics.length ? ['', 'Diagnostics:', ...run.diagnostics] : []), ...(run.outputTail ? ['', 'Output (last lines):', run.outputTail] : [])].join('\n')
  const element = run.outcome === 'failed' ? 'failure' : 'error'
  const body = run.outcome === 'passed' ? '' : `\n      <${element} message="${escapeXml(run.message)}" type="${run.outcome === 'failed' ? 'NonZeroExitCode' : 'InfrastructureError'}">${escapeXml(details)}</${element}>`
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

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return []
  return Array.isArray(value) ? value : [value]
}
