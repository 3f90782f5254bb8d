import { formatDuration } from '../parse.js'
import { PHASES } from '../state.js'
import type { TestCaseResult } from './junit-parser.js'
import { inlineText } from './markdown.js'
import type { EvidenceMeta } from './meta.js'
import { caseTitle, repoRelative } from './test-results.js'
import { firstLine } from '../text.js'
import { attemptLines } from '../retry-attempts.js'

const HEADLINE = { passed: '✅ Passed', failed: '❌ Failed', error: '⚠️ Infrastructure error' } as const
const MAX_DIAGNOSTIC_LINES = 40
const SLOWEST = 10
/** GitHub refuses step summaries over 1 MiB; stay well under it. */
export const SUMMARY_BUDGET_BYTES = 1_000_000

export interface SummaryInput {
  readonly meta: EvidenceMeta
  readonly cases: readonly TestCaseResult[]
  readonly artifactUrl: string
  readonly repoRoot?: string | undefined
  readonly budgetBytes?: number
  /** Notes on reports that were read (TestResults.notes), shown with the slowest tests. */
  readonly notes?: readonly string[]
}

/**
 * The job summary for one run, in markdown: the outcome and where it ran, a phase
 * timing table, the test counts, the failed tests with message and location, the
 * slowest tests, and, for an infrastructure error, what broke and the diagnostics.
 * An error run reads differently from a failed one at a glance. The failed-test
 * table is cut with an "N more" line to keep the whole under GitHub's 1 MiB.
 */
export function renderSummary(input: SummaryInput): string {
  const { meta } = input
  const head = [
    ...headerLines(meta),
    ...phaseLines(meta),
    ...countLines(meta),
    ...errorLines(meta),
    ...attemptLines(meta.attempts),
  ]
  const tail = [...slowestLines(input.cases, input.notes ?? []), ...footerLines(meta, input.artifactUrl)]
  const budget = (input.budgetBytes ?? SUMMARY_BUDGET_BYTES) - byteLength(head) - byteLength(tail) - 200
  return `${[...head, ...failedLines(input, budget), ...tail].join('\n')}\n`
}

function headerLines(meta: EvidenceMeta): string[] {
  const where = `**${meta.provider}** workspace ${code(meta.workspace.name)} in ${code(meta.workspace.scope)} from ${inlineText(meta.source)}`
  return [
    `### ${HEADLINE[meta.outcome]}: ${code(meta.command || '(no command)')}`,
    '',
    `${where}${meta.exitCode === null ? '' : ` · exit code ${meta.exitCode}`}`,
    '',
    ...(meta.codexAuthSlot ? [`Codex auth from ${code(meta.codexAuthSlot)}${seedNote(meta.codexAuthSlot)}`, ''] : []),
    ...routeLines(meta.route),
  ]
}

/** issue 12: where the run's header diverted requests, so a reader can reproduce a request by hand. */
function routeLines(route: EvidenceMeta['route']): string[] {
  if (!route) return []
  const via = `${route.gateway.namespace}/${route.gateway.name}${route.gateway.sectionName ? `/${route.gateway.sectionName}` : ''}`
  const state = route.acceptedAt ? 'accepted' : 'not accepted'
  return [
    `Route ${code(`${route.namespace}/${route.name}`)} (${state}) on Gateway ${code(via)}: ${code(route.hostname)} with ${code(`${route.headerName}: ${route.headerValue}`)} → ${code(`${route.backendService}:${route.backendPort}`)}`,
    '',
  ]
}

function seedNote(slot: string): string {
  return slot.startsWith('codex-auth-rotating-') ? '' : ' (the seed slot: its rotating slot was empty)'
}

function phaseLines(meta: EvidenceMeta): string[] {
  const failedPhase = meta.error?.phase
  const rows = PHASES.map(
    (phase) =>
      `| ${phase}${phase === failedPhase ? ' ⚠️' : ''} | ${meta.timings[phase] ? formatDuration(meta.timings[phase].durationMs) : '–'} |`,
  )
  return ['| Phase | Duration |', '| --- | --- |', ...rows, '']
}

function countLines(meta: EvidenceMeta): string[] {
  const t = meta.tests
  return [
    '| Tests | Passed | Failed | Errored | Skipped | Flaky |',
    '| --- | --- | --- | --- | --- | --- |',
    `| ${t.total} | ${t.passed} | ${t.failed} | ${t.errored} | ${t.skipped} | ${t.flaky} |`,
    '',
  ]
}

