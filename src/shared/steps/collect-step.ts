import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { errorMessage } from '../errors.js'
import { canUploadArtifacts, uploadEvidence } from '../evidence/artifact.js'
import { copyFlat, listFiles, matchFiles } from '../evidence/evidence-files.js'
import { annotateTests } from '../evidence/annotations.js'
import { publishCheckRun } from '../evidence/check-run.js'
import { synthesizeJunit } from '../evidence/junit.js'
import { caseTitle, readReports, type TestResults } from '../evidence/test-results.js'
import { buildMeta, type EvidenceMeta, outcomeOf } from '../evidence/meta.js'
import { renderSummary } from '../evidence/summary.js'
import { providerForConnection } from '../provider-factory.js'
import type { CollectSettings } from '../settings/collect-settings.js'
import { DEFAULT_EVIDENCE_PATH } from '../settings/run-settings.js'
import { type RecordedError, recordTiming, type RunState } from '../state.js'
import { identityFromEnv } from '../identity.js'
import { InputError } from '../errors.js'
import type { TextRedactor } from '../redact.js'
import { redactingReporter } from '../reporter.js'
import type { DigestRedactor } from '../secret-store.js'
import { loadState, type StepContext } from './step-context.js'
import { runContext } from '../github-context.js'
import { exitDescription } from '../text.js'

/** What collect produced. */
export interface CollectResult {
  readonly meta: EvidenceMeta
  readonly evidenceDir: string
  /** Problems collecting (download, upload); the step warns about them, or fails with fail-on-error. */
  readonly problems: readonly string[]
}

/**
 * Brings the workspace's evidence home and completes the layout: workspace/ files,
 * junit/ (always at least one report), logs/command.log and meta.json; then
 * uploads the artifact and writes the job summary.
 */
export async function collectStep(stepCtx: StepContext, settings: CollectSettings): Promise<CollectResult> {
  const { store } = stepCtx
  if (settings.githubToken) stepCtx.reporter.setSecret(settings.githubToken)
  store.secrets.add([settings.githubToken])
  // Collect never sees the secrets of earlier steps: it redacts with their digests
  // everything it publishes (files, summary, check run, annotations, outputs).
  const redactor = store.secrets.redactor()
  const ctx = { ...stepCtx, reporter: redactingReporter(stepCtx.reporter, redactor) }
  const { reporter } = ctx
  const started = Date.now()
  const state = loadStateOrPlaceholder(ctx, settings.workspaceName)
  const problems: string[] = []
  const evidence = { files: 0, bytes: 0, skipped: [] as string[] }
  const workspaceDir = path.join(state.evidenceDir, 'workspace')
  mkdirSync(path.join(state.evidenceDir, 'logs'), { recursive: true })
  const logFile = path.join(state.evidenceDir, 'logs', 'command.log')
  if (!existsSync(logFile)) writeFileSync(logFile, '')

  await reporter.group('Collect evidence', async () => {
    if (state.cleanup?.done && !state.cleanup.kept) {
      reporter.info('The workspace was deleted before collect: there is no workspace evidence to copy.')
    } else if (state.handle?.readyAt) {
      const remote =
        settings.evidencePath || state.run?.evidencePath || state.contract?.evidencePath || DEFAULT_EVIDENCE_PATH
      try {
        const provider = await providerForConnection(state.connection, state.handle.target, (line) =>
          reporter.info(line),
        )
        const handle = state.handle
        const result = await provider
          .download(handle, remote, workspaceDir, { maxBytes: settings.maxEvidenceBytes }, ctx.signal)
          .finally(() => provider.close())
        Object.assign(evidence, { files: result.files, bytes: result.bytes, skipped: [...result.skipped] })
        reporter.info(
          result.found
            ? `Copied ${result.files} files (${result.bytes} bytes) from ${remote}`
            : `The workspace has no evidence directory ${remote}`,
        )
        for (const skipped of result.skipped) reporter.warning(`Evidence entry skipped: ${skipped}`)
      } catch (error) {
        problems.push(`downloading evidence failed: ${errorMessage(error)}`)
        state.collectError = evidenceCopyError(error, workspaceDir)
      }
    } else {
      reporter.info('The workspace was never ready: there is no workspace evidence to copy.')
    }
  })

  redactEvidence(reporter, state.evidenceDir, redactor)
  // The contract's report patterns are looked for as well as the step's.
  const patterns = [...new Set([...settings.junitPatterns, ...(state.contract?.junitPatterns ?? [])])]
  const results = await gatherJunit(state, workspaceDir, patterns, redactor)
  problems.push(...results.problems)
  let artifactId = ''
  recordTiming(state, 'collect', started)
  const meta = (): EvidenceMeta => buildMeta(state, results.counts, { ...evidence, problems }, artifactId)
  writeMeta(state.evidenceDir, meta(), redactor)
  if (settings.upload && canUploadArtifacts(ctx.env)) {
    const name = settings.artifactName || `run-task-${state.workspaceName}`
    try {
      artifactId = await uploadEvidence(name, state.evidenceDir, settings.retentionDays)
      reporter.info(`Uploaded the evidence as artifact ${name} (id ${artifactId})`)
    } catch (error) {
      problems.push(`uploading artifact ${name} failed: ${errorMessage(error)}`)
    }
  } else if (settings.upload) {
    reporter.info('Not running in GitHub Actions with an artifact token: the evidence stays on disk.')
  }
  state.artifactId = artifactId
  store.save(state)
  const final = meta()
  writeMeta(state.evidenceDir, final, redactor)
  for (const problem of problems) reporter.warning(problem)
  const repoRoot = ctx.env.GITHUB_WORKSPACE
  const summary = redactor.redact(
    renderSummary({
      meta: final,
      cases: results.cases,
      artifactUrl: artifactUrl(ctx.env, artifactId),
      repoRoot,
      notes: results.notes,
    }),
  )
  await reporter.summary(summary)
  annotateTests(reporter, results.cases, repoRoot, results.counts)
  if (settings.checkName && settings.githubToken) {
    const check = await publishCheckRun({
      token: settings.githubToken,
      name: settings.checkName,
      env: ctx.env,
      meta: final,
      cases: results.cases,
      summaryMarkdown: summary,
      repoRoot,
    })
    if ('warning' in check) reporter.warning(check.warning)
    else {
      reporter.info(`Published check run '${settings.checkName}' (${check.url || check.id})`)
      reporter.setOutput('check-run-id', String(check.id))
    }
  }
  setOutputs(ctx, final, state.evidenceDir, results)
  reporter.info(`Evidence: ${state.evidenceDir}`)
  return { meta: final, evidenceDir: state.evidenceDir, problems }
}

