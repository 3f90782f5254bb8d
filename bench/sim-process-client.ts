/**
 * Starts bench/sim-process.ts: a simulated job (Che cluster or Coder deployment, plus the results service) in a
 * process of its own.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { SimulatedJob } from './sim-process.js'

export type { SimulatedJob }

/** A simulated job served by a child process (bench/sim-process.ts). */
export interface SimulatorProcess {
  readonly job: SimulatedJob
  readonly pid: number
  close(): Promise<void>
}

/**
 * The simulators run in a child process: on the bench's own event loop they would compete with reading the
 * steps' output and spawning chains, and a figure would measure the bench (the Che run step's 200 MiB went
 * through a simulator sharing one thread with the reader of the job log). They still share the machine's cores,
 * as a real control plane would not.
 */
export async function startSimulatorProcess(provider: 'che' | 'coder', runId: string): Promise<SimulatorProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'sim-process.ts'), provider, runId],
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
    pid: child.pid as number,
    close: async () => {
      child.stdin.end()
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}
