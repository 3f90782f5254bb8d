import { randomBytes } from 'node:crypto'
import type { CheckResult } from '../evidence/checks-junit.js'
import { probeForProvision } from '../provider-factory.js'
import type { WorkspaceProbe } from '../providers/probe.js'
import { judgeIde } from './ide-verdict.js'
import type { SmokeSettings } from '../settings/smoke-settings.js'
import type { StepContext } from '../steps/step-context.js'
import { type FlowResult, type FlowRun, runFlow } from './flow.js'
import { exitDescription, firstLine } from '../text.js'

/** The smoke check's cases, in order; "workspace is created" and "workspace is deleted" frame them. */
export const SMOKE_CHECKS = {
  ide: 'IDE answers through the provider proxy',
  tools: 'checkout and tools are present',
  health: 'IDE health endpoint answers inside the workspace',
  persistence: 'files survive a stop and start',
  controlPlane: 'control plane is healthy',
  codexExtension: 'Codex extension is installed in the IDE',
  githubAuth: "the CI user's GitHub external auth works",
} as const

const MARKER_FILE = '.run-task-smoke-marker'

/**
 * "Is the provider broken?": creates a workspace, reaches its IDE through the
 * provider's proxy and from inside, checks the checkout and tools, stops and
 * starts it to prove persistence, checks the control plane, and deletes it.
 */
export async function smokeFlow(ctx: StepContext, settings: SmokeSettings): Promise<FlowResult> {
  const probe = await probeForProvision(settings.provision)
  return runFlow(ctx, settings, {
    suite: 'smoke',
    names: [
      SMOKE_CHECKS.ide,
      SMOKE_CHECKS.tools,
      SMOKE_CHECKS.health,
      SMOKE_CHECKS.codexExtension,
      SMOKE_CHECKS.githubAuth,
      SMOKE_CHECKS.persistence,
    ],
    secrets: [settings.adminToken].filter(Boolean),
    body: async (run) => {
      await run.check(
        SMOKE_CHECKS.ide,
        withDiagnostics(run, () => checkIde(run, probe, settings)),
      )
      await run.check(
        SMOKE_CHECKS.tools,
        withDiagnostics(run, () => checkTools(run, settings)),
      )
      await run.check(
        SMOKE_CHECKS.health,
        withDiagnostics(run, () => checkHealth(run, probe, settings)),
      )
      await optionalChecks(run, settings)
      await run.check(
        SMOKE_CHECKS.persistence,
        withDiagnostics(run, () => checkPersistence(run, probe, settings)),
      )
    },
    withoutWorkspace: async (run) => {
      await run.check(SMOKE_CHECKS.controlPlane, async () => {
        const findings = await probe.controlPlane(
          { adminToken: settings.adminToken, expectedIssuer: settings.expectedOidcIssuer },
          run.ctx.signal,
        )
        const failed = findings.filter((f) => f.status === 'failed')
        const lines = findings.map((f) => `${f.status}: ${f.message}`).join('\n')
        return failed.length
          ? { status: 'failed', message: failed.map((f) => f.message).join('; '), output: lines }
          : { status: 'passed', message: findings.map((f) => f.message).join('; '), output: lines }
      })
    },
  })
}

type CheckOutcome = Omit<CheckResult, 'name' | 'durationMs'>

/**
 * A failed check carries the provider's diagnostics in its output (Coder: the build log's
 * `[workspace-bootstrap]` lines and the devcontainer's postCreate log, 629 §5.1).
 */
function withDiagnostics(run: FlowRun, fn: () => Promise<CheckOutcome>): () => Promise<CheckOutcome> {
  return async () => {
    const result = await fn()
    if (result.status !== 'failed') return result
    const diagnostics = await run.provider.diagnose(run.handle).catch(() => ({ lines: [] as string[] }))
    const output = [result.output, diagnostics.lines.length ? 'Diagnostics:' : '', ...diagnostics.lines]
    return { ...result, output: output.filter(Boolean).join('\n') }
  }
}