/**
 * Copies the reports that match the patterns into junit/ and reads them. A run
 * whose reports do not explain its outcome (none at all, or a failed or error run
 * whose reports show no failure) gets a synthesised report for the run itself.
 */
async function gatherJunit(
  state: RunState,
  workspaceDir: string,
  patterns: readonly string[],
  redactor: TextRedactor,
): Promise<TestResults> {
  const junitDir = path.join(state.evidenceDir, 'junit')
  const copied = [
    ...(state.runnerReports ?? []),
    ...copyFlat(workspaceDir, matchFiles(workspaceDir, patterns), junitDir),
  ]
  const found = await readReports(junitDir, copied)
  const { outcome, error } = outcomeOf(state)
  const explained = copied.length > 0 && (outcome === 'passed' || found.counts.failed + found.counts.errored > 0)
  if (explained) return found
  const message =
    outcome === 'failed'
      ? `The command exited with ${exitDescription(state.run?.exitCode ?? null, state.run?.signal)}${copied.length ? ', but its reports show no failing test' : ' and wrote no JUnit report'}.`
      : outcome === 'error'
        ? (error?.message ?? 'Infrastructure error.')
        : 'The command passed and wrote no JUnit report.'
  const xml = synthesizeJunit({
    outcome,
    command: state.run?.command ?? '(not run)',
    exitCode: state.run?.exitCode ?? null,
    durationMs: state.run?.durationMs ?? 0,
    message,
    outputTail: state.run?.outputTail ?? '',
    diagnostics: error?.diagnostics ?? [],
  })
  mkdirSync(junitDir, { recursive: true })
  const name = uniqueName(junitDir, 'run-task.xml')
  writeFileSync(path.join(junitDir, name), redactor.redact(xml))
  return readReports(junitDir, [...copied, name])
}

function uniqueName(dir: string, name: string): string {
  const taken = new Set(listFiles(dir))
  if (!taken.has(name)) return name
  for (let i = 2; ; i++) if (!taken.has(`run-task-${i}.xml`)) return `run-task-${i}.xml`
}

