import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** A pull request as the fake API keeps it. */
export interface StoredPull {
  readonly number: number
  readonly owner: string
  readonly repo: string
  readonly head: string
  readonly base: string
  readonly title: string
  readonly body: string
  state: 'open' | 'closed'
}

const DOCS = 'https://docs.github.com/rest/pulls/pulls'

/**
 * Repositories behind the fake GitHub: bare git repositories served over smart
 * HTTP by git's own `git http-backend` (Basic auth, the token as password, as
 * github.com takes it), plus the pull-request and refs endpoints of the REST API.
 */
export class RepoHost {
  readonly pulls: StoredPull[] = []
  /** Tokens that may read and push, and open and close PRs. */
  readonly writers = new Set<string>()

  constructor(readonly root: string) {}

  /** Creates owner/name with one commit on `main` holding these files. */
  create(owner: string, name: string, files: Record<string, string>): void {
    const bare = this.gitDir(owner, name)
    mkdirSync(path.dirname(bare), { recursive: true })
    git(['init', '-q', '--bare', '--initial-branch=main', bare])
    const work = mkdtempSync(path.join(tmpdir(), 'seed-'))
    try {
      git(['init', '-q', '--initial-branch=main', work])
      for (const [file, text] of Object.entries(files)) writeFileSync(path.join(work, file), text)
      git(['-C', work, 'add', '.'])
      git([
        '-C',
        work,
        '-c',
        'user.name=seed',
        '-c',
        'user.email=seed@example.test',
        'commit',
        '-q',
        '-m',
        'Initial commit',
      ])
      git(['-C', work, 'push', '-q', bare, 'main'])
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }

  gitDir(owner: string, name: string): string {
    return path.join(this.root, owner, `${name}.git`)
  }

  /** The branch's commit, or undefined when it does not exist. */
  branchSha(owner: string, name: string, branch: string): string | undefined {
    try {
      return git(['--git-dir', this.gitDir(owner, name), 'rev-parse', '--verify', '-q', `refs/heads/${branch}`]).trim()
    } catch {
      return undefined
    }
  }

  /** Serves `/<owner>/<name>.git/…` through git http-backend (a CGI program). */
  serveGit(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): void {
    const [, owner, name, rest] = m as unknown as [string, string, string, string]
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const password = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : ''
    if (!this.writers.has(password)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="GitHub"', 'Content-Type': 'text/plain' })
      return void res.end('Invalid username or token. Password authentication is not supported for Git operations.\n')
    }
    const url = new URL(req.url ?? '/', 'http://sim')
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: this.root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: `/${owner}/${name}.git${rest}`,
        REQUEST_METHOD: req.method ?? 'GET',
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    req.pipe(cgi.stdin)
    let head = Buffer.alloc(0)
    let streaming = false
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (streaming) return void res.write(chunk)
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      const headers: Record<string, string> = {}
      let status = 200
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const [key, ...value] = line.split(':')
        if (!key) continue
        if (key.toLowerCase() === 'status') status = Number.parseInt(value.join(':').trim(), 10)
        else headers[key] = value.join(':').trim()
      }
      res.writeHead(status, headers)
      streaming = true
      res.write(head.subarray(end + 4))
    })
    cgi.on('close', () => res.end())
  }

  /** The pull-request and refs endpoints; false when the path is none of them. */
  handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    token: string,
    url: URL,
    body: Record<string, unknown>,
    send: (res: ServerResponse, code: number, body: unknown) => void,
  ): boolean {
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(pulls(?:\/(\d+)(\/files)?)?|git\/refs\/(.+))$/.exec(url.pathname)
    if (!m) return false
    const [, owner, repo, , number, files, ref] = m as unknown as [
      string,
      string,
      string,
      string,
      string | undefined,
      string | undefined,
      string | undefined,
    ]
    // Clients send the ref with its slashes escaped (heads%2Ffeature) or not; GitHub takes both.
    const branch = ref === undefined ? undefined : decodeURIComponent(ref).replace(/^heads\//, '')
    if (!this.branchSha(owner, repo, 'main') && !this.branchSha(owner, repo, 'master'))
      return (send(res, 404, { message: 'Not Found', documentation_url: DOCS }), true)
    const write = req.method !== 'GET'
    if (write && !this.writers.has(token))
      return (
        send(res, 403, {
          message: 'Resource not accessible by personal access token',
          documentation_url: DOCS,
          status: '403',
        }),
        true
      )
    if (branch !== undefined) return (this.deleteBranch(res, owner, repo, branch, req.method ?? '', send), true)
    if (number === undefined)
      return (
        req.method === 'POST'
          ? this.openPull(res, owner, repo, body, send)
          : this.listPulls(res, owner, repo, url, send),
        true
      )
    const pull = this.pulls.find((p) => p.owner === owner && p.repo === repo && p.number === Number(number))
    if (!pull) return (send(res, 404, { message: 'Not Found', documentation_url: DOCS }), true)
    if (files) return (send(res, 200, this.files(pull)), true)
    if (req.method === 'PATCH') {
      if (body.state === 'closed' || body.state === 'open') pull.state = body.state
      return (send(res, 200, this.json(pull)), true)
    }
    send(res, 200, this.json(pull))
    return true
  }

  private openPull(
    res: ServerResponse,
    owner: string,
    repo: string,
    body: Record<string, unknown>,
    send: (res: ServerResponse, code: number, body: unknown) => void,
  ): void {
    const head = String(body.head ?? '').replace(/^[^:]+:/, '')
    const base = String(body.base ?? '')
    const invalid = (field: string): void =>
      send(res, 422, {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', field, code: 'invalid' }],
        documentation_url: `${DOCS}#create-a-pull-request`,
        status: '422',
      })
    if (!body.title) return invalid('title')
    if (!this.branchSha(owner, repo, base)) return invalid('base')
    if (!this.branchSha(owner, repo, head)) return invalid('head')
    if (this.pulls.some((p) => p.owner === owner && p.repo === repo && p.head === head && p.state === 'open')) {
      return send(res, 422, {
        message: 'Validation Failed',
        errors: [
          { resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${head}.` },
        ],
        documentation_url: `${DOCS}#create-a-pull-request`,
        status: '422',
      })
    }
    const pull: StoredPull = {
      number: this.pulls.length + 1,
      owner,
      repo,
      head,
      base,
      title: String(body.title),
      body: String(body.body ?? ''),
      state: 'open',
    }
    this.pulls.push(pull)
    send(res, 201, this.json(pull))
  }

  private listPulls(
    res: ServerResponse,
    owner: string,
    repo: string,
    url: URL,
    send: (res: ServerResponse, code: number, body: unknown) => void,
  ): void {
    const state = url.searchParams.get('state') ?? 'open'
    const head = url.searchParams.get('head')?.replace(/^[^:]+:/, '')
    const found = this.pulls.filter(
      (p) =>
        p.owner === owner && p.repo === repo && (state === 'all' || p.state === state) && (!head || p.head === head),
    )
    send(
      res,
      200,
      found.map((p) => this.json(p)),
    )
  }

  private deleteBranch(
    res: ServerResponse,
    owner: string,
    repo: string,
    branch: string,
    method: string,
    send: (res: ServerResponse, code: number, body: unknown) => void,
  ): void {
    if (method !== 'DELETE') return send(res, 404, { message: 'Not Found' })
    if (!this.branchSha(owner, repo, branch))
      return send(res, 422, {
        message: 'Reference does not exist',
        documentation_url: 'https://docs.github.com/rest/git/refs#delete-a-reference',
        status: '422',
      })
    git(['--git-dir', this.gitDir(owner, repo), 'update-ref', '-d', `refs/heads/${branch}`])
    res.writeHead(204)
    res.end()
  }

  /** GitHub's pull files: one entry per file, `patch` being the hunks without the file headers. */
  private files(pull: StoredPull): Record<string, unknown>[] {
    const dir = this.gitDir(pull.owner, pull.repo)
    const head = this.branchSha(pull.owner, pull.repo, pull.head) ?? pull.head
    const range = `${pull.base}...${head}`
    return git(['--git-dir', dir, 'diff', '--numstat', range])
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [additions, deletions, filename] = line.split('\t') as [string, string, string]
        const diff = git(['--git-dir', dir, 'diff', range, '--', filename])
        const patch = diff.slice(diff.indexOf('@@')).trimEnd()
        return {
          sha: head,
          filename,
          status: 'modified',
          additions: Number(additions),
          deletions: Number(deletions),
          changes: Number(additions) + Number(deletions),
          patch,
        }
      })
  }

  private json(p: StoredPull): Record<string, unknown> {
    const headSha = this.branchSha(p.owner, p.repo, p.head) ?? ''
    return {
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      html_url: `https://github.com/${p.owner}/${p.repo}/pull/${p.number}`,
      head: { ref: p.head, sha: headSha, label: `${p.owner}:${p.head}` },
      base: { ref: p.base, label: `${p.owner}:${p.base}` },
      merged: false,
      draft: false,
    }
  }
}

function git(args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
