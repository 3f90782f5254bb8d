import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import type { WorkspaceHandle, WorkspaceProvider } from '../../src/shared/provider.js'
import { cheProvider, type KubeSim, provisioned, startKubeSim } from './fixture.js'

const MiB = 1024 * 1024

/** A sink that takes one chunk per `delayMs` until `fast()` is called. */
function slowSink(delayMs: number): { stream: Writable; received: () => number; fast: () => void } {
  let received = 0
  let slow = true
  const stream = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _e, cb) {
      received += chunk.length
      if (slow) setTimeout(cb, delayMs)
      else cb()
    },
  })
  return { stream, received: () => received, fast: () => (slow = false) }
}

describe('Che exec: backpressure from a slow sink to the command', () => {
  let sim: KubeSim
  let provider: WorkspaceProvider
  let handle: WorkspaceHandle
  before(async () => {
    sim = await startKubeSim()
    provider = cheProvider(sim)
    handle = await provisioned(provider)
  })
  after(async () => {
    await provider.destroy(handle, 10_000)
    await sim.close()
  })

  it('pauses the exec stream while the output stream is full, so bytes in flight stay bounded', async () => {
    const size = 48 * MiB
    const out = slowSink(20)
    const readBefore = sim.execOutputBytesRead
    const run = provider.exec(
      handle,
      { command: `head -c ${size} /dev/zero`, cwd: '', env: new Map(), timeoutMs: 60_000 },
      { stdout: out.stream, stderr: out.stream },
    )
    let maxInFlight = 0
    for (let i = 0; i < 15; i++) {
      await delay(100)
      maxInFlight = Math.max(maxInFlight, sim.execOutputBytesRead - readBefore - out.received())
    }
    assert.ok(out.received() < size / 2, `the slow sink took ${out.received()} bytes`)
    assert.ok(
      maxInFlight < 16 * MiB,
      `the server read at most ${(maxInFlight / MiB).toFixed(1)} MiB more than the sink took`,
    )
    out.fast()
    const result = await run
    assert.equal(result.exitCode, 0)
    assert.equal(out.received(), size, 'every byte arrives once the sink speeds up')
  })
})
