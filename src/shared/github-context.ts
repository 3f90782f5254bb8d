import { existsSync, readFileSync } from 'node:fs'
import type { getOctokit } from '@actions/github'
import { proxyAwareFetch } from './proxy.js'

/** The workflow run as GitHub describes it, read as @actions/github's Context reads it. */
export interface RunContext {
  /** `owner/name`, from GITHUB_REPOSITORY or else the event's repository; '' outside a workflow. */
  readonly repository: string
  readonly owner: string
  readonly repo: string
  readonly eventName: string
  /** GITHUB_SHA: for pull_request events, the merge commit. */
  readonly sha: string
  /** The commit a check belongs to: the pull request's head on pull_request(_target), else `sha`. */
  readonly headSha: string
  /** https://github.com, or the GHES server. */
  readonly serverUrl: string
  /** https://api.github.com, or the GHES `/api/v3`. */
  readonly apiUrl: string
}

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target'])

/**
 * Reads the run's context from `env` (the runner's GITHUB_* variables and the event
 * payload at GITHUB_EVENT_PATH) with the rules of @actions/github's Context
 * (actions/toolkit packages/github/src/context.ts: the constructor and the `repo`
 * getter). Read here rather than through that class so that a step that never calls
 * GitHub does not load Octokit.
 */
export function runContext(env: NodeJS.ProcessEnv): RunContext {
  const payload = eventPayload(env.GITHUB_EVENT_PATH)
  const { owner, repo } = repoOf(env, payload)
  const eventName = env.GITHUB_EVENT_NAME ?? ''
  const head = (payload.pull_request as { head?: { sha?: string } } | undefined)?.head?.sha
  const sha = env.GITHUB_SHA ?? ''
  return {
    repository: owner && repo ? `${owner}/${repo}` : '',
    owner,
    repo,
    eventName,
    sha,
    headSha: PULL_REQUEST_EVENTS.has(eventName) && head ? head : sha,
    serverUrl: trimSlash(env.GITHUB_SERVER_URL ?? 'https://github.com'),
    apiUrl: trimSlash(env.GITHUB_API_URL ?? 'https://api.github.com'),
  }
}

function eventPayload(file: string | undefined): Record<string, unknown> {
  if (!file || !existsSync(file)) return {}
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
}

/** GITHUB_REPOSITORY, else the event's repository; empty outside a workflow. */
function repoOf(env: NodeJS.ProcessEnv, payload: Record<string, unknown>): { owner: string; repo: string } {
  if (env.GITHUB_REPOSITORY) {
    const [owner = '', repo = ''] = env.GITHUB_REPOSITORY.split('/')
    return { owner, repo }
  }
  const repository = payload.repository as { owner?: { login?: string }; name?: string } | undefined
  return { owner: repository?.owner?.login ?? '', repo: repository?.name ?? '' }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** The GitHub REST client type this toolkit uses. */
export type GitHubClient = ReturnType<typeof getOctokit>

/**
 * An Octokit from @actions/github's getOctokit (its user agent), pointed at `apiUrl` (GHES or
 * github.com), whose fetch follows the runner's proxy rules for that URL at call time.
 * getOctokit's own proxy fetch is fixed when the module loads, for GITHUB_API_URL
 * (@actions/github lib/utils.js `defaults`): another `apiUrl`, or proxy variables set later
 * (the CLI), would go direct.
 */
export async function githubClient(token: string, apiUrl: string): Promise<GitHubClient> {
  const { getOctokit } = await import('@actions/github')
  return getOctokit(token, { baseUrl: apiUrl, request: { fetch: proxyAwareFetch } })
}
