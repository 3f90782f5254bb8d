import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import type { StepResult } from './harness/action-runner.js'
import { type Job, runChain, startJob } from './harness/job.js'
import { unzipEntries } from './harness/zip.js'
import { type GitHubSim, startGitHubSim } from './sim/github/server.js'

// '/', '+' and '=' make the URL-encoded form differ from the plain one.
const CANARY = 'c4n4ry/S3cr3t+v4lue=9f2e'
const GIT_CANARY = `ghp_${CANARY}`

/** Every form of the canary a leak could take: plain, base64 at each byte shift, URL-encoded, JSON-escaped. */
function canaryForms(): string[] {
  const bytes = Buffer.from(CANARY)
  const base64 = [0, 1, 2].flatMap((shift) => {
    const whole = bytes.subarray(shift, shift + Math.floor((bytes.length - shift) / 3) * 3)
    return [whole.toString('base64'), whole.toString('base64url')]
  })
  return [CANARY, encodeURIComponent(CANARY), JSON.stringify(CANARY).slice(1, -1), ...base64]
}

function assertNoCanary(text: string | Buffer, where: string): void {
  for (const form of canaryForms()) assert.ok(!text.includes(form), `${where} holds the canary as ${form}`)
}

// The command leaks the canary every way a failing test might: printed, split
// across two chunks with a pause between, base64 and URL-encoded, in a JUnit
// failure (message and body), and in an evidence file, as text and as JSON.
const COMMAND = `set -u
printf 'token is %s\\n' "$API_TOKEN"
head="\${API_TOKEN%????????????}"; printf 'split: %s' "$head"; sleep 1; printf '%s end\\n' "\${API_TOKEN#"$head"}"
printf '%s' "$API_TOKEN" | base64; printf '%s\\n' "$GIT_TOKEN" | base64
printf 'url: %s\\n' "$(printf '%s' "$API_TOKEN" | sed 's|/|%2F|g; s|+|%2B|g; s|=|%3D|g')"
d="$RUN_TASK_EVIDENCE_DIR"; mkdir -p "$d/junit"
printf '<testsuite name="s"><testcase classname="auth" name="login" file="t.py" line="3"><failure message="bad token %s">expected %s</failure></testcase></testsuite>' "$API_TOKEN" "$GIT_TOKEN" > "$d/junit/auth.xml"
printf 'debug: %s\\n{"token":"%s"}\\n' "$API_TOKEN" "$GIT_TOKEN" > "$d/debug.log"
exit 1`

describe('dist bundles: a canary secret appears nowhere, in any form', () => {
  let job: Job
  let github: GitHubSim
  before(async () => {
    job = await startJob('7171', { token: `kube-${CANARY}` })
    github = await startGitHubSim()
    github.writeTokens.add('ghs_writer')
  })
  after(async () => {
    await github.close()
    await job.close()
  })

  it('is masked in the log, summary, outputs, check run, state files and the artifact', async () => {
    const chain = await runChain(
      job,
      COMMAND,
      { 'secret-env': `API_TOKEN=${CANARY}`, 'git-token': GIT_CANARY },
      undefined,
      { 'github-token': 'ghs_writer', 'check-name': 'run-task / canary' },
      { GITHUB_API_URL: github.url },
    )
    assert.equal(chain.run.outputs.outcome, 'failed')
    assert.ok(chain.provision.stdout.includes(`::add-mask::kube-${CANARY}\n`), 'the bare kube token is masked')
    assert.match(chain.run.stdout, /token is \*\*\*/)
    assert.match(chain.run.stdout, /split: \*\*\* end/)
    assert.equal(chain.collect.outputs['tests-failed'], '1')
    for (const [name, step] of Object.entries(chain) as [string, StepResult][]) {
      // The runner consumes ::add-mask:: lines; everything else reaches the log.
      const logged = step.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n')
      assertNoCanary(logged, `${name} log`)
      assertNoCanary(step.stderr, `${name} stderr`)
      assertNoCanary(step.summary, `${name} summary`)
      assertNoCanary(JSON.stringify(step.outputs), `${name} outputs`)
      assertNoCanary(JSON.stringify(step.state), `${name} state`)
    }
    assert.ok(github.checkRuns.length > 0, 'a check run was published')
    assertNoCanary(JSON.stringify(github.checkRuns), 'the check-run requests')
    for (const file of listFiles(job.env.RUNNER_TEMP))
      assertNoCanary(readFileSync(path.join(job.env.RUNNER_TEMP, file)), file)
    const artifact = job.results.artifacts.find((a) => a.id === chain.collect.outputs['artifact-id'])
    assert.ok(artifact, 'the evidence was uploaded')
    const entries = unzipEntries(artifact.zip)
    assert.ok(entries.has('workspace/debug.log') && entries.has('junit/junit__auth.xml'), [...entries.keys()].join())
    for (const [name, bytes] of entries) assertNoCanary(bytes, `artifact ${name}`)
    assert.match(entries.get('workspace/debug.log')?.toString() ?? '', /debug: \*\*\*/)
  })
})
