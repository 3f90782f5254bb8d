/**
 * Issue 12: what a header-diverted route costs a provision step, and how fast a run that cannot route fails, through
 * the committed bundle against the simulated cluster's Gateway controller (10 ms steps).
 */
import { runActionStep, type StepResult } from '../../test/harness/action-runner.js'
import { cheInputs, devfileWithEndpoint, type Job, startJob } from '../../test/harness/job.js'
import { type BenchRow, fmtMs, median, timed } from '../lib.js'

const RUNS = 3
/** The route-timeout a failing run is not allowed to wait out. */
const ROUTE_TIMEOUT = '2m'

/** One provision step and its post step; the provision step's wall time. */
async function provisionTimed(job: Job, inputs: Record<string, string>): Promise<[StepResult, number]> {
  const [step, ms] = await timed(() => runActionStep('provision-workspace', { env: job.env, inputs }))
  await runActionStep('provision-workspace', { env: job.env, post: step.state })
  return [step, ms]
}

async function medianOf(job: Job, inputs: Record<string, string>, expectCode: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const [step, ms] = await provisionTimed(job, inputs)
    if (step.code !== expectCode) throw new Error(`provision exited ${String(step.code)}:\n${step.stdout}`)
    times.push(ms)
  }
  return median(times)
}

export async function benchRouting(): Promise<BenchRow[]> {
  const job = await startJob('9100', { stepDelayMs: 10, routing: { namespaces: ['ci', 'closed'], labelled: ['ci'] } })
  try {
    const plain = { ...cheInputs(job), devfile: devfileWithEndpoint(8080) }
    const routed = {
      ...plain,
      'route-gateway': 'gateway-system/shared',
      'route-hostname': 'app.dev.sim.test',
      'route-backend-port': '8080',
      'route-timeout': ROUTE_TIMEOUT,
    }
    const plainMs = await medianOf(job, plain, 0)
    const routedMs = await medianOf(job, routed, 0)
    const closedMs = await medianOf(job, { ...routed, namespace: 'closed' }, 1)
    const saved = job.sim.rules
    job.sim.rules = [{ apiGroups: ['workspace.devfile.io', '', 'org.eclipse.che'], resources: ['*'], verbs: ['*'] }]
    const deniedMs = await medianOf(job, routed, 1).finally(() => (job.sim.rules = saved))
    return [
      {
        figure: `Che provision step with a route, to Accepted and ResolvedRefs (bundle, sim, median of ${RUNS})`,
        value: fmtMs(routedMs),
        reference: `the same step without a route ${fmtMs(plainMs)}`,
        ratio: routedMs / plainMs,
        target: '≤ 1.5×',
        met: routedMs / plainMs <= 1.5,
      },
      {
        figure: `namespace the listener does not admit: provision step fails (NotAllowedByListeners, median of ${RUNS})`,
        value: fmtMs(closedMs),
        target: `≤ 10 s (route-timeout ${ROUTE_TIMEOUT})`,
        met: closedMs <= 10_000,
      },
      {
        figure: `routing permissions missing: provision step fails before any create (median of ${RUNS})`,
        value: fmtMs(deniedMs),
        target: '≤ 5 s',
        met: deniedMs <= 5_000,
      },
    ]
  } finally {
    await job.close()
  }
}
