import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { runActionStep } from './harness/action-runner.js'
import { type CoderJob, runChain, startCoderJob } from './harness/job.js'

// A Coder deployment behind a private CA: coderd serves https with a certificate the runner does not trust by default;
// the job hands the CA to the steps through NODE_EXTRA_CA_CERTS, and the coder CLI the steps download trusts it too.
describe('the chain on Coder over https with a private CA', () => {
  let job: CoderJob
  const inputs = () => ({
    provider: 'coder',
    'coder-url': job.coder.url,
    'coder-token': job.coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
  })
  before(async () => {
    job = await startCoderJob('1718', { https: true })
  })
  after(async () => job.close())

  it('provisions, runs over the downloaded coder CLI and cleans up with NODE_EXTRA_CA_CERTS set', async () => {
    assert.match(job.coder.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(job.env.NODE_EXTRA_CA_CERTS)
    const chain = await runChain(job, 'echo "over tls"; exit 4', {}, inputs())
    assert.equal(chain.provision.code, 0, chain.provision.stdout)
    assert.match(chain.run.stdout, /over tls/)
    assert.deepEqual([chain.run.outputs.outcome, chain.run.outputs['exit-code']], ['failed', '4'])
    assert.equal(chain.collect.outputs.outcome, 'failed')
    assert.ok(
      job.coder.requests.some((r) => /^GET \/bin\/coder-linux-/.test(r)),
      'the coder CLI came from coderd',
    )
    assert.deepEqual(job.coder.workspaces(), [])
  })

  it('without the CA the provision step fails on the certificate, naming the deployment, and creates nothing', async () => {
    const env = { ...job.env, NODE_EXTRA_CA_CERTS: '' }
    const result = await runActionStep('provision-workspace', { env, inputs: inputs() })
    assert.equal(result.code, 1)
    assert.match(result.stdout, /::error::.*https:\/\/127\.0\.0\.1:\d+.*UNABLE_TO_VERIFY_LEAF_SIGNATURE/)
    assert.deepEqual(job.coder.workspaces(), [])
  })
})
