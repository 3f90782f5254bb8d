/**
 * Renders sample job summaries (a failed run and an infrastructure error) to one
 * HTML page, as GitHub would show them, so a person can look at them:
 *   node --import tsx scripts/render-summary.ts out.html
 */
import { writeFileSync } from 'node:fs'
import { marked } from 'marked'
import type { TestCaseResult } from '../src/shared/evidence/junit-parser.js'
import type { EvidenceMeta } from '../src/shared/evidence/meta.js'
import { renderSummary } from '../src/shared/evidence/summary.js'
import { countCases } from '../src/shared/evidence/test-results.js'

const base = (outcome: EvidenceMeta['outcome'], cases: TestCaseResult[]): EvidenceMeta => ({
  schemaVersion: 1,
  provider: outcome === 'error' ? 'coder' : 'che',
  providerReason: 'sample',
  source: outcome === 'error' ? 'template ci-docker' : 'devfile.yaml',
  workspace: { name: 'rt-4242-1-9f3c2a', id: 'id', scope: outcome === 'error' ? 'ci-bot' : 'ci-che', target: 'dev' },
  identity: {
    repository: 'ameide/app',
    runId: '4242',
    runAttempt: '1',
    job: 'gate',
    matrixHash: 'ab12cd34',
    sha: 'deadbeef',
  },
  commit: 'deadbeef',
  command: 'ameide test',
  workingDirectory: '',
  timings:
    outcome === 'error'
      ? { provision: { startedAt: '', durationMs: 48_000 }, collect: { startedAt: '', durationMs: 900 } }
      : {
          provision: { startedAt: '', durationMs: 41_000 },
          run: { startedAt: '', durationMs: 312_000 },
          collect: { startedAt: '', durationMs: 2_100 },
          cleanup: { startedAt: '', durationMs: 11_000 },
        },
  exitCode: outcome === 'error' ? null : 1,
  outcome,
  error:
    outcome === 'error'
      ? {
          phase: 'provision',
          kind: 'workspace-start',
          message: 'Workspace ci-bot/rt-4242-1-9f3c2a: the start build failed: terraform apply failed: exit status 1',
          diagnostics: [
            '[info] Setting up: Provisioner daemon acquired the job',
            '[info] Planning infrastructure: terraform plan (start)',
            '[error] Starting workspace: Error: Unable to find image "ghcr.io/ameide/dev:latest" locally',
            '[error] Starting workspace: Error: pull access denied, repository does not exist or may require authorization',
          ],
        }
      : null,
  tests: countCases(cases),
  evidence: { files: 12, bytes: 48_213, skipped: [], problems: [] },
  artifactId: outcome === 'error' ? '' : '1187',
  codexAuthSlot: null,
  podSecurity: null,
})

const failing = (name: string, file: string, line: number, message: string, ms: number): TestCaseResult => ({
  reportFile: 'junit/pytest.xml',
  suite: 'pytest',
  classname: 'tests.api',
  name,
  file,
  line,
  durationMs: ms,
  status: 'failed',
  flaky: false,
  message,
})
const cases: TestCaseResult[] = [
  failing(
    'test_create_user',
    'tests/api/test_users.py',
    42,
    'AssertionError: assert 409 == 201 where 409 = <Response [409]>.status_code',
    840,
  ),
  failing('test_login_rate_limit', 'tests/api/test_auth.py', 118, 'TimeoutError: no response within 5s', 5_020),
  {
    ...failing('test_migrations', 'tests/db/test_schema.py', 9, 'psycopg.OperationalError: connection refused', 30),
    status: 'error',
  },
  ...Array.from({ length: 40 }, (_, i): TestCaseResult => ({
    reportFile: 'junit/pytest.xml',
    suite: 'pytest',
    classname: 'tests.unit',
    name: `test_case_${i}`,
    durationMs: (i * 137) % 3_000,
    status: i % 13 === 0 ? 'skipped' : 'passed',
    flaky: i === 7,
  })),
]

const page = `<!doctype html><html><head><meta charset="utf-8"><title>run-task job summaries</title>
<style>body{font:14px -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;max-width:980px;margin:24px auto;padding:0 16px}
section{border:1px solid #d1d9e0;border-radius:6px;padding:8px 24px 16px;margin-bottom:24px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d1d9e0;padding:4px 12px}th{background:#f6f8fa}code{background:#eff1f3;border-radius:4px;padding:1px 4px}
pre{background:#f6f8fa;padding:12px;border-radius:6px;overflow:auto}blockquote{border-left:4px solid #d1242f;margin:0;padding:0 12px;color:#59636e}
.label{font-size:12px;color:#59636e;text-transform:uppercase}</style></head><body>
<p class="label">Sample 1: the command ran and tests failed</p><section>${await marked.parse(renderSummary({ meta: base('failed', cases), cases, artifactUrl: 'https://github.com/ameide/app/actions/runs/4242/artifacts/1187' }))}</section>
<p class="label">Sample 2: infrastructure error (the workspace never started)</p><section>${await marked.parse(renderSummary({ meta: base('error', []), cases: [], artifactUrl: '' }))}</section>
</body></html>`
writeFileSync(process.argv[2] ?? 'summary.html', page)
