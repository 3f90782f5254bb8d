import { formatDuration } from '../parse.js'
import { PHASES } from '../state.js'
import type { EvidenceMeta } from './meta.js'

const HEADLINE = { passed: '✅ Passed', failed: '❌ Failed', error: '⚠️ Infrastructure error' } as const
const MAX_DIAGNOSTIC_LINES = 40

/**
 * The job summary for one run, in markdown: the outcome and where it ran, a phase
 * timing table, the test counts, and, for an infrastructure error, what broke and
 * the diagnostics. An error run reads differently from a failed one at a glance.
 */
export function renderSummary(meta: EvidenceMeta, artifactUrl: string): string {
  const lines: string[] = []
  lines.push(`### ${HEADLINE[meta.outcome]}: \`${escapeCell(meta.command || '(no command)')}\``)
  lines.push('')
  lines.push(`**${meta.provider}** workspace \`${meta.workspace.name}\` in \`${meta.workspace.scope}\` from ${escapeCell(meta.source)}${meta.exitCode === null ? '' : ` · exit code ${meta.exitCode}`}`)
  lines.push('')
  lines.push('| Phase | Duration |', '| --- | --- |')
  for (const phase of PHASES) {
    const timing = meta.timings[phase]
    lines.push(`| ${phase} | ${timing ? formatDuration(timing.durationMs) : '–'} |`)
  }
  lines.push('')
  const t = meta.tests
  lines.push(`**Tests:** ${t.total} total, ${t.total - t.failed - t.errored - t.skipped} passed, ${t.failed} failed, ${t.errored} errored, ${t.skipped} skipped`)
  if (meta.error) {
    lines.push('')
    lines.push(`**What broke** (${meta.error.phase} phase, ${meta.error.kind}): ${escapeCell(meta.error.message)}`)
    if (meta.error.diagnostics.length > 0) {
      const shown = meta.error.diagnostics.slice(-MAX_DIAGNOSTIC_LINES)
      const more = meta.error.diagnostics.length - shown.length
      lines.push('', '<details open><summary>Diagnostics</summary>', '', '```text', ...(more > 0 ? [`… ${more} more lines`] : []), ...shown, '```', '</details>')
    }
  }
  if (meta.evidence.problems.length > 0) lines.push('', `**Evidence problems:** ${meta.evidence.problems.map(escapeCell).join('; ')}`)
  lines.push('')
  lines.push(artifactUrl ? `Evidence: [artifact ${meta.artifactId}](${artifactUrl}) (${meta.evidence.files} files)` : `Evidence: ${meta.evidence.files} files from the workspace (not uploaded)`)
  return `${lines.join('\n')}\n`
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}
