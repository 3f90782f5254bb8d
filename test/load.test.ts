import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { EvidenceMeta } from '../src/shared/evidence/meta.js'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { type CoderJob, providerInputs, startCoderJob } from './harness/job.js'
import type { RequestFault } from './sim/request-faults.js'

/**
 * issue 15, Load: 20 chains at once against each simulator while it answers 429 (with Retry-After) on 30% of
 * requests. Each chain is one matrix leg of a merge gate: provision → run → collect → cleanup → provision's post
 * step, through the committed bundles as a runner runs them (as the fault matrix's runRow does), with the client's
 * own retry policy and its Retry-After-plus-jitter delays (src/shared/wait.ts retryDelayMs), nothing shortened.
 * Every chain must end `passed`, the workspace and artifact names must be unique across the 20 legs, nothing may
 * be left behind, and the simulator must have served 429s. Loopback only; bounded in count (CHAINS) and time.
 *
 * What this test found in the client, fixed with unit tests of their own: the Che pod list (finding the workspace
 * pod in provision, run and collect) was not retried at all (che-provider.test.ts); a 429 that came back five times
 * in a row ended the call, about one call in 400 at this rate, so a few of 20 legs failed: a server that sends
 * Retry-After now gets 10 retries, as client-go gives it (retry-jitter.test.ts); the Che status list retried a 429
 * sooner than its Retry-After; and the coder CLI gives up when coderd rate limits it, so the SSH tunnel is opened
 * again while it says so (coder-tunnel.test.ts, coder-provider.test.ts).
 */

type ProviderName = 'che' | 'coder'
const STEPS = ['provision', 'run', 'collect', 'cleanup', 'post'] as const
type StepName = (typeof STEPS)[number]

const CHAINS = 20
const PROVIDER_TIMEOUT_MS = 240_000
const RATE_LIMITED_SHARE = 0.3
/** More than any run can use: the hits are counted down from it. */
const FAULT_BUDGET = 1_000_000

const JUNIT_OK =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite name="s"><testcase classname="c" name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/unit.xml" && echo all good'

/**
 * What the 429 applies to, per simulator.
 *
 * Che: every REST call to the API server. Excluded: the exec WebSocket upgrade (`UPGRADE …/pods/…/exec`). An exec
 * is a long-running request, which kube-apiserver's WithMaxInFlightLimit and API Priority and Fairness let through
 * untracked (pkg/server/filters/maxinflight.go, priority-and-fairness.go), so a real API server never answers it
 * 429; the kube simulator resets the connection instead of answering any fault on an upgrade, which would make this
 * a connection-reset test of the run step rather than a rate-limit one.
 *
 * Coder: every request under /api/v2/, as coderd's httpmw.RateLimit covers the whole API, including the calls the
 * coder CLI (the SSH tunnel) makes. Not under /api/v2/, so never rate limited by coderd: the CLI download (/bin/).
 */
const RATE_LIMITED: Record<ProviderName, RegExp> = {
  che: /^(GET|POST|PUT|PATCH|DELETE) \//,
  coder: /^[A-Z]+ \/api\/v2\//,
}

/** One matrix leg of the gate: its own RUNNER_TEMP and identity (see legEnv). */
interface Leg {
  readonly index: number
  readonly env: Record<string, string>
  readonly matrix: string
}

interface Chain {
  readonly leg: Leg
  readonly steps: Partial<Record<StepName, StepResult>>
  readonly error?: unknown
}

