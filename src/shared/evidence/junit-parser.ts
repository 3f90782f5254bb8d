import { createReadStream } from 'node:fs'
import { SaxesParser } from 'saxes'

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
}

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

interface OpenCase {
  classname: string
  name: string
  file?: string
  line?: number
  durationMs: number
  status: CaseStatus
  flaky: boolean
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
 * `line`, nested suites). A DOCTYPE is refused before any entity could be declared,
 * so nothing is ever expanded; a malformed file yields a problem, never a throw.
 */
export async function parseJunitFile(path: string, reportFile = path): Promise<ParsedReport> {
  const cases: TestCaseResult[] = []
  const parser = new SaxesParser({ xmlns: false, position: true })
  const suites: { name: string; file?: string }[] = []
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
    if (tag.name === 'testsuite')
      suites.push({
        name: a.name ?? '',
        ...((a.file ?? suites.at(-1)?.file) ? { file: a.file ?? suites.at(-1)?.file } : {}),
      })
    else if (tag.name === 'testcase') current = openCase(a, suites.at(-1))
    else if (current && OUTCOME_ELEMENTS.has(tag.name)) {
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
    if (tag.name === 'testsuite') suites.pop()
    else if (tag.name === 'testcase' && current) {
      cases.push(closeCase(current, reportFile, suites.at(-1)?.name ?? ''))
      current = undefined
    } else textTarget = undefined
  })

  try {
    for await (const chunk of createReadStream(path, { encoding: 'utf8' })) parser.write(chunk as string)
    parser.close()
    if (!sawRoot) problem = 'the report is empty'
  } catch (error) {
    problem = `not a readable JUnit report: ${(error as Error).message.split('\n')[0]}`
  }
  return problem ? { cases: [], problem } : { cases }
}

function openCase(a: Record<string, string>, suite: { name: string; file?: string } | undefined): OpenCase {
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
  const message = c.message ?? (details ? details.split('\n')[0] : undefined)
  return {
    reportFile,
    suite,
    classname: c.classname,
    name: c.name,
    ...(c.file ? { file: c.file } : {}),
    ...(c.line ? { line: c.line } : {}),
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
