/** Coder: provision, exec and output over SSH against the simulated coderd. */
import { Writable } from 'node:stream'
import { execText } from '../../test/che/fixture.js'
import { coderProvider, provisioned, startCoderSim } from '../../test/coder/fixture.js'
import { type BenchRow, fmtMs, mib, rssSampler, timed } from '../lib.js'

export async function benchCoder(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const memory = rssSampler()
  const coder = await startCoderSim({ stepMs: 10 })
  try {
    const provider = coderProvider(coder)
    const [handle, provisionMs] = await timed(() => provisioned(provider))
    rows.push({ figure: 'Coder: provision to a ready agent (sim, 10 ms steps)', value: fmtMs(provisionMs) })
    const [, firstMs] = await timed(() => execText(provider, handle, 'true'))
    const [, nextMs] = await timed(() => execText(provider, handle, 'true'))
    rows.push({ figure: 'Coder: first exec of `true` (CLI download)', value: fmtMs(firstMs) })
    rows.push({ figure: 'Coder: next exec of `true` (cached CLI)', value: fmtMs(nextMs) })
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
        { command: `head -c ${size} /dev/zero`, cwd: '', env: new Map(), timeoutMs: 120_000 },
        { stdout: counter, stderr: counter },
      ),
    )
    rows.push({
      figure: `Coder: ${mib(size)} MiB of output over SSH (provider only)`,
      value: `${(mib(received) / (streamMs / 1000)).toFixed(0)} MiB/s`,
      peakMiB: mib(memory.peak()),
    })
    await provider.destroy(handle, 10_000)
  } finally {
    memory.stop()
    await coder.close()
  }
  return rows
}
