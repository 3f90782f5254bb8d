import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { EvidenceMeta } from '../src/shared/evidence/meta.js'
import type { Outcome, Phase } from '../src/shared/state.js'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { type CoderJob, providerInputs, startCoderJob } from './harness/job.js'
import { noCoderFaults } from './sim/coderd/faults.js'
import { noFaults } from './sim/kube/faults.js'
import type { RequestFault } from './sim/request-faults.js'

/**
 * issue 15: the fault matrix. Each row injects one fault at one phase and runs the committed bundles
 * (provision → run → collect → cleanup → provision's post step, as a runner runs them) against each
 * simulator. Each row asserts three things: the outcome (`error` for infrastructure, `failed` only when
 * the command ran and failed, `passed` when the client rode the fault out), a diagnostic that names the
 * phase, and zero workspaces left in the simulator. A row that does not apply to a provider says why.
 */

type ProviderName = 'che' | 'coder'
const STEPS = ['provision', 'run', 'collect', 'cleanup', 'post'] as const
type StepName = (typeof STEPS)[number]

/** What one row does on one provider. */
interface Scenario {
  /** Sets the fault; called before the named step (provision when unset). */
  readonly inject: (job: CoderJob) => void
  readonly before?: StepName
  /**
   * Lifts the fault before this step (an operator's fix, or a network that comes back); by default the step
   * after the one it was injected before, so a fault never leaks into another phase.
   */
  readonly liftBefore?: StepName
  readonly command?: string
  readonly provision?: Record<string, string>
  readonly cleanup?: Record<string, string>
  /** RUNNER_TEMP on a 1 MiB tmpfs (the runner's disk full). */
  readonly fullDisk?: boolean
}

interface Row {
  readonly id: string
  readonly phase: Phase
  readonly outcome: Outcome
  /**
   * What names the phase: for an `error` or `failed` outcome, meta.json's error (phase and message) or the
   * failed step's log; for a fault the client rode out, the warning it logged or, when it retried silently,
   * that the simulator saw the fault (hits) and meta.json has no error.
   */
  readonly diagnostic: RegExp | 'silent'
  /** Where the diagnostic appears when it is not meta.json's error: a step's log. */
  readonly diagnosticIn?: StepName
  readonly che: Scenario | string
  readonly coder: Scenario | string
}

const JUNIT_OK =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite name="s"><testcase classname="c" name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/unit.xml" && echo all good'

const CODER = {
  create: /^POST \/api\/v2\/users\/[^/]+\/workspaces$/,
  watch: /^GET \/api\/v2\/workspaces\/[^/]+\/watch\?watch$/,
  build: /^POST \/api\/v2\/workspaces\/[^/]+\/builds$/,
  any: /^[A-Z]+ \/api\/v2\//,
}
const KUBE = {
  create: /^POST \/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/ci\/devworkspaces$/,
  list: /^GET \/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/ci\/devworkspaces$/,
  watch: /^GET \/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/ci\/devworkspaces\?watch$/,
  delete: /^DELETE \/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/ci\/devworkspaces\/[^/]+$/,
  exec: /^UPGRADE \/api\/v1\/namespaces\/ci\/pods\/[^/]+\/exec$/,
}

const fault = (match: RegExp, kind: RequestFault['kind'], count: number, status?: number): RequestFault => ({
  match,
  kind,
  count,
  ...(status === undefined ? {} : { status }),
  ...(status === 429 || status === 503 ? { retryAfterSeconds: 1 } : {}),
})
const onCoder = (f: RequestFault, before?: StepName): Scenario => ({
  inject: (job) => job.coder.faults.requestFaults.push(f),
  ...(before ? { before } : {}),
})
const onKube = (f: RequestFault, before?: StepName): Scenario => ({
  inject: (job) => job.sim.faults.requestFaults.push(f),
  ...(before ? { before } : {}),
})
// Marks a command whose evidence file (not its output) carries it, so the stream drops while collect copies it.
const MARKER_FILE = 'printf "\\x44ROP-IN-COLLECT\\n" > "$RUN_TASK_EVIDENCE_DIR/marker.txt"; echo written'

