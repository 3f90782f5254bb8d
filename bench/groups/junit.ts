/** JUnit: parsing and summarising a large report. */
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { SaxesParser } from 'saxes'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { renderSummary } from '../../src/shared/evidence/summary.js'
import { readReports } from '../../src/shared/evidence/test-results.js'
import { evidenceMeta } from '../../test/harness/evidence-meta.js'
import { alternate, type BenchRow, fmtMs, mib, rssSampler, timed, timeRow } from '../lib.js'

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
    const file = path.join(junitDir, 'big.xml')
    const both = await alternate(
      5,
      async () => {
        const read = await readReports(junitDir, ['big.xml'])
        return renderSummary({ meta: evidenceMeta('failed', read.counts), cases: read.cases, artifactUrl: '' })
      },
      () => bareSaxes(file),
    )
    rows.push(
      timeRow(
        'JUnit: 100,000 cases parsed and summarised',
        both.subjectMs,
        { name: 'a bare saxes pass over the same file', ms: both.referenceMs },
        2.5,
      ),
    )
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

/** The reference: saxes reads the file and calls an empty handler per tag, nothing else. */
async function bareSaxes(file: string): Promise<number> {
  const parser = new SaxesParser({ xmlns: false, position: true })
  let tags = 0
  parser.on('opentag', () => (tags += 1))
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 }))
    parser.write(chunk as string)
  parser.close()
  return tags
}
