import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { annotateTests } from '../../src/shared/evidence/annotations.js'
import { CHECK_TEXT_LIMIT, publishCheckRun } from '../../src/shared/evidence/check-run.js'
import type { TestCaseResult } from '../../src/shared/evidence/junit-parser.js'
import type { EvidenceMeta } from '../../src/shared/evidence/meta.js'
import { renderSummary } from '../../src/shared/evidence/summary.js'
import { countCases, repoRelative } from '../../src/shared/evidence/test-results.js'
import type { Reporter } from '../../src/shared/reporter.js'
import { evidenceMeta } from '../harness/evidence-meta.js'
import { type GitHubSim, startGitHubSim } from '../sim/github/server.js'

const failedCase = (i: number, file?: string): TestCaseResult => ({
  reportFile: 'r.xml',
  suite: 's',
  classname: `pkg.Class${i}`,
  name: `test ${i}`,
  ...(file ? { file, line: i + 1 } : {}),
  durationMs: i,
  status: 'failed',
  flaky: false,
  message: `expected ${i} | got ${i + 1}\nsecond line`,
  details: 'stack',
})
const meta = (
  outcome: EvidenceMeta['outcome'],
  cases: readonly TestCaseResult[],
  extra: Partial<EvidenceMeta> = {},
): EvidenceMeta => evidenceMeta(outcome, countCases(cases), extra)