const ROWS: readonly Row[] = [
  // provision: every kind of call, transient (ridden out) and lasting (error).
  {
    id: 'create answered 503 twice',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.create, 'status', 2, 503)),
    coder: onCoder(fault(CODER.create, 'status', 2, 503)),
  },
  {
    id: 'create answered 500 on every retry',
    phase: 'provision',
    outcome: 'error',
    diagnostic: /creat/i,
    che: onKube(fault(KUBE.create, 'status', 100, 500)),
    coder: onCoder(fault(CODER.create, 'status', 100, 500)),
  },
  {
    id: 'create connection reset',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.create, 'reset', 1)),
    coder: onCoder(fault(CODER.create, 'reset', 1)),
  },
  {
    id: 'create 429 with Retry-After',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.create, 'status', 2, 429)),
    coder: onCoder(fault(CODER.create, 'status', 2, 429)),
  },
  {
    id: 'create acted on, response lost',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.create, 'lose', 1)),
    coder: onCoder(fault(CODER.create, 'lose', 1)),
  },
  {
    id: 'status read 503 while waiting',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.list, 'status', 2, 503)),
    coder: onCoder(fault(CODER.watch, 'status', 2, 503)),
  },
  {
    id: 'status read connection reset while waiting',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.list, 'reset', 2)),
    coder: onCoder(fault(CODER.watch, 'reset', 2)),
  },
  {
    id: 'status read 429 while waiting',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.list, 'status', 2, 429)),
    coder: onCoder(fault(CODER.watch, 'status', 2, 429)),
  },
  {
    id: 'watch or SSE stream closed mid-wait',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: { inject: (job) => (job.sim.faults.watchCloseAfterEvents = 1) },
    coder: { inject: (job) => (job.coder.faults.watchCloseAfterEvents = 1) },
  },
  {
    id: 'watch 410 Gone (Expired) on resume',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: 'silent',
    che: {
      inject: (job) => {
        job.sim.faults.watchCloseAfterEvents = 1
        job.sim.faults.requestFaults.push(fault(KUBE.watch, 'expired', 1))
      },
    },
    coder:
      'an SSE /watch has no resourceVersion: every connection starts with the full workspace, so nothing can expire',
  },
  {
    id: 'failed build',
    phase: 'provision',
    outcome: 'error',
    diagnostic: /terraform apply failed/,
    che: 'Che builds nothing: an image that cannot start is the DevWorkspace Failed row',
    coder: {
      inject: (job) =>
        (job.coder.faults.buildFails = { error: 'terraform apply failed', logs: ['Error: image not found'] }),
    },
  },
  {
    id: 'start never finishes (bounded by start-timeout)',
    phase: 'provision',
    outcome: 'error',
    diagnostic: /not ready within the start timeout|within 2s|2s/,
    che: { inject: (job) => (job.sim.faults.slowStartMs = 60_000), provision: { 'start-timeout': '2s' } },
    // coderd: a build no provisioner picks up stays pending; the daemon that arrives later runs the delete too.
    coder: {
      inject: (job) => {
        job.coder.faults.noProvisioner = true
        job.coder.faults.provisionerArrivesAfterMs = 3_000
      },
      provision: { 'start-timeout': '2s' },
    },
  },
  {
    id: 'agent never connects',
    phase: 'provision',
    outcome: 'error',
    diagnostic: /never connected/,
    che: 'a DevWorkspace has no agent: a container that never becomes ready is the start-never-finishes row',
    coder: { inject: (job) => (job.coder.faults.agentNeverConnects = true), provision: { 'start-timeout': '2s' } },
  },
  {
    id: 'start_error (startup script failed)',
    phase: 'provision',
    outcome: 'passed',
    diagnostic: /start_error/,
    diagnosticIn: 'provision',
    // DWO pkg/library/status/check.go: FailedPostStartHook is an unrecoverable pod event (the postStart command failed).
    che: 'see the DevWorkspace Failing/Failed row (FailedPostStartHook fails the start at once)',
    // coder ssh waits for start_blocks_login scripts and runs the command after a start_error: a warning.
    coder: {
      inject: (job) => {
        job.coder.faults.agentStartError = true
        job.coder.faults.startBlocksLogin = true
      },
    },
  },
  {
    id: 'DevWorkspace Failing/Failed (unrecoverable pod event)',
    phase: 'provision',
    outcome: 'error',
    diagnostic: /FailedPostStartHook/,
    che: {
      inject: (job) =>
        (job.sim.faults.failStart = {
          eventReason: 'FailedPostStartHook',
          eventMessage: 'Exec lifecycle hook ([/bin/sh -c exit 1]) for Container "dev" failed',
        }),
    },
    coder: 'no DevWorkspace on Coder: a failed start is the failed-build row',
  },
  // run
  {
    id: 'command fails (exit 3): failed, never error',
    phase: 'run',
    outcome: 'failed',
    diagnostic: /exit(ed with)? (code )?3/,
    diagnosticIn: 'run',
    che: { inject: () => undefined, command: 'echo nope; exit 3' },
    coder: { inject: () => undefined, command: 'echo nope; exit 3' },
  },
  {
    id: 'exec or SSH stream dropped before the exit status',
    phase: 'run',
    outcome: 'error',
    diagnostic: /closed before the command's exit status arrived/,
    che: {
      inject: (job) => (job.sim.faults.execDropOnOutput = 'half-way'),
      before: 'run',
      command: 'echo half-way; sleep 2',
    },
    coder: {
      inject: (job) => (job.coder.faults.sshDropOnOutput = 'half-way'),
      before: 'run',
      command: 'echo half-way; sleep 2',
    },
  },
  {
    id: 'exec upgrade connection reset',
    phase: 'run',
    outcome: 'error',
    diagnostic: /exec|socket|reset|ECONNRESET|hang up/i,
    che: onKube(fault(KUBE.exec, 'reset', 100), 'run'),
    coder: 'the SSH connection goes through the coder CLI; its reset is the dropped-stream row',
  },
  // collect
  {
    id: 'stream dropped while evidence is copied',
    phase: 'collect',
    outcome: 'error',
    diagnostic: /Copying the evidence failed: .*closed before the command's exit status arrived/,
    che: {
      inject: (job) => (job.sim.faults.execDropOnOutput = 'DROP-IN-COLLECT'),
      before: 'collect',
      command: MARKER_FILE,
    },
    coder: {
      inject: (job) => (job.coder.faults.sshDropOnOutput = 'DROP-IN-COLLECT'),
      before: 'collect',
      command: MARKER_FILE,
    },
  },
  {
    id: "runner's disk full while evidence is extracted",
    phase: 'collect',
    outcome: 'error',
    diagnostic: /The runner's disk is full: .*ENOSPC/,
    che: {
      inject: () => undefined,
      fullDisk: true,
      command: 'head -c 3000000 /dev/urandom > "$RUN_TASK_EVIDENCE_DIR/big.bin"; echo written',
    },
    coder: {
      inject: () => undefined,
      fullDisk: true,
      command: 'head -c 3000000 /dev/urandom > "$RUN_TASK_EVIDENCE_DIR/big.bin"; echo written',
    },
  },
  // cleanup
  {
    id: 'delete answered 503 twice',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.delete, 'status', 2, 503), 'cleanup'),
    coder: onCoder(fault(CODER.build, 'status', 2, 503), 'cleanup'),
  },
  {
    id: 'delete 429 with Retry-After',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.delete, 'status', 2, 429), 'cleanup'),
    coder: onCoder(fault(CODER.build, 'status', 2, 429), 'cleanup'),
  },
  {
    id: 'delete connection reset',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.delete, 'reset', 1), 'cleanup'),
    coder: onCoder(fault(CODER.build, 'reset', 1), 'cleanup'),
  },
  {
    id: 'delete acted on, response lost',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: 'silent',
    che: onKube(fault(KUBE.delete, 'lose', 1), 'cleanup'),
    coder: onCoder(fault(CODER.build, 'lose', 1), 'cleanup'),
  },
  {
    id: 'finalizer hangs (bounded by delete-timeout, named)',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: /finalizer/i,
    diagnosticIn: 'cleanup',
    che: {
      inject: (job) => (job.sim.faults.stuckFinalizers = true),
      before: 'cleanup',
      liftBefore: 'post',
      cleanup: { 'delete-timeout': '2s' },
    },
    coder: 'Coder has no finalizers: a delete build that never runs is the start-never-finishes case',
  },
  {
    id: 'cleanup phase Error (storage cleanup Job failed)',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: /Error|cleanup/,
    diagnosticIn: 'cleanup',
    che: {
      inject: (job) => (job.sim.faults.failCleanupJob = true),
      before: 'cleanup',
      liftBefore: 'post',
      // Only a workspace on the common PVC has the storage finalizer and its cleanup Job.
      provision: { 'storage-type': 'per-user' },
      cleanup: { 'delete-timeout': '3s' },
    },
    coder: 'a failed delete build is what coderd reports instead; the sim has no failing delete build',
  },
  {
    id: 'provider unreachable during cleanup, reachable for the post step',
    phase: 'cleanup',
    outcome: 'passed',
    diagnostic: /cleanup|delet/i,
    diagnosticIn: 'cleanup',
    che: { inject: (job) => (job.sim.faults.unavailable = true), before: 'cleanup', liftBefore: 'post' },
    coder: {
      inject: (job) => job.coder.faults.requestFaults.push(fault(CODER.any, 'reset', 10_000)),
      before: 'cleanup',
      liftBefore: 'post',
    },
  },
]

