import { context as startupContext, getOctokit } from '@actions/github'
import { proxyAwareFetch } from './proxy.js'

type ActionsContext = typeof startupContext
const ActionsContextClass = startupContext.constructor as new () => ActionsContext

/** The workflow run as GitHub describes it, read once by @actions/github's Context. */
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
 * Reads the run's context with @actions/github's Context from `env` (the runner's
 * GITHUB_* variables and the event payload at GITHUB_EVENT_PATH). The Context reads
 * `process.env`, so an injected env (tests, the CLI) is swapped in while it is built.
 */
export function runContext(env: NodeJS.ProcessEnv): RunContext {
  const saved = process.env
  process.env = env
  try {
    const context = new ActionsContextClass()
    const { owner, repo } = repoOf(context)
    const head = (context.payload.pull_request as { head?: { sha?: string } } | undefined)?.head?.sha
    const sha = context.sha ?? ''
    return {
      repository: owner && repo ? `${owner}/${repo}` : '',
      owner,
      repo,
      eventName: context.eventName ?? '',
      sha,
      headSha: PULL_REQUEST_EVENTS.has(context.eventName ?? '') && head ? head : sha,
      serverUrl: trimSlash(context.serverUrl),
      apiUrl: trimSlash(context.apiUrl),
    }
  } finally {
    process.env = saved
  }
}

function repoOf(context: ActionsContext): { owner: string; repo: string } {
  try {
    return context.repo
  } catch {
    return { owner: '', repo: '' }
  }
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
export function githubClient(token: string, apiUrl: string): GitHubClient {
  return getOctokit(token, { baseUrl: apiUrl, request: { fetch: proxyAwareFetch } })
}
