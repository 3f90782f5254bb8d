import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { closedPort } from './harness/ports.js'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import { runActionStep } from './harness/action-runner.js'
import { type CoderJob, runChain, startCoderJob } from './harness/job.js'
import type { CoderSim } from './sim/coderd/server.js'

// The committed bundles through the whole chain against the simulated coderd,
// with the default tunnel: the coder CLI downloaded from the deployment.
describe('dist bundles: the chain on Coder', () => {
  let job: CoderJob
  let coder: CoderSim
  const inputs = (extra: Record<string, string> = {}) => ({
    provider: 'coder',
    'coder-url': coder.url,
    'coder-token': coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git\nregion: us',
    ...extra,
  })
  before(async () => {
    job = await startCoderJob('5151')
    coder = job.coder
  })
  after(async () => {
    await job.close()
  })

  it('passes, fails with exit 3, and errors on a dropped SSH connection, leaving no workspace', async () => {
    const handshakes = coder.engine.sshHandshakes
    const passed = await runChain(
      job,
      'mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf \'<testsuite><testcase name="a"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/junit/r.xml"',
      {},
      inputs(),
    )
    assert.equal(passed.provision.code, 0, passed.provision.stdout)
    assert.equal(passed.provision.outputs.provider, 'coder')
    assert.equal(passed.collect.outputs.outcome, 'passed', passed.run.stdout)
    assert.equal(passed.collect.outputs['tests-total'], '1')
    assert.deepEqual(coder.workspaces(), [])
    assert.equal(coder.engine.sshHandshakes - handshakes, 2, 'run and collect open one SSH connection each')

    const failed = await runChain(
      job,
      'echo "broken with $API_KEY"; exit 3',
      { 'secret-env': 'API_KEY=k3y-0f-the-kingdom' },
      inputs(),
    )
    assert.match(failed.run.stdout, /broken with \*\*\*/)
    for (const file of listFiles(job.env.RUNNER_TEMP)) {
      const bytes = readFileSync(path.join(job.env.RUNNER_TEMP, file))
      assert.ok(
        !bytes.includes('k3y-0f-the-kingdom') && !bytes.includes(coder.token),
        `${file} holds neither the secret nor the Coder token`,
      )
    }
    assert.deepEqual([failed.run.outputs.outcome, failed.run.outputs['exit-code']], ['failed', '3'])
    assert.equal(failed.collect.outputs.outcome, 'failed')
    assert.deepEqual(coder.workspaces(), [])

    coder.faults.sshDropOnOutput = 'LINK-DOWN'
    const broken = await runChain(job, 'echo LINK-DOWN; sleep 2', {}, inputs())
    coder.faults.sshDropOnOutput = undefined
    assert.equal(broken.run.outputs.outcome, 'error')
    assert.match(broken.run.stdout, /SSH channel closed before the command's exit status arrived/)
    assert.equal(broken.collect.outputs.outcome, 'error')
    assert.deepEqual(coder.workspaces(), [])
    const meta = JSON.parse(
      readFileSync(path.join(broken.collect.outputs['evidence-dir'] as string, 'meta.json'), 'utf8'),
    )
    assert.deepEqual([meta.provider, meta.source, meta.outcome], ['coder', 'template ci-docker', 'error'])
  })

  it('a failed build is outcome error, with the build-log tail in the log and the summary, and is deleted', async () => {
    coder.faults.buildFails = { error: 'terraform apply failed', logs: ['Error: docker image "ghcr.io/x/y" not found'] }
    const chain = await runChain(job, 'true', {}, inputs())
    assert.equal(chain.provision.code, 1)
    assert.match(chain.provision.stdout, /\[error\] Starting workspace: Error: docker image "ghcr.io\/x\/y" not found/)
    assert.equal(chain.collect.outputs.outcome, 'error')
    assert.match(chain.collect.summary, /Infrastructure error/)
    assert.match(chain.collect.summary, /docker image "ghcr.io\/x\/y" not found/)
    assert.deepEqual(coder.workspaces(), [])
  })

  const badInputs: [string, Record<string, string>, RegExp][] = [
    ['an unknown template', { template: 'no-such-template' }, /Input 'template' has the value "no-such-template"/],
    [
      'a missing required parameter',
      { parameters: 'region: eu' },
      /Input 'parameters' .*required parameter 'repo_url' is missing/,
    ],
    ['a bad ttl', { ttl: '30s' }, /Input 'ttl' has the value "30s", but expected a duration from 1m to 30 days/],
    ['a missing token', { 'coder-token': '' }, /Input 'coder-token'/],
  ]
  for (const [what, override, message] of badInputs) {
    it(`${what} fails provision before any workspace is created`, async () => {
      const before = coder.requests.length
      const result = await runActionStep('provision-workspace', { env: job.env, inputs: inputs(override) })
      assert.equal(result.code, 1)
      assert.match(result.stdout, message)
      assert.ok(!coder.requests.slice(before).some((r) => r.startsWith('POST')), 'no create request')
      assert.deepEqual(coder.workspaces(), [])
    })
  }

  it('an unreachable URL fails fast, with the URL in the error', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const result = await runActionStep('provision-workspace', { env: job.env, inputs: inputs({ 'coder-url': url }) })
    assert.equal(result.code, 1)
    assert.ok(result.stdout.includes(`coderd at ${url} could not be reached (ECONNREFUSED)`), result.stdout)
  })
})
