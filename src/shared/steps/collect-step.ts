import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { errorMessage } from '../errors.js'
import { canUploadArtifacts, uploadEvidence } from '../evidence/artifact.js'
import { copyFlat, listFiles, matchFiles } from '../evidence/evidence-files.js'
import { addCounts, countJunit, NO_TESTS, synthesizeJunit, type TestCounts } from '../evidence/junit.js'
import { buildMeta, type EvidenceMeta, outcomeOf } from '../evidence/meta.js'
import { renderSummary } from '../evidence/summary.js'
import { providerForConnection } from '../provider-factory.js'
import type { CollectSettings } from '../settings/collect-settings.js'
import { DEFAULT_EVIDENCE_PATH } from '../settings/run-settings.js'
import { recordTiming, type RunState } from '../state.js'
import { identityFromEnv } from '../identity.js'
import { InputError } from '../errors.js'
import { loadState, type StepContext } from './step-context.js'

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
export async function collectStep(ctx: StepContext, settings: CollectSettings): Promise<CollectResult> {
  const { reporter, store } = ctx
  const started = Date.now()
  const state = loadStateOrPlaceholder(ctx, settings.workspaceName)
  const problems: string[] = []
  const evidence = { files: 0, bytes: 0, skipped: [] as string[] }
  const workspaceDir = path.join(state.evidenceDir, 'workspace')
  mkdirSync(path.join(state.evidenceDir, 'logs'), { recursive: true })
  const logFile = path.join(state.evidenceDir, 'logs', 'command.log')
  if (!existsSync(logFile)) writeFileSync(logFile, '')

  await reporter.group('Collect evidence', async () => {
    if (state.handle?.readyAt) {
      const remote = settings.evidencePath || state.run?.evidencePath || DEFAULT_EVIDENCE_PATH
      try {
        const provider = providerForConnection(state.connection, state.handle.target)
        const result = await provider.download(state.handle, remote, workspaceDir, { maxBytes: settings.maxEvidenceBytes }, ctx.signal)
        Object.assign(evidence, { files: result.files, bytes: result.bytes, skipped: [...result.skipped] })
        reporter.info(result.found ? `Copied ${result.files} files (${result.bytes} bytes) from ${remote}` : `The workspace has no evidence directory ${remote}`)
        for (const skipped of result.skipped) reporter.warning(`Evidence entry skipped: ${skipped}`)
      } catch (error) {
        problems.push(`downloading evidence failed: ${errorMessage(error)}`)
      }
    } else {
      reporter.info('The workspace was never ready: there is no workspace evidence to copy.')
    }
  })

  const tests = gatherJunit(state, workspaceDir, settings.junitPatterns, problems)
  let artifactId = ''
  recordTiming(state, 'collect', started)
  const meta = (): EvidenceMeta => buildMeta(state, tests, { ...evidence, problems }, artifactId)
  writeMeta(state.evidenceDir, meta())
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
  writeMeta(state.evidenceDir, final)
  for (const problem of problems) reporter.warning(problem)
  await reporter.summary(renderSummary(final, artifactUrl(ctx.env, artifactId)))
  setOutputs(ctx, final, state.evidenceDir)
  reporter.info(`Evidence: ${state.evidenceDir}`)
  return { meta: final, evidenceDir: state.evidenceDir, problems }
}

/**
 * Copies the reports that match the patterns into junit/ and counts them. A run
 * whose reports do not explain its outcome (none at all, or a failed or error run
 * whose reports show no failure) gets a synthesised report for the run itself.
 */
function gatherJunit(state: RunState, workspaceDir: string, patterns: readonly string[], problems: string[]): TestCounts {
  const junitDir = path.join(state.evidenceDir, 'junit')
  const copied = copyFlat(workspaceDir, matchFiles(workspaceDir, patterns), junitDir)
  let counts = NO_TESTS
  for (const file of copied) {
    const result = countJunit(readFileSync(path.join(junitDir, file), 'utf8'))
    if ('problem' in result) {
      problems.push(`junit/${file}: ${result.problem}`)
      counts = addCounts(counts, { total: 1, failed: 0, errored: 1, skipped: 0 })
    } else counts = addCounts(counts, result.counts)
  }
  const { outcome, error } = outcomeOf(state)
  const explained = copied.length > 0 && (outcome === 'passed' || counts.failed + counts.errored > 0)
  if (explained) return counts
  const message =
    outcome === 'failed'
      ? `The command exited with code ${state.run?.exitCode}${copied.length ? ', but its reports show no failing test' : ' and wrote no JUnit report'}.`
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
  writeFileSync(path.join(junitDir, uniqueName(junitDir, 'run-task.xml')), xml)
  return addCounts(counts, { total: 1, failed: outcome === 'failed' ? 1 : 0, errored: outcome === 'error' ? 1 : 0, skipped: 0 })
}

function uniqueName(dir: string, name: string): string {
  const taken = new Set(listFiles(dir))
  if (!taken.has(name)) return name
  for (let i = 2; ; i++) if (!taken.has(`run-task-${i}.xml`)) return `run-task-${i}.xml`
}

/** Writes meta.json (also used by cleanup to add its timing). */
export function writeMeta(evidenceDir: string, meta: EvidenceMeta): void {
  writeFileSync(path.join(evidenceDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`)
}

function artifactUrl(env: NodeJS.ProcessEnv, artifactId: string): string {
  if (!artifactId || !env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return ''
  return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${artifactId}`
}

function setOutputs(ctx: StepContext, meta: EvidenceMeta, evidenceDir: string): void {
  const r = ctx.reporter
  r.setOutput('outcome', meta.outcome)
  r.setOutput('exit-code', meta.exitCode === null ? '' : String(meta.exitCode))
  r.setOutput('tests-total', meta.tests.total)
  r.setOutput('tests-failed', meta.tests.failed + meta.tests.errored)
  r.setOutput('tests-skipped', meta.tests.skipped)
  r.setOutput('evidence-dir', evidenceDir)
  r.setOutput('artifact-id', meta.artifactId)
  r.setOutput('duration-ms', Object.values(meta.timings).reduce((sum, t) => sum + (t?.durationMs ?? 0), 0))
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
      provisionError: { phase: 'provision', kind: 'input', message: 'No workspace was provisioned in this job: provision-workspace failed before creating one, or did not run.', diagnostics: [] },
      timings: {},
    }
  }
}
