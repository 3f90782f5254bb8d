import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { RepoHost } from './repos.js'

/** A check run as the fake API stored it, with every request's annotations. */
export interface StoredCheckRun {
  readonly id: number
  readonly owner: string
  readonly repo: string
  body: Record<string, unknown>
  annotations: Record<string, unknown>[]
  requests: number
}

export interface GitHubSim {
  readonly url: string
  readonly checkRuns: StoredCheckRun[]
  /** Tokens that may write checks; any other token gets 403, as a fork PR's read-only token does. */
  readonly writeTokens: Set<string>
  /** Repositories: git over smart HTTP, pull requests and branch refs. */
  readonly repos: RepoHost
  close(): Promise<void>
}

/**
 * The slice of GitHub that run-task talks to: check runs, pull requests, branch
 * refs and git over HTTP (see repos.ts). For check runs it checks
 * the bearer token, validates the fields GitHub requires (name, head_sha, a
 * conclusion for completed runs, at most 50 annotations per request, output text
 * within 65,535 characters) and answers with GitHub's status codes and bodies.
 */
export interface GitHubSimOptions {
  /**
   * Serve the REST API under `/api/v3`, as GitHub Enterprise Server does (`https://HOST/api/v3`,
   * the runner's GITHUB_API_URL there); git stays at `/{owner}/{repo}.git`. Any other API path is 404.
   */
  readonly enterprise?: boolean
}

export async function startGitHubSim(options: GitHubSimOptions = {}): Promise<GitHubSim> {
  const apiPrefix = options.enterprise ? '/api/v3' : ''
  const checkRuns: StoredCheckRun[] = []
  const writeTokens = new Set<string>()
  let nextId = 1000
  const repoRoot = mkdtempSync(path.join(tmpdir(), 'github-sim-'))
  const repos = new RepoHost(repoRoot)
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { message: String(error) }))
  })
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const gitPath = /^\/([^/]+)\/([^/]+)\.git(\/[^?]*)/.exec(req.url ?? '')
    if (gitPath) return repos.serveGit(req, res, gitPath)
    const token = /^(?:token|Bearer) (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (!token)
      return send(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' })
    const url = new URL(req.url ?? '/', 'http://sim')
    if (!url.pathname.startsWith(`${apiPrefix}/`))
      return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })
    url.pathname = url.pathname.slice(apiPrefix.length)
    const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>
    if (repos.handleApi(req, res, token, url, body, send)) return
    const create = /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/.exec(url.pathname)
    const update = /^\/repos\/([^/]+)\/([^/]+)\/check-runs\/(\d+)$/.exec(url.pathname)
    if (!create && !update)
      return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })
    if (!writeTokens.has(token))
      return send(res, 403, {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/checks/runs#create-a-check-run',
        status: '403',
      })
    const problem = validate(body, Boolean(create))
    if (problem)
      return send(res, 422, {
        message: 'Invalid request.',
        errors: [problem],
        documentation_url: 'https://docs.github.com/rest/checks/runs',
      })
    const annotations = (body.output as { annotations?: Record<string, unknown>[] } | undefined)?.annotations ?? []
    if (create && req.method === 'POST') {
      const run: StoredCheckRun = {
        id: ++nextId,
        owner: create[1] as string,
        repo: create[2] as string,
        body,
        annotations: [...annotations],
        requests: 1,
      }
      checkRuns.push(run)
      return send(res, 201, {
        id: run.id,
        head_sha: body.head_sha,
        name: body.name,
        status: body.status,
        conclusion: body.conclusion,
        html_url: `https://github.com/${run.owner}/${run.repo}/runs/${run.id}`,
      })
    }
    const run = checkRuns.find((r) => r.id === Number(update?.[3]))
    if (!run || req.method !== 'PATCH') return send(res, 404, { message: 'Not Found' })
    run.annotations.push(...annotations)
    run.requests += 1
    run.body = { ...run.body, ...body }
    send(res, 200, {
      id: run.id,
      head_sha: run.body.head_sha,
      name: run.body.name,
      status: run.body.status,
      conclusion: run.body.conclusion,
      html_url: '',
    })
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    checkRuns,
    writeTokens,
    repos,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }).finally(() => rmSync(repoRoot, { recursive: true, force: true })),
  }
}

function validate(body: Record<string, unknown>, creating: boolean): string | undefined {
  if (creating && (!body.name || !body.head_sha)) return 'name and head_sha are required'
  if (body.status === 'completed' && !body.conclusion) return 'conclusion is required when status is completed'
  const output = body.output as { summary?: string; text?: string; annotations?: unknown[] } | undefined
  if (output?.annotations && output.annotations.length > 50) return 'at most 50 annotations per request'
  if ((output?.summary?.length ?? 0) > 65_535 || (output?.text?.length ?? 0) > 65_535)
    return 'output.summary and output.text are limited to 65535 characters'
  for (const a of (output?.annotations ?? []) as Record<string, unknown>[]) {
    if (!a.path || !a.start_line || !a.end_line || !a.annotation_level || !a.message)
      return 'annotations need path, start_line, end_line, annotation_level and message'
  }
  return undefined
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-GitHub-Media-Type': 'github.v3',
  })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}
