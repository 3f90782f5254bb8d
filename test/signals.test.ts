import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { runActionStep, type StepOptions, type StepResult } from './harness/action-runner.js'
import { type CoderJob, providerInputs, startCoderJob } from './harness/job.js'
import { noCoderFaults } from './sim/coderd/faults.js'
import { noFaults } from './sim/kube/faults.js'

/**
 * issue 15: a cancelled or killed job at every phase, through the committed bundles, on both simulators. The
 * runner cancels a step with SIGINT, then SIGTERM 7.5 s later if it still runs (actions/runner
 * src/Runner.Worker/Handlers/StepHost.cs and ProcessInvoker.cs: CancelAndKillProcessTree sends SIGINT, waits 7.5 s,
 * sends SIGTERM, waits 2.5 s, then kills); a runner that loses its machine kills it outright (SIGKILL). Each test
 * holds one step mid-phase with a simulator fault, signals it, then runs what a runner still runs after a cancel:
 * the `if: always()` steps (collect) and the post step. It asserts that the step stopped, that the remote command
 * stopped (at once after SIGINT, once the workspace is gone after SIGKILL), that the evidence written so far was
 * kept where the phase allows, and that nothing is left in the simulator.
 */

type ProviderName = 'che' | 'coder'
type Signal = 'SIGINT' | 'SIGKILL'
const PHASES = ['provision', 'run', 'collect', 'cleanup'] as const
type SignalPhase = (typeof PHASES)[number]

// The markers are printed by the command, never part of its text (the run step's log shows the command).
const HEARTBEAT_COMMAND = [
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR"',
  'cd "$RUN_TASK_EVIDENCE_DIR"',
  'echo "written before the signal" > partial.txt',
  'echo "EVIDENCE_AT=$(pwd)"',
  'echo "MID-$((40 + 2))-COMMAND"',
  'while :; do date +%s%N >> heartbeat; sleep 0.1; done',
].join(' && ')
const QUICK_COMMAND =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite name="s"><testcase classname="c" name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/unit.xml"'

/** What holds each phase long enough to be signalled, and the log line that says the step is inside it. */
const HOLD: Record<SignalPhase, { readonly marker: string; readonly hold: (job: CoderJob, p: ProviderName) => void }> =
  {
    provision: {
      marker: 'waiting for it to be ready',
      hold: (job, p) =>
        void (p === 'che' ? (job.sim.faults.slowStartMs = 60_000) : (job.coder.faults.slowStartMs = 60_000)),
    },
    run: { marker: 'MID-42-COMMAND', hold: () => undefined },
    collect: {
      marker: 'Collect evidence',
      hold: (job, p) =>
        void (p === 'che' ? (job.sim.faults.execUpgradeDelayMs = 60_000) : (job.coder.faults.execHoldMs = 60_000)),
    },
    cleanup: {
      marker: 'Clean up workspace',
      hold: (job, p) =>
        void (p === 'che' ? (job.sim.faults.stuckFinalizers = true) : (job.coder.faults.noProvisioner = true)),
    },
  }

/** The fault is lifted (an operator's fix) before the steps that follow the signal. */
function lift(job: CoderJob): void {
  Object.assign(job.sim.faults, noFaults())
  Object.assign(job.coder.faults, noCoderFaults())
  job.sim.resyncController()
  job.coder.engine.provisionerArrives()
}

const CONCURRENCY = 3

describe(
  'signals at every phase: a cancelled or killed step, through the bundles, on both simulators',
  {
    concurrency: CONCURRENCY,
  },
  () => {
    const pool: CoderJob[] = []
    const waiting: ((job: CoderJob) => void)[] = []
    let runId = 8000
    before(async () => {
      for (let i = 0; i < CONCURRENCY; i++) pool.push(await startCoderJob(String(6100 + i)))
    })
    after(async () => {
      await Promise.all(pool.map((job) => job.close()))
    })
    const take = async (): Promise<CoderJob> => pool.pop() ?? new Promise((resolve) => waiting.push(resolve))
    const give = (job: CoderJob): void => {
      lift(job)
      const next = waiting.shift()
      if (next) next(job)
      else pool.push(job)
    }
    for (const phase of PHASES)
      for (const provider of ['che', 'coder'] as const)
        for (const signal of ['SIGINT', 'SIGKILL'] as const)
          it(`${signal}${signal === 'SIGINT' ? ' then SIGTERM after 7.5 s' : ''} mid-${phase} · ${provider}`, async () => {
            const job = await take()
            try {
              await signalled(job, provider, phase, signal, String(runId++))
            } finally {
              give(job)
            }
          })
  },
)

