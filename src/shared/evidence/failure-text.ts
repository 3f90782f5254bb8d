/** What a failure element says about the test, as read by its producer's conventions. */
export interface FailureFacts {
  /** The line that says why the test failed, or undefined when no line carries information. */
  readonly message?: string
  /** Where the failure is, when the producer writes it into the failure text. */
  readonly file?: string
  readonly line?: number
}

/** One failed test case as the parser holds it when the case closes. */
export interface FailureInput {
  readonly messageAttribute?: string | undefined
  readonly details: string
  readonly name: string
  readonly classname: string
  readonly suite: string
  readonly file?: string | undefined
}

const SCANNED_LINES = 40
const CONTINUATION_LINES = 4
const MESSAGE_CHARS = 300
/** Playwright's test header: `[project] › `, before `file:line:col › titles` (base.ts formatTestTitle). */
const PLAYWRIGHT_PROJECT = /^\[[^\]]*\]\s*›\s*/
/** `path:line` or `path:line:col` as a token. */
const LOCATION_TOKEN = /[^\s:()'"`]+:\d+(?::\d+)?/g
const BARE_LOCATION = /^(?:\S+:\d+(?::\d+)?:?|unknown file)$/
/** Stack frames: JavaScript `at …`, Python `File "…", line N`, PHP `#0 …`, Java `... 12 more`. */
const STACK_FRAME = /^(?:at\s|File\s+"|#\d+\s|\.\.\.\s*\d+\s+more)/
/** PHPUnit repeats `Class::method with data set #0 (…)`; the data set adds nothing either. */
const PHPUNIT_DATA_SET = /\swith data set (?:#\d+|"[^"]*")(?:\s*\(.*\))?$/
const DURATION_TOKEN = /\b\d+(?:\.\d+)?(?:ms|s)\b/g
const GENERIC_WORDS = new Set(['fail', 'failed', 'failure', 'failures', 'error', 'errors', 'errored', 'run', 'test'])
/** A line that names an error or an assertion: preferred over log lines before it. */
const ERROR_LINE =
  /^(?:E\s+)?(?:[\w$.\\]*(?:Error|Exception|Failure)\b|Failed asserting\b|Expected\b|expected\b|assert(?:ion)?\b|Assertion\b|Test timeout\b|panic:)/
/** Playwright's failure message before 1.56: `basename:line:col title` (reporters/junit.ts _addFailureEntry). */
const PLAYWRIGHT_MESSAGE = /^([^\s:]+):(\d+):(\d+) /
/** Playwright's failure body header: `[project] › path:line:col › title` (reporters/base.ts formatTestHeader). */
const PLAYWRIGHT_HEADER = /^(?:\[[^\]]*\]\s*›\s*)?([^\s:]+):(\d+):(\d+)\s+›/
/** GoogleTest starts each failure with `file:line` on its own line (gtest.cc OutputXmlTestResult). */
const GOOGLETEST_LOCATION = /^([^\s:]+):(\d+)$/
/**
 * pytest ends a long traceback with `path:line: ExceptionType` (_pytest/_code/code.py ReprFileLocation),
 * 1-based, where its `line` attribute is the 0-based line of the test function (junitxml.py record_testreport).
 */
const PYTEST_LAST_LINE = /^([^\s:]+\.py):(\d+): [\w.]+$/

/**
 * Reads a failure the way its producer wrote it: the message is the first line that
 * says something the title does not (not the test's name or class repeated, not a
 * bare `file:line`, not a stack frame, not a word like "Failed"), preferring an
 * `Error:`/assertion line in the body; the location comes from Playwright's message
 * or header, GoogleTest's leading `file:line` and pytest's closing `file:line: Error`.
 */
export function readFailure(input: FailureInput): FailureFacts {
  const title = titleWords(input)
  const attributeLines = (input.messageAttribute ?? '').split('\n')
  const bodyLines = firstLines(input.details)
  const message = pickLine(attributeLines, title, false) ?? pickLine(bodyLines, title, true)
  const location = locationOf(input, attributeLines[0]?.trim() ?? '', bodyLines)
  return { ...(message ? { message } : {}), ...location }
}

function firstLines(text: string): string[] {
  const lines: string[] = []
  let start = 0
  while (lines.length < SCANNED_LINES && start <= text.length) {
    const end = text.indexOf('\n', start)
    lines.push(text.slice(start, end < 0 ? text.length : end))
    if (end < 0) break
    start = end + 1
  }
  return lines
}

function pickLine(lines: readonly string[], title: ReadonlySet<string>, preferErrors: boolean): string | undefined {
  let first: number | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    if (!informative(line, title)) continue
    if (!preferErrors || ERROR_LINE.test(line)) return withContinuation(lines, i)
    first ??= i
  }
  return first === undefined ? undefined : withContinuation(lines, first)
}

/** A line ending in `:` (`Expected equality of these values:`) is read with the lines that complete it. */
function withContinuation(lines: readonly string[], index: number): string {
  let text = (lines[index] ?? '').trim()
  if (!text.endsWith(':')) return text
  for (let i = index + 1; i <= index + CONTINUATION_LINES && i < lines.length && text.length < MESSAGE_CHARS; i++) {
    const next = (lines[i] ?? '').trim()
    if (!next || STACK_FRAME.test(next)) break
    text = `${text} ${next}`
  }
  return text
}

function informative(line: string, title: ReadonlySet<string>): boolean {
  if (!line || BARE_LOCATION.test(line) || STACK_FRAME.test(line)) return false
  const rest = line
    .replace(PLAYWRIGHT_PROJECT, '')
    .replace(LOCATION_TOKEN, ' ')
    .replace(PHPUNIT_DATA_SET, '')
    .replace(DURATION_TOKEN, ' ')
  const words = rest.match(/[\p{L}\p{N}_]+/gu)
  return words?.some((w) => !title.has(w.toLowerCase()) && !GENERIC_WORDS.has(w.toLowerCase())) ?? false
}

function titleWords(input: FailureInput): Set<string> {
  const words = new Set<string>()
  for (const text of [input.name, input.classname, input.suite, input.file ?? ''])
    for (const w of text.match(/[\p{L}\p{N}_]+/gu) ?? []) words.add(w.toLowerCase())
  return words
}

function locationOf(
  input: FailureInput,
  attributeFirst: string,
  body: readonly string[],
): { file?: string; line?: number } {
  const header = body.find((l) => l.trim() !== '')?.trim() ?? ''
  const playwright = PLAYWRIGHT_MESSAGE.exec(attributeFirst) ?? PLAYWRIGHT_HEADER.exec(header)
  if (playwright && sameFile(playwright[1] as string, input.classname))
    return { file: input.file ?? input.classname, line: Number(playwright[2]) }
  const googletest = GOOGLETEST_LOCATION.exec(attributeFirst) ?? GOOGLETEST_LOCATION.exec(header)
  if (googletest && (!input.file || sameFile(googletest[1] as string, input.file)))
    return { file: input.file ?? (googletest[1] as string), line: Number(googletest[2]) }
  const pytest = PYTEST_LAST_LINE.exec(lastLine(input.details))
  if (pytest && (!input.file || sameFile(pytest[1] as string, input.file)))
    return { file: input.file ?? (pytest[1] as string), line: Number(pytest[2]) }
  return {}
}

function lastLine(text: string): string {
  const trimmed = text.trimEnd()
  return trimmed.slice(trimmed.lastIndexOf('\n') + 1).trim()
}

/** Playwright writes the basename in its message and the testDir-relative path as the class. */
function sameFile(written: string, known: string): boolean {
  const norm = (p: string): string => p.replace(/\\/g, '/')
  const a = norm(written)
  const b = norm(known)
  return a === b || b.endsWith(`/${a}`) || a.endsWith(`/${b}`)
}
