/**
 * The output path: redaction throughput, and command output through the Che run step
 * as a runner runs it (the built bundle in a child process with INPUT_* variables),
 * against OpenSSH `ssh host cat` of the same file on a loopback sshd.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redactor, redactingStream } from '../../src/shared/redact.js'
import { runActionStep } from '../../test/harness/action-runner.js'
import { type SimulatedJob, startSimulatorProcess } from '../sim-process-client.js'
import { alternate, type BenchRow, mib, timed, timeRow } from '../lib.js'
import { runCounted, startSshd } from '../sshd.js'

const MiB = 1024 * 1024
const SECRET = 's3cr3t-value-0123456789'

export async function benchOutput(): Promise<BenchRow[]> {
  const rows = [await redactionRow(false), await redactionRow(true)]
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-output-'))
  const sshd = await startSshd()
  const sim = await startSimulatorProcess('che', '9090')
  const job = sim.job
  try {
    const lines = path.join(dir, 'lines.txt')
    await writeFile(lines, 200 * MiB, true)
    const small = path.join(dir, 'lines-64.txt')
    await writeFile(small, 64 * MiB, true)
    const oneLine = path.join(dir, 'one-line.txt')
    await writeFile(oneLine, 64 * MiB, false)
    const provision = await runActionStep('provision-workspace', { env: job.env, inputs: job.provisionInputs })
    if (provision.code !== 0) throw new Error(`provision failed: ${provision.stdout.slice(-2000)}`)

    const peaks: number[] = []
    const step = (file: string) => async () => peaks.push(await runStep(job, dir, file))
    const cat = (file: string) => async () => runCounted([...sshd.ssh, 'cat', file])
    const big = await alternate(3, step(lines), cat(lines))
    rows.push(
      timeRow(
        'Che run step: 200 MiB of output lines (built bundle, child process)',
        big.subjectMs,
        { name: 'OpenSSH `ssh host cat`', ms: big.referenceMs },
        1.5,
        Math.max(...peaks),
      ),
    )
    rows.push(peakRow('Che run step: 200 MiB of output lines, peak of the step process', Math.max(...peaks)))
    peaks.length = 0
    const linePeaks: number[] = []
    const noNewline = await alternate(3, step(oneLine), async () => linePeaks.push(await runStep(job, dir, small)))
    rows.push(
      timeRow(
        'Che run step: 64 MiB with no newline',
        noNewline.subjectMs,
        { name: 'the same bytes as lines', ms: noNewline.referenceMs },
        1.5,
        Math.max(...peaks),
      ),
    )
    rows.push(peakRow('Che run step: 64 MiB with no newline, peak of the step process', Math.max(...peaks)))
    await runActionStep('cleanup', { env: job.env })
  } finally {
    await sim.close()
    sshd.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

function peakRow(figure: string, peak: number): BenchRow {
  return { figure, value: `${peak.toFixed(0)} MiB`, target: '≤ 150 MiB peak', met: peak <= 150, peakMiB: peak }
}

/** One run step of `cat file`; returns the step process's peak RSS in MiB. */
async function runStep(job: SimulatedJob, dir: string, file: string): Promise<number> {
  const probe = path.join(dir, 'peak-probe.cjs')
  const rssFile = path.join(dir, 'peak-rss')
  writeFileSync(
    probe,
    // VmHWM, not maxRSS: getrusage's maxRSS survives execve and would include the bench's own peak.
    `process.on('exit', () => { const fs = require('node:fs'); fs.writeFileSync(${JSON.stringify(rssFile)}, /VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) })\n`,
  )
  const run = await runActionStep('run-task', {
    env: job.env,
    inputs: { command: `cat ${file}`, 'secret-env': `API_TOKEN=${SECRET}` },
    nodeArgs: ['--require', probe],
    countStdout: true,
  })
  if (run.outputs.outcome !== 'passed')
    throw new Error(`the run step ended ${run.outputs.outcome ?? 'without an outcome'}: ${run.stderr}`)
  return Number(readFileSync(rssFile, 'utf8')) / 1024
}

/** Output of `size` bytes, as 100-byte lines or as one line, with the secret now and then. */
async function writeFile(file: string, size: number, asLines: boolean): Promise<void> {
  const out = createWriteStream(file)
  const unit = `${'x'.repeat(70)} output ${SECRET}`.slice(0, 99) + (asLines ? '\n' : 'y')
  const block = unit.repeat(Math.floor(MiB / unit.length))
  let written = 0
  while (written < size) {
    const piece = block.slice(0, Math.min(block.length, size - written))
    written += piece.length
    if (!out.write(piece)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

async function redactionRow(oneLine: boolean): Promise<BenchRow> {
  const redactor = new Redactor()
  redactor.add(SECRET)
  const line = `${'x'.repeat(100)} ${SECRET} ${'y'.repeat(100)}${oneLine ? ' ' : '\n'}`
  const chunk = Buffer.from(line.repeat(Math.floor((64 * 1024) / line.length)))
  const count = Math.floor((200 * MiB) / chunk.length)
  const redacting = redactingStream(redactor, () => undefined)
  const [, ms] = await timed(async () => {
    for (let i = 0; i < count; i++) if (!redacting.write(chunk)) await once(redacting, 'drain')
    await new Promise<void>((resolve) => redacting.end(resolve))
  })
  const size = chunk.length * count
  return {
    figure: `redact ${mib(size).toFixed(0)} MiB in 64 KiB chunks, ${oneLine ? 'one line without newlines' : 'as lines'} (1 secret, 10 forms)`,
    value: `${(mib(size) / (ms / 1000)).toFixed(0)} MiB/s`,
  }
}