async function signalled(
  job: CoderJob,
  provider: ProviderName,
  phase: SignalPhase,
  signal: Signal,
  runId: string,
): Promise<void> {
  const runnerTemp = mkdtempSync(path.join(tmpdir(), 'signals-'))
  const env = { ...job.env, RUNNER_TEMP: runnerTemp, GITHUB_RUN_ID: runId }
  // This run's workspaces only: the simulators are shared by the tests that run at once.
  const left = (): string[] =>
    (provider === 'che' ? job.sim.devWorkspaces('ci') : job.coder.workspaces()).filter((name) =>
      name.startsWith(`rt-${runId}-`),
    )
  const logs: string[] = []
  const step = async (action: string, options: Omit<StepOptions, 'env'>, label = action): Promise<StepResult> => {
    const result = await runActionStep(action, { env, ...options })
    logs.push(
      `${label} (exit ${String(result.code)}, signal ${String(result.signal)}):\n${result.stdout}${result.stderr}`,
    )
    return result
  }
  const all = (): string => logs.join('\n')
  const interrupt = { interruptOn: HOLD[phase].marker, interruptWith: signal, escalateAfterMs: 7_500 } as const
  const inPhase = (current: SignalPhase): Partial<StepOptions> => {
    if (current !== phase) return {}
    HOLD[phase].hold(job, provider)
    return interrupt
  }
  try {
    const provision = await step('provision-workspace', {
      inputs: providerInputs(job, provider),
      ...inPhase('provision'),
    })
    let signalled = provision
    let heartbeat: string | undefined
    if (phase !== 'provision') {
      assert.equal(provision.code, 0, all())
      const run = await step('run-task', {
        inputs: { command: phase === 'run' ? HEARTBEAT_COMMAND : QUICK_COMMAND },
        ...inPhase('run'),
      })
      signalled = run
      heartbeat = phase === 'run' ? path.join(evidenceAt(run), 'heartbeat') : undefined
      if (phase !== 'run') assert.equal(run.code, 0, all())
    }
    if (phase === 'collect' || phase === 'cleanup') {
      signalled = await step('collect-evidence', { inputs: { upload: 'false' }, ...inPhase('collect') })
      if (phase === 'cleanup') assert.equal(signalled.code, 0, all())
    }
    if (phase === 'cleanup') signalled = await step('cleanup', inPhase('cleanup'))

    // 1. The step stopped: on its own after SIGINT, before the runner's SIGTERM, or killed. Provision and run fail;
    // collect and cleanup warn (they fail a job only with fail-on-error; the post step is cleanup's safety net).
    if (signal === 'SIGKILL') assert.equal(signalled.signal, 'SIGKILL', all())
    else {
      assert.equal(signalled.signal, null, `the step ended on its own after SIGINT\n${all()}`)
      assert.match(signalled.stdout, /Received SIGINT/, all())
      assert.doesNotMatch(signalled.stdout, /Received SIGTERM/, `it stopped before the runner's SIGTERM\n${all()}`)
      if (phase === 'provision' || phase === 'run') assert.notEqual(signalled.code, 0, all())
      if (phase === 'collect') assertEvidence(signalled, phase, all())
    }
    // 2. The remote command stops: the run step kills it on SIGINT; after a SIGKILL it stops with the workspace.
    if (heartbeat && signal === 'SIGINT')
      assert.equal(await stillBeating(heartbeat), false, `the command stopped\n${all()}`)
    lift(job)

    // What a runner runs after a cancel: `if: always()` collect (unless it was the step cancelled), and the post step.
    const collect =
      phase === 'provision' || phase === 'run'
        ? await step('collect-evidence', { inputs: { upload: 'false' } })
        : undefined
    if (collect) assertEvidence(collect, phase, all())
    const post = await step('provision-workspace', { post: provision.state }, 'post')
    assert.equal(post.code, 0, all())

    // 3. Nothing is left, and nothing still runs.
    assert.deepEqual(left(), [], all())
    if (heartbeat)
      assert.equal(await stillBeating(heartbeat), false, `the command stopped with its workspace\n${all()}`)
  } finally {
    lift(job)
    rmSync(runnerTemp, { recursive: true, force: true })
  }
}

/** The workspace's evidence folder, as the command printed it. */
function evidenceAt(run: StepResult): string {
  const at = /EVIDENCE_AT=(\/\S+)/.exec(run.stdout)?.[1]
  assert.ok(at, `the command printed where it writes:\n${run.stdout}`)
  return at
}

/** Whether something still appends to the file: its size over 600 ms (the command writes every 100 ms). */
async function stillBeating(file: string): Promise<boolean> {
  await delay(300)
  const size = (): number => (existsSync(file) ? statSync(file).size : 0)
  const before = size()
  await delay(600)
  return size() !== before
}

/**
 * The evidence of a cancelled phase: meta.json, JUnit always, an outcome that is not `passed`, and the command's
 * partial evidence when it had started.
 */
function assertEvidence(collect: StepResult, phase: SignalPhase, logs: string): void {
  const dir = collect.outputs['evidence-dir']
  assert.ok(dir && existsSync(path.join(dir, 'meta.json')), `meta.json was written\n${logs}`)
  assert.ok(readdirSync(path.join(dir, 'junit')).length > 0, `a JUnit report was written\n${logs}`)
  assert.notEqual(collect.outputs.outcome, 'passed', logs)
  if (phase === 'run')
    assert.ok(existsSync(path.join(dir, 'workspace', 'partial.txt')), `partial evidence kept\n${logs}`)
}
