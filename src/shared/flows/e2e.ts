import { randomBytes } from 'node:crypto'
import { codexAuthSecrets } from '../credential-secrets.js'
import { errorMessage } from '../errors.js'
import type { CheckResult } from '../evidence/checks-junit.js'
import type { E2eSettings } from '../settings/e2e-settings.js'
import type { StepContext } from '../steps/step-context.js'
import { type FlowResult, type FlowRun, runFlow } from './flow.js'
import { type GitHubClient, githubClient } from '../github-context.js'
import { exitDescription } from '../text.js'

/** The E2E flow's cases, in order, between "workspace is created" and "workspace is deleted". */
export const E2E_CHECKS = {
  clone: 'bot repository is cloned',
  commit: 'change is committed on a new branch',
  push: 'branch is pushed with the bot token',
  pr: 'pull request is opened',
  diff: 'pull request has the expected diff',
  close: 'pull request is closed and the branch deleted',
} as const

// Git asks this helper for credentials; it reads the token from the environment,
// so the token is never on a command line or in a file. It answers only for the
// repository's own origin (protocol and host, port included), so neither a
// redirect nor a child process such as git-lfs can take the token elsewhere.
export const CREDENTIAL_HELPER = `!f() { test "$1" = get || return 0; p=; h=; while IFS= read -r l && [ -n "$l" ]; do case "$l" in protocol=*) p=\${l#protocol=} ;; host=*) h=\${l#host=} ;; esac; done; [ "$p://$h" = "$E2E_GIT_ORIGIN" ] && printf 'username=x-access-token\\npassword=%s\\n' "$E2E_TOKEN"; return 0; }; f`
const GIT = 'git -c credential.helper= -c "credential.helper=$E2E_CREDENTIAL_HELPER"'
const REPO_DIR = '"${PROJECTS_ROOT:-$HOME}/run-task-e2e"'
/** Codex's home: a fresh folder, removed by the script and again from the runner, even after a kill. */
const CODEX_HOME = '"${TMPDIR:-/tmp}/$E2E_CODEX_DIR"'

const CLONE = `set -eu
rm -rf ${REPO_DIR}
${GIT} clone -q --branch "$E2E_BASE" "$E2E_CLONE_URL" ${REPO_DIR}
git -C ${REPO_DIR} log -1 --format='cloned %h: %s'`

// Codex gets its auth.json in a 0700 CODEX_HOME with file-based credential
// storage, and an environment without the bot token or its own auth.
const COMMIT = `set -eu
cd ${REPO_DIR}
git checkout -q -b "$E2E_BRANCH"
if [ -n "\${E2E_CODEX_AUTH:-}" ]; then
  CODEX_HOME=${CODEX_HOME}; export CODEX_HOME
  trap 'rm -rf "$CODEX_HOME"' EXIT HUP INT TERM
  (umask 077; mkdir -p "$CODEX_HOME"; printf '%s' "$E2E_CODEX_AUTH" > "$CODEX_HOME/auth.json"; printf 'cli_auth_credentials_store = "file"\\n' > "$CODEX_HOME/config.toml")
  if env -u E2E_CODEX_AUTH -u E2E_TOKEN codex exec --skip-git-repo-check --full-auto "Append exactly this line to README.md: $E2E_LINE"; then rc=0; else rc=$?; fi
  rm -rf "$CODEX_HOME"
  [ "$rc" -eq 0 ] || { echo "codex exec failed with exit code $rc"; exit "$rc"; }
else
  printf '%s\\n' "$E2E_LINE" >> README.md
fi
git add -A
git -c user.name="$E2E_AUTHOR_NAME" -c user.email="$E2E_AUTHOR_EMAIL" commit -q -m "$E2E_TITLE"
git show --stat --format='committed %h: %s' HEAD`

const PUSH = `set -eu
cd ${REPO_DIR}
${GIT} push -q origin "HEAD:refs/heads/$E2E_BRANCH"
echo "pushed $(git rev-parse --short HEAD) to $E2E_BRANCH"`

