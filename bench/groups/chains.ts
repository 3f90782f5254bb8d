/**
 * Parallel chains: N merge-gate chains (the committed bundles, provision → run →
 * collect → cleanup → post, as a runner runs them) at once against one simulator,
 * each with its own RUNNER_TEMP and matrix leg, against the ideal: one chain's time
 * × N ÷ the machine's cores.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ChainResult, type Job, runChain } from '../../test/harness/job.js'
import { machineCpuMs, ownCpuMs, processTreeCpuMs, waitedChildrenCpuMs } from '../cpu-time.js'
import { type BenchRow, fmtMs, median, timed } from '../lib.js'
import { type SimulatedJob, type SimulatorProcess, startSimulatorProcess } from '../sim-process-client.js'

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

/** CPU milliseconds spent so far by the step processes, the simulator process and the bench itself. */
interface CpuSpent {
  readonly steps: number
  readonly sim: number
  readonly bench: number
}

function cpuSpent(simPid: number): CpuSpent {
  return { steps: waitedChildrenCpuMs(), sim: processTreeCpuMs(simPid), bench: ownCpuMs() }
}

const cpuSince = (start: CpuSpent, end: CpuSpent): CpuSpent => ({
  steps: end.steps - start.steps,
  sim: end.sim - start.sim,
  bench: end.bench - start.bench,
})
const cpuTotal = (cpu: CpuSpent): number => cpu.steps + cpu.sim + cpu.bench
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** Runs `count` chains at once; their wall time and the CPU every process spent on them. */
async function chainsAtOnce(
  sim: SimulatorProcess,
  count: number,
  firstLeg: number,
): Promise<{ ms: number; cpu: CpuSpent; machineBusy: number }> {
  const start = cpuSpent(sim.pid)
  const machineStart = machineCpuMs()
  const [, ms] = await timed(() =>
    Promise.all(Array.from({ length: count }, (_, i) => leg(sim.job, sim.job.provisionInputs, firstLeg + i))),
  )
  const machineEnd = machineCpuMs()
  const machineBusy = (machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total)
  return { ms, cpu: cpuSince(start, cpuSpent(sim.pid)), machineBusy }
}

async function chainsOn(provider: string, sim: SimulatorProcess, counts: readonly number[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const singles: Array<{ ms: number; cpu: CpuSpent; machineBusy: number }> = []
  for (let i = 0; i < 3; i++) singles.push(await chainsAtOnce(sim, 1, 1000 + i))
  const single = median(singles.map((s) => s.ms))
  const singleCpu = median(singles.map((s) => cpuTotal(s.cpu)))
  const cores = os.availableParallelism()
  rows.push({
    figure: `one chain on ${provider}: CPU of steps + simulator + bench, against its wall time`,
    value: fmtS(singleCpu),
    reference: `wall ${fmtS(single)}`,
    ratio: singleCpu / single,
  })
  for (const count of counts) {
    const { ms, cpu, machineBusy } = await chainsAtOnce(sim, count, count * 100)
    const ideal = (single * count) / cores
    rows.push({
      figure: `${count} parallel chains on ${provider} (bundles, sim)`,
      value: fmtMs(ms),
      reference: `one chain ${fmtMs(single)} × ${count} ÷ ${cores} cores = ${fmtMs(ideal)}`,
      ratio: ms / ideal,
      target: '≤ 1.15×',
      met: ms / ideal <= 1.15,
    })
    // The floor no scheduler can beat: all the CPU the chains needed, spread over every core.
    const floor = cpuTotal(cpu) / cores
    rows.push({
      figure: `${count} parallel chains on ${provider}: wall against the CPU floor`,
      value: `${fmtMs(ms)}, cores busy ${(machineBusy * 100).toFixed(0)}%`,
      reference: `CPU ${fmtS(cpuTotal(cpu))} (steps ${fmtS(cpu.steps)}, simulator ${fmtS(cpu.sim)}, bench ${fmtS(cpu.bench)}; one chain alone ${fmtS(singleCpu)} × ${count} = ${fmtS(singleCpu * count)}) ÷ ${cores} cores = ${fmtMs(floor)}`,
      ratio: ms / floor,
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
    const sim = await startSimulatorProcess(provider, runId)
    try {
      rows.push(...(await chainsOn(name, sim, [10, 20])))
    } finally {
      await sim.close()
    }
  }
  return rows
}
