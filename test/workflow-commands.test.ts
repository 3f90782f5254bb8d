import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { cheInputs, type CoderJob, type Job, startCoderJob, startJob } from './harness/job.js'
import { obeyedCommands } from './harness/runner-log.js'

// What a hostile workspace prints, one command per line, as the runner would read it.
const HOSTILE = [
  '::stop-commands::x',
  '::add-mask::passed',
  '::set-output name=outcome::passed',
  '::error file=README.md,line=1::pwned',
  '##[set-output name=outcome]passed',
]

/** The commands the runner would obey that came from the hostile lines. */
function foreignCommands(step: StepResult): string[] {
  return obeyedCommands(step.stdout)
    .filter((c) => ['x', 'passed', 'pwned'].includes(c.data) || /outcome|README/.test(c.properties))
    .map((c) => `${c.command} ${c.properties}::${c.data}`)
}

/** Provisions, runs a command that prints the hostile lines, and checks the runner obeyed none; cleans up. */
async function assertRunStepInert(env: Record<string, string>, provisionInputs: Record<string, string>): Promise<void> {
  const provision = await runActionStep('provision-workspace', { env, inputs: provisionInputs })
  assert.equal(provision.code, 0, provision.stdout)
  const run = await runActionStep('run-task', {
    env,
    inputs: { command: `printf '%s\\n' ${HOSTILE.map((l) => `'${l}'`).join(' ')}` },
  })
  assert.match(run.stdout, /::error file=README.md,line=1::pwned/)
  assert.deepEqual(foreignCommands(run), [])
  await runActionStep('cleanup', { env })
  await runActionStep('provision-workspace', { env, post: provision.state })
}

describe('dist bundles: text from the workspace or the provider never commands the runner', () => {
  let job: Job
  before(async () => {
    job = await startJob('8181')
    job.sim.addEditor('ci', 'che-code')
  })
  after(() => job.close())

  it('pod event messages in the provision diagnostics (a postStart hook that prints commands)', async () => {
    job.sim.faults.failStart = {
      eventReason: 'FailedPostStartHook',
      eventMessage: `PostStartHook failed: exit code 1, output:\n${HOSTILE.join('\n')}`,
    }
    const provision = await runActionStep('provision-workspace', { env: job.env, inputs: cheInputs(job) })
    assert.equal(provision.code, 1)
    assert.match(provision.stdout, /::add-mask::passed/, 'the hostile lines are still shown')
    assert.deepEqual(foreignCommands(provision), [])
    await runActionStep('provision-workspace', { env: job.env, post: provision.state })
  })

  it('the IDE health body in the smoke check', async () => {
    job.sim.image.healthBodySuffix = `\n${HOSTILE.join('\n')}\n`
    try {
      const smoke = await runActionStep('smoke', {
        env: job.env,
        inputs: { ...cheInputs(job), editor: 'che-code', tools: 'git', 'fail-on': 'never' },
      })
      assert.match(smoke.stdout, /::set-output name=outcome::passed/, 'the hostile lines are still shown')
      assert.deepEqual(foreignCommands(smoke), [])
    } finally {
      job.sim.image.healthBodySuffix = ''
    }
  })

  it('command output in the run step', () => assertRunStepInert(job.env, cheInputs(job)))
})

describe('dist bundles on Coder: text from the workspace never commands the runner', () => {
  let job: CoderJob
  const inputs = (): Record<string, string> => ({
    provider: 'coder',
    'coder-url': job.coder.url,
    'coder-token': job.coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
  })
  before(async () => {
    job = await startCoderJob('8282')
  })
  after(() => job.close())

  it('command output in the run step, over the SSH tunnel', () => assertRunStepInert(job.env, inputs()))

  it('the IDE health body in the smoke check', async () => {
    job.coder.image.healthBodySuffix = `\n${HOSTILE.join('\n')}\n`
    try {
      const smoke = await runActionStep('smoke', {
        env: job.env,
        inputs: { ...inputs(), tools: 'git', 'fail-on': 'never' },
      })
      assert.match(smoke.stdout, /::set-output name=outcome::passed/, 'the hostile lines are still shown')
      assert.deepEqual(foreignCommands(smoke), [])
    } finally {
      job.coder.image.healthBodySuffix = ''
    }
  })
})
