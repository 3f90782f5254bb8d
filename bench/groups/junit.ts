/** JUnit: parsing and summarising a large report. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { renderSummary } from '../../src/shared/evidence/summary.js'
import { readReports } from '../../src/shared/evidence/test-results.js'
import { evidenceMeta } from '../../test/harness/evidence-meta.js'
import { type BenchRow, fmtMs, mib, rssSampler, timed } from '../lib.js'

export async function benchJunit(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const memory = rssSampler()
  const junitDir = mkdtempSync(path.join(tmpdir(), 'bench-junit-'))
  try {
    const cases = Array.from({ length: 100_000 }, (_, i) =>
      i % 10 === 0
        ? `<testcase classname="pkg.Suite${i % 97}" name="case ${i}" file="src/t${i % 500}.test.ts" line="${i % 300}" time="0.${i % 1000}"><failure message="expected ${i}">stack of ${i}</failure></testcase>`
        : `<testcase classname="pkg.Suite${i % 97}" name="case ${i}" time="0.001"/>`,
    )
    writeFileSync(
      path.join(junitDir, 'big.xml'),
      `<?xml version="1.0"?><testsuites><testsuite name="big">${cases.join('')}</testsuite></testsuites>`,
    )
    const bytes = statSync(path.join(junitDir, 'big.xml')).size
    memory.start()
    const [results, parseMs] = await timed(() => readReports(junitDir, ['big.xml']))
    rows.push({
      figure: `JUnit: parse 100,000 cases (${mib(bytes).toFixed(1)} MiB)`,
      value: fmtMs(parseMs),
      peakMiB: mib(memory.peak()),
    })
    const meta = evidenceMeta('failed', results.counts)
    const [summary, summaryMs] = await timed(() =>
      Promise.resolve(renderSummary({ meta, cases: results.cases, artifactUrl: '' })),
    )
    rows.push({
      figure: `JUnit: summarise 100,000 cases, 10,000 failed (${mib(Buffer.byteLength(summary)).toFixed(1)} MiB of Markdown)`,
      value: fmtMs(summaryMs),
    })
  } finally {
    memory.stop()
    rmSync(junitDir, { recursive: true, force: true })
  }
  return rows
}
