import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { InputError, WorkspaceStartError } from '../../src/shared/errors.js'
import { identityFromEnv } from '../../src/shared/identity.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../../src/shared/provider.js'
import { cliAsset } from '../../src/shared/providers/coder/coder-cli.js'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import type { CoderSettings } from '../../src/shared/providers/coder/coder-settings.js'
import { getCoderSettings } from '../../src/shared/settings/coder-inputs.js'
import { getProvisionSettings } from '../../src/shared/settings/provision-settings.js'
import { noCoderFaults } from '../sim/coderd/faults.js'
import { execText } from '../che/fixture.js'
import { type CoderSim, coderProvider, FAST_RETRY, startCoderSim } from './fixture.js'

// Each case is a place where coderd or `coder ssh` behaves otherwise than the client
// once assumed (issue 10); the simulator does what coderd does, named next to its code.
describe('Coder: the client behaves as coderd and coder ssh expect', () => {
  let sim: CoderSim
  let counter = 0
  before(async () => {
    sim = await startCoderSim({ stepMs: 5 })
  })
  afterEach(() => Object.assign(sim.faults, noCoderFaults()))
  after(async () => sim.close())

  const start = async (
    provider: WorkspaceProvider,
    startTimeoutMs = 10_000,
  ): Promise<{ handle: WorkspaceHandle; warnings: string[] }> => {
    const warnings: string[] = []
    const handle = await provider.provision({
      name: `rt-fid-${process.pid}-${++counter}`,
      identity: identityFromEnv({ GITHUB_RUN_ID: '10' }),
      startTimeoutMs,
      onWarning: (w) => warnings.push(w),
    })
    return { handle, warnings }
  }
  const simWorkspace = (handle: WorkspaceHandle) => {
    const w = sim.engine.workspaces.get(handle.id)
    assert.ok(w, `the simulator knows workspace ${handle.name}`)
    return w
  }

  it('row 1: a template-version input builds that version (template_version_id), not the active one', async () => {
    const template = sim.addTemplate('versioned', [])
    const v2 = sim.addVersion(template, 'v2', [])
    const provider = coderProvider(sim, { template: 'versioned', templateVersion: 'v2', parameters: new Map() })
    const { handle } = await start(provider)
    assert.equal(simWorkspace(handle).template_version_id, v2.id)
    const create = sim.requests.findIndex((r) => r === 'POST /api/v2/users/ci-bot/workspaces')
    assert.ok(create >= 0)
    await provider.destroy(handle, 5_000)
    await assert.rejects(
      start(coderProvider(sim, { template: 'versioned', templateVersion: 'v9', parameters: new Map() })),
      (e: unknown) => e instanceof InputError && /Input 'template-version' has the value "v9"/.test(e.message),
    )
  })

  it('row 2: an agent that passes its connection timeout (status timeout) and connects later is waited for', async () => {
    sim.faults.agentConnectsLateMs = 1_500
    const provider = coderProvider(sim)
    const { handle, warnings } = await start(provider)
    assert.match(warnings.join('\n'), /Agent main of workspace .* has not connected within its connection timeout/)
    assert.equal((await execText(provider, handle, 'echo late-but-here')).stdout, 'late-but-here\n')
    await provider.destroy(handle, 5_000)
  })

  it('row 3: a name prefix that gives more than 32 characters, or has "--", is refused before anything is created', async () => {
    const read =
      (prefix: string) =>
      (name: string): string =>
        ({
          provider: 'coder',
          'coder-url': sim.url,
          'coder-token': sim.token,
          template: 'ci-docker',
          'workspace-name-prefix': prefix,
        })[name] ?? ''
    const env = { GITHUB_RUN_ID: '19283746501', GITHUB_RUN_ATTEMPT: '1' }
    const before = sim.requests.length
    await assert.rejects(
      () => getProvisionSettings(read('abcdefghijklm'), env, '/'),
      (e: unknown) =>
        e instanceof InputError &&
        /Input 'workspace-name-prefix' has the value "abcdefghijklm"/.test(e.message) &&
        /at most 12 characters/.test(e.message) &&
        /at most 32 characters/.test(e.message),
    )
    await assert.rejects(
      () => getProvisionSettings(read('ci--bot'), env, '/'),
      /Input 'workspace-name-prefix'.*no "--"/,
    )
    assert.equal((await getProvisionSettings(read('abcdefghijkl'), env, '/')).workspaceNamePrefix, 'abcdefghijkl')
    assert.equal(sim.requests.length, before, 'nothing was asked of coderd')
  })

  it('row 7: a create whose response is lost ends with exactly one workspace, used and then deleted', async () => {
    sim.faults.loseResponses = { match: /^POST \/api\/v2\/users\/[^/]+\/workspaces$/, count: 1 }
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    assert.equal(sim.faults.loseResponses.count, 0, 'the create response was lost')
    assert.deepEqual(
      sim.workspaces().filter((n) => n === handle.name),
      [handle.name],
    )
    assert.equal(simWorkspace(handle).builds.length, 1)
    assert.equal((await execText(provider, handle, 'echo used')).stdout, 'used\n')
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })
    assert.deepEqual(
      sim.workspaces().filter((n) => n === handle.name),
      [],
    )
  })

  it('row 7: a build whose response is lost is not queued twice', async () => {
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    sim.faults.loseResponses = { match: /^POST \/api\/v2\/workspaces\/[^/]+\/builds$/, count: 1 }
    await provider.stop(handle, 5_000)
    assert.equal(sim.faults.loseResponses.count, 0, 'the stop response was lost')
    assert.deepEqual(
      simWorkspace(handle).builds.map((b) => `${b.transition}:${b.job.status}`),
      ['start:succeeded', 'stop:succeeded'],
    )
    await provider.destroy(handle, 5_000)
  })

  it('row 4: a devcontainer sub-agent (parent_id) does not make the workspace "have several agents"', async () => {
    sim.faults.subAgent = true
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    assert.equal(handle.target, 'main')
    assert.equal((await execText(provider, handle, 'echo in-main')).stdout, 'in-main\n')
    await provider.destroy(handle, 5_000)
  })

  it('row 5: destroying a deleted workspace sends no delete build (coderd would queue another)', async () => {
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: true })
    assert.equal(sim.requests.filter((r) => r === `POST /api/v2/workspaces/${handle.id}/builds`).length, 1)
    assert.deepEqual(
      simWorkspace(handle).builds.map((b) => b.transition),
      ['start', 'delete'],
    )
  })

  it('row 6: a pending build is canceled with expect_status=pending, which needs no cancel permission', async () => {
    sim.addTemplate('no-user-cancel', [], { allow_user_cancel_workspace_jobs: false })
    sim.faults.noProvisioner = true
    const provider = coderProvider(sim, { template: 'no-user-cancel', parameters: new Map() })
    let created: WorkspaceHandle | undefined
    const starting = provider
      .provision({
        name: `rt-fid-${process.pid}-cancel`,
        identity: identityFromEnv({}),
        startTimeoutMs: 10_000,
        onCreated: (h) => void (created = h),
      })
      .catch((e: unknown) => e)
    while (!created) await new Promise((r) => setTimeout(r, 5))
    sim.faults.noProvisioner = false
    assert.deepEqual(await provider.destroy(created, 5_000), { alreadyGone: false })
    const cancels = sim.requests.filter((r) => r.startsWith('PATCH /api/v2/workspacebuilds/'))
    assert.ok(
      cancels.length > 0 && cancels.every((r) => r.endsWith('/cancel?expect_status=pending')),
      cancels.join(', '),
    )
    assert.ok((await starting) instanceof WorkspaceStartError)
  })

  it('row 8: the tunnel never starts a stopped workspace (coder ssh --disable-autostart)', async () => {
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    await provider.stop(handle, 5_000)
    await assert.rejects(
      execText(provider, handle, 'echo should-not-run'),
      /the tunnel said: coder: workspace must be started/,
    )
    assert.deepEqual(
      simWorkspace(handle).builds.map((b) => b.transition),
      ['start', 'stop'],
      'no start build was queued by the tunnel',
    )
    await provider.destroy(handle, 5_000)
  })

  it('row 9: startup scripts without start_blocks_login are not waited for; blocking ones are', async () => {
    sim.faults.slowStartMs = 60_000
    const provider = coderProvider(sim)
    const { handle } = await start(provider)
    assert.equal(simWorkspace(handle).agent.lifecycle_state, 'starting')
    assert.equal((await execText(provider, handle, 'echo while-starting')).stdout, 'while-starting\n')
    await provider.destroy(handle, 5_000)
    sim.faults.startBlocksLogin = true
    await assert.rejects(start(provider, 1_000), /not ready within the start timeout/)
  })

  it('row 10: a build with no matching provisioner is waited for, with a warning, until one registers', async () => {
    sim.faults.noProvisioner = true
    sim.faults.provisionerArrivesAfterMs = 500
    const provider = coderProvider(sim)
    const { handle, warnings } = await start(provider)
    assert.match(warnings.join('\n'), /no provisioner matches its tags \(matched_provisioners\.count is 0\).*Waiting/)
    await provider.destroy(handle, 5_000)
  })

  it('row 11: a required parameter given as "" is refused before the create, as coderd refuses it', async () => {
    const before = sim.requests.length
    await assert.rejects(
      start(coderProvider(sim, { parameters: new Map([['repo_url', '']]) })),
      (e: unknown) =>
        e instanceof InputError &&
        /required parameter 'repo_url' is empty \(coderd: parameter value is required\)/.test(e.message),
    )
    assert.ok(!sim.requests.slice(before).some((r) => r.startsWith('POST')))
  })

  for (const state of ['shutdown_timeout', 'shutdown_error'] as const)
    it(`row 12: an agent that ends in ${state} ends the wait at once`, async () => {
      sim.faults.agentShutsDown = state
      const started = Date.now()
      await assert.rejects(start(coderProvider(sim), 10_000), new RegExp(`agent main is ${state}: it is shutting down`))
      assert.ok(Date.now() - started < 5_000, 'did not wait for the start timeout')
    })

  it('row 13: 32-bit ARM downloads coder-linux-armv7, the file the deployment serves', async () => {
    assert.equal(cliAsset('linux', 'arm'), 'coder-linux-armv7')
    const client = createCoderClient({ url: sim.url, token: sim.token, retry: FAST_RETRY })
    const file = await client.download(`/bin/${cliAsset('linux', 'arm')}`, 'downloading the CLI')
    assert.ok(file.bytes.byteLength > 0)
  })

  it('row 14: the agent runs the login shell, reports a signal as exit 255, and ttl 0 is the template default', async () => {
    const read = (name: string): string =>
      ({ 'coder-url': sim.url, 'coder-token': sim.token, template: 'ci-docker', ttl: '0' })[name] ?? ''
    const settings: CoderSettings = { ...getCoderSettings(read), parameters: new Map([['repo_url', 'x']]) }
    assert.equal(settings.ttlMs, 0)
    sim.faults.loginShell = '/bin/dash'
    const provider = coderProvider(sim, { ttlMs: settings.ttlMs })
    const { handle } = await start(provider)
    assert.equal(simWorkspace(handle).ttl_ms, 8 * 3_600_000, "the template's default_ttl_ms")
    assert.equal((await execText(provider, handle, 'echo "$SHELL"')).stdout, '/bin/dash\n')
    const killed = await execText(provider, handle, 'kill -KILL $(cut -d" " -f4 /proc/$PPID/stat)')
    assert.deepEqual([killed.exitCode, killed.signal], [255, null])
    await provider.destroy(handle, 5_000)
  })
})
