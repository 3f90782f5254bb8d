import type { EvidenceMeta } from '../../src/shared/evidence/meta.js'
import type { TestCounts } from '../../src/shared/evidence/test-results.js'

/** A meta.json as collect-evidence writes it, for rendering summaries and check runs in tests and the benchmark. */
export function evidenceMeta(
  outcome: EvidenceMeta['outcome'],
  tests: TestCounts,
  extra: Partial<EvidenceMeta> = {},
): EvidenceMeta {
  return {
    schemaVersion: 1,
    provider: 'coder',
    providerReason: 'test',
    source: 'template ci-docker',
    workspace: { name: 'rt-1-1-abc', id: 'id', scope: 'ci-bot', target: 'main' },
    identity: { repository: 'o/r', runId: '1', runAttempt: '1', job: 'gate', matrixHash: 'x', sha: 'abc' },
    commit: 'abc',
    command: 'ameide test',
    workingDirectory: '',
    timings: { provision: { startedAt: '', durationMs: 12_000 }, run: { startedAt: '', durationMs: 90_000 } },
    exitCode: outcome === 'error' ? null : outcome === 'failed' ? 1 : 0,
    outcome,
    error:
      outcome === 'error'
        ? {
            phase: 'provision',
            kind: 'workspace-start',
            message: 'the start build failed: terraform apply failed',
            diagnostics: ['[error] Starting workspace: image not found'],
          }
        : null,
    tests,
    evidence: { files: 3, bytes: 100, skipped: [], problems: [] },
    artifactId: '',
    codexAuthSlot: null,
    podSecurity: null,
    ...extra,
  }
}