describe(`load: ${CHAINS} chains at once against each simulator, 429 with Retry-After on 30% of requests`, () => {
  for (const provider of ['che', 'coder'] as const) {
    it(
      `${provider}: ${CHAINS} parallel chains all pass, unique names, nothing left`,
      { timeout: PROVIDER_TIMEOUT_MS },
      async (t) => {
        const job = await startCoderJob('9100')
        const legs = Array.from({ length: CHAINS }, (_, index) => legEnv(job, index))
        const fault: RequestFault = {
          match: RATE_LIMITED[provider],
          kind: 'status',
          status: 429,
          retryAfterSeconds: 1,
          probability: RATE_LIMITED_SHARE,
          count: FAULT_BUDGET,
        }
        const requests = provider === 'che' ? job.sim.requests : job.coder.requests
        try {
          ;(provider === 'che' ? job.sim.faults.requestFaults : job.coder.faults.requestFaults).push(fault)
          const started = Date.now()
          const chains = await Promise.all(legs.map((leg) => runChain(job, provider, leg)))
          const wallMs = Date.now() - started
          const hits = FAULT_BUDGET - fault.count
          fault.count = 0
          const exposed = requests.filter((r) => RATE_LIMITED[provider].test(r)).length
          t.diagnostic(
            `${provider}: ${CHAINS} chains in ${wallMs} ms; ${requests.length} requests, ${exposed} of them rate-limitable, ${hits} answered 429`,
          )

          // Every chain ran to the end and passed; a failure lists every failed leg's first error, then their logs.
          assert.equal(chains.length, CHAINS)
          const failed = chains.filter(
            (c) =>
              c.error !== undefined ||
              c.steps.collect?.outputs.outcome !== 'passed' ||
              STEPS.some((s) => c.steps[s]?.code !== 0),
          )
          assert.equal(
            failed.length,
            0,
            `${failed.length} of ${CHAINS} legs did not pass:\n${failed.map(firstError).join('\n')}\n\n${failed.map(describeChain).join('\n\n')}`,
          )
          // Unique workspace and artifact names across the legs.
          const workspaces = chains.map((c) => c.steps.provision?.outputs['workspace-name'] ?? '')
          assert.equal(new Set(workspaces).size, CHAINS, `workspace names: ${workspaces.join(', ')}`)
          const recorded = chains.map((c) => readMeta(c.steps.collect)?.workspace.name)
          assert.deepEqual(recorded, workspaces, 'meta.json names the workspace each leg provisioned')
          const artifacts = job.results.artifacts.map((a) => a.name)
          assert.equal(artifacts.length, CHAINS, `artifacts: ${artifacts.join(', ')}`)
          assert.equal(new Set(artifacts).size, CHAINS, `artifact names: ${artifacts.join(', ')}`)
          // Nothing left behind after every post step.
          assert.deepEqual(provider === 'che' ? job.sim.devWorkspaces('ci') : job.coder.workspaces(), [])
          // The simulator did rate limit, about 30% of what it could (hundreds of requests: 20-40% is > 5 sigma).
          const share = hits / exposed
          assert.ok(hits >= CHAINS && share >= 0.2 && share <= 0.4, `429 on ${hits} of ${exposed} requests`)
        } finally {
          fault.count = 0
          for (const leg of legs) rmSync(leg.env.RUNNER_TEMP as string, { recursive: true, force: true })
          await job.close()
        }
      },
    )
  }
})

/**
 * The identity of leg `index`. All legs are jobs of one workflow run (GITHUB_RUN_ID 9100), as a matrix's legs are:
 * the run id is part of every workspace name, so legs of different runs could never collide, and this is where a
 * collision could happen. Two jobs (`unit`, `e2e`), each with matrix legs that pass `matrix: toJSON(matrix)`; the
 * last four legs of each job do not pass it (a workflow that forgot it), so their identities are the same and only
 * the name's nonce keeps them apart. Each leg has its own RUNNER_TEMP, as each job runs on its own runner.
 */
function legEnv(job: CoderJob, index: number): Leg {
  const runnerTemp = mkdtempSync(path.join(tmpdir(), `load-leg-${index}-`))
  const jobName = index % 2 === 0 ? 'unit' : 'e2e'
  const shard = Math.floor(index / 2)
  return {
    index,
    env: { ...job.env, RUNNER_TEMP: runnerTemp, GITHUB_JOB: jobName },
    matrix: shard < CHAINS / 2 - 4 ? JSON.stringify({ shard, os: 'ubuntu-latest' }) : '',
  }
}

async function runChain(job: CoderJob, provider: ProviderName, leg: Leg): Promise<Chain> {
  const provisionInputs = {
    ...providerInputs(job, provider),
    ...(leg.matrix ? { matrix: leg.matrix } : {}),
  }
  const { env } = leg
  const steps: Partial<Record<StepName, StepResult>> = {}
  try {
    steps.provision = await runActionStep('provision-workspace', { env, inputs: provisionInputs })
    steps.run = await runActionStep('run-task', { env, inputs: { command: JUNIT_OK } })
    steps.collect = await runActionStep('collect-evidence', { env })
    steps.cleanup = await runActionStep('cleanup', { env })
    steps.post = await runActionStep('provision-workspace', { env, post: steps.provision.state })
    return { leg, steps }
  } catch (error) {
    return { leg, steps, error }
  }
}

/** Every step's exit status and log, for a failed assertion. */
function describeChain(chain: Chain): string {
  const log = (step: StepName): string =>
    `${step} (exit ${String(chain.steps[step]?.code)}):\n${chain.steps[step]?.stdout ?? ''}${chain.steps[step]?.stderr ?? ''}`
  return [
    `leg ${chain.leg.index} (${chain.leg.env.GITHUB_JOB}, matrix ${chain.leg.matrix || 'not passed'})${chain.error ? `: ${String(chain.error)}` : ''}`,
    ...STEPS.map(log),
  ].join('\n')
}

/** A leg and the first error line of its first failed step. */
function firstError(chain: Chain): string {
  const step = STEPS.find((s) => chain.steps[s] === undefined || chain.steps[s]?.code !== 0) ?? 'collect'
  const line = /::error[^:]*::(.*)/.exec(chain.steps[step]?.stdout ?? '')?.[1]
  return `  leg ${chain.leg.index}: ${step}: ${chain.error ? String(chain.error) : (line ?? `outcome ${chain.steps.collect?.outputs.outcome}`)}`
}

function readMeta(collect: StepResult | undefined): EvidenceMeta | undefined {
  const dir = collect?.outputs['evidence-dir']
  const file = dir ? path.join(dir, 'meta.json') : ''
  return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as EvidenceMeta) : undefined
}