describe('job summary', () => {
  it('lists failed tests with location and message, and the slowest tests', () => {
    const cases = [failedCase(1, 'src/a.test.ts'), { ...failedCase(2), status: 'passed' as const, durationMs: 5_000 }]
    const text = renderSummary({
      meta: meta('failed', cases),
      cases,
      artifactUrl: 'https://github.com/o/r/actions/runs/1/artifacts/9',
    })
    assert.match(text, /### ❌ Failed: `ameide test`/)
    assert.match(text, /\| pkg\.Class1 › test 1 \| `src\/a\.test\.ts:2` \| expected 1 \\\| got 2 \|/)
    assert.match(text, /Slowest tests[\s\S]*pkg\.Class2 › test 2 \| 5s/)
    assert.match(text, /\[artifact \]\(https:\/\/github\.com\/o\/r\/actions\/runs\/1\/artifacts\/9\)/)
    assert.doesNotMatch(text, /What broke/)
  })

  it('tells an infrastructure error from a failure: the phase, what broke and the diagnostics', () => {
    const text = renderSummary({ meta: meta('error', []), cases: [], artifactUrl: '' })
    assert.match(text, /### ⚠️ Infrastructure error/)
    assert.match(text, /\| provision ⚠️ \| 12s \|/)
    assert.match(text, /\*\*What broke\*\* in the \*\*provision\*\* phase \(workspace-start\): the start build failed/)
    assert.match(text, /```text\n\[error\] Starting workspace: image not found\n```/)
  })

  it('stays under 1 MiB with 100,000 failed tests, ending with an "N more" line', () => {
    const cases = Array.from({ length: 100_000 }, (_, i) => failedCase(i, `src/t${i}.test.ts`))
    const text = renderSummary({ meta: meta('failed', cases), cases, artifactUrl: '' })
    assert.ok(Buffer.byteLength(text) < 1024 * 1024, `${Buffer.byteLength(text)} bytes`)
    assert.match(text, /… \d+ more failed tests; every report is in the artifact's `junit\/`\./)
  })
})

describe('annotations', () => {
  it('annotates at most 10 failures per step, with file and line, and summarises the rest', () => {
    const errors: { message: string; props: unknown }[] = []
    const reporter = {
      error: (message: string, props: unknown) => errors.push({ message, props }),
      warning: () => undefined,
    } as unknown as Reporter
    annotateTests(
      reporter,
      Array.from({ length: 25 }, (_, i) => failedCase(i, 'src/a.test.ts')),
      undefined,
    )
    assert.equal(errors.length, 10)
    assert.deepEqual(errors[0]?.props, { title: 'Failed: pkg.Class0 › test 0', file: 'src/a.test.ts', startLine: 1 })
    assert.match(errors[9]?.message ?? '', /16 more failed tests are not annotated/)
  })

  it('maps workspace paths onto the checkout', () => {
    const repo = mkdtempSync(path.join(tmpdir(), 'repo-'))
    try {
      writeFileSync(path.join(repo, 'math.test.js'), '')
      assert.equal(repoRelative('/projects/app/math.test.js', repo), 'math.test.js')
      assert.equal(repoRelative('src/x.ts', repo), 'src/x.ts')
    } finally {
      rmSync(repo, { recursive: true, force: true })
    }
  })
})

describe('check run through Octokit against a fake GitHub API', () => {
  let github: GitHubSim
  let eventFile: string
  before(async () => {
    github = await startGitHubSim()
    github.writeTokens.add('write-token')
    eventFile = path.join(mkdtempSync(path.join(tmpdir(), 'event-')), 'event.json')
    writeFileSync(eventFile, JSON.stringify({ pull_request: { head: { sha: 'headsha0001' } } }))
  })
  after(async () => github.close())
  const env = () => ({
    GITHUB_REPOSITORY: 'ameide/app',
    GITHUB_API_URL: github.url,
    GITHUB_SHA: 'mergesha999',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: eventFile,
  })

  it('attaches to the PR head SHA with the conclusion and every annotation, 50 per request', async () => {
    const cases = Array.from({ length: 120 }, (_, i) => failedCase(i, 'src/a.test.ts'))
    const result = await publishCheckRun({
      token: 'write-token',
      name: 'run-task / gate',
      env: env(),
      meta: meta('failed', cases),
      cases,
      summaryMarkdown: 'x'.repeat(100_000),
    })
    assert.ok('id' in result)
    const run = github.checkRuns.at(-1)
    assert.deepEqual(
      [run?.body.head_sha, run?.body.conclusion, run?.body.status, run?.body.name],
      ['headsha0001', 'failure', 'completed', 'run-task / gate'],
    )
    assert.equal(run?.annotations.length, 120)
    assert.equal(run?.requests, 3)
    assert.ok(((run?.body.output as { summary: string }).summary.length ?? 0) <= CHECK_TEXT_LIMIT)
    assert.deepEqual(run?.annotations[0], {
      path: 'src/a.test.ts',
      start_line: 1,
      end_line: 1,
      annotation_level: 'failure',
      title: 'pkg.Class0 › test 0',
      message: 'expected 0 | got 1\nsecond line',
      raw_details: 'stack',
    })
  })

  it('uses GITHUB_SHA outside pull requests, and success for a pass', async () => {
    await publishCheckRun({
      token: 'write-token',
      name: 'gate',
      env: { ...env(), GITHUB_EVENT_NAME: 'push' },
      meta: meta('passed', []),
      cases: [],
      summaryMarkdown: 'ok',
    })
    assert.deepEqual(
      [github.checkRuns.at(-1)?.body.head_sha, github.checkRuns.at(-1)?.body.conclusion],
      ['mergesha999', 'success'],
    )
  })

  it('annotates only repository paths: an absolute path outside the checkout is left to the summary', async () => {
    const cases = [failedCase(0, '/opt/shared/x.test.ts'), failedCase(1, 'src/a.test.ts')]
    const result = await publishCheckRun({
      token: 'write-token',
      name: 'gate',
      env: env(),
      meta: meta('failed', cases),
      cases,
      summaryMarkdown: 'x',
    })
    assert.ok('id' in result, JSON.stringify(result))
    assert.deepEqual(
      github.checkRuns.at(-1)?.annotations.map((a) => a.path),
      ['src/a.test.ts'],
    )
  })

  it('turns a 403 from a read-only token into a warning', async () => {
    const result = await publishCheckRun({
      token: 'read-only',
      name: 'gate',
      env: env(),
      meta: meta('passed', []),
      cases: [],
      summaryMarkdown: 'ok',
    })
    assert.ok('warning' in result)
    assert.match(result.warning, /Resource not accessible by integration.*\(HTTP 403\)\. The token cannot write checks/)
  })
})
