import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ProvisionAttempt } from '../src/shared/retry-attempts.js'
import { runActionStep } from './harness/action-runner.js'
import { type CoderJob, cheInputs, type ChainResult, runChain, startCoderJob } from './harness/job.js'

// issue 15: the `retries` input, through the committed bundles on both simulators.
describe('retries: an infrastructure error in provision re-provisions; a failing test never does', () => {
  let job: CoderJob
  before(async () => {
    job = await startCoderJob('1515')
  })
  after(async () => job.close())

  const coderInputs = (extra: Record<string, string> = {}): Record<string, string> => ({
    provider: 'coder',
    'coder-url': job.coder.url,
    'coder-token': job.coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git\nregion: us',
    ...extra,
  })
  const providers = {
    che: {
      inputs: (extra: Record<string, string> = {}) => ({ ...cheInputs(job), ...extra }),
      left: () => job.sim.devWorkspaces('ci'),
      // devworkspace-operator pkg/library/status/check.go CheckPodEvents: an unrecoverable event fails the start.
      breakNextStart: () =>
        (job.sim.faults.failStart = { eventReason: 'FailedScheduling', eventMessage: '0/3 nodes are available.' }),
      startError: /FailedScheduling/,
      stallStart: (on: boolean) => (job.sim.faults.slowStartMs = on ? 60_000 : 0),
    },
    coder: {
      inputs: coderInputs,
      left: () => job.coder.workspaces(),
      // coderd provisionerdserver FailJob: the start build ends `failed` with the provisioner's error.
      breakNextStart: () => (job.coder.faults.buildFails = { error: 'terraform apply failed', logs: ['no capacity'] }),
      startError: /terraform apply failed/,
      stallStart: (on: boolean) => (job.coder.faults.agentNeverConnects = on),
    },
  }

  for (const [name, p] of Object.entries(providers)) {
    it(`${name}: a failed start on attempt 1 and a ready workspace on attempt 2 is passed, the first deleted first`, async () => {
      p.breakNextStart()
      const provision = await runActionStep('provision-workspace', { env: job.env, inputs: p.inputs({ retries: '2' }) })
      assert.equal(provision.code, 0, provision.stdout)
      assert.match(provision.stdout, /Attempt 1 of 3 failed/)
      assert.deepEqual(p.left(), [provision.outputs['workspace-name']], 'only the second attempt is left')
      const rest = await finishChain(job.env, provision, 'echo fine')
      assert.equal(rest.collect.outputs.outcome, 'passed', rest.run.stdout)
      const attempts = metaAttempts(rest)
      assert.equal(attempts.length, 2)
      const [first, second] = attempts as [ProvisionAttempt, ProvisionAttempt]
      assert.deepEqual([first.number, first.outcome, first.deleted], [1, 'error', true])
      assert.equal(first.error?.phase, 'provision')
      assert.match(first.error?.message ?? '', p.startError)
      assert.deepEqual([second.number, second.outcome, second.deleted], [2, 'ready', false])
      assert.equal(second.workspaceName, provision.outputs['workspace-name'])
      assert.notEqual(first.workspaceName, second.workspaceName)
      assert.ok(second.workspaceId)
      assert.match(rest.collect.summary, /Provisioned in 2 attempts/)
      assert.match(rest.collect.summary, /\| 1 \| error \| .* \| yes \| provision \(workspace-start\)/)
      assert.deepEqual(p.left(), [])
    })

    it(`${name}: a failing test is never retried; one attempt is recorded`, async () => {
      const chain = await runChain(job, 'echo red; exit 1', {}, p.inputs({ retries: '3' }))
      assert.equal(chain.run.outputs.outcome, 'failed')
      assert.equal(chain.collect.outputs.outcome, 'failed')
      const attempts = metaAttempts(chain)
      assert.deepEqual(
        attempts.map((a) => [a.number, a.outcome, a.deleted]),
        [[1, 'ready', false]],
      )
      assert.doesNotMatch(chain.collect.summary, /Provisioned in/)
      assert.deepEqual(p.left(), [])
    })

    it(`${name}: when every attempt fails, provision is error after retries + 1 attempts, and nothing is left`, async () => {
      p.stallStart(true)
      try {
        const provision = await runActionStep('provision-workspace', {
          env: job.env,
          inputs: p.inputs({ retries: '1', 'start-timeout': '2s' }),
        })
        assert.equal(provision.code, 1)
        assert.equal(provision.outputs.outcome, 'error')
        assert.match(provision.stdout, /Attempt 1 of 2 failed/)
        assert.doesNotMatch(provision.stdout, /Attempt 2 of 2 failed/)
        const collect = await runActionStep('collect-evidence', { env: job.env })
        assert.equal(collect.outputs.outcome, 'error')
        const chain = { provision, collect } as ChainResult
        assert.deepEqual(
          metaAttempts(chain).map((a) => [a.number, a.outcome, a.deleted, a.error?.phase]),
          [
            [1, 'error', true, 'provision'],
            [2, 'error', false, 'provision'],
          ],
        )
        assert.equal(p.left().length, 1, 'the last attempt is left for cleanup')
        await runActionStep('cleanup', { env: job.env })
        const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
        assert.equal(post.code, 0, post.stdout)
        assert.deepEqual(p.left(), [])
      } finally {
        p.stallStart(false)
      }
    })
  }

  it('retries out of range fails before anything is created, naming the input, the value and what was expected', async () => {
    const provision = await runActionStep('provision-workspace', {
      env: job.env,
      inputs: { ...cheInputs(job), retries: '9' },
    })
    assert.equal(provision.code, 1)
    assert.match(provision.stdout, /Input 'retries' has the value "9", but expected a whole number from 0 to 5/)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('a refused request (403) is not retried: a new workspace would be refused the same', async () => {
    job.sim.faults.denied = ['create devworkspaces']
    try {
      const provision = await runActionStep('provision-workspace', {
        env: job.env,
        inputs: { ...cheInputs(job), retries: '3' },
      })
      assert.equal(provision.code, 1)
      assert.doesNotMatch(provision.stdout, /Attempt 1 of 4 failed/)
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    } finally {
      job.sim.faults.denied = []
    }
  })
})

/** Run, collect, cleanup and the provision post step after a provision step that ran already. */
async function finishChain(
  env: Record<string, string>,
  provision: ChainResult['provision'],
  command: string,
): Promise<ChainResult> {
  const run = await runActionStep('run-task', { env, inputs: { command } })
  const collect = await runActionStep('collect-evidence', { env })
  const cleanup = await runActionStep('cleanup', { env })
  const post = await runActionStep('provision-workspace', { env, post: provision.state })
  return { provision, run, collect, cleanup, post }
}

function metaAttempts(chain: ChainResult): ProvisionAttempt[] {
  const dir = chain.collect.outputs['evidence-dir'] as string
  const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { attempts?: ProvisionAttempt[] }
  assert.ok(meta.attempts, 'meta.json has attempts')
  return meta.attempts
}
