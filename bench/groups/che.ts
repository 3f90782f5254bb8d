/** Che: provision, exec and evidence against the simulated cluster. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { cheProvider, execText, provisioned, startKubeSim } from '../../test/che/fixture.js'
import { spawn } from 'node:child_process'
import { runActionStep } from '../../test/harness/action-runner.js'
import { startSimulatorProcess } from '../sim-process-client.js'
import { alternate, type BenchRow, fmtMs, mib, rssSampler, timed, timeRow } from '../lib.js'
import { startSshd } from '../sshd.js'
import { collectMeasured, type MeasuredStep } from '../step-process.js'

export async function benchChe(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const memory = rssSampler()
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
    rows.push({ figure: `Che: provision to ready (sim, 10 ms steps, mean of ${runs})`, value: fmtMs(total / runs) })

    sim.faults.failStart = {
      eventReason: 'FailedScheduling',
      eventMessage: '0/1 nodes are available: 1 Insufficient cpu.',
    }
    const [, failMs] = await timed(() => provisioned(provider, 15 * 60_000).catch(() => undefined))
    rows.push({ figure: 'Che: a Failed start reported (start-timeout 15m)', value: fmtMs(failMs) })
    sim.faults.failStart = undefined

    const handle = await provisioned(provider)
    const [, nullMs] = await timed(() => execText(provider, handle, 'true'))
    rows.push({ figure: 'Che: exec round trip of `true`', value: fmtMs(nullMs) })

    const size = 50 * 1024 * 1024
    let received = 0
    const counter = new Writable({
      write(chunk: Buffer, _e, cb) {
        received += chunk.length
        cb()
      },
    })
    memory.start()
    const [, streamMs] = await timed(() =>
      provider.exec(
        handle,
        { command: `head -c ${size} /dev/zero | tr '\\0' a`, cwd: '', env: new Map(), timeoutMs: 120_000 },
        { stdout: counter, stderr: counter },
      ),
    )
    rows.push({
      figure: `Che: ${mib(size)} MiB of output through exec (provider only)`,
      value: `${(mib(received) / (streamMs / 1000)).toFixed(0)} MiB/s`,
      peakMiB: mib(memory.peak()),
    })

    await execText(
      provider,
      handle,
      'd="$PROJECTS_ROOT/ev"; mkdir -p "$d"; for i in $(seq 1 200); do head -c 102400 /dev/urandom > "$d/f$i.bin"; done',
    )
    const local = mkdtempSync(path.join(tmpdir(), 'bench-ev-'))
    try {
      const [result, downloadMs] = await timed(() => provider.download(handle, 'ev', local, { maxBytes: 1024 ** 3 }))
      rows.push({
        figure: `Che: download evidence, ${result.files} files, ${mib(result.bytes).toFixed(1)} MiB as one tar`,
        value: fmtMs(downloadMs),
      })
    } finally {
      rmSync(local, { recursive: true, force: true })
    }
    await provider.destroy(handle, 10_000)
  } finally {
    memory.stop()
    await sim.close()
  }
  rows.push(await collectStepRow())
  return rows
}

const EVIDENCE_FILES = 2_000
const EVIDENCE_FILE_BYTES = 100_000
const MAKE_EVIDENCE = `d="$RUN_TASK_EVIDENCE_DIR/files"; mkdir -p "$d" && cd "$RUN_TASK_EVIDENCE_DIR" && for i in $(seq ${EVIDENCE_FILES}); do head -c ${EVIDENCE_FILE_BYTES} /dev/urandom > "files/f$i.bin"; done; echo "EVIDENCE_AT=$(pwd)"`

/**
 * 200 MB in 2,000 files through the Che collect step (dist, a child process as the runner runs it, with its own
 * peak memory), against OpenSSH `ssh host tar -c | tar -x` of the same folder.
 */
async function collectStepRow(): Promise<BenchRow> {
  const sim = await startSimulatorProcess('che', '7272')
  const job = sim.job
  const sshd = await startSshd()
  const local = mkdtempSync(path.join(tmpdir(), 'bench-ev200-'))
  try {
    const provision = await runActionStep('provision-workspace', { env: job.env, inputs: job.provisionInputs })
    if (provision.code !== 0) throw new Error(`provision failed: ${provision.stdout}`)
    const made = await runActionStep('run-task', { env: job.env, inputs: { command: MAKE_EVIDENCE, timeout: '10m' } })
    const remote = /EVIDENCE_AT=(\/\S+)/.exec(made.stdout)?.[1] // the log also shows the command itself
    if (!remote) throw new Error(`the evidence was not written: ${made.stdout}`)
    let run = 0
    const collects: MeasuredStep[] = []
    const both = await alternate(
      3,
      async () => void collects.push(await collectMeasured(job.env, EVIDENCE_FILES)),
      () => sshTarTar(sshd.ssh, remote, path.join(local, String(run++))),
    )
    return timeRow(
      `Che: evidence, ${(EVIDENCE_FILES * EVIDENCE_FILE_BYTES) / 1e6} MB in ${EVIDENCE_FILES} files, collect step (dist)`,
      both.subjectMs,
      { name: 'OpenSSH `ssh host tar -c | tar -x`', ms: both.referenceMs },
      1.5,
      Math.max(...collects.map((c) => c.peakMiB)),
    )
  } finally {
    await runActionStep('cleanup', { env: job.env })
    sshd.close()
    rmSync(local, { recursive: true, force: true })
    await sim.close()
  }
}

function sshTarTar(ssh: readonly string[], remoteDir: string, localDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = `mkdir -p '${localDir}' && ${ssh.map((a) => `'${a}'`).join(' ')} tar -C '${remoteDir}' -cf - . | tar -C '${localDir}' -xf -`
    const child = spawn('sh', ['-c', script], { stdio: 'inherit' })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar | tar exited ${code ?? 'by a signal'}`)),
    )
  })
}