const CODEX_EXTENSION = 'openai.chatgpt'
// code-server's CLI is on PATH in most images; Coder's code-server module installs it under /tmp/code-server.
const EXTENSION_SCRIPT = `ide=$(command -v code-server || ls /tmp/code-server/bin/code-server 2>/dev/null) || { echo "code-server is not installed"; exit 3; }
list=$("$ide" --list-extensions 2>&1) || { echo "$list"; exit 2; }
echo "$list"
printf '%s\\n' "$list" | grep -qix "$SMOKE_EXTENSION"`
// The token is counted, never printed.
const GITHUB_AUTH_SCRIPT = `out=$(coder external-auth access-token github 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -n "$out" ]; then echo "a GitHub token of \${#out} characters"; exit 0; fi
echo "$out" | head -n 5; exit 1`

/** The checks 629 names as optional: JUnit cases either way, skipped with the reason when not asked for. */
async function optionalChecks(run: FlowRun, settings: SmokeSettings): Promise<void> {
  if (!settings.checkCodexExtension) run.skip(SMOKE_CHECKS.codexExtension, 'not asked for (check-codex-extension)')
  else
    await run.check(SMOKE_CHECKS.codexExtension, async () => {
      const { exitCode, output } = await run.exec(
        EXTENSION_SCRIPT,
        new Map([['SMOKE_EXTENSION', CODEX_EXTENSION]]),
        settings.checkTimeoutMs,
      )
      if (exitCode === 0) return { status: 'passed', message: `${CODEX_EXTENSION} is installed in code-server`, output }
      const why =
        exitCode === 1
          ? `${CODEX_EXTENSION} is not among code-server's extensions`
          : firstLine(output) || `exit ${exitDescription(exitCode)}`
      return { status: 'failed', message: why, output }
    })
  if (!settings.checkGithubAuth) run.skip(SMOKE_CHECKS.githubAuth, 'not asked for (check-github-auth)')
  else if (settings.provision.provider !== 'coder')
    run.skip(SMOKE_CHECKS.githubAuth, 'Coder external auth: not a Che feature')
  else
    await run.check(SMOKE_CHECKS.githubAuth, async () => {
      const { exitCode, output } = await run.exec(GITHUB_AUTH_SCRIPT, new Map(), settings.checkTimeoutMs)
      if (exitCode === 0)
        return { status: 'passed', message: `coder external-auth access-token github: ${output.trim()}`, output }
      const link = firstLine(output.trim())
      return {
        status: 'failed',
        message: `coder external-auth access-token github failed; link GitHub for the CI user: ${link}`,
        output,
      }
    })
}

async function checkIde(run: FlowRun, probe: WorkspaceProbe, settings: SmokeSettings) {
  const ide = await probe.ide(run.handle, settings.ideApp, run.ctx.signal)
  const verdict = await judgeIde(ide, AbortSignal.any([run.ctx.signal, AbortSignal.timeout(settings.checkTimeoutMs)]))
  return { ...verdict, output: '' }
}

// Values travel as environment (on stdin), never spliced into the command text.
const TOOLS_SCRIPT = `status=0
dir="\${SMOKE_CHECKOUT:-.}"
if head=$(git -C "$dir" rev-parse --short HEAD 2>/dev/null); then echo "checkout: $(cd "$dir" && pwd) at $head"
elif git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then echo "checkout: $(cd "$dir" && pwd) (no commits yet)"
else echo "checkout: $dir is not a git checkout"; status=1; fi
for tool in $SMOKE_TOOLS; do
  if found=$(command -v "$tool"); then echo "tool $tool: $found"; else echo "tool $tool: missing"; status=1; fi
done
exit $status`

async function checkTools(run: FlowRun, settings: SmokeSettings) {
  const env = new Map([
    ['SMOKE_TOOLS', settings.tools.join(' ')],
    ['SMOKE_CHECKOUT', settings.checkoutPath || '.'],
  ])
  const { exitCode, output } = await run.exec(TOOLS_SCRIPT, env, settings.checkTimeoutMs)
  const problems = output.split('\n').filter((l) => /: missing$|not a git checkout/.test(l))
  return exitCode === 0
    ? { status: 'passed' as const, message: `${settings.tools.join(', ')} present; checkout found`, output }
    : {
        status: 'failed' as const,
        message: problems.join('; ') || `the check exited with ${exitDescription(exitCode)}`,
        output,
      }
}

