import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { ensureCoderCli } from '../../src/shared/providers/coder/coder-cli.js'
import { coderProvider, type CoderSim, provisioned, startCoderSim } from './fixture.js'

describe('Coder: the SSH tunnel command gets a minimal environment', () => {
  let sim: CoderSim
  let dir: string
  before(async () => {
    sim = await startCoderSim({ stepMs: 5 })
    dir = mkdtempSync(path.join(tmpdir(), 'tunnel-env-'))
  })
  after(async () => {
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('has the Coder URL and token, PATH and HOME, and none of the runner token, the inputs or GITHUB_TOKEN', async () => {
    const dump = path.join(dir, 'env.txt')
    const runnerSecrets = {
      ACTIONS_RUNTIME_TOKEN: 'runtime-canary',
      'INPUT_SECRET-ENV': 'API_TOKEN=input-canary',
      GITHUB_TOKEN: 'ghs_canary',
    }
    Object.assign(process.env, runnerSecrets)
    try {
      // A custom tunnel that records its environment, then runs the deployment's CLI.
      const cli = await ensureCoderCli(createCoderClient({ url: sim.url, token: sim.token }), dir)
      const provider = coderProvider(sim, {
        sshTunnelCommand: `env > '${dump}'; exec '${cli}' ssh --stdio {workspace}`,
      })
      const handle = await provisioned(provider)
      const sink = new Writable({ write: (_c, _e, cb) => cb() })
      const result = await provider.exec(
        handle,
        { command: 'true', cwd: '', env: new Map(), timeoutMs: 10_000 },
        { stdout: sink, stderr: sink },
      )
      assert.equal(result.exitCode, 0)
      await provider.destroy(handle, 10_000)
    } finally {
      for (const name of Object.keys(runnerSecrets)) delete process.env[name]
    }
    const seen = readFileSync(dump, 'utf8')
    assert.match(seen, /^CODER_SESSION_TOKEN=/m)
    assert.match(seen, /^PATH=/m)
    for (const leaked of ['runtime-canary', 'input-canary', 'ghs_canary']) assert.ok(!seen.includes(leaked), leaked)
  })
})
