import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import { runActionStep } from './harness/action-runner.js'
import { type Job, runChain, startJob } from './harness/job.js'

// The committed bundles, run as the runner runs them, through the whole chain.
describe('dist bundles: provision → run → collect → cleanup on the simulated cluster', () => {
  let job: Job
  before(async () => {
    job = await startJob()
  })
  after(async () => job.close())

  it('a command that passes and writes JUnit is passed, and its report is the evidence', async () => {
    const command =
      'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite name="s"><testcase classname="c" name="a"/><testcase classname="c" name="b"><skipped/></testcase></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/unit.xml" && echo all good'
    const chain = await runChain(job, command)
    assert.equal(chain.provision.code, 0, chain.provision.stdout)
    assert.equal(chain.run.code, 0, chain.run.stdout)
    assert.equal(chain.run.outputs.outcome, 'passed')
    assert.match(chain.run.stdout, /all good/)
    assert.equal(chain.collect.outputs.outcome, 'passed')
    assert.equal(chain.collect.outputs['tests-total'], '2')
    assert.equal(chain.collect.outputs['tests-skipped'], '1')
    const dir = chain.collect.outputs['evidence-dir'] as string
    assert.deepEqual(readdirSync(path.join(dir, 'junit')), ['junit__unit.xml'])
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'))
    assert.equal(meta.outcome, 'passed')
    assert.equal(meta.exitCode, 0)
    assert.equal(meta.provider, 'che')
    assert.equal(meta.workspace.name, chain.provision.outputs['workspace-name'])
    assert.ok(meta.timings.provision && meta.timings.run && meta.timings.collect && meta.timings.cleanup)
    assert.match(readFileSync(path.join(dir, 'logs', 'command.log'), 'utf8'), /all good/)
    assertUploaded(job, chain.collect.outputs['artifact-id'], [
      'junit/junit__unit.xml',
      'meta.json',
      'logs/command.log',
      'workspace/junit/unit.xml',
    ])
    assert.match(chain.collect.summary, /Passed/)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('a command that exits 3 without JUnit is failed, with a synthesised failing case', async () => {
    const chain = await runChain(job, 'echo "assertion went wrong in step 7"; exit 3')
    assert.equal(chain.run.code, 1)
    assert.equal(chain.run.outputs.outcome, 'failed')
    assert.equal(chain.run.outputs['exit-code'], '3')
    assert.equal(chain.collect.code, 0)
    assert.equal(chain.collect.outputs.outcome, 'failed')
    assert.equal(chain.collect.outputs['tests-failed'], '1')
    const junit = readFileSync(
      path.join(chain.collect.outputs['evidence-dir'] as string, 'junit', 'run-task.xml'),
      'utf8',
    )
    assert.match(junit, /<failure message="The command exited with code 3 and wrote no JUnit report\."/)
    assert.match(junit, /assertion went wrong in step 7/)
    assertUploaded(job, chain.collect.outputs['artifact-id'], ['junit/run-task.xml'])
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('an exec stream dropped mid-command is error, never a pass or a fail', async () => {
    job.sim.faults.execDropOnOutput = 'half-way'
    try {
      const chain = await runChain(job, 'echo half-way; sleep 2; echo never')
      assert.equal(chain.run.code, 1)
      assert.equal(chain.run.outputs.outcome, 'error')
      assert.equal(chain.run.outputs['exit-code'], '')
      assert.match(chain.run.stdout, /closed before the command's exit status arrived/)
      assert.equal(chain.collect.outputs.outcome, 'error')
      const junit = readFileSync(
        path.join(chain.collect.outputs['evidence-dir'] as string, 'junit', 'run-task.xml'),
        'utf8',
      )
      assert.match(junit, /<error message="The exec stream/)
      assert.match(chain.collect.summary, /Infrastructure error/)
      assertUploaded(job, chain.collect.outputs['artifact-id'], ['junit/run-task.xml', 'meta.json'])
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    } finally {
      job.sim.faults.execDropOnOutput = undefined
    }
  })

  it('a secret from secret-env never shows in the log, outputs, state, summary or evidence, even when echoed', async () => {
    const secret = 'pa55-w0rd-7f3a9c'
    const chain = await runChain(job, 'echo "the token is $API_TOKEN"; printf "%s" "$API_TOKEN" >&2; exit 4', {
      'secret-env': `API_TOKEN=${secret}`,
    })
    assert.equal(chain.run.outputs.outcome, 'failed')
    assert.match(chain.run.stdout, /the token is \*\*\*/)
    const steps = [chain.provision, chain.run, chain.collect, chain.cleanup, chain.post]
    for (const step of steps) {
      // The runner consumes ::add-mask:: lines; everything else reaches the log.
      const logged = step.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n')
      for (const text of [logged, step.stderr, step.summary, JSON.stringify(step.outputs), JSON.stringify(step.state)])
        assert.ok(!text.includes(secret))
    }
    for (const file of listFiles(job.env.RUNNER_TEMP))
      assert.ok(!readFileSync(path.join(job.env.RUNNER_TEMP, file)).includes(secret), `${file} holds no secret`)
    const artifact = job.results.artifacts.find((a) => a.id === chain.collect.outputs['artifact-id'])
    assert.ok(artifact && !artifact.zip.includes(secret))
  })

  it("keep-on-failure keeps a failed run's workspace past cleanup and the post step; the sweep removes it later", async () => {
    const provision = await runActionStep('provision-workspace', {
      env: job.env,
      inputs: { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci' },
    })
    await runActionStep('run-task', { env: job.env, inputs: { command: 'exit 1' } })
    const cleanup = await runActionStep('cleanup', { env: job.env, inputs: { 'keep-on-failure': 'true' } })
    assert.match(cleanup.stdout, /Keeping workspace rt-.* for debugging \(keep-on-failure, outcome failed\)/)
    await runActionStep('provision-workspace', { env: job.env, post: provision.state })
    assert.deepEqual(job.sim.devWorkspaces('ci'), [provision.outputs['workspace-name']])
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    // A later run's cleanup sweeps what is older than a second under the same prefix.
    await runActionStep('provision-workspace', {
      env: job.env,
      inputs: { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci' },
    })
    const sweep = await runActionStep('cleanup', { env: job.env, inputs: { 'sweep-older-than': '1s' } })
    assert.match(sweep.stdout, /Deleted workspace rt-/)
    assert.match(sweep.stdout, new RegExp(`Swept 1 stale workspaces: ${provision.outputs['workspace-name']}`))
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('a workspace that goes Failed fails provision at once with its message, and the post step removes it', async () => {
    job.sim.faults.failStart = {
      eventReason: 'FailedScheduling',
      eventMessage: '0/3 nodes are available: 3 Insufficient memory.',
    }
    // start-timeout is 15 minutes: only reacting to the Failed phase lets this finish.
    const provision = await runActionStep('provision-workspace', {
      env: job.env,
      inputs: { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci', devfile: 'devfile.yaml' },
    })
    assert.equal(provision.code, 1)
    assert.equal(provision.outputs.outcome, 'error')
    assert.match(
      provision.stdout,
      /failed to start: Error creating DevWorkspace deployment: Detected unrecoverable event FailedScheduling: 0\/3 nodes are available: 3 Insufficient memory\./,
    )
    assert.match(provision.stdout, /FailedScheduling.*Insufficient memory/)
    assert.equal(job.sim.devWorkspaces('ci').length, 1)
    const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
    assert.equal(post.code, 0, post.stdout)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('a cancelled provision leaks nothing: the post step deletes the workspace', async () => {
    job.sim.faults.slowStartMs = 60_000
    try {
      const provision = await runActionStep('provision-workspace', {
        env: job.env,
        inputs: { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci', devfile: 'devfile.yaml' },
        interruptOn: 'waiting for it to be ready',
      })
      assert.notEqual(provision.code, 0)
      assert.match(provision.stdout, /Received SIGINT/)
      assert.equal(job.sim.devWorkspaces('ci').length, 1)
      const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
      assert.equal(post.code, 0, post.stdout)
      assert.match(post.stdout, /No cleanup ran for workspace/)
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    } finally {
      job.sim.faults.slowStartMs = 0
    }
  })
})

function assertUploaded(job: Job, id: string | undefined, files: string[]): void {
  const artifact = job.results.artifacts.find((a) => a.id === id)
  assert.ok(artifact, `artifact ${id} was uploaded`)
  assert.match(artifact.name, /^run-task-rt-/)
  // Zip local file headers carry each name in plain text.
  for (const file of files) assert.ok(artifact.zip.includes(Buffer.from(file)), `${file} is in the artifact`)
}
