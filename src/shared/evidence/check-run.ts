import { errorMessage } from '../errors.js'
import { githubClient, runContext } from '../github-context.js'
import type { Outcome } from '../state.js'
import type { TestCaseResult } from './junit-parser.js'
import { neutraliseMentions } from './markdown.js'
import type { EvidenceMeta } from './meta.js'
import { caseTitle, repoRelative } from './test-results.js'

/** The check-run API's limits: output text and summary sizes, annotations per request. */
export const CHECK_TEXT_LIMIT = 65_535
const ANNOTATIONS_PER_REQUEST = 50
const MAX_ANNOTATIONS = 1_000

export interface CheckRunRequest {
  readonly token: string
  readonly name: string
  readonly env: NodeJS.ProcessEnv
  readonly meta: EvidenceMeta
  readonly cases: readonly TestCaseResult[]
  readonly summaryMarkdown: string
  readonly repoRoot?: string | undefined
}

export type CheckRunResult = { readonly id: number; readonly url: string } | { readonly warning: string }

/**
 * Publishes the run as a completed check run with @actions/github's Octokit. It is
 * attached to the pull request's head SHA on pull_request events (not the merge
 * SHA), its conclusion comes from the outcome, its text stays within 65,535
 * characters, and failed tests with a location become annotations, 50 per request.
 * Any refusal (a read-only token on a fork PR answers 403) is a warning, not a failure.
 */
export async function publishCheckRun(request: CheckRunRequest): Promise<CheckRunResult> {
  const context = runContext(request.env)
  const { owner, repo } = context
  if (!owner || !repo) return { warning: 'No check run: GITHUB_REPOSITORY is not set.' }
  const octokit = await githubClient(request.token, context.apiUrl)
  const annotations = checkAnnotations(request.cases, request.repoRoot)
  try {
    const created = await octokit.rest.checks.create({
      owner,
      repo,
      name: request.name,
      head_sha: context.headSha,
      status: 'completed',
      conclusion: conclusionOf(request.meta.outcome),
      output: {
        title: titleOf(request.meta),
        summary: truncate(request.summaryMarkdown, CHECK_TEXT_LIMIT),
        annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST),
      },
    })
    for (let i = ANNOTATIONS_PER_REQUEST; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
      await octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: created.data.id,
        output: {
          title: titleOf(request.meta),
          summary: truncate(request.summaryMarkdown, CHECK_TEXT_LIMIT),
          annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST),
        },
      })
    }
    return { id: created.data.id, url: created.data.html_url ?? '' }
  } catch (error) {
    const status = (error as { status?: number }).status
    const hint =
      status === 403
        ? ' The token cannot write checks (a fork pull request gets a read-only token; grant `checks: write`, or publish from a workflow_run job).'
        : ''
    return {
      warning: `The check run '${request.name}' was not published: ${errorMessage(error)}${status ? ` (HTTP ${status})` : ''}.${hint}`,
    }
  }
}

function conclusionOf(outcome: Outcome): 'success' | 'failure' {
  return outcome === 'passed' ? 'success' : 'failure'
}

function titleOf(meta: EvidenceMeta): string {
  const t = meta.tests
  if (meta.outcome === 'error') return `Infrastructure error in the ${meta.error?.phase ?? 'run'} phase`
  if (meta.outcome === 'failed')
    return `${t.failed + t.errored} of ${t.total} tests failed (exit code ${meta.exitCode ?? 'none'})`
  return `${t.passed} tests passed${t.skipped ? `, ${t.skipped} skipped` : ''}`
}

/** Failed tests at a repository path, mentions and autolinks in their text neutralised: an absolute path is outside the checkout, and the API takes repository paths only. */
function checkAnnotations(cases: readonly TestCaseResult[], repoRoot: string | undefined) {
  return cases
    .filter((c) => (c.status === 'failed' || c.status === 'error') && c.file)
    .filter((c) => !repoRelative(c.file, repoRoot)?.startsWith('/'))
    .slice(0, MAX_ANNOTATIONS)
    .map((c) => ({
      path: repoRelative(c.file, repoRoot) as string,
      start_line: c.line ?? 1,
      end_line: c.line ?? 1,
      annotation_level: 'failure' as const,
      title: truncate(neutraliseMentions(caseTitle(c)), 255),
      message: truncate(neutraliseMentions(c.message ?? c.details ?? c.status), CHECK_TEXT_LIMIT / 4),
      ...(c.details ? { raw_details: truncate(neutraliseMentions(c.details), CHECK_TEXT_LIMIT / 4) } : {}),
    }))
}

function truncate(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max - 40)}\n… truncated (${text.length - max + 40} more characters)`
}