/** Writes meta.json (also used by cleanup to add its timing). */
export function writeMeta(evidenceDir: string, meta: EvidenceMeta, redactor?: TextRedactor): void {
  const text = `${JSON.stringify(meta, null, 2)}\n`
  writeFileSync(path.join(evidenceDir, 'meta.json'), redactor ? redactor.redact(text) : text)
}

/** Masks secrets in every evidence file before anything reads, summarises or uploads them. */
function redactEvidence(reporter: StepContext['reporter'], evidenceDir: string, redactor: DigestRedactor): void {
  if (redactor.empty) return
  const masked = listFiles(evidenceDir).filter((file) => redactor.redactFile(path.join(evidenceDir, file)))
  if (masked.length > 0)
    reporter.info(`Masked secrets in ${masked.length} evidence files: ${masked.slice(0, 10).join(', ')}`)
}

function artifactUrl(env: NodeJS.ProcessEnv, artifactId: string): string {
  const { repository, serverUrl } = runContext(env)
  if (!artifactId || !repository || !env.GITHUB_RUN_ID) return ''
  return `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${artifactId}`
}

const FAILED_TESTS_SHOWN = 50

function setOutputs(ctx: StepContext, meta: EvidenceMeta, evidenceDir: string, results: TestResults): void {
  const r = ctx.reporter
  const t = meta.tests
  r.setOutput('outcome', meta.outcome)
  r.setOutput('exit-code', meta.exitCode === null ? '' : String(meta.exitCode))
  r.setOutput('tests-total', t.total)
  r.setOutput('tests-passed', t.passed)
  r.setOutput('tests-failed', t.failed + t.errored)
  r.setOutput('tests-skipped', t.skipped)
  r.setOutput('tests-flaky', t.flaky)
  const failed = results.cases.filter((c) => c.status === 'failed' || c.status === 'error').map(caseTitle)
  const shown = failed.slice(0, FAILED_TESTS_SHOWN).map((title) => title.slice(0, 200))
  const failedTotal = Math.max(failed.length, t.failed + t.errored)
  r.setOutput(
    'failed-tests',
    [...shown, ...(failedTotal > shown.length ? [`… and ${failedTotal - shown.length} more`] : [])].join('\n'),
  )
  r.setOutput('evidence-dir', evidenceDir)
  r.setOutput('artifact-id', meta.artifactId)
  r.setOutput(
    'duration-ms',
    Object.values(meta.timings).reduce((sum, timing) => sum + (timing?.durationMs ?? 0), 0),
  )
}

/**
 * The state to collect for. When no workspace was ever provisioned (provision
 * failed on its inputs), a placeholder stands in, so the job still gets evidence
 * with a JUnit report that says why nothing ran.
 */
function loadStateOrPlaceholder(ctx: StepContext, requested: string): RunState {
  try {
    return loadState(ctx.store, requested)
  } catch (error) {
    if (!(error instanceof InputError) || requested) throw error
    const name = 'no-workspace'
    return {
      version: 1,
      workspaceName: name,
      identity: identityFromEnv(ctx.env),
      connection: { provider: 'che', reason: '', namespace: '', kubeconfigFile: '', source: '' },
      evidenceDir: path.join(ctx.store.workspaceDir(name), 'evidence'),
      provisionError: {
        phase: 'provision',
        kind: 'input',
        message:
          'No workspace was provisioned in this job: provision-workspace failed before creating one, or did not run.',
        diagnostics: [],
      },
      timings: {},
    }
  }
}

/**
 * issue 15: the error a broken evidence copy records. A runner whose disk filled up loses the partial copy, so
 * meta.json, the JUnit report and the outputs can still be written; a dropped stream keeps what arrived.
 */
function evidenceCopyError(error: unknown, workspaceDir: string): RecordedError {
  const diskFull = (error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC' || /ENOSPC/.test(errorMessage(error))
  if (diskFull) rmSync(workspaceDir, { recursive: true, force: true })
  const message = diskFull
    ? `The runner's disk is full: copying the evidence failed (${errorMessage(error)}); the partial copy was removed to make room for meta.json and the report.`
    : `Copying the evidence failed: ${errorMessage(error)}`
  return { phase: 'collect', kind: 'evidence', message, diagnostics: [] }
}
