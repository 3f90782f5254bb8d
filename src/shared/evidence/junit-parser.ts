import { createReadStream } from 'node:fs'
import { SaxesParser } from 'saxes'
import { readFailure } from './failure-text.js'
import { firstLine } from '../text.js'

/** How one test case ended. */
export type CaseStatus = 'passed' | 'failed' | 'error' | 'skipped'

/** One test case, whatever tool wrote it. */
export interface TestCaseResult {
  readonly reportFile: string
  readonly suite: string
  readonly classname: string
  readonly name: string
  readonly file?: string
  readonly line?: number
  readonly durationMs: number
  readonly status: CaseStatus
  /** Passed, but only after failing first (Surefire flakyFailure/flakyError). */
  readonly flaky: boolean
  readonly message?: string
  readonly type?: string
  /** The failure or error body, truncated. */
  readonly details?: string
  readonly systemOut?: string
  readonly systemErr?: string
}

/** The cases of one report, or why it could not be read. */
export interface ParsedReport {
  readonly cases: TestCaseResult[]
  readonly problem?: string
  /** Set when the report's `time` values cannot be seconds; its durations are then all 0. */
  readonly durationProblem?: string
}

/** No single test runs for a day, and no suite for a week: such a `time` is not in seconds. */
const MAX_CASE_SECONDS = 24 * 3600
const MAX_SUITE_SECONDS = 7 * 24 * 3600

const MAX_TEXT = 16 * 1024
const OUTCOME_ELEMENTS = new Set([
  'failure',
  'error',
  'skipped',
  'flakyFailure',
  'flakyError',
  'rerunFailure',
  'rerunError',
])

interface OpenSuite {
  readonly name: string
  readonly file?: string
  /** The file came from the suite's own attribute, not from an ancestor or a sibling. */
  readonly ownFile: boolean
  cases: number
}

interface OpenCase {
  classname: string
  name: string
  file?: string
  line?: number
  durationMs: number
  status: CaseStatus
  flaky: boolean
  /** The outcome element's `message` attribute, as written. */
  message?: string
  type?: string
  details: string
  systemOut: string
  systemErr: string
}

/**
 * Reads one JUnit report as a stream, so a report with 100,000 cases needs no DOM:
 * Surefire (flaky and rerun elements), pytest, jest-junit, vitest, go-junit-report,
 * gotestsum, Playwright, ctest (`status="notrun"`) and PHPUnit (`class`, `file`,
 * `line`, nested suites), GoogleTest, mocha-junit-reporter (Cypress: `file` on an empty
 * sibling Root Suite). Failure messages and locations are read by each producer's
 * conventions (failure-text.ts). A report whose times cannot be seconds (nanoseconds)
 * keeps no durations and says so. A DOCTYPE is refused before any entity could be
 * declared, so nothing is ever expanded; a malformed file yields a problem, never a throw.
 */
export async function parseJunitFile(path: string, reportFile = path): Promise<ParsedReport> {
  const cases: TestCaseResult[] = []
  const parser = new SaxesParser({ xmlns: false, position: true })
  const suites: OpenSuite[] = []
  /** Per depth: the file of an empty sibling suite before, which mocha-junit-reporter writes for the spec. */
  const siblingFiles: (string | undefined)[] = []
  let maxCaseSeconds = 0
  let maxSuiteSeconds = 0
  let current: OpenCase | undefined
  let textTarget: 'details' | 'systemOut' | 'systemErr' | undefined
  let sawRoot = false
  let problem: string | undefined

  parser.on('doctype', () => {
    throw new Error('the report has a DOCTYPE; entity declarations are refused, so it is not read')
  })
  parser.on('opentag', (tag) => {
    const a = tag.attributes as Record<string, string>
    if (!sawRoot) {
      sawRoot = true
      if (tag.name !== 'testsuites' && tag.name !== 'testsuite')
        throw new Error(`the root element is <${tag.name}>, not <testsuites> or <testsuite>`)
    }
    if (tag.name === 'testsuite' || tag.name === 'testsuites')
      maxSuiteSeconds = Math.max(maxSuiteSeconds, seconds(a.time))
    if (tag.name === 'testsuite') suites.push(openSuite(a, suites.at(-1), siblingFiles, suites.length))
    else if (tag.name === 'testcase') {
      current = openCase(a, suites.at(-1))
      maxCaseSeconds = Math.max(maxCaseSeconds, current.durationMs / 1000)
    } else if (current && OUTCOME_ELEMENTS.has(tag.name)) {
      applyOutcome(current, tag.name, a)
      textTarget = tag.name === 'failure' || tag.name === 'error' ? 'details' : undefined
    } else if (current && (tag.name === 'system-out' || tag.name === 'system-err'))
      textTarget = tag.name === 'system-out' ? 'systemOut' : 'systemErr'
  })
  const onText = (text: string): void => {
    if (current && textTarget && current[textTarget].length < MAX_TEXT)
      current[textTarget] += text.slice(0, MAX_TEXT - current[textTarget].length)
  }
  parser.on('text', onText)
  parser.on('cdata', onText)
  parser.on('closetag', (tag) => {
    if (tag.name === 'testsuite') closeSuite(suites, siblingFiles)
    else if (tag.name === 'testcase' && current) {
      const suite = suites.at(-1)
      if (suite) suite.cases += 1
      cases.push(closeCase(current, reportFile, suite?.name ?? ''))
      current = undefined
    } else textTarget = undefined
  })

  try {
    for await (const chunk of createReadStream(path, { encoding: 'utf8' })) parser.write(chunk as string)
    parser.close()
    if (!sawRoot) problem = 'the report is empty'
  } catch (error) {
    problem = `not a readable JUnit report: ${firstLine((error as Error).message)}`
  }
  if (problem) return { cases: [], problem }
  const durationProblem = unitProblem(maxCaseSeconds, maxSuiteSeconds)
  return durationProblem ? { cases: cases.map((c) => ({ ...c, durationMs: 0 })), durationProblem } : { cases }
}

