/** Che: provision, exec and evidence against the simulated cluster. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { cheProvider, execText, provisioned, startKubeSim } from '../../test/che/fixture.js'
import { type BenchRow, fmtMs, mib, rssSampler, timed } from '../lib.js'

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
  return rows
}