function errorLines(meta: EvidenceMeta): string[] {
  if (!meta.error) return []
  const lines = [
    `> [!CAUTION]`,
    `> **What broke** in the **${meta.error.phase}** phase (${meta.error.kind}): ${inlineText(meta.error.message)}`,
    '',
  ]
  const diagnostics = meta.error.diagnostics
  if (diagnostics.length > 0) {
    const shown = diagnostics.slice(-MAX_DIAGNOSTIC_LINES)
    const more = diagnostics.length - shown.length
    const fence = '`'.repeat(Math.max(3, longestBacktickRun(shown.join('\n')) + 1))
    lines.push(
      '<details open><summary>Diagnostics</summary>',
      '',
      `${fence}text`,
      ...(more > 0 ? [`… ${more} earlier lines`] : []),
      ...shown,
      fence,
      '</details>',
      '',
    )
  }
  return lines
}

function failedLines(input: SummaryInput, budget: number): string[] {
  const failed = input.cases.filter((c) => c.status === 'failed' || c.status === 'error')
  if (failed.length === 0) return []
  const lines = ['#### Failed tests', '', '| Test | Location | Message |', '| --- | --- | --- |']
  let used = byteLength(lines)
  let shown = 0
  for (const c of failed) {
    const location = repoRelative(c.file, input.repoRoot)
    const where = location ? code(`${location}${c.line ? `:${c.line}` : ''}`, 500, true) : '–'
    const row = `| ${c.status === 'error' ? '💥 ' : ''}${inlineText(caseTitle(c))} | ${where} | ${inlineText(firstLine((c.message ?? c.details ?? '').trim()), 300)} |`
    if (used + Buffer.byteLength(row) + 1 > budget) break
    lines.push(row)
    used += Buffer.byteLength(row) + 1
    shown += 1
  }
  // Only the first failed cases are kept in memory; the counts cover them all.
  const total = Math.max(failed.length, input.meta.tests.failed + input.meta.tests.errored)
  if (shown < total)
    lines.push('', `… ${total - shown} more failed tests; every report is in the artifact's \`junit/\`.`)
  return [...lines, '']
}

function slowestLines(cases: readonly TestCaseResult[], notes: readonly string[]): string[] {
  const slowest = [...cases]
    .filter((c) => c.durationMs > 0)
    .sort((a, b) => b.durationMs - a.durationMs)
    .slice(0, SLOWEST)
  const noteLines = notes.length > 0 ? ['> [!NOTE]', ...notes.map((n) => `> - ${inlineText(n)}`), ''] : []
  if (slowest.length === 0) return noteLines
  return [
    '<details><summary>Slowest tests</summary>',
    '',
    '| Test | Duration |',
    '| --- | --- |',
    ...slowest.map((c) => `| ${inlineText(caseTitle(c))} | ${formatDuration(c.durationMs)} |`),
    '',
    '</details>',
    '',
    ...noteLines,
  ]
}

function footerLines(meta: EvidenceMeta, artifactUrl: string): string[] {
  const lines =
    meta.evidence.problems.length > 0
      ? [`**Evidence problems:** ${meta.evidence.problems.map((p) => inlineText(p)).join('; ')}`, '']
      : []
  lines.push(
    artifactUrl
      ? `Evidence: [artifact ${meta.artifactId}](${artifactUrl}) (${meta.evidence.files} files from the workspace)`
      : `Evidence: ${meta.evidence.files} files from the workspace (not uploaded)`,
  )
  return lines
}

/**
 * A markdown code span: fenced with one backtick more than the longest run inside,
 * padded when the text starts or ends with a backtick, so `<`, `&` and backticks
 * show as written (entities are not decoded inside code). In a table cell a `|`
 * still needs its backslash, which GFM removes before reading the span.
 */
export function code(text: string, max = 500, inTable = false): string {
  const flat = text.replace(/\r?\n/g, ' ')
  const cut = flat.length > max ? `${flat.slice(0, max)}…` : flat
  const body = inTable ? cut.replace(/\|/g, '\\|') : cut
  const fence = '`'.repeat(longestBacktickRun(body) + 1)
  const pad = /^[`\s]|[`\s]$/.test(body) && body.trim() !== '' ? ' ' : ''
  return `${fence}${pad}${body}${pad}${fence}`
}

function longestBacktickRun(text: string): number {
  let longest = 0
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length)
  return longest
}

function byteLength(lines: readonly string[]): number {
  return lines.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0)
}
