import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import {
  CommandTimeoutError,
  ExecStreamError,
  InputError,
  ProviderRequestError,
  ProviderUnavailableError,
  WorkspaceStartError,
} from '../../src/shared/errors.js'
import { closedPort } from '../harness/ports.js'
import { noCoderFaults } from '../sim/coderd/faults.js'
import { execText } from '../che/fixture.js'
import { type CoderSim, coderProvider, provisioned, startCoderSim } from './fixture.js'

describe('Coder provider against the simulated coderd', () => {
  let sim: CoderSim
  before(async () => {
    sim = await startCoderSim({ stepMs: 5 })
  })
  afterEach(() => Object.assign(sim.faults, noCoderFaults()))
  after(async () => sim.close())

  it('creates from the template with parameters and ttl_ms, waits for a ready agent, and deletes', async () => {
    const provider = coderProvider(sim)
    const handle = await provisioned(provider)
    assert.equal(handle.target, 'main')
    assert.equal(handle.scope, 'ci-bot')
    const created = [...sim.engine.workspaces.values()].find((w) => w.name === handle.name)
    assert.equal(created?.ttl_ms, 2 * 3_600_000)
    assert.deepEqual(created?.parameters, [{ name: 'repo_url', value: 'https://example.com/app.git' }])
    assert.ok(
      sim.requests.some((r) => r === `GET /api/v2/workspaces/${handle.id}/watch`),
      'the build was followed through the SSE watch',
    )
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: true })
    assert.deepEqual(sim.workspaces(), [])
  })

  it('checks parameters before creating anything and lists every problem', async () => {
    const provider = coderProvider(sim, {
      parameters: new Map([
        ['region', 'mars'],
        ['cpu', '99'],
        ['colour', 'red'],
      ]),
    })
    const before = sim.requests.length
    await assert.rejects(provisioned(provider), (e: unknown) => {
      assert.ok(e instanceof InputError)
      assert.match(e.message, /Input 'parameters'/)
      for (const part of [
        /unknown parameter 'colour'/,
        /required parameter 'repo_url' is missing/,
        /'region' = "mars": expected one of eu, us/,
        /'cpu' = "99": expected at most 8/,
      ])
        assert.match(e.message, part)
      return true
    })
    assert.ok(!sim.requests.slice(before).some((r) => r.startsWith('POST')), 'no create request was sent')
  })

  it('reports an unknown template as bad input', async () => {
    await assert.rejects(
      provisioned(coderProvider(sim, { template: 'nope' })),
      (e: unknown) => e instanceof InputError && /Input 'template' has the value "nope"/.test(e.message),
    )
  })

  it('tells a token coderd does not accept (401, a login problem) before anything is created', async () => {
    const before = sim.requests.length
    const provider = coderProvider(sim, { token: 'expired-or-revoked-token' })
    await assert.rejects(provider.checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof ProviderRequestError && e.status === 401, String(e))
      assert.match(e.message, /\(HTTP 401\)\. coderd did not accept the token \(a login problem, not a permission\)/)
      return true
    })
    assert.ok(!sim.requests.slice(before).some((r) => r.startsWith('POST')), 'no create request was sent')
  })

  it('fails fast on an unreachable URL, naming it', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    await assert.rejects(
      provisioned(coderProvider(sim, { url })),
      (e: unknown) =>
        e instanceof ProviderUnavailableError &&
        e.message.includes(`coderd at ${url} could not be reached (ECONNREFUSED)`),
    )
  })

  it('ends the wait at once on a failed build, with the tail of the build logs', async () => {
    sim.faults.buildFails = {
      error: 'terraform apply failed: exit status 1',
      logs: ['Error: creating container: image "nope" not found'],
    }
    await assert.rejects(provisioned(coderProvider(sim), 15 * 60_000), (e: unknown) => {
      assert.ok(e instanceof WorkspaceStartError)
      assert.match(e.message, /the start build failed: terraform apply failed: exit status 1/)
      assert.ok(
        e.diagnostics.some((l) =>
          l.includes('[error] Starting workspace: Error: creating container: image "nope" not found'),
        ),
      )
      return true
    })
  })

  it('reports a build that stays pending with no matching provisioner when the start timeout ends', async () => {
    sim.faults.noProvisioner = true
    await assert.rejects(
      provisioned(coderProvider(sim), 1_000),
      /not ready within the start timeout .*no provisioner matches its tags \(matched_provisioners\.count is 0\)/,
    )
  })

  it('reports an agent that never connects when the start timeout ends', async () => {
    sim.faults.agentNeverConnects = true
    await assert.rejects(
      provisioned(coderProvider(sim), 1_000),
      /Agent main never connected: its connection timeout passed \(see https:\/\/coder\.com\/docs/,
    )
  })

  it('accepts an agent whose startup script failed (start_error), as coder ssh does', async () => {
    sim.faults.agentStartError = true
    sim.faults.startBlocksLogin = true
    const provider = coderProvider(sim)
    const warnings: string[] = []
    const handle = await provider.provision({
      name: `rt-start-error-${process.pid}`,
      identity: { repository: 'a/b', runId: '1', runAttempt: '1', job: 'j', matrixHash: 'x', sha: '' },
      startTimeoutMs: 10_000,
      onWarning: (w) => warnings.push(w),
    })
    assert.match(warnings.join('\n'), /Agent main of workspace .* is start_error: its startup scripts failed/)
    assert.equal((await execText(provider, handle, 'echo usable')).stdout, 'usable\n')
    await provider.destroy(handle, 5_000)
  })

  it('retries 429 (honouring Retry-After) and 5xx', async () => {
    sim.faults.rateLimited = 1
    sim.faults.serverErrors = 2
    const started = Date.now()
    const provider = coderProvider(sim)
    const handle = await provisioned(provider)
    assert.ok(Date.now() - started >= 900, 'waited for Retry-After: 1')
    await provider.destroy(handle, 5_000)
  })

  it('opens the SSH tunnel again when coderd rate limited the coder CLI (429), and only then', async () => {
    // coderd rate limits the CLI's own calls too, and the CLI gives up on a 429 (the load test found it).
    const provider = coderProvider(sim)
    const handle = await provisioned(provider)
    try {
      const throttled = {
        match: /^GET \/api\/v2\/workspaceagents\/[^/]+\/sim-ssh$/,
        kind: 'status' as const,
        status: 429,
        count: 2,
      }
      sim.faults.requestFaults.push(throttled)
      const started = Date.now()
      assert.equal((await execText(provider, handle, 'echo through')).stdout, 'through\n')
      assert.equal(throttled.count, 0, 'the CLI was turned away twice')
      assert.ok(Date.now() - started >= 2_000, "each try waited for coderd's shortest Retry-After (1 s)")
    } finally {
      await provider.close()
      await provider.destroy(handle, 5_000)
    }
  })

  it('falls back to polling when the watch stream is not available', async () => {
    sim.faults.watchUnavailable = true
    const provider = coderProvider(sim)
    const handle = await provisioned(provider)
    assert.ok(sim.requests.filter((r) => r === `GET /api/v2/workspaces/${handle.id}`).length > 0)
    await provider.destroy(handle, 5_000)
  })

  it('deletes a workspace whose start build is still running (409 → cancel → delete)', async () => {
    sim.faults.slowStartMs = 2_000
    const provider = coderProvider(sim)
    let created: { id: string; name: string } | undefined
    const start = provider
      .provision({
        name: `rt-busy-${process.pid}`,
        identity: { repository: 'a/b', runId: '1', runAttempt: '1', job: 'j', matrixHash: 'x', sha: '' },
        startTimeoutMs: 10_000,
        onCreated: (h) => void (created = h),
      })
      .catch(() => undefined)
    while (!created) await new Promise((r) => setTimeout(r, 5))
    const workspace = sim.engine.workspaces.get(created.id)
    assert.ok(workspace)
    const handle = {
      provider: 'coder' as const,
      name: created.name,
      id: created.id,
      scope: 'ci-bot',
      target: '',
      createdAt: '',
    }
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })
    assert.ok(
      sim.requests.some((r) => /^PATCH \/api\/v2\/workspacebuilds\/.*\/cancel$/.test(r)) ||
        workspace.builds.length >= 2,
    )
    await start
    assert.deepEqual(
      sim.workspaces().filter((n) => n === handle.name),
      [],
    )
  })

  describe('exec over SSH through the coder CLI tunnel', () => {
    let provider: ReturnType<typeof coderProvider>
    let handle: Awaited<ReturnType<typeof provisioned>>
    before(async () => {
      provider = coderProvider(sim)
      handle = await provisioned(provider)
    })
    after(async () => provider.destroy(handle, 5_000))

    it('keeps stdout and stderr apart and propagates the exit code, with the CLI fetched from the deployment', async () => {
      const result = await execText(provider, handle, 'echo out; echo err >&2; exit 3')
      assert.deepEqual([result.exitCode, result.stdout, result.stderr], [3, 'out\n', 'err\n'])
      assert.ok(
        sim.requests.some((r) => r.startsWith('GET /bin/coder-linux-')),
        'the matching coder CLI was downloaded',
      )
    })

    it('passes secrets on stdin, never on the command line', async () => {
      const result = await execText(
        provider,
        handle,
        'printf %s "$TOKEN"; ps -eo args 2>/dev/null | grep -c "s3cr3t-on-cmdline" || true',
        { env: { TOKEN: 's3cr3t-on-cmdline' } },
      )
      assert.match(result.stdout, /^s3cr3t-on-cmdline/)
    })

    it('stops the command at its time limit, process tree included', async () => {
      await assert.rejects(
        execText(provider, handle, '(sleep 2; touch late-marker) & sleep 2; touch late-marker', { timeoutMs: 300 }),
        CommandTimeoutError,
      )
      await new Promise((r) => setTimeout(r, 2_500))
      assert.equal(
        (await execText(provider, handle, 'test -e late-marker && echo present || echo absent')).stdout,
        'absent\n',
      )
    })

    it('reports a dropped connection as an ExecStreamError', async () => {
      sim.faults.sshDropOnOutput = 'CUT-HERE'
      await assert.rejects(execText(provider, handle, 'echo CUT-HERE; sleep 2'), ExecStreamError)
    })

    it('settles every download whose connection drops, however the tunnel and ssh2 race to close', async () => {
      // The agent ends the connection mid-tar; the fake `coder ssh` then exits at once, sometimes before ssh2 has
      // ended its side of the tunnel's stdio. Each download must reject, never wait on nothing. (The race shows
      // on a loaded machine, as in CI: without the fix, 4 busy cores made the first drops hang.)
      await execText(
        provider,
        handle,
        'mkdir -p "$HOME/dropped" && printf "\\x44ROP-IN-TAR\\n" > "$HOME/dropped/m.txt"',
      )
      sim.faults.sshDropOnOutput = 'DROP-IN-TAR'
      const local = mkdtempSync(path.join(tmpdir(), 'coder-drop-'))
      try {
        for (let i = 0; i < 20; i++) {
          const settled = await Promise.race([
            provider.download(handle, 'dropped', local, { maxBytes: 1_000_000 }).then(
              () => 'resolved',
              (error: unknown) => error,
            ),
            new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref()),
          ])
          assert.ok(settled instanceof ExecStreamError, `drop ${i + 1}: ${String(settled)}`)
        }
      } finally {
        rmSync(local, { recursive: true, force: true })
      }
    })

    it('keeps the home folder across stop and start, and downloads evidence as one tar', async () => {
      // Sessions start in the agent's directory (the repo_url clone); relative evidence paths are under $HOME.
      assert.match((await execText(provider, handle, 'pwd')).stdout, /\/app\n$/)
      await execText(
        provider,
        handle,
        'cd "$HOME" && mkdir -p ev/junit && echo "<testsuite/>" > ev/junit/a.xml && echo kept > marker',
      )
      await provider.stop(handle, 5_000)
      handle = await provider.start(handle, 5_000)
      assert.equal((await execText(provider, handle, 'cat "$HOME/marker"')).stdout, 'kept\n')
      const local = mkdtempSync(path.join(tmpdir(), 'coder-ev-'))
      try {
        const result = await provider.download(handle, 'ev', local, { maxBytes: 1_000_000 })
        assert.deepEqual([result.found, result.files], [true, 1])
        assert.equal(readFileSync(path.join(local, 'junit', 'a.xml'), 'utf8'), '<testsuite/>\n')
      } finally {
        rmSync(local, { recursive: true, force: true })
      }
    })
  })

  describe('one SSH connection per workspace start', () => {
    let provider: ReturnType<typeof coderProvider>
    let handle: Awaited<ReturnType<typeof provisioned>>
    before(async () => {
      provider = coderProvider(sim)
      handle = await provisioned(provider)
    })
    after(async () => provider.destroy(handle, 5_000))
    const agent = () => [...sim.engine.workspaces.values()].find((w) => w.id === handle.id)?.agent.ssh
    const counts = () => ({
      handshakes: sim.engine.sshHandshakes,
      tunnels: sim.requests.filter((r) => r.endsWith('/sim-ssh')).length,
      cli: sim.requests.filter((r) => r.includes('/bin/coder-')).length,
    })
    const grown = (from: ReturnType<typeof counts>) => {
      const now = counts()
      return [now.handshakes - from.handshakes, now.tunnels - from.tunnels, now.cli - from.cli]
    }

    it('shares it between every exec and download, checks the CLI once, and opens another only after a stop/start', async () => {
      const before = counts()
      assert.equal((await execText(provider, handle, 'echo one')).stdout, 'one\n')
      await execText(provider, handle, 'mkdir -p "$HOME/ev" && echo x > "$HOME/ev/x.txt"')
      const both = await Promise.all([execText(provider, handle, 'echo a'), execText(provider, handle, 'echo b')])
      assert.deepEqual(
        both.map((r) => r.stdout),
        ['a\n', 'b\n'],
      )
      const local = mkdtempSync(path.join(tmpdir(), 'coder-ev-'))
      try {
        assert.equal((await provider.download(handle, 'ev', local, { maxBytes: 1_000_000 })).files, 1)
      } finally {
        rmSync(local, { recursive: true, force: true })
      }
      assert.deepEqual(grown(before), [1, 1, 1], 'one handshake, one tunnel process, one CLI check')
      await provider.stop(handle, 5_000)
      handle = await provider.start(handle, 5_000)
      await execText(provider, handle, 'true')
      await execText(provider, handle, 'true')
      assert.deepEqual(grown(before), [2, 2, 1], 'the start opened the second connection; the CLI was kept')
      assert.equal(agent()?.openConnections, 1)
      await provider.close()
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(agent()?.openConnections, 0, 'close ends the connection and its tunnel')
    })

    it('opens a connection that died while idle again, once, and runs the command on it', async () => {
      await execText(provider, handle, 'true')
      const before = counts()
      agent()?.dropConnections()
      assert.equal((await execText(provider, handle, 'echo again')).stdout, 'again\n')
      assert.deepEqual(grown(before).slice(0, 2), [1, 1])
      await provider.close()
    })
  })

  it('sweeps its own stale workspaces by name prefix', async () => {
    const provider = coderProvider(sim)
    const handle = await provisioned(provider)
    await new Promise((r) => setTimeout(r, 20))
    const swept = await provider.sweep({ namePrefix: 'rt', olderThanMs: 1 })
    assert.ok(swept.includes(handle.name))
    assert.deepEqual(
      sim.workspaces().filter((n) => n.startsWith('rt-')),
      [],
    )
  })
})
