/**
 * Coder: exec, output and evidence over SSH against the simulated coderd, each beside the
 * real OpenSSH client reaching the same simulated agent through the same tunnel command
 * (bench/openssh-ref.ts), measured alternately in the same run. The run and collect rows run
 * the committed dist/ steps as child processes, as a runner does, with their own peak memory.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { ensureCoderCli } from '../../src/shared/providers/coder/coder-cli.js'
import { shellQuote } from '../../src/shared/providers/ssh-connection.js'
import { execText } from '../../test/che/fixture.js'
import { coderProvider, provisioned } from '../../test/coder/fixture.js'
import { runActionStep } from '../../test/harness/action-runner.js'
import { type CoderJob, startCoderJob } from '../../test/harness/job.js'
import type { CoderSim } from '../../test/sim/coderd/server.js'
import { alternate, type BenchRow, timeRow } from '../lib.js'
import { opensshThrough } from '../openssh-ref.js'
import { smokeOnce } from './smoke.js'
import { collectMeasured, type MeasuredStep, runStepMeasured } from '../step-process.js'

const OUTPUT_BYTES = 200 * 1024 * 1024
/** 200 MiB of 100-byte lines, as a chatty test suite prints them. */
const OUTPUT_COMMAND = `yes 'ok 12345 - a test that passed, with its name and some detail about what it checked ......' | head -c ${OUTPUT_BYTES}`
const EVIDENCE_FILES = 2_000
const EVIDENCE_FILE_BYTES = 100_000

export async function benchCoder(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const job = await startCoderJob('7171', { stepMs: 10 })
  try {
    progress('exec rows')
    rows.push(...(await execRows(job.coder)))
    progress('smoke connections')
    rows.push(await smokeConnections(job.coder))
    progress('run and collect steps')
    rows.push(...(await stepRows(job)))
  } finally {
    await job.close()
  }
  return rows
}

const progress = (what: string): void => void process.stderr.write(`coder bench: ${what}\n`)

/** The tunnel command the toolkit runs for a workspace, with its environment. */
async function tunnelTo(coder: CoderSim, workspace: string, cache: string) {
  const cli = await ensureCoderCli(createCoderClient({ url: coder.url, token: coder.token }), cache)
  return {
    command: `${shellQuote(cli)} ssh --stdio --disable-autostart ${shellQuote(`ci-bot/${workspace}.main`)}`,
    env: { CODER_URL: coder.url, CODER_SESSION_TOKEN: coder.token, CODER_NO_VERSION_WARNING: 'true' },
  }
}

async function execRows(coder: CoderSim): Promise<BenchRow[]> {
  const cache = mkdtempSync(path.join(tmpdir(), 'bench-coder-cli-'))
  const provider = coderProvider(coder)
  const handle = await provisioned(provider)
  const tunnel = await tunnelTo(coder, handle.name, cache)
  const openssh = opensshThrough(tunnel.command, tunnel.env)
  try {
    await execText(provider, handle, 'true')
    await openssh.runShared('true')
    const open = await alternate(
      20,
      () => execText(provider, handle, 'true'),
      () => openssh.runShared('true'),
    )
    const first = await alternate(
      7,
      async () => {
        // A new provider is what a step starts with: /buildinfo, the tunnel process, the handshake, the exec.
        const fresh = coderProvider(coder)
        await execText(fresh, handle, 'true')
        await fresh.close()
      },
      () => openssh.run('true'),
    )
    return [
      timeRow(
        'Coder exec of `true` on an open connection',
        open.subjectMs,
        {
          name: 'OpenSSH ControlMaster, same tunnel and agent',
          ms: open.referenceMs,
        },
        2,
      ),
      timeRow(
        'first Coder exec of a step (connect, exec, close)',
        first.subjectMs,
        {
          name: 'fresh OpenSSH through the same tunnel command',
          ms: first.referenceMs,
        },
        1,
      ),
    ]
  } finally {
    await openssh.close()
    await provider.destroy(handle, 10_000)
    rmSync(cache, { recursive: true, force: true })
  }
}