const CONCURRENCY = 3

describe(
  'fault matrix: one fault at one phase, through the bundles, on both simulators',
  { concurrency: CONCURRENCY },
  () => {
    const pool: CoderJob[] = []
    const waiting: ((job: CoderJob) => void)[] = []
    let runId = 7000
    before(async () => {
      for (let i = 0; i < CONCURRENCY; i++) pool.push(await startCoderJob(String(6000 + i)))
    })
    after(async () => {
      await Promise.all(pool.map((job) => job.close()))
    })
    const take = async (): Promise<CoderJob> => pool.pop() ?? new Promise((resolve) => waiting.push(resolve))
    const give = (job: CoderJob): void => {
      Object.assign(job.sim.faults, noFaults())
      Object.assign(job.coder.faults, noCoderFaults())
      const next = waiting.shift()
      if (next) next(job)
      else pool.push(job)
    }

    for (const row of ROWS) {
      for (const provider of ['che', 'coder'] as const) {
        const scenario = row[provider]
        const title = `${row.phase} · ${row.id} · ${provider}`
        if (typeof scenario === 'string') {
          it(`${title}: not applicable`, (t) => t.skip(`not applicable to ${provider}: ${scenario}`))
          continue
        }
        it(title, async (t) => {
          // A tmpfs of its own per row: a full disk shared with another row would break that row's provision.
          const fullDisk = scenario.fullDisk ? mountFullDisk() : undefined
          if (scenario.fullDisk && !fullDisk) return t.skip('needs root to mount a 1 MiB tmpfs (mount -t tmpfs failed)')
          const job = await take()
          try {
            await runRow(job, provider, row, scenario, String(runId++), fullDisk)
          } finally {
            give(job)
            if (fullDisk) unmount(fullDisk)
          }
        })
      }
    }
  },
)

