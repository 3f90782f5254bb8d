/**
 * Parallel chains: N merge-gate chains (the committed bundles, provision → run →
 * collect → cleanup → post, as a runner runs them) at once against one simulator,
 * each with its own RUNNER_TEMP and matrix leg, against the ideal: one chain's time
 * × N ÷ the machine's cores.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ChainResult, type Job, cheInputs, runChain, startCoderJob, startJob } from '../../test/harness/job.js'
import { type BenchRow, fmtMs, median, timed } from '../lib.js'

const COMMAND =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite><testcase name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/r.xml"'

async function leg(job: Job, inputs: Record<string, string>, index: number): Promise<ChainResult> {
  const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'bench-leg-'))
  try {
    const chain = await runChain(
      job,
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

async function chainsOn(
  provider: string,
  job: Job,
  inputs: Record<string, string>,
  counts: readonly number[],
): Promise<BenchRow[]> {
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
  const che = await startJob('7001')
  try {
    rows.push(...(await chainsOn('Che', che, cheInputs(che), [10, 20])))
  } finally {
    await che.close()
  }
  const coder = await startCoderJob('7002')
  try {
    const inputs = {
      provider: 'coder',
      'coder-url': coder.coder.url,
      'coder-token': coder.coder.token,
      template: 'ci-docker',
      parameters: 'repo_url: https://example.com/app.git\nregion: us',
    }
    rows.push(...(await chainsOn('Coder', coder, inputs, [10, 20])))
  } finally {
    await coder.close()
  }
  return rows
}
