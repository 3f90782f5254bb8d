import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import { CREDENTIAL_HELPER, E2E_CHECKS } from '../src/shared/flows/e2e.js'
import { CREATED, DELETED } from '../src/shared/flows/flow.js'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { cheInputs, type CoderJob, type Job, startCoderJob } from './harness/job.js'
import type { CoderSim } from './sim/coderd/server.js'
import { type GitHubSim, startGitHubSim } from './sim/github/server.js'

const BOT = 'ghp_botTokenThatMayPush0123456789'
const SANDBOX = 'ameide-bot/e2e-sandbox'
const ORDER = [CREATED, ...Object.values(E2E_CHECKS), DELETED]

interface Check {
  name: string
  status: string
  message: string
}

async function e2e(
  job: Job,
  inputs: Record<string, string>,
): Promise<{ step: StepResult; checks: Check[]; statuses: string[] }> {
  const step = await runActionStep('e2e', { env: job.env, inputs })
  const checks = JSON.parse(step.outputs.checks ?? '[]') as Check[]
  assert.deepEqual(
    checks.map((c) => c.name),
    ORDER,
    step.stdout,
  )
  return { step, checks, statuses: checks.map((c) => c.status) }
}

/** The step's log without the ::add-mask:: commands, which the runner never shows. */
function unmasked(step: StepResult): string {
  return step.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n')
}

/** README.md on a branch of the bare repository behind the fake GitHub. */
function readmeOn(github: GitHubSim, branch: string): string {
  const [owner, name] = SANDBOX.split('/') as [string, string]
  return execFileSync('git', ['--git-dir', github.repos.gitDir(owner, name), 'show', `${branch}:README.md`], {
    encoding: 'utf8',
  })
}

