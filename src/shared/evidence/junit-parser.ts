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
/** Names, class names, files and types longer than this are cut: a test's identity is never megabytes. */
const MAX_NAME = 1024

/** Cuts text to `max` characters with a marker saying how much was left out. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters not kept)`
}
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

/** A case while it is being read. */
export interface OpenCase {
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
  /** Characters of each body text left out beyond MAX_TEXT. */
  cut: { details: number; systemOut: number; systemErr: number }
}

/**
 * Takes each case as it closes. `make` builds the full case; a receiver that only
 * counts a passing case never calls it, which keeps 1,000,000 cases cheap.
 */
export type CaseReceiver = (c: Readonly<OpenCase>, make: () => TestCaseResult) => void

/** What reading one report found besides its cases. */
export interface ReportOutcome {
  readonly problem?: string
  readonly durationProblem?: string
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
  const outcome = await readJunitFile(path, reportFile, (_c, make) => cases.push(make()))
  if (outcome.problem) return { cases: [], problem: outcome.problem }
  if (outcome.durationProblem)
    return { cases: cases.map((c) => ({ ...c, durationMs: 0 })), durationProblem: outcome.durationProblem }
  return { cases }
}

/**
 * Streams one report's cases to `receive` as they close (see parseJunitFile for
 * the dialects). On a problem the cases received so far do not count.
 */
export async function readJunitFile(path: string, reportFile: string, receive: CaseReceiver): Promise<ReportOutcome> {
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
    const name = tag.name
    if (!sawRoot) {
      sawRoot = true
      if (name !== 'testsuites' && name !== 'testsuite')
        throw new Error(`the root element is <${name}>, not <testsuites> or <testsuite>`)
    }
    if (name === 'testcase') {
      current = openCase(a, suites.at(-1))
      if (current.durationMs > maxCaseSeconds * 1000) maxCaseSeconds = current.durationMs / 1000
      return
    }
    if (name === 'testsuite' || name === 'testsuites') maxSuiteSeconds = Math.max(maxSuiteSeconds, seconds(a.time))
    if (name === 'testsuite') suites.push(openSuite(a, suites.at(-1), siblingFiles, suites.length))
    else if (current && OUTCOME_ELEMENTS.has(name)) {
      applyOutcome(current, name, a)
      textTarget = name === 'failure' || name === 'error' ? 'details' : undefined
    } else if (current && (name === 'system-out' || name === 'system-err'))
      textTarget = name === 'system-out' ? 'systemOut' : 'systemErr'
  })
  const onText = (text: string): void => {
    if (!current || !textTarget) return
    const room = MAX_TEXT - current[textTarget].length
    if (room > 0) current[textTarget] += text.length <= room ? text : text.slice(0, room)
    if (text.length > room) current.cut[textTarget] += text.length - Math.max(room, 0)
  }
  parser.on('text', onText)
  parser.on('cdata', onText)
  parser.on('closetag', (tag) => {
    if (tag.name === 'testcase' && current) {
      const suite = suites.at(-1)
      if (suite) suite.cases += 1
      const c = current
      receive(c, () => closeCase(c, reportFile, suite?.name ?? ''))
      current = undefined
    } else if (tag.name === 'testsuite') closeSuite(suites, siblingFiles)
    else textTarget = undefined
  })

  try {
    for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 }))
      parser.write(chunk as string)
    parser.close()
    if (!sawRoot) problem = 'the report is empty'
  } catch (error) {
    problem = `not a readable JUnit report: ${clip(firstLine((error as Error).message), 500)}`
  }
  if (problem) return { problem }
  const durationProblem = unitProblem(maxCaseSeconds, maxSuiteSeconds)
  return durationProblem ? { durationProblem } : {}
}

function openSuite(
  a: Record<string, string>,
  parent: OpenSuite | undefined,
  siblingFiles: (string | undefined)[],
  depth: number,
): OpenSuite {
  if (a.file) siblingFiles[depth] = undefined
  const file = a.file ?? parent?.file ?? siblingFiles[depth]
  return {
    name: clip(a.name ?? '', MAX_NAME),
    ...(file ? { file: clip(file, MAX_NAME) } : {}),
    ownFile: Boolean(a.file),
    cases: 0,
  }
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

// Every case has the same fields in the same order (one object shape), which keeps a 100,000-case read fast.
function openCase(a: Record<string, string>, suite: OpenSuite | undefined): OpenCase {
  const line = a.line === undefined ? 0 : Number(a.line)
  const file = a.file ?? suite?.file
  return {
    classname: clip(a.classname ?? a.class ?? suite?.name ?? '', MAX_NAME),
    name: clip(a.name ?? '(unnamed)', MAX_NAME),
    file: file ? clip(file, MAX_NAME) : undefined,
    line: Number.isInteger(line) && line > 0 ? line : undefined,
    durationMs: seconds(a.time) * 1000,
    // ctest writes status="notrun" for skipped and "fail" for failed cases.
    status: a.status === 'notrun' || a.status === 'disabled' ? 'skipped' : a.status === 'fail' ? 'failed' : 'passed',
    flaky: false,
    message: undefined,
    type: undefined,
    details: '',
    systemOut: '',
    systemErr: '',
    cut: { details: 0, systemOut: 0, systemErr: 0 },
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
    if (a.message !== undefined) c.message = clip(a.message, MAX_TEXT)
    if (a.type !== undefined) c.type = clip(a.type, MAX_NAME)
  }
}

function closeCase(c: OpenCase, reportFile: string, suite: string): TestCaseResult {
  const details = withCut(c.details, c.cut.details)
  const systemOut = withCut(c.systemOut, c.cut.systemOut)
  const systemErr = withCut(c.systemErr, c.cut.systemErr)
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
    ...(systemOut ? { systemOut } : {}),
    ...(systemErr ? { systemErr } : {}),
  }
}

function withCut(text: string, cut: number): string {
  return cut > 0 ? `${text.trim()}… (${cut} more characters not kept)` : text.trim()
}

function seconds(value: string | undefined): number {
  if (value === undefined) return 0
  const n = Number(value.includes(',') ? value.replace(/,/g, '') : value)
  return Number.isFinite(n) && n > 0 ? n : 0
}
