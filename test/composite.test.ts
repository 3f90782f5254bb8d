import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parse } from 'yaml'
import { ROOT } from './harness/action-runner.js'
import { runComposite } from './harness/composite-runner.js'
import { cheInputs, type Job, runChain, startJob } from './harness/job.js'

const COMPARED = [
  'provider',
  'outcome',
  'exit-code',
  'tests-total',
  'tests-passed',
  'tests-failed',
  'tests-skipped',
  'tests-flaky',
  'failed-tests',
]
const command = (exit: number) =>
  `mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf '<testsuite><testcase classname="c" name="ok"/><testcase classname="c" name="bad"><failure message="nope"/></testcase></testsuite>' > "$RUN_TASK_EVIDENCE_DIR/junit/r.xml"; exit ${exit}`

describe('the root composite action (ameide/run-task@v1)', () => {
  let job: Job
  before(async () => {
    job = await startJob('7171')
  })
  after(async () => job.close())

  it('passes every input and output of the four actions through, and each run: step sets shell:', () => {
    const root = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
      inputs: object
      outputs: object
      runs: { steps: { run?: string; shell?: string }[] }
    }
    for (const name of ['provision-workspace', 'run-task', 'collect-evidence', 'cleanup']) {
      const action = parse(readFileSync(path.join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as {
        inputs?: object
        outputs?: object
      }
      for (const input of Object.keys(action.inputs ?? {}).filter((i) => i !== 'workspace-name'))
        assert.ok(input in root.inputs, `input ${input} of ${name}`)
      for (const output of Object.keys(action.outputs ?? {}))
        assert.ok(output in root.outputs, `output ${output} of ${name}`)
    }
    for (const step of root.runs.steps.filter((s) => s.run)) assert.equal(step.shell, 'bash')
  })

  it('gives the same outputs as the four actions run by hand, and fails by fail-on', async () => {
    const byHand = await runChain(job, command(1), {}, cheInputs(job))
    const composite = await runComposite({ ...cheInputs(job), command: command(1) }, job.env)
    const expected = { ...byHand.provision.outputs, ...byHand.run.outputs, ...byHand.collect.outputs }
    for (const name of COMPARED) assert.equal(composite.outputs[name], expected[name], name)
    assert.equal(composite.failed, true)
    assert.match(
      composite.steps.verdict?.stdout ?? '',
      /::error title=Tests failed::run-task: the command failed with exit code 1/,
    )
    assert.deepEqual([composite.steps.collect?.outcome, composite.steps.cleanup?.outcome], ['success', 'success'])
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])

    const tolerated = await runComposite({ ...cheInputs(job), command: command(1), 'fail-on': 'error' }, job.env)
    assert.equal(tolerated.failed, false)
    assert.equal(tolerated.outputs.outcome, 'failed')
  })

  it('still collects and cleans up when provisioning fails, and reports error', async () => {
    job.sim.faults.failStart = {
      eventReason: 'FailedScheduling',
      eventMessage: '0/1 nodes are available: 1 Insufficient cpu.',
    }
    const result = await runComposite({ ...cheInputs(job), command: 'true' }, job.env)
    assert.equal(result.failed, true)
    assert.deepEqual(
      [
        result.steps.provision?.outcome,
        result.steps.run?.outcome,
        result.steps.collect?.outcome,
        result.steps.cleanup?.outcome,
      ],
      ['failure', 'skipped', 'success', 'success'],
    )
    assert.equal(result.outputs.outcome, 'error')
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('refuses a pod with hostNetwork and allowPrivilegeEscalation before the command runs: error, named, cleaned up; allow-unsafe-pod lets it run and meta.json records runAsNonRoot', async () => {
    job.sim.faults.podMutation = { hostNetwork: true, containerSecurityContext: { allowPrivilegeEscalation: true } }
    const marker = 'command-ran-7d1f'
    try {
      const refused = await runComposite({ ...cheInputs(job), command: `echo ${marker}` }, job.env)
      assert.equal(refused.failed, true)
      assert.deepEqual(
        [refused.steps.provision?.outcome, refused.steps.run?.outcome, refused.steps.cleanup?.outcome],
        ['failure', 'skipped', 'success'],
      )
      assert.equal(refused.outputs.outcome, 'error')
      const meta = JSON.parse(readFileSync(path.join(refused.outputs['evidence-dir'] ?? '', 'meta.json'), 'utf8'))
      assert.match(meta.error.message, /container dev: securityContext\.allowPrivilegeEscalation is true/)
      assert.match(meta.error.message, /pod: spec\.hostNetwork is true/)
      assert.match(meta.error.message, /allow-unsafe-pod: allowPrivilegeEscalation,hostNetwork/)
      assert.ok(!JSON.stringify(refused.steps).includes(`\n${marker}`), 'the command never ran')
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])

      const allowed = await runComposite(
        { ...cheInputs(job), command: `echo ${marker}`, 'allow-unsafe-pod': 'hostNetwork, allowPrivilegeEscalation' },
        job.env,
      )
      assert.equal(allowed.outputs.outcome, 'passed', JSON.stringify(allowed.steps.provision?.stdout))
      const allowedMeta = JSON.parse(
        readFileSync(path.join(allowed.outputs['evidence-dir'] ?? '', 'meta.json'), 'utf8'),
      )
      assert.deepEqual(allowedMeta.podSecurity, {
        runAsNonRoot: { pod: true, container: null, effective: true },
        allowedUnsafe: [
          'container dev: securityContext.allowPrivilegeEscalation is true',
          'pod: spec.hostNetwork is true',
        ],
      })
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    } finally {
      job.sim.faults.podMutation = undefined
    }
    const requests = job.sim.requests.length
    const bad = await runComposite(
      { ...cheInputs(job), command: 'true', 'allow-unsafe-pod': 'hostPath,privileged' },
      job.env,
    )
    assert.match(
      bad.steps.provision?.result?.stdout ?? '',
      /Input 'allow-unsafe-pod' has the value "hostPath,privileged", but expected a list of allowPrivilegeEscalation, hostPath, hostNetwork, hostPID, hostIPC \(got 'privileged': a privileged container is never allowed\)/,
    )
    assert.deepEqual(
      job.sim.requests.slice(requests).filter((r) => !r.startsWith('GET')),
      [],
    )
  })

  it('rejects a bad fail-on by name', async () => {
    const result = await runComposite({ ...cheInputs(job), command: 'true', 'fail-on': 'sometimes' }, job.env)
    assert.equal(result.failed, true)
    assert.match(
      result.steps.verdict?.stdout ?? '',
      /Input 'fail-on' has the value "sometimes", but expected one of: failure, error, never\./,
    )
  })
})