const OPEN_PR = `set -eu
body=$(printf '{"title":"%s","head":"%s","base":"%s","body":"%s"}' "$E2E_TITLE" "$E2E_BRANCH" "$E2E_BASE" "Opened from a throw-away workspace by run-task e2e.")
printf 'header = "Authorization: Bearer %s"\\n' "$E2E_TOKEN" | curl -sS --fail-with-body --max-time 60 -X POST -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' --config - --data "$body" "$E2E_API_URL/repos/$E2E_REPO/pulls"`

/**
 * The developer flow: in the workspace, clone the bot-writable repository, branch,
 * change README.md (or have Codex change it), commit, push with the bot token and
 * open a PR; from the runner, check the PR's diff through the API, then close it.
 */
export async function e2eFlow(ctx: StepContext, settings: E2eSettings): Promise<FlowResult> {
  return runFlow(ctx, settings, {
    suite: 'e2e',
    names: Object.values(E2E_CHECKS),
    secrets: [settings.botToken, settings.codexAuth, ...codexAuthSecrets(settings.codexAuth)].filter(Boolean),
    body: (run) => steps(run, settings),
  })
}

async function steps(run: FlowRun, s: E2eSettings): Promise<void> {
  if (s.codexAuth) run.state.codexAuthSlot = s.codexSlot
  const common: Array<[string, string]> = [
    ['E2E_CLONE_URL', s.cloneUrl],
    ['E2E_API_URL', s.apiUrl],
    ['E2E_REPO', s.repository],
    ['E2E_BASE', s.baseBranch],
    ['E2E_BRANCH', s.branch],
    ['E2E_LINE', s.line],
    ['E2E_TITLE', s.title],
    ['E2E_AUTHOR_NAME', s.author.name],
    ['E2E_AUTHOR_EMAIL', s.author.email],
  ]
  // Each script gets only the credential it needs: the bot token for git and the
  // API, the Codex auth for the commit step (where Codex runs).
  const withToken = new Map([
    ...common,
    ['E2E_TOKEN', s.botToken],
    ['E2E_CREDENTIAL_HELPER', CREDENTIAL_HELPER],
    ['E2E_GIT_ORIGIN', new URL(s.cloneUrl).origin],
  ])
  const codexDir = `run-task-codex-${randomBytes(8).toString('hex')}`
  const withCodex = new Map([...common, ['E2E_CODEX_AUTH', s.codexAuth], ['E2E_CODEX_DIR', codexDir]])
  let failed = false
  const step = async (
    name: string,
    fn: () => Promise<Omit<CheckResult, 'name' | 'durationMs'>>,
  ): Promise<CheckResult | undefined> => {
    if (failed) return void run.skip(name, 'an earlier step failed')
    const result = await run.check(name, fn)
    failed = result.status === 'failed'
    return result
  }
  const inWorkspace =
    (script: string, passed: (output: string) => string, env = withToken) =>
    async () => {
      const { exitCode, output } = await run.exec(script, env, s.checkTimeoutMs)
      return exitCode === 0
        ? { status: 'passed' as const, message: passed(output), output }
        : {
            status: 'failed' as const,
            message: `exit ${exitDescription(exitCode)}: ${output.split('\n').slice(-3).join(' | ')}`,
            output,
          }
    }
  const octokit = await githubClient(s.botToken, s.apiUrl)
  const [owner, repo] = s.repository.split('/') as [string, string]
  let pushed = false
  let prNumber: number | undefined
  try {
    await step(
      E2E_CHECKS.clone,
      inWorkspace(CLONE, (o) => `${s.cloneUrl} ${o.split('\n').at(-1) ?? ''}`),
    )
    await step(
      E2E_CHECKS.commit,
      inWorkspace(
        COMMIT,
        () =>
          `${s.codexAuth ? `codex exec (auth from ${s.codexSlot})` : 'appended'} one line to README.md on ${s.branch}`,
        withCodex,
      ),
    ).finally(() => (s.codexAuth ? removeCodexHome(run, codexDir) : undefined))
    pushed =
      (
        await step(
          E2E_CHECKS.push,
          inWorkspace(PUSH, (o) => o.split('\n').at(-1) ?? ''),
        )
      )?.status === 'passed'
    await step(E2E_CHECKS.pr, async () => {
      const result = await inWorkspace(OPEN_PR, (o) => o)()
      if (result.status === 'failed') return result
      const pr = JSON.parse(result.output) as { number: number; html_url: string }
      prNumber = pr.number
      return { status: 'passed', message: `#${pr.number} ${pr.html_url}`, output: '' }
    })
    await step(E2E_CHECKS.diff, () => checkDiff(octokit, owner, repo, s))
  } finally {
    if (!s.closePr) run.skip(E2E_CHECKS.close, 'close-pr is false: the pull request stays open')
    else if (!pushed) run.skip(E2E_CHECKS.close, 'nothing was pushed')
    else await run.check(E2E_CHECKS.close, () => closePr(octokit, owner, repo, s.branch, prNumber))
  }
}

