import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { publishCheckRun } from '../../src/shared/evidence/check-run.js'
import type { EvidenceMeta } from '../../src/shared/evidence/meta.js'
import { runContext } from '../../src/shared/github-context.js'
import { context as startupContext } from '@actions/github'
import { identityFromEnv } from '../../src/shared/identity.js'
import { type GitHubSim, startGitHubSim } from '../sim/github/server.js'

const HEAD = '6dcb09b5b57875f334f61aebed695e2e4193db5e'
const MERGE = 'c8a4f2b1e0d9c7b6a5f4e3d2c1b0a9f8e7d6c5b4'
const BASE = '9049f1265b7d61be4a8904a9a27120d2064dab3b'
const repository = {
  id: 1296269,
  name: 'app',
  full_name: 'ameide/app',
  owner: { login: 'ameide', type: 'Organization' },
}
const pullRequest = {
  number: 7,
  state: 'open',
  head: { ref: 'feature', sha: HEAD, repo: { full_name: 'contributor/app' } },
  base: { ref: 'main', sha: BASE, repo: { full_name: 'ameide/app' } },
}

/** Event payloads as GitHub writes them to GITHUB_EVENT_PATH (the fields this toolkit reads, and their neighbours). */
const EVENTS = {
  pull_request: { payload: { action: 'synchronize', number: 7, pull_request: pullRequest, repository }, sha: MERGE },
  pull_request_target: { payload: { action: 'opened', number: 7, pull_request: pullRequest, repository }, sha: BASE },
  push: {
    payload: { ref: 'refs/heads/main', before: BASE, after: HEAD, head_commit: { id: HEAD }, repository },
    sha: HEAD,
  },
  workflow_dispatch: { payload: { ref: 'refs/heads/main', inputs: { target: 'coder' }, repository }, sha: BASE },
} as const

const meta = { outcome: 'passed', tests: { total: 1, passed: 1, failed: 0, errored: 0, skipped: 0, flaky: 0 } }

// @actions/github exports an instance only; its class builds a fresh one from process.env.
const Context = startupContext.constructor as new () => typeof startupContext

describe("@actions/github's context and Octokit, against the fake GitHub", () => {
  let dir: string
  let github: GitHubSim
  let ghes: GitHubSim
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'events-'))
    github = await startGitHubSim()
    ghes = await startGitHubSim({ enterprise: true })
    for (const sim of [github, ghes]) sim.writeTokens.add('write-token')
  })
  after(async () => {
    await github.close()
    await ghes.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** The variables a runner sets for an event. */
  function runnerEnv(event: keyof typeof EVENTS, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const eventPath = path.join(dir, `${event}.json`)
    writeFileSync(eventPath, JSON.stringify(EVENTS[event].payload))
    return {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: event,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_SHA: EVENTS[event].sha,
      GITHUB_REPOSITORY: 'ameide/app',
      GITHUB_RUN_ID: '42',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: github.url,
      ...extra,
    }
  }

  async function publishedHead(env: NodeJS.ProcessEnv, sim: GitHubSim): Promise<unknown> {
    const result = await publishCheckRun({
      token: 'write-token',
      name: 'run-task',
      env,
      meta: meta as unknown as EvidenceMeta,
      cases: [],
      summaryMarkdown: 'ok',
    })
    assert.ok('id' in result, JSON.stringify(result))
    return sim.checkRuns.at(-1)?.body.head_sha
  }

  for (const event of ['pull_request', 'pull_request_target'] as const)
    it(`${event}: the check goes on the pull request's head, not GITHUB_SHA`, async () => {
      const env = runnerEnv(event)
      const context = runContext(env)
      assert.deepEqual([context.eventName, context.sha, context.headSha], [event, EVENTS[event].sha, HEAD])
      assert.equal(await publishedHead(env, github), HEAD)
    })

  for (const event of ['push', 'workflow_dispatch'] as const)
    it(`${event}: the check goes on GITHUB_SHA`, async () => {
      const env = runnerEnv(event)
      assert.equal(runContext(env).headSha, EVENTS[event].sha)
      assert.equal(await publishedHead(env, github), EVENTS[event].sha)
      assert.deepEqual([identityFromEnv(env).repository, identityFromEnv(env).sha], ['ameide/app', EVENTS[event].sha])
    })

  it('GitHub Enterprise Server: the API under /api/v3 and the server URL come from the runner', async () => {
    const env = runnerEnv('pull_request', {
      GITHUB_SERVER_URL: 'https://ghes.example.internal',
      GITHUB_API_URL: `${ghes.url}/api/v3`,
    })
    const context = runContext(env)
    assert.deepEqual([context.serverUrl, context.apiUrl], ['https://ghes.example.internal', `${ghes.url}/api/v3`])
    assert.equal(await publishedHead(env, ghes), HEAD)
    assert.equal(ghes.checkRuns.at(-1)?.repo, 'app')
  })

  it('defaults to github.com and reads the repository from the payload when GITHUB_REPOSITORY is missing', () => {
    const env = runnerEnv('push', {
      GITHUB_REPOSITORY: undefined,
      GITHUB_SERVER_URL: undefined,
      GITHUB_API_URL: undefined,
    })
    delete env.GITHUB_REPOSITORY
    delete env.GITHUB_SERVER_URL
    delete env.GITHUB_API_URL
    const context = runContext(env)
    assert.deepEqual(
      [context.repository, context.serverUrl, context.apiUrl],
      ['ameide/app', 'https://github.com', 'https://api.github.com'],
    )
  })

  it("reads the same run as @actions/github's own Context, for every event", () => {
    for (const event of ['pull_request', 'pull_request_target', 'push', 'workflow_dispatch'] as const) {
      const env = runnerEnv(event)
      const saved = process.env
      process.env = env
      try {
        const theirs = new Context()
        const ours = runContext(env)
        assert.deepEqual(
          [ours.owner, ours.repo, ours.eventName, ours.sha, ours.serverUrl, ours.apiUrl],
          [theirs.repo.owner, theirs.repo.repo, theirs.eventName, theirs.sha, theirs.serverUrl, theirs.apiUrl],
        )
      } finally {
        process.env = saved
      }
    }
  })

  it('outside a workflow there is no repository, and process.env is left as it was', () => {
    const before = process.env
    const context = runContext({})
    assert.equal(process.env, before)
    assert.deepEqual([context.repository, context.sha, context.headSha], ['', '', ''])
  })
})
