/**
 * Parallel chains: N merge-gate chains (the committed bundles, provision → run →
 * collect → cleanup → post, as a runner runs them) at once against one simulator,
 * each with its own RUNNER_TEMP and matrix leg, against the ideal: one chain's time
 * × N ÷ the machine's cores.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { type ChainResult, type Job, runChain } from '../../test/harness/job.js'
import { type BenchRow, fmtMs, median, timed } from '../lib.js'
import type { SimulatedJob } from '../sim-process.js'

const COMMAND =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite><testcase name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/r.xml"'

async function leg(job: SimulatedJob, inputs: Record<string, string>, index: number): Promise<ChainResult> {
  const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'bench-leg-'))
  try {
    const chain = await runChain(
      job as unknown as Job, // runChain reads only the job's env
      COMMAND,
      {},
      { ...inputs, matrix: `{"leg":${index}}` },
      { upload: 'false' },
      {
        RUNNER_TEMP: runnerTemp,
      },
    )
    if (chain.collect.outputs.outcome !== 'passed')
      throw new Error(
        `leg ${index} ended ${chain.collect.outputs.outcome ?? 'without an outcome'}:\n${chain.run.stdout}`,
      )
    return chain
  } finally {
    rmSync(runnerTemp, { recursive: true, force: true })
  }
}

async function chainsOn(provider: string, job: SimulatedJob, counts: readonly number[]): Promise<BenchRow[]> {
  const inputs = job.provisionInputs
  const rows: BenchRow[] = []
  const singles: number[] = []
  for (let i = 0; i < 3; i++) singles.push((await timed(() => leg(job, inputs, 1000 + i)))[1])
  const single = median(singles)
  const cores = os.availableParallelism()
  for (const count of counts) {
    const [, ms] = await timed(() => Promise.all(Array.from({ length: count }, (_, i) => leg(job, inputs, i))))
    const ideal = (single * count) / cores
    rows.push({
      figure: `${count} parallel chains on ${provider} (bundles, sim)`,
      value: fmtMs(ms),
      reference: `one chain ${fmtMs(single)} × ${count} ÷ ${cores} cores = ${fmtMs(ideal)}`,
      ratio: ms / ideal,
      target: '≤ 1.15×',
      met: ms / ideal <= 1.15,
    })
  }
  return rows
}

export async function benchChains(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  for (const [provider, name, runId] of [
    ['che', 'Che', '7001'],
    ['coder', 'Coder', '7002'],
  ] as const) {
    const sim = await simulatorProcess(provider, runId)
    try {
      rows.push(...(await chainsOn(name, sim.job, [10, 20])))
    } finally {
      await sim.close()
    }
  }
  return rows
}

/**
 * The simulators run in a child process: on the bench's own event loop they would
 * compete with the spawning and reading of 20 chains, and the figure would measure
 * the bench. They still share the machine's cores with the chains, as a real
 * control plane would not.
 */
async function simulatorProcess(
  provider: string,
  runId: string,
): Promise<{ job: SimulatedJob; close(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, '..', 'sim-process.ts'), provider, runId],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  const lines = createInterface({ input: child.stdout })
  const [first] = (await once(lines, 'line')) as [string]
  lines.close()
  child.stdout.resume()
  return {
    job: JSON.parse(first) as SimulatedJob,
    close: async () => {
      child.stdin.end()
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}
