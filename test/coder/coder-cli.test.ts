import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { RunTaskError } from '../../src/shared/errors.js'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { cliAsset, ensureCoderCli, sha1Hex } from '../../src/shared/providers/coder/coder-cli.js'
import { coderProvider, type CoderSim, FAST_RETRY, provisioned, startCoderSim } from './fixture.js'

/** What the deployment serves at /bin/<asset>, straight from the wire. */
async function served(sim: CoderSim): Promise<{ etag: string | null; bytes: Buffer }> {
  const res = await fetch(`${sim.url}/bin/${cliAsset()}`)
  return { etag: res.headers.get('etag'), bytes: Buffer.from(await res.arrayBuffer()) }
}

describe('Coder CLI: fetched from the deployment, verified against the hash coderd publishes', () => {
  let sim: CoderSim
  let twin: CoderSim
  let cache: string
  const client = (s: CoderSim) => createCoderClient({ url: s.url, token: s.token, retry: FAST_RETRY })
  before(async () => {
    sim = await startCoderSim({ stepMs: 5 })
    twin = await startCoderSim({ stepMs: 5 })
  })
  after(async () => {
    await sim.close()
    await twin.close()
  })
  const freshCache = (): string => (cache = mkdtempSync(path.join(tmpdir(), 'coder-cli-cache-')))
  after(() => rmSync(cache, { recursive: true, force: true }))

  it('the simulator serves the ETag as coderd does: the quoted SHA-1 hex of the file, 304 for a match', async () => {
    const { etag, bytes } = await served(sim)
    assert.equal(etag, `"${sha1Hex(bytes)}"`)
    const again = await fetch(`${sim.url}/bin/${cliAsset()}`, { headers: { 'If-None-Match': `"x", ${etag}` } })
    assert.equal(again.status, 304)
    assert.equal(again.headers.get('etag'), etag)
  })

  it('a binary whose bytes do not match the published hash is refused, not stored and not run', async () => {
    freshCache()
    sim.faults.cliTampered = true
    try {
      const error = await ensureCoderCli(client(sim), cache).then(
        () => assert.fail('a tampered CLI was accepted'),
        (e: unknown) => e,
      )
      assert.ok(RunTaskError.isInfrastructure(error), String(error))
      assert.match(String(error), /SHA-1 is [0-9a-f]{40}, but the deployment publishes [0-9a-f]{40}.*not stored or run/)
      assert.deepEqual(readdirRecursive(cache), [], 'nothing was cached')

      // Through the provider: the run ends with an infrastructure error and no command runs.
      const provider = coderProvider(sim)
      const handle = await provisioned(provider)
      const marker = path.join(cache, 'ran')
      const sink = new Writable({ write: (_c, _e, cb) => cb() })
      await assert.rejects(
        provider.exec(
          handle,
          { command: `touch '${marker}'`, cwd: '', env: new Map(), timeoutMs: 10_000 },
          { stdout: sink, stderr: sink },
        ),
        (e: unknown) => RunTaskError.isInfrastructure(e) && /publishes/.test(String(e)),
      )
      sim.faults.cliTampered = false
      await provider.destroy(handle, 10_000)
      assert.throws(() => readFileSync(marker), 'the command never ran')
    } finally {
      sim.faults.cliTampered = false
    }
  })

  it('a cached binary is re-verified: a changed copy is never run but fetched again', async () => {
    freshCache()
    const first = await ensureCoderCli(client(sim), cache)
    const { bytes } = await served(sim)
    assert.deepEqual(readFileSync(first), bytes)
    const requests = sim.requests.length
    assert.equal(await ensureCoderCli(client(sim), cache), first, 'a verified copy is reused')
    assert.deepEqual(sim.requests.slice(requests), [`GET /bin/${cliAsset()}`], 'one conditional request')

    writeFileSync(first, '#!/bin/sh\necho planted\n')
    const again = await ensureCoderCli(client(sim), cache)
    assert.deepEqual(readFileSync(again), bytes, 'the planted copy was replaced by the published file')
  })

  it('two deployments of the same version with different binaries do not share a cache entry', async () => {
    freshCache()
    const [a, b] = [await served(sim), await served(twin)]
    assert.notDeepEqual(a.bytes, b.bytes)
    const fromSim = await ensureCoderCli(client(sim), cache)
    const fromTwin = await ensureCoderCli(client(twin), cache)
    assert.notEqual(fromSim, fromTwin)
    assert.deepEqual(readFileSync(fromSim), a.bytes)
    assert.deepEqual(readFileSync(fromTwin), b.bytes)
  })
})

function readdirRecursive(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => !f.endsWith(path.sep))
}
