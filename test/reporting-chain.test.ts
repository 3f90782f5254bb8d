import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Job, runChain, startJob } from './harness/job.js'
import { type GitHubSim, startGitHubSim } from './sim/github/server.js'

// A pytest-style report with two failures written in the workspace, read by the
// committed collect bundle: annotations, outputs, and a check run through Octokit.
const REPORT = `<testsuites><testsuite name="pytest"><testcase classname="tests.test_math" name="test_add" file="tests/test_math.py" line="3" time="0.01"/><testcase classname="tests.test_math" name="test_sub" file="tests/test_math.py" line="7" time="0.02"><failure message="assert 1 == 2">tests/test_math.py:8: AssertionError</failure></testcase><testcase classname="tests.test_io" name="test_read" file="tests/test_io.py" line="10" time="0.3"><error message="fixture failed">boom</error></testcase><testcase classname="tests.test_io" name="test_skip" time="0"><skipped/></testcase></testsuite></testsuites>`
const COMMAND = `mkdir -p "$RUN_TASK_EVIDENCE_DIR/junit" && printf '%s' '${REPORT}' > "$RUN_TASK_EVIDENCE_DIR/junit/pytest.xml"; exit 1`

describe('dist bundles: reports become annotations, outputs and a check run', () => {
  let job: Job
  let github: GitHubSim
  let env: Record<string, string>
  before(async () => {
    job = await startJob('6161')
    github = await startGitHubSim()
    github.writeTokens.add('ghs_writer')
    mkdirSync(path.join(job.workspace, 'tests'), { recursive: true })
    writeFileSync(path.join(job.workspace, 'tests', 'test_math.py'), '')
    const event = path.join(job.workspace, '..', 'event.json')
    writeFileSync(event, JSON.stringify({ pull_request: { number: 7, head: { sha: 'prhead123' } } }))
    env = {
      GITHUB_API_URL: github.url,
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: event,
      GITHUB_SHA: 'merge456',
    }
  })
  after(async () => {
    await github.close()
    await job.close()
  })

  it('annotates failures at their file and line, sets the outputs, and publishes the check on the PR head', async () => {
    const chain = await runChain(
      job,
      COMMAND,
      {},
      undefined,
      { 'github-token': 'ghs_writer', 'check-name': 'run-task / tests' },
      env,
    )
    const out = chain.collect.outputs
    assert.deepEqual(
      [
        out.outcome,
        out['tests-total'],
        out['tests-passed'],
        out['tests-failed'],
        out['tests-skipped'],
        out['tests-flaky'],
      ],
      ['failed', '4', '1', '2', '1', '0'],
    )
    assert.equal(out['failed-tests'], 'tests.test_math › test_sub\ntests.test_io › test_read')
    assert.match(
      chain.collect.stdout,
      /::error title=Failed%3A tests\.test_math › test_sub,file=tests\/test_math\.py,line=8::assert 1 == 2%0Atests\/test_math\.py:8: AssertionError/,
    )
    assert.match(
      chain.collect.summary,
      /\| tests\.test\\_math › test\\_sub \| `tests\/test_math\.py:8` \| assert 1 == 2 \|/,
    )
    const run = github.checkRuns.at(-1)
    assert.deepEqual(
      [run?.body.name, run?.body.head_sha, run?.body.conclusion],
      ['run-task / tests', 'prhead123', 'failure'],
    )
    assert.deepEqual(
      run?.annotations.map((a) => `${a.path}:${a.start_line}`),
      ['tests/test_math.py:8', 'tests/test_io.py:10'],
    )
    assert.equal(out['check-run-id'], String(run?.id))
  })

  it('only warns when the token is read-only (403), as on a fork PR', async () => {
    const chain = await runChain(
      job,
      COMMAND,
      {},
      undefined,
      { 'github-token': 'ghs_readonly', 'check-name': 'run-task / tests' },
      env,
    )
    assert.equal(chain.collect.code, 0)
    assert.match(
      chain.collect.stdout,
      /::warning::The check run 'run-task \/ tests' was not published: Resource not accessible by integration/,
    )
    assert.equal(chain.collect.outputs.outcome, 'failed')
    assert.ok(
      !chain.collect.stdout.includes('ghs_readonly') || chain.collect.stdout.includes('::add-mask::ghs_readonly'),
    )
  })
})