async function runRow(
  job: CoderJob,
  provider: ProviderName,
  row: Row,
  scenario: Scenario,
  runId: string,
  fullDisk: string | undefined,
): Promise<void> {
  const runnerTemp = fullDisk ?? mkdtempSync(path.join(tmpdir(), 'matrix-'))
  const env = { ...job.env, RUNNER_TEMP: runnerTemp, GITHUB_RUN_ID: runId }
  const left = (): string[] => (provider === 'che' ? job.sim.devWorkspaces('ci') : job.coder.workspaces())
  const requestFaults = provider === 'che' ? job.sim.faults.requestFaults : job.coder.faults.requestFaults
  const provisionInputs = {
    ...providerInputs(job, provider),
    ...scenario.provision,
  }
  const steps: Partial<Record<StepName, StepResult>> = {}
  const injectAt = scenario.before ?? 'provision'
  const liftAt = scenario.liftBefore ?? STEPS[STEPS.indexOf(injectAt) + 1]
  const hook = (step: StepName): void => {
    if (injectAt === step) scenario.inject(job)
    if (liftAt === step) {
      Object.assign(job.sim.faults, noFaults())
      Object.assign(job.coder.faults, noCoderFaults())
      job.sim.resyncController()
    }
  }
  try {
    hook('provision')
    steps.provision = await runActionStep('provision-workspace', { env, inputs: provisionInputs })
    hook('run')
    steps.run = await runActionStep('run-task', { env, inputs: { command: scenario.command ?? JUNIT_OK } })
    hook('collect')
    steps.collect = await runActionStep('collect-evidence', { env })
    hook('cleanup')
    steps.cleanup = await runActionStep('cleanup', { env, inputs: scenario.cleanup ?? {} })
    hook('post')
    steps.post = await runActionStep('provision-workspace', { env, post: steps.provision.state })
    const log = (step: StepName): string =>
      `${step} (exit ${String(steps[step]?.code)}):\n${steps[step]?.stdout ?? ''}${steps[step]?.stderr ?? ''}`
    const all = (['provision', 'run', 'collect', 'cleanup', 'post'] as const).map(log).join('\n')

    // 1. The outcome.
    assert.equal(steps.collect.outputs.outcome, row.outcome, all)
    // 2. A diagnostic that names the phase.
    const meta = readMeta(steps.collect)
    if (row.diagnostic === 'silent') {
      assert.equal(meta?.error ?? null, null, all)
      assert.ok(
        requestFaults.every((f) => f.count === 0) || !requestFaults.length,
        `the simulator saw the fault: ${JSON.stringify(requestFaults)}`,
      )
    } else if (row.diagnosticIn) {
      assert.match(steps[row.diagnosticIn]?.stdout ?? '', row.diagnostic, all)
      if (row.outcome !== 'passed') assert.equal(meta?.error?.phase ?? row.phase, row.phase)
    } else {
      assert.ok(meta, `meta.json was written\n${all}`)
      assert.equal(meta.error?.phase, row.phase, all)
      assert.match(`${meta.error?.message}\n${meta.error?.diagnostics.join('\n')}`, row.diagnostic, all)
    }
    // 3. Nothing left behind.
    assert.deepEqual(left(), [], all)
    assert.equal(steps.post.code, 0, log('post'))
  } finally {
    Object.assign(job.sim.faults, noFaults())
    Object.assign(job.coder.faults, noCoderFaults())
    if (!fullDisk) rmSync(runnerTemp, { recursive: true, force: true })
  }
}

function readMeta(collect: StepResult): EvidenceMeta | undefined {
  const dir = collect.outputs['evidence-dir']
  const file = dir ? path.join(dir, 'meta.json') : ''
  return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as EvidenceMeta) : undefined
}

/** A 1 MiB tmpfs for the disk-full row; undefined when mounting needs a root this process lacks. */
function mountFullDisk(): string | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'full-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
