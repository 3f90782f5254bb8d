import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { cheInputs, type Job, runChain, startCoderJob, startJob } from './harness/job.js'
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

/** A Codex auth.json whose tokens are the canary. */
const CODEX_AUTH = JSON.stringify({ OPENAI_API_KEY: null, tokens: { access_token: CANARY, refresh_token: GIT_CANARY } })
/** What the workspace itself sends back with the canary in it, where a flow has no user command (the IDE health body). */
const HEALTH_LEAK = `\nleaked ${CANARY} ${Buffer.from(CANARY).toString('base64')} ${encodeURIComponent(CANARY)}\n`
const SANDBOX = 'ameide-bot/e2e-sandbox'
const CHECK_INPUTS = { 'github-token': 'ghs_writer', 'check-name': 'run-task / canary' }

interface Leaks {
  readonly steps: Record<string, StepResult>
  readonly artifactId: string | undefined
}

/**
 * The canary appears nowhere, in any form: the step logs (less the ::add-mask:: lines
 * the runner consumes), stderr, summaries, outputs and saved state, the check-run
 * requests the fake GitHub API received, every file under RUNNER_TEMP (state and
 * evidence), and the uploaded artifact's bytes.
 */
function assertNothingLeaked(job: Job, github: GitHubSim, { steps, artifactId }: Leaks): Map<string, Buffer> {
  for (const [name, step] of Object.entries(steps)) {
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
  const artifact = job.results.artifacts.find((a) => a.id === artifactId)
  assert.ok(artifact, 'the evidence was uploaded')
  const entries = unzipEntries(artifact.zip)
  for (const [name, bytes] of entries) assertNoCanary(bytes, `artifact ${name}`)
  return entries
}

interface Provider {
  readonly name: 'che' | 'coder'
  readonly start: () => Promise<{ job: Job; inputs: Record<string, string>; leakThroughIde: (text: string) => void }>
}

const PROVIDERS: Provider[] = [
  {
    name: 'che',
    // The canary is the kubeconfig's bearer token.
    start: async () => {
      const job = await startJob('7171', { token: CANARY })
      job.sim.addEditor('ci', 'che-code')
      return {
        job,
        inputs: { ...cheInputs(job), editor: 'che-code' },
        leakThroughIde: (text) => (job.sim.image.healthBodySuffix = text),
      }
    },
  },
  {
    name: 'coder',
    // The canary is the Coder session token.
    start: async () => {
      const job = await startCoderJob('7171', { token: CANARY })
      return {
        job,
        inputs: {
          provider: 'coder',
          'coder-url': job.coder.url,
          'coder-token': job.coder.token,
          template: 'ci-docker',
          parameters: 'repo_url: https://example.com/app.git',
        },
        leakThroughIde: (text) => (job.coder.image.healthBodySuffix = text),
      }
    },
  },
]

for (const provider of PROVIDERS) {
  describe(`dist bundles on ${provider.name}: a canary secret appears nowhere, in any form`, () => {
    let job: Job
    let github: GitHubSim
    let inputs: Record<string, string>
    let leakThroughIde: (text: string) => void
    before(async () => {
      ;({ job, inputs, leakThroughIde } = await provider.start())
      github = await startGitHubSim()
      github.writeTokens.add('ghs_writer')
      github.repos.create('ameide-bot', 'e2e-sandbox', { 'README.md': '# Sandbox\n' })
      github.repos.writers.add(GIT_CANARY)
      Object.assign(job.env, { GITHUB_API_URL: github.url })
    })
    after(async () => {
      await github.close()
      await job.close()
    })

    it('full chain: the command prints it, splits it, encodes it, writes it into JUnit and an evidence file', async () => {
      const chain = await runChain(
        job,
        COMMAND,
        { 'secret-env': `API_TOKEN=${CANARY}`, 'git-token': GIT_CANARY },
        inputs,
        CHECK_INPUTS,
      )
      assert.equal(chain.run.outputs.outcome, 'failed')
      assert.match(chain.run.stdout, /token is \*\*\*/)
      assert.match(chain.run.stdout, /split: \*\*\* end/)
      assert.equal(chain.collect.outputs['tests-failed'], '1')
      const entries = assertNothingLeaked(job, github, {
        steps: { ...chain },
        artifactId: chain.collect.outputs['artifact-id'],
      })
      assert.ok(entries.has('workspace/debug.log') && entries.has('junit/junit__auth.xml'), [...entries.keys()].join())
      assert.match(entries.get('workspace/debug.log')?.toString() ?? '', /debug: \*\*\*/)
    })

    // Smoke runs no user command: the workspace sends the canary back in the IDE's health body.
    it('smoke: the IDE health body carries it, in plain, base64 and URL-encoded form', async () => {
      leakThroughIde(HEALTH_LEAK)
      try {
        const smoke = await runActionStep('smoke', {
          env: job.env,
          inputs: { ...inputs, tools: 'git', 'fail-on': 'never', ...CHECK_INPUTS },
        })
        assert.equal(smoke.code, 0, smoke.stdout)
        assert.match(
          smoke.stdout,
          /leaked \*\*\*/,
          smoke.stdout
            .split('\n')
            .filter((l) => /leaked/.test(l))
            .join('\n'),
        )
        assertNothingLeaked(job, github, { steps: { smoke }, artifactId: smoke.outputs['artifact-id'] })
      } finally {
        leakThroughIde('')
      }
    })

    // E2E runs no user command: the canary is the bot token and the Codex auth.json's tokens (rotating and seed slots).
    it('E2E: the bot token and the Codex auth.json', async () => {
      const e2e = await runActionStep('e2e', {
        env: job.env,
        inputs: {
          ...inputs,
          repository: SANDBOX,
          'bot-token': GIT_CANARY,
          'github-server-url': github.url,
          'github-api-url': github.url,
          branch: `e2e/canary-${provider.name}`,
          'use-codex': 'true',
          'codex-auth-rotating-0': CODEX_AUTH,
          'codex-auth-0': CODEX_AUTH,
          ...CHECK_INPUTS,
        },
      })
      assert.equal(e2e.outputs.outcome, 'passed', e2e.stdout)
      assertNothingLeaked(job, github, { steps: { e2e }, artifactId: e2e.outputs['artifact-id'] })
    })
  })
}
