/**
 * `npm run bench`: speed and memory of both providers' hot paths and the smoke
 * check against the simulators on loopback. Figures are printed, never asserted.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { renderSummary } from '../src/shared/evidence/summary.js'
import { readReports } from '../src/shared/evidence/test-results.js'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { Redactor, redactingStream } from '../src/shared/redact.js'
import { smokeFlow } from '../src/shared/flows/smoke.js'
import { consoleReporter } from '../src/shared/reporter.js'
import { getSmokeSettings } from '../src/shared/settings/smoke-settings.js'
import { StateStore } from '../src/shared/state.js'
import { cheProvider, execText, provisioned, startKubeSim } from '../test/che/fixture.js'
import { evidenceMeta } from '../test/harness/evidence-meta.js'
import { coderProvider, provisioned as provisionedOnCoder, startCoderSim } from '../test/coder/fixture.js'

interface Row {
  readonly name: string
  readonly value: string
}

const rows: Row[] = []
let peakRss = 0
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now()
  const value = await fn()
  return [value, performance.now() - started]
}

const sim = await startKubeSim({ stepDelayMs: 10 })
try {
  const provider = cheProvider(sim)

  const runs = 5
  let total = 0
  for (let i = 0; i < runs; i++) {
    const [handle, ms] = await timed(() => provisioned(provider))
    total += ms
    await provider.destroy(handle, 10_000)
  }
  rows.push({
    name: `provision to ready (sim, 10 ms controller steps, mean of ${runs})`,
    value: `${(total / runs).toFixed(0)} ms`,
  })

  sim.faults.failStart = {
    eventReason: 'FailedScheduling',
    eventMessage: '0/1 nodes are available: 1 Insufficient cpu.',
  }
  const [, failMs] = await timed(() => provisioned(provider, 15 * 60_000).catch(() => undefined))
  rows.push({ name: 'a Failed start reported (start-timeout 15m)', value: `${failMs.toFixed(0)} ms` })

  const handle = await provisioned(provider)
  const [, nullMs] = await timed(() => execText(provider, handle, 'true'))
  rows.push({ name: 'exec round trip of `true`', value: `${nullMs.toFixed(0)} ms` })

  const size = 50 * 1024 * 1024
  const before = process.memoryUsage().rss
  peakRss = before
  let received = 0
  const counter = new Writable({
    write(chunk: Buffer, _e, cb) {
      received += chunk.length
      cb()
    },
  })
  const [, streamMs] = await timed(() =>
    provider.exec(
      handle,
      { command: `head -c ${size} /dev/zero | tr '\\0' a`, cwd: '', env: new Map(), timeoutMs: 120_000 },
      { stdout: counter, stderr: counter },
    ),
  )
  rows.push({
    name: `stream ${mb(size)} of output through exec`,
    value: `${(received / 1024 / 1024 / (streamMs / 1000)).toFixed(0)} MiB/s; RSS +${mb(peakRss - before)} at peak`,
  })

  const redactor = new Redactor()
  redactor.add('s3cr3t-value-0123456789')
  const line = `${'x'.repeat(100)} s3cr3t-value-0123456789 ${'y'.repeat(100)}\n`
  const redacting = redactingStream(redactor, () => undefined)
  const [, redactMs] = await timed(async () => {
    for (let i = 0; i < 200_000; i++) redacting.write(line)
    await new Promise<void>((resolve) => redacting.end(resolve))
  })
  rows.push({
    name: `redact ${mb(line.length * 200_000)} of output (1 secret)`,
    value: `${((line.length * 200_000) / 1024 / 1024 / (redactMs / 1000)).toFixed(0)} MiB/s`,
  })

  await execText(
    provider,
    handle,
    'd="$PROJECTS_ROOT/ev"; mkdir -p "$d"; for i in $(seq 1 200); do head -c 102400 /dev/urandom > "$d/f$i.bin"; done',
  )
  const local = mkdtempSync(path.join(tmpdir(), 'bench-ev-'))
  const [result, downloadMs] = await timed(() => provider.download(handle, 'ev', local, { maxBytes: 1024 ** 3 }))
  rows.push({
    name: `download evidence: ${result.files} files, ${mb(result.bytes)} as one tar`,
    value: `${downloadMs.toFixed(0)} ms`,
  })
  rmSync(local, { recursive: true, force: true })
  await provider.destroy(handle, 10_000)
} finally {
  await sim.close()
}

const coder = await startCoderSim({ stepMs: 10 })
try {
  const provider = coderProvider(coder)
  const [handle, provisionMs] = await timed(() => provisionedOnCoder(provider))
  rows.push({ name: 'Coder: provision to a ready agent (sim, 10 ms steps)', value: `${provisionMs.toFixed(0)} ms` })
  const [, firstMs] = await timed(() => execText(provider, handle, 'true'))
  const [, nextMs] = await timed(() => execText(provider, handle, 'true'))
  rows.push({
    name: 'Coder: exec of `true` (first: CLI download; then: cached CLI)',
    value: `${firstMs.toFixed(0)} ms / ${nextMs.toFixed(0)} ms`,
  })
  const size = 50 * 1024 * 1024
  let received = 0
  const counter = new Writable({
    write(chunk: Buffer, _e, cb) {
      received += chunk.length
      cb()
    },
  })
  const before = process.memoryUsage().rss
  peakRss = before
  const [, streamMs] = await timed(() =>
    provider.exec(
      handle,
      { command: `head -c ${size} /dev/zero`, cwd: '', env: new Map(), timeoutMs: 120_000 },
      { stdout: counter, stderr: counter },
    ),
  )
  rows.push({
    name: `Coder: stream ${mb(size)} of output over SSH (tunnel + ssh2)`,
    value: `${(received / 1024 / 1024 / (streamMs / 1000)).toFixed(0)} MiB/s; RSS +${mb(peakRss - before)} at peak`,
  })
  await provider.destroy(handle, 10_000)
} finally {
  await coder.close()
}

const junitDir = mkdtempSync(path.join(tmpdir(), 'bench-junit-'))
try {
  const cases = Array.from({ length: 100_000 }, (_, i) =>
    i % 10 === 0
      ? `<testcase classname="pkg.Suite${i % 97}" name="case ${i}" file="src/t${i % 500}.test.ts" line="${i % 300}" time="0.${i % 1000}"><failure message="expected ${i}">stack of ${i}</failure></testcase>`
      : `<testcase classname="pkg.Suite${i % 97}" name="case ${i}" time="0.001"/>`,
  )
  writeFileSync(
    path.join(junitDir, 'big.xml'),
    `<?xml version="1.0"?><testsuites><testsuite name="big">${cases.join('')}</testsuite></testsuites>`,
  )
  const bytes = statSync(path.join(junitDir, 'big.xml')).size
  const before = process.memoryUsage().rss
  peakRss = before
  const [results, parseMs] = await timed(() => readReports(junitDir, ['big.xml']))
  rows.push({
    name: `parse a JUnit report of 100,000 cases (${mb(bytes)})`,
    value: `${parseMs.toFixed(0)} ms; RSS +${mb(peakRss - before)} at peak`,
  })
  const meta = evidenceMeta('failed', results.counts)
  const [summary, summaryMs] = await timed(async () => renderSummary({ meta, cases: results.cases, artifactUrl: '' }))
  rows.push({
    name: 'summarise 100,000 cases (10,000 failed)',
    value: `${summaryMs.toFixed(0)} ms; ${mb(Buffer.byteLength(summary))} of markdown`,
  })
} finally {
  rmSync(junitDir, { recursive: true, force: true })
}

// The smoke check end to end (seven checks, a stop and a start) on each simulator.
const silent = new Writable({ write: (_c, _e, cb) => cb() })
async function smokeOnce(inputs: Record<string, string>): Promise<[string, number]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-smoke-'))
  try {
    const ctx = {
      reporter: consoleReporter({ out: silent }),
      store: new StateStore(dir),
      env: { RUNNER_TOOL_CACHE: dir },
      signal: new AbortController().signal,
    }
    const [result, ms] = await timed(() =>
      smokeFlow(
        ctx,
        getSmokeSettings((name) => inputs[name] ?? '', ctx.env, dir),
      ),
    )
    return [result.checks.map((c) => c.status[0]).join(''), ms]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const smokeKube = await startKubeSim({ stepDelayMs: 10 })
const smokeCoder = await startCoderSim({ stepMs: 10 })
try {
  smokeKube.addEditor('ci', 'che-code')
  const devfile =
    'schemaVersion: 2.2.0\nmetadata:\n  name: bench\nprojects:\n  - name: app\n    git:\n      remotes:\n        origin: https://example.com/app.git\ncomponents:\n  - name: dev\n    container:\n      image: quay.io/devfile/universal-developer-image:ubi9-latest\n'
  const [cheChecks, cheMs] = await smokeOnce({
    provider: 'che',
    kubeconfig: smokeKube.kubeconfig,
    namespace: 'ci',
    devfile,
    editor: 'che-code',
    'storage-type': 'per-workspace',
    tools: 'git',
    upload: 'false',
  })
  rows.push({
    name: `smoke check on Che, every check incl. stop/start (sim, 10 ms steps) [${cheChecks}]`,
    value: `${cheMs.toFixed(0)} ms`,
  })
  const [coderChecks, coderMs] = await smokeOnce({
    provider: 'coder',
    'coder-url': smokeCoder.url,
    'coder-token': smokeCoder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
    tools: 'git',
    'checkout-path': '.',
    upload: 'false',
  })
  rows.push({
    name: `smoke check on Coder, every check incl. stop/start (sim, 10 ms steps) [${coderChecks}]`,
    value: `${coderMs.toFixed(0)} ms`,
  })
} finally {
  await smokeKube.close()
  await smokeCoder.close()
}

clearInterval(sampler)
rows.push({ name: 'peak RSS of the whole benchmark', value: mb(peakRss) })
const width = Math.max(...rows.map((r) => r.name.length))
for (const row of rows) console.log(`${row.name.padEnd(width)}  ${row.value}`)