function openSuite(
  a: Record<string, string>,
  parent: OpenSuite | undefined,
  siblingFiles: (string | undefined)[],
  depth: number,
): OpenSuite {
  if (a.file) siblingFiles[depth] = undefined
  const file = a.file ?? parent?.file ?? siblingFiles[depth]
  return { name: a.name ?? '', ...(file ? { file } : {}), ownFile: Boolean(a.file), cases: 0 }
}

/** An empty suite with its own `file` (mocha-junit-reporter's Root Suite) names the file of the siblings after it. */
function closeSuite(suites: OpenSuite[], siblingFiles: (string | undefined)[]): void {
  const closed = suites.pop()
  if (closed?.ownFile && closed.cases === 0) siblingFiles[suites.length] = closed.file
  siblingFiles.length = suites.length + 1
}

function unitProblem(maxCaseSeconds: number, maxSuiteSeconds: number): string | undefined {
  if (maxCaseSeconds <= MAX_CASE_SECONDS && maxSuiteSeconds <= MAX_SUITE_SECONDS) return undefined
  const [what, value] = maxCaseSeconds > MAX_CASE_SECONDS ? ['a test', maxCaseSeconds] : ['a suite', maxSuiteSeconds]
  return `its \`time\` values cannot be seconds (${what} says ${value} s, ${Math.round(value / 86_400).toLocaleString('en-US')} days; nanoseconds or milliseconds?), so its durations are not shown`
}

function openCase(a: Record<string, string>, suite: OpenSuite | undefined): OpenCase {
  const line = Number(a.line)
  const file = a.file ?? suite?.file
  return {
    classname: a.classname ?? a.class ?? suite?.name ?? '',
    name: a.name ?? '(unnamed)',
    ...(file ? { file } : {}),
    ...(Number.isInteger(line) && line > 0 ? { line } : {}),
    durationMs: seconds(a.time) * 1000,
    // ctest writes status="notrun" for skipped and "fail" for failed cases.
    status: a.status === 'notrun' || a.status === 'disabled' ? 'skipped' : a.status === 'fail' ? 'failed' : 'passed',
    flaky: false,
    details: '',
    systemOut: '',
    systemErr: '',
  }
}

function applyOutcome(c: OpenCase, element: string, a: Record<string, string>): void {
  if (element === 'flakyFailure' || element === 'flakyError') {
    c.flaky = c.status === 'passed'
    return
  }
  const status: CaseStatus =
    element === 'skipped' ? 'skipped' : element === 'error' || element === 'rerunError' ? 'error' : 'failed'
  // A rerun element repeats a failure already recorded; the first outcome wins.
  if (c.status === 'passed' || (c.status === 'skipped' && status !== 'skipped')) {
    c.status = status
    if (a.message !== undefined) c.message = a.message
    if (a.type !== undefined) c.type = a.type
  }
}

function closeCase(c: OpenCase, reportFile: string, suite: string): TestCaseResult {
  const details = c.details.trim()
  const failed = c.status === 'failed' || c.status === 'error'
  const facts = failed
    ? readFailure({ messageAttribute: c.message, details, name: c.name, classname: c.classname, suite, file: c.file })
    : {}
  const message = facts.message ?? c.message ?? (details ? firstLine(details) : undefined)
  const file = facts.file ?? c.file
  const line = facts.line ?? c.line
  return {
    reportFile,
    suite,
    classname: c.classname,
    name: c.name,
    ...(file ? { file } : {}),
    ...(line ? { line } : {}),
    durationMs: c.durationMs,
    status: c.status,
    flaky: c.flaky && c.status === 'passed',
    ...(message ? { message } : {}),
    ...(c.type ? { type: c.type } : {}),
    ...(details ? { details } : {}),
    ...(c.systemOut.trim() ? { systemOut: c.systemOut.trim() } : {}),
    ...(c.systemErr.trim() ? { systemErr: c.systemErr.trim() } : {}),
  }
}

function seconds(value: string | undefined): number {
  const n = Number((value ?? '').replace(/,/g, ''))
  return Number.isFinite(n) && n > 0 ? n : 0
}