/**
 * Removes Codex's home from the runner's side: a command killed at check-timeout
 * runs no trap, and a workspace kept for debugging must not keep the auth.json
 * (refresh token included).
 */
async function removeCodexHome(run: FlowRun, codexDir: string): Promise<void> {
  await run
    .exec(`rm -rf ${CODEX_HOME}`, new Map([['E2E_CODEX_DIR', codexDir]]), 60_000)
    .catch((error: unknown) =>
      run.ctx.reporter.warning(`Could not remove Codex's auth from the workspace: ${errorMessage(error)}`),
    )
}

/** The PR for the branch, through the API: exactly README.md, one line added, nothing removed. */
async function checkDiff(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  s: E2eSettings,
): Promise<Omit<CheckResult, 'name' | 'durationMs'>> {
  const { data: pulls } = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${s.branch}`, state: 'open' })
  const pr = pulls[0]
  if (!pr) return { status: 'failed', message: `no open pull request for ${owner}:${s.branch}`, output: '' }
  const { data: files } = await octokit.rest.pulls.listFiles({ owner, repo, pull_number: pr.number })
  const shown = files.map((f) => `${f.filename} +${f.additions} -${f.deletions}\n${f.patch ?? ''}`).join('\n')
  const readme = files.find((f) => f.filename === 'README.md')
  const added = (readme?.patch ?? '').split('\n').filter((l) => l.startsWith('+'))
  const problems = [
    files.length !== 1 || !readme
      ? `expected only README.md to change, got ${files.map((f) => f.filename).join(', ') || 'no files'}`
      : '',
    readme && (readme.additions !== 1 || readme.deletions !== 0)
      ? `expected +1 -0 in README.md, got +${readme.additions} -${readme.deletions}`
      : '',
    readme && added.length === 1 && added[0] !== `+${s.line}`
      ? `expected the added line ${JSON.stringify(s.line)}, got ${JSON.stringify(added[0]?.slice(1))}`
      : '',
  ].filter(Boolean)
  return problems.length
    ? { status: 'failed', message: `#${pr.number}: ${problems.join('; ')}`, output: shown }
    : { status: 'passed', message: `#${pr.number} adds exactly ${JSON.stringify(s.line)} to README.md`, output: shown }
}

async function closePr(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  branch: string,
  prNumber: number | undefined,
): Promise<Omit<CheckResult, 'name' | 'durationMs'>> {
  const notes: string[] = []
  if (prNumber !== undefined) {
    await octokit.rest.pulls.update({ owner, repo, pull_number: prNumber, state: 'closed' })
    notes.push(`closed #${prNumber}`)
  }
  try {
    await octokit.rest.git.deleteRef({ owner, repo, ref: `heads/${branch}` })
    notes.push(`deleted ${branch}`)
  } catch (error) {
    // A branch already gone counts as deleted.
    if ((error as { status?: number }).status !== 422)
      throw new Error(`deleting branch ${branch}: ${errorMessage(error)}`)
    notes.push(`${branch} was already gone`)
  }
  return { status: 'passed', message: notes.join('; '), output: '' }
}