describe('E2E action', () => {
  let job: CoderJob
  let github: GitHubSim
  let coder: CoderSim
  const gh = () => ({
    repository: SANDBOX,
    'bot-token': BOT,
    'github-server-url': github.url,
    'github-api-url': github.url,
  })
  const coderInputs = () => ({
    provider: 'coder',
    'coder-url': coder.url,
    'coder-token': coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
  })
  before(async () => {
    job = await startCoderJob('7171')
    coder = job.coder
    github = await startGitHubSim()
    github.repos.create('ameide-bot', 'e2e-sandbox', { 'README.md': '# Sandbox\n' })
    github.repos.writers.add(BOT)
    Object.assign(job.env, { GITHUB_RUN_NUMBER: '12' })
  })
  after(async () => {
    await github.close()
    await job.close()
  })

  it('on Che: clones, commits, pushes with the bot token, opens a PR whose diff checks out, closes it, deletes the workspace', async () => {
    const { step, checks, statuses } = await e2e(job, { ...cheInputs(job), ...gh(), branch: 'e2e/che-1' })
    assert.equal(step.code, 0, step.stdout)
    assert.deepEqual(statuses, Array(8).fill('passed'), JSON.stringify(checks, null, 1))
    assert.match(checks[5]?.message ?? '', /#\d+ adds exactly "run-task e2e: e2e\/che-1" to README.md/)
    const pull = github.repos.pulls.at(-1)
    assert.deepEqual([pull?.head, pull?.base, pull?.state], ['e2e/che-1', 'main', 'closed'])
    assert.equal(github.repos.branchSha('ameide-bot', 'e2e-sandbox', 'e2e/che-1'), undefined, 'the branch is deleted')
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    for (const file of listFiles(job.env.RUNNER_TEMP))
      assert.ok(
        !readFileSync(path.join(job.env.RUNNER_TEMP, file)).includes(BOT),
        `${file} does not hold the bot token`,
      )
    assert.ok(!unmasked(step).includes(BOT), 'the log shows the bot token nowhere but in its ::add-mask:: command')
  })

  it('on Che with the basic routing class (DWO with a clusterHostSuffix): the same flow passes', async () => {
    job.sim.cluster.dwo = { ...job.sim.cluster.dwo, clusterHostSuffix: 'apps.sim.invalid' }
    try {
      const inputs = { ...cheInputs(job), ...gh(), branch: 'e2e/che-basic', 'routing-class': 'basic' }
      const { step, checks, statuses } = await e2e(job, inputs)
      assert.equal(step.code, 0, step.stdout)
      assert.deepEqual(statuses, Array(8).fill('passed'), JSON.stringify(checks, null, 1))
      assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    } finally {
      job.sim.cluster.dwo = { ...job.sim.cluster.dwo, clusterHostSuffix: '' }
    }
  })

  it('on Coder with Codex: picks a filled auth slot, keeps the PR open without close-pr', async () => {
    const { step, checks, statuses } = await e2e(job, {
      ...coderInputs(),
      ...gh(),
      branch: 'e2e/codex-1',
      'use-codex': 'true',
      'codex-auth-rotating-1': '{"tokens":{"access_token":"codex-secret"}}',
      'close-pr': 'false',
    })
    assert.equal(step.code, 0, step.stdout)
    assert.deepEqual(statuses, [...Array(6).fill('passed'), 'skipped', 'passed'], JSON.stringify(checks, null, 1))
    assert.match(checks[2]?.message ?? '', /codex exec \(auth from codex-auth-rotating-1\)/)
    assert.equal(readmeOn(github, 'e2e/codex-1'), '# Sandbox\nrun-task e2e: e2e/codex-1\n')
    assert.equal(github.repos.pulls.at(-1)?.state, 'open')
    assert.ok(!unmasked(step).includes('codex-secret'))
    assert.deepEqual(coder.workspaces(), [])
  })

  it('with the rotating slot empty, Codex uses its seed slot, recorded by name in meta.json and the summary', async () => {
    const seed = '{"tokens":{"access_token":"seed-secret-2"}}'
    const { step, checks } = await e2e(job, {
      ...coderInputs(),
      ...gh(),
      branch: 'e2e/codex-seed',
      'use-codex': 'true',
      'codex-auth-slot': '2',
      'codex-auth-rotating-0': '{"tokens":{"access_token":"other-slot"}}',
      'codex-auth-rotating-2': ' ',
      'codex-auth-2': seed,
    })
    assert.equal(step.code, 0, step.stdout)
    assert.match(checks[2]?.message ?? '', /codex exec \(auth from codex-auth-2\)/)
    const meta = JSON.parse(readFileSync(path.join(step.outputs['evidence-dir'] ?? '', 'meta.json'), 'utf8'))
    assert.equal(meta.codexAuthSlot, 'codex-auth-2')
    assert.match(step.summary, /Codex auth from `codex-auth-2` \(the seed slot: its rotating slot was empty\)/)
    assert.ok(!unmasked(step).includes('seed-secret-2'))
    assert.ok(!JSON.stringify(meta).includes('seed-secret-2'))
  })

  it('Codex sees neither the bot token nor its auth in its environment, and a kill at check-timeout leaves no auth.json in a kept workspace', async () => {
    job.sim.image.codexSpy(true)
    const { step, checks } = await e2e(job, {
      ...cheInputs(job),
      ...gh(),
      branch: 'e2e/codex-kill',
      'use-codex': 'true',
      'codex-auth-rotating-0': '{"tokens":{"refresh_token":"rt-canary-77"}}',
      'check-timeout': '20s',
      'keep-on-failure': 'true',
    })
    job.sim.image.codexSpy(false)
    try {
      assert.equal(checks.find((c) => c.name === E2E_CHECKS.commit)?.status, 'failed', JSON.stringify(checks, null, 1))
      const seen = /codex \(sim\) env: (.*)/.exec(step.stdout)?.[1] ?? ''
      assert.ok(seen.includes('E2E_LINE'), seen)
      for (const name of ['E2E_TOKEN', 'E2E_CODEX_AUTH', 'E2E_CREDENTIAL_HELPER', 'GH_TOKEN', 'GIT_TOKEN'])
        assert.ok(!seen.includes(name), `codex sees ${name}: ${seen}`)
      const home = /codex \(sim\) home: (\S+) cli_auth_credentials_store = "file"/.exec(step.stdout)?.[1]
      assert.ok(home, step.stdout)
      assert.equal(existsSync(home), false, 'the auth.json is gone from the kept workspace')
      assert.equal(job.sim.devWorkspaces('ci').length, 1, 'keep-on-failure kept the workspace')
    } finally {
      await runActionStep('cleanup', { env: job.env })
    }
  })

  it('the git credential helper answers only for the repository origin', () => {
    const fill = (url: string): string => {
      try {
        return execFileSync(
          'git',
          ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`, 'credential', 'fill'],
          {
            input: `url=${url}\n\n`,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: '/nonexistent',
              GIT_TERMINAL_PROMPT: '0',
              E2E_TOKEN: 'bot-tok',
              E2E_GIT_ORIGIN: 'https://git.example:8443',
            },
            encoding: 'utf8',
            stdio: ['pipe', 'pipe', 'ignore'],
          },
        )
      } catch {
        return 'refused'
      }
    }
    assert.match(fill('https://git.example:8443/o/r.git'), /password=bot-tok/)
    for (const other of [
      'https://evil.example/o/r.git',
      'http://git.example:8443/o/r.git',
      'https://git.example/o/r.git',
    ])
      assert.doesNotMatch(fill(other), /bot-tok/, other)
  })

  it('fails the diff check when the pushed change is not the expected one, and still closes the PR and deletes the workspace', async () => {
    coder.image.codexStrays()
    const { step, checks, statuses } = await e2e(job, {
      ...coderInputs(),
      ...gh(),
      branch: 'e2e/codex-2',
      'use-codex': 'true',
      'codex-auth-rotating-0': '{"tokens":{}}',
    })
    assert.equal(step.code, 1)
    assert.deepEqual(
      statuses,
      ['passed', 'passed', 'passed', 'passed', 'passed', 'failed', 'passed', 'passed'],
      JSON.stringify(checks, null, 1),
    )
    assert.match(
      checks[5]?.message ?? '',
      /expected the added line "run-task e2e: e2e\/codex-2", got "run-task e2e: e2e\/codex-2, and then some"/,
    )
    assert.equal(step.outputs['failed-checks'], E2E_CHECKS.diff)
    assert.equal(github.repos.pulls.at(-1)?.state, 'closed')
    assert.deepEqual(coder.workspaces(), [])
  })

  it('a token that may not push fails the clone and skips the rest; nothing is left behind', async () => {
    const { checks, statuses } = await e2e(job, {
      ...cheInputs(job),
      ...gh(),
      'bot-token': 'ghp_readOnly',
      branch: 'e2e/denied',
    })
    assert.deepEqual(statuses, ['passed', 'failed', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'passed'])
    assert.match(checks[1]?.message ?? '', /Authentication failed|Invalid username or token|could not read/i)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('refuses the repository that runs the workflow, and a missing Codex auth, before creating anything', async () => {
    const requests = job.sim.requests.length
    const own = await runActionStep('e2e', {
      env: job.env,
      inputs: { ...cheInputs(job), ...gh(), repository: 'ameide/example' },
    })
    assert.equal(own.code, 1)
    assert.match(
      own.stdout,
      /Input 'repository' has the value "ameide\/example", but expected a bot-writable sandbox repository other than ameide\/example/,
    )
    const codex = await runActionStep('e2e', {
      env: job.env,
      inputs: { ...cheInputs(job), ...gh(), 'use-codex': 'true' },
    })
    assert.match(
      codex.stdout,
      /Input 'use-codex' has the value "true", but expected at least one of codex-auth-rotating-0, -1, -2 or the seed slots codex-auth-0, -1, -2/,
    )
    const emptySlot = await runActionStep('e2e', {
      env: job.env,
      inputs: {
        ...cheInputs(job),
        ...gh(),
        'use-codex': 'true',
        'codex-auth-slot': '1',
        'codex-auth-rotating-0': '{}',
        'codex-auth-2': '{}',
      },
    })
    assert.equal(emptySlot.code, 1)
    assert.match(
      emptySlot.stdout,
      /Input 'codex-auth-slot' has the value "1", but expected a slot whose codex-auth-rotating-1 or codex-auth-1 is set/,
    )
    assert.deepEqual(
      job.sim.requests.slice(requests).filter((r) => !r.startsWith('GET')),
      [],
    )
  })
})
