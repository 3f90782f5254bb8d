/** The smoke check end to end (every check, a stop and a start) on each simulator. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { smokeFlow } from '../../src/shared/flows/smoke.js'
import { consoleReporter } from '../../src/shared/reporter.js'
import { getSmokeSettings } from '../../src/shared/settings/smoke-settings.js'
import { StateStore } from '../../src/shared/state.js'
import { startKubeSim } from '../../test/che/fixture.js'
import { startCoderSim } from '../../test/coder/fixture.js'
import { type BenchRow, fmtMs, timed } from '../lib.js'

const silent = new Writable({ write: (_c, _e, cb) => cb() })

/** One smoke run in this process; the checks' first letters and the time. */
export async function smokeOnce(inputs: Record<string, string>): Promise<[string, number]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-smoke-'))
  try {
    const ctx = {
      reporter: consoleReporter({ out: silent }),
      store: new StateStore(dir),
      env: { RUNNER_TOOL_CACHE: dir },
      signal: new AbortController().signal,
    }
    const [result, ms] = await timed(async () =>
      smokeFlow(ctx, await getSmokeSettings((name) => inputs[name] ?? '', ctx.env, dir)),
    )
    return [result.checks.map((c) => c.status[0]).join(''), ms]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchSmoke(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const kube = await startKubeSim({ stepDelayMs: 10 })
  const coder = await startCoderSim({ stepMs: 10 })
  try {
    kube.addEditor('ci', 'che-code')
    const devfile =
      'schemaVersion: 2.2.0\nmetadata:\n  name: bench\nprojects:\n  - name: app\n    git:\n      remotes:\n        origin: https://example.com/app.git\ncomponents:\n  - name: dev\n    container:\n      image: quay.io/devfile/universal-developer-image:ubi9-latest\n'
    const [cheChecks, cheMs] = await smokeOnce({
      provider: 'che',
      kubeconfig: kube.kubeconfig,
      namespace: 'ci',
      devfile,
      editor: 'che-code',
      'storage-type': 'per-workspace',
      tools: 'git',
      upload: 'false',
    })
    rows.push({ figure: `smoke check on Che, incl. stop/start (sim, 10 ms steps) [${cheChecks}]`, value: fmtMs(cheMs) })
    const [coderChecks, coderMs] = await smokeOnce({
      provider: 'coder',
      'coder-url': coder.url,
      'coder-token': coder.token,
      template: 'ci-docker',
      parameters: 'repo_url: https://example.com/app.git',
      tools: 'git',
      'checkout-path': '.',
      upload: 'false',
    })
    rows.push({
      figure: `smoke check on Coder, incl. stop/start (sim, 10 ms steps) [${coderChecks}]`,
      value: fmtMs(coderMs),
      reference: `smoke check on Che ${fmtMs(cheMs)}`,
      ratio: coderMs / cheMs,
      target: '≤ 1.5×',
      met: coderMs / cheMs <= 1.5,
    })
  } finally {
    await kube.close()
    await coder.close()
  }
  return rows
}