/** SSH handshakes the simulated agents saw during one smoke run (checks, a stop and a start). */
async function smokeConnections(coder: CoderSim): Promise<BenchRow> {
  const before = coder.engine.sshHandshakes
  const [checks] = await smokeOnce({
    provider: 'coder',
    'coder-url': coder.url,
    'coder-token': coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
    tools: 'git',
    'checkout-path': '.',
    upload: 'false',
  })
  const connections = coder.engine.sshHandshakes - before
  return {
    figure: `SSH connections per Coder smoke run (${checks.length} checks, one stop/start) [${checks}]`,
    value: String(connections),
    reference: 'one per workspace start: 2',
    ratio: connections / 2,
    target: '≤ 2',
    met: connections <= 2,
  }
}

/** The run and collect steps (dist/, child processes) against OpenSSH through the same tunnel. */
async function stepRows(job: CoderJob): Promise<BenchRow[]> {
  const coder = job.coder
  const provision = await runActionStep('provision-workspace', {
    env: job.env,
    inputs: {
      provider: 'coder',
      'coder-url': coder.url,
      'coder-token': coder.token,
      template: 'ci-docker',
      parameters: 'repo_url: https://example.com/app.git',
    },
  })
  if (provision.code !== 0) throw new Error(`provision failed: ${provision.stdout}`)
  const workspace = provision.outputs['workspace-name'] as string
  const cache = mkdtempSync(path.join(tmpdir(), 'bench-coder-cli-'))
  const tunnel = await tunnelTo(coder, workspace, cache)
  const openssh = opensshThrough(tunnel.command, tunnel.env)
  const local = mkdtempSync(path.join(tmpdir(), 'bench-coder-tar-'))
  try {
    const runs: MeasuredStep[] = []
    const output = await alternate(
      3,
      async () => {
        const step = await runStepMeasured('run-task', job.env, { command: OUTPUT_COMMAND, timeout: '10m' })
        if (step.outputs.outcome !== 'passed')
          throw new Error(`the run step ended ${step.outputs.outcome ?? 'without an outcome'}: ${step.stderr}`)
        runs.push(step)
      },
      () => openssh.run(OUTPUT_COMMAND),
    )
    const outputPeak = Math.max(...runs.map((r) => r.peakMiB))
    const outputRow = timeRow(
      '200 MiB of output lines through the Coder run step (dist, child process)',
      output.subjectMs,
      { name: 'OpenSSH through the same tunnel', ms: output.referenceMs },
      1.3,
      outputPeak,
    )

    // Where collect looks: a relative evidence path is under $PROJECTS_ROOT, else $HOME (src/shared/providers/exec-script.ts).
    const evidence = '"$HOME/.run-task/evidence"'
    await openssh.run(
      `mkdir -p ${evidence}/files && cd ${evidence}/files && for i in $(seq ${EVIDENCE_FILES}); do head -c ${EVIDENCE_FILE_BYTES} /dev/urandom > f$i.bin; done`,
    )
    const collects: MeasuredStep[] = []
    const collect = await alternate(
      3,
      async () => void collects.push(await collectMeasured(job.env, EVIDENCE_FILES)),
      async () => {
        await openssh.run(`tar -C ${evidence} -cf - .`, { command: 'tar -xf -', cwd: local })
        rmSync(local, { recursive: true, force: true })
        mkdirSync(local)
      },
    )
    const evidenceRow = timeRow(
      `evidence, ${(EVIDENCE_FILES * EVIDENCE_FILE_BYTES) / 1e6} MB in ${EVIDENCE_FILES} files, Coder collect step (dist)`,
      collect.subjectMs,
      { name: 'OpenSSH `tar | tar` through the same tunnel', ms: collect.referenceMs },
      1.5,
      Math.max(...collects.map((c) => c.peakMiB)),
    )
    return [
      outputRow,
      peakRow('200 MiB of output, run step', outputPeak),
      evidenceRow,
      peakRow('evidence 200 MB, collect step', evidenceRow.peakMiB ?? 0),
    ]
  } finally {
    await openssh.close()
    await runActionStep('cleanup', { env: job.env })
    rmSync(cache, { recursive: true, force: true })
    rmSync(local, { recursive: true, force: true })
  }
}

function peakRow(what: string, peakMiB: number): BenchRow {
  return {
    figure: `peak memory: ${what}`,
    value: `${peakMiB.toFixed(0)} MiB`,
    target: '≤ 150 MiB',
    met: peakMiB <= 150,
    peakMiB,
  }
}
