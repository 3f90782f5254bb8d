/**
 * `npm run bench [group...]`: speed and memory of the toolkit's hot paths against the
 * simulators on loopback, each figure beside a reference measured in the same run.
 * Prints the rows and writes BENCHMARKS.md (only when every group ran). Never asserted.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchChains } from './groups/chains.js'
import { benchChe } from './groups/che.js'
import { benchCoder } from './groups/coder.js'
import { benchJunit } from './groups/junit.js'
import { benchOutput } from './groups/output.js'
import { benchRouting } from './groups/routing.js'
import { benchSmoke } from './groups/smoke.js'
import { benchStartup } from './groups/startup.js'
import { type BenchGroup, type BenchRow, mib, writeBenchmarks } from './lib.js'

const groups: BenchGroup[] = [
  { name: 'che', run: benchChe },
  { name: 'coder', run: benchCoder },
  { name: 'output', run: benchOutput },
  { name: 'junit', run: benchJunit },
  { name: 'smoke', run: benchSmoke },
  { name: 'startup', run: benchStartup },
  { name: 'chains', run: benchChains },
  { name: 'routing', run: benchRouting },
]

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !groups.some((g) => g.name === name))
if (unknown.length > 0) {
  console.error(
    `unknown bench group(s) ${unknown.join(', ')}; expected some of ${groups.map((g) => g.name).join(', ')}`,
  )
  process.exit(2)
}
const selected = wanted.length === 0 ? groups : groups.filter((g) => wanted.includes(g.name))

const results: Array<{ name: string; rows: BenchRow[] }> = []
for (const group of selected) {
  const rows = await group.run()
  results.push({ name: group.name, rows })
  for (const row of rows) {
    const extra = [
      row.reference && `vs ${row.reference}`,
      row.ratio !== undefined && `${row.ratio.toFixed(2)}×`,
      row.target && `target ${row.target}${row.met === false ? ' MISSED' : ''}`,
      row.peakMiB !== undefined && `peak ${row.peakMiB.toFixed(0)} MiB`,
    ].filter(Boolean)
    console.log(`${row.figure.padEnd(70)}  ${row.value}${extra.length ? `  (${extra.join('; ')})` : ''}`)
  }
}
console.log(`peak RSS of the benchmark process: ${mib(process.resourceUsage().maxRSS * 1024).toFixed(0)} MiB`)
if (selected.length === groups.length) {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md')
  writeBenchmarks(file, results)
  console.log(`wrote ${file}`)
}