const HEALTH_SCRIPT = `if command -v curl >/dev/null 2>&1; then body=$(curl -sS --max-time 10 -w '\\nHTTP %{http_code}' "$SMOKE_HEALTH_URL") || exit 2
elif command -v wget >/dev/null 2>&1; then body=$(wget -q -T 10 -O - "$SMOKE_HEALTH_URL" && echo && echo 'HTTP 200') || exit 2
else echo "neither curl nor wget is installed"; exit 3; fi
echo "$body"
case "$body" in *"HTTP 2"*) exit 0 ;; *) exit 1 ;; esac`

async function checkHealth(run: FlowRun, probe: WorkspaceProbe, settings: SmokeSettings) {
  const url = settings.ideHealthUrl || (await probe.ide(run.handle, settings.ideApp, run.ctx.signal)).healthUrl
  const { exitCode, output } = await run.exec(
    HEALTH_SCRIPT,
    new Map([['SMOKE_HEALTH_URL', url]]),
    settings.checkTimeoutMs,
  )
  const expired = /"status"\s*:\s*"expired"/.test(output)
  if (exitCode === 0 && !expired)
    return { status: 'passed' as const, message: `${url} answered ${output.split('\n').at(-1) ?? ''}`, output }
  return {
    status: 'failed' as const,
    message: `${url} did not answer healthy (${output.split('\n').at(-1) || `exit ${exitDescription(exitCode)}`})`,
    output,
  }
}

async function checkPersistence(run: FlowRun, probe: WorkspaceProbe, settings: SmokeSettings) {
  const persistence = await probe.persistence(run.handle, run.ctx.signal)
  if (!persistence.persistent) return { status: 'skipped' as const, message: persistence.detail, output: '' }
  const marker = `smoke-${randomBytes(8).toString('hex')}`
  // The directory is chosen once, inside the workspace, and read back from the same place.
  const wrote = await run.exec(
    `d="\${SMOKE_DIR:-}"; [ -n "$d" ] || d=${probe.persistentDir}
if [ -n "\${SMOKE_CHECKOUT:-}" ] && [ -d "$d/$SMOKE_CHECKOUT" ]; then d="$d/$SMOKE_CHECKOUT"; fi
d=$(cd -- "$d" && pwd) || exit 1
printf '%s\\n' "$SMOKE_MARKER" > "$d/${MARKER_FILE}" && echo "wrote the marker to $d"`,
    new Map([
      ['SMOKE_MARKER', marker],
      ['SMOKE_DIR', settings.persistencePath],
      ['SMOKE_CHECKOUT', settings.persistenceCheckout],
    ]),
    settings.checkTimeoutMs,
  )
  if (wrote.exitCode !== 0)
    return { status: 'failed' as const, message: `could not write the marker: ${wrote.output}`, output: wrote.output }
  const dir = /wrote the marker to (.*)$/m.exec(wrote.output)?.[1]?.trim() ?? ''
  const steps = [wrote.output]
  await run.provider.stop(run.handle, settings.stopTimeoutMs, run.ctx.signal)
  steps.push(`stopped; ${await probe.checkStopped(run.handle, run.ctx.signal)}`)
  run.handle = await run.provider.start(run.handle, settings.provision.startTimeoutMs, run.ctx.signal)
  run.state.handle = run.handle
  run.ctx.store.save(run.state)
  steps.push('started again')
  const read = await run.exec(
    `cat "$SMOKE_DIR/${MARKER_FILE}" 2>&1 || true`,
    new Map([['SMOKE_DIR', dir]]),
    settings.checkTimeoutMs,
  )
  steps.push(`read back: ${read.output}`)
  const output = steps.join('\n')
  return read.output.trim() === marker
    ? { status: 'passed' as const, message: `marker kept in ${dir} (${persistence.detail})`, output }
    : {
        status: 'failed' as const,
        message: `the marker written to ${dir} before the stop was not there after the start`,
        output,
      }
}
