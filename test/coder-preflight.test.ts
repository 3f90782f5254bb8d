import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { InputError, PermissionError, ProviderRequestError } from '../src/shared/errors.js'
import { coderProvider, provisioned } from './coder/fixture.js'
import { runActionStep } from './harness/action-runner.js'
import { type CoderJob, coderInputs, startCoderJob } from './harness/job.js'
import { noCoderFaults } from './sim/coderd/faults.js'
import { type CoderSim, startCoderSim } from './sim/coderd/server.js'

/** Issue 12, "For Coder": the token is valid and may use the template before anything is created. */
describe('Coder preflight against the simulated coderd', () => {
  let sim: CoderSim
  before(async () => {
    sim = await startCoderSim({ stepMs: 5 })
  })
  afterEach(() => Object.assign(sim.faults, noCoderFaults()))
  after(async () => sim.close())

  const creates = (from: number): string[] =>
    sim.requests.slice(from).filter((r) => /^POST \/api\/v2\/users\/[^/]+\/workspaces$/.test(r))

  it('a token coderd does not know, and an expired one, are 401s that say the token was not accepted', async () => {
    const before = sim.requests.length
    // The <10>-<22> format of a real token, unknown to this deployment.
    const unknown = coderProvider(sim, { token: 'abcdefghij-abcdefghijabcdefghijab' })
    await assert.rejects(unknown.checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof ProviderRequestError && e.status === 401, String(e))
      assert.match(
        e.message,
        /API key is invalid\. \(HTTP 401\)\. coderd did not accept the token \(a login problem, not a permission\)/,
      )
      return true
    })
    sim.faults.tokenExpired = true
    await assert.rejects(coderProvider(sim).checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof ProviderRequestError && e.status === 401, String(e))
      assert.match(
        e.message,
        /API key expired at "[^"]+"\. \(HTTP 401\)\. coderd did not accept the token .*has expired/,
      )
      assert.doesNotMatch(e.message, /roles do not allow/, 'a 401 never reads as a 403')
      return true
    })
    assert.deepEqual(
      sim.requests.slice(before).filter((r) => r.startsWith('POST')),
      [],
      'no POST at all',
    )
    assert.deepEqual(sim.workspaces(), [])
  })

  it('a template the user reads but may not use is refused before the create, naming the template and the organization', async () => {
    sim.faults.userPolicy = { 'ci-bot': { templatesReadOnly: ['ci-docker'] } }
    const [before, held] = [sim.requests.length, sim.engine.workspaces.size]
    const provider = coderProvider(sim)
    await assert.rejects(provider.checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof PermissionError, String(e))
      assert.match(
        e.message,
        /Coder user "ci-bot" lacks permissions: may not use template "ci-docker" \(organization "coder"\)\./,
      )
      assert.match(e.message, /Use on the template/)
      assert.doesNotMatch(e.message, /create workspaces/, 'only what is missing is listed')
      return true
    })
    // provision without a preflight of its own runs one as well.
    await assert.rejects(provisioned(provider), PermissionError)
    assert.deepEqual(creates(before), [], 'no create request')
    assert.ok(sim.requests.slice(before).includes('POST /api/v2/authcheck'), 'coderd was asked (POST /authcheck)')
    assert.deepEqual(sim.workspaces(), [])
    assert.equal(sim.engine.workspaces.size, held, 'the simulator never held another workspace')
  })

  it('a named template version is checked through its template, and no workspace create in the organization is named too', async () => {
    const template = sim.addTemplate('ci-pinned', [])
    sim.addVersion(template, 'v2', [])
    sim.faults.userPolicy = { 'ci-bot': { templatesReadOnly: ['ci-pinned'], workspaceCreateDenied: true } }
    const [before, held] = [sim.requests.length, sim.engine.workspaces.size]
    await assert.rejects(
      coderProvider(sim, { template: 'ci-pinned', templateVersion: 'v2', parameters: new Map() }).checkPermissions(),
      (e: unknown) => {
        assert.ok(e instanceof PermissionError, String(e))
        assert.match(
          e.message,
          /lacks permissions: may not create workspaces in organization "coder"; may not use template "ci-pinned" \(organization "coder"\)\./,
        )
        return true
      },
    )
    assert.deepEqual(creates(before), [])
    assert.equal(sim.engine.workspaces.size, held)
  })

  it('a template the user may not read at all is the template input, refused before anything is created', async () => {
    sim.faults.userPolicy = { 'ci-bot': { templatesHidden: ['ci-docker'] } }
    const before = sim.requests.length
    await assert.rejects(coderProvider(sim).checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e))
      assert.match(
        e.message,
        /Input 'template' has the value "ci-docker", but expected a template in organization coder that the token's user may read/,
      )
      return true
    })
    assert.deepEqual(
      sim.requests.slice(before).filter((r) => r.startsWith('POST')),
      [],
    )
  })

  it('the happy path asks /authcheck once, then creates, and the owner passes where the member is refused', async () => {
    const provider = coderProvider(sim)
    const before = sim.requests.length
    await provider.checkPermissions()
    const handle = await provisioned(provider)
    const requests = sim.requests.slice(before)
    const check = requests.indexOf('POST /api/v2/authcheck')
    assert.ok(check >= 0 && check < requests.findIndex((r) => /^POST \/api\/v2\/users\/ci-bot\/workspaces$/.test(r)))
    assert.equal(requests.filter((r) => r === 'POST /api/v2/authcheck').length, 1, 'provision reused the preflight')
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })

    sim.faults.userPolicy = { admin: { templatesReadOnly: ['ci-docker'], workspaceCreateDenied: true } }
    await coderProvider(sim, { token: sim.adminToken }).checkPermissions()
    assert.deepEqual(sim.workspaces(), [])
  })

  describe('the simulated coderd answers as coderd does', () => {
    const api = async (token: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${sim.url}/api/v2${path}`, {
        method,
        headers: { 'Coder-Session-Token': token, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const templateId = async (): Promise<string> =>
      (await api(sim.adminToken, 'GET', '/organizations/default/templates/ci-docker')).body.id as string

    it('a create from a template the user may not use is a 403 (workspaces.go createWorkspace), and creates nothing', async () => {
      const [id, held] = [await templateId(), sim.engine.workspaces.size]
      const body = { name: 'denied', template_id: id, rich_parameter_values: [{ name: 'repo_url', value: 'x' }] }
      sim.faults.userPolicy = { 'ci-bot': { templatesReadOnly: ['ci-docker'] } }
      assert.deepEqual(await api(sim.token, 'POST', '/users/me/workspaces', body), {
        status: 403,
        body: {
          message: 'Unauthorized access to use the template "ci-docker".',
          detail:
            'Although you are able to view the template, you are unable to create a workspace using it. Please contact an administrator about your permissions if you feel this is an error.',
        },
      })
      sim.faults.userPolicy = { 'ci-bot': { workspaceCreateDenied: true } }
      const denied = await api(sim.token, 'POST', '/users/me/workspaces', body)
      assert.deepEqual([denied.status, denied.body.message], [403, 'Unauthorized to create workspace.'])
      sim.faults.userPolicy = { 'ci-bot': { templatesHidden: ['ci-docker'] } }
      const hidden = await api(sim.token, 'POST', '/users/me/workspaces', body)
      assert.deepEqual([hidden.status, hidden.body.message], [400, `Template "${id}" doesn't exist.`])
      assert.equal(sim.engine.workspaces.size, held, 'nothing was created')
    })

    it('POST /authcheck (authorize.go checkAuthorization): per-key booleans, "me", resource_id, and its 400s', async () => {
      const id = await templateId()
      sim.faults.userPolicy = { 'ci-bot': { templatesReadOnly: ['ci-docker'] } }
      const checks = {
        use: { object: { resource_type: 'template', resource_id: id }, action: 'use' },
        read: { object: { resource_type: 'template', resource_id: id }, action: 'read' },
        // No ACL to match without a resource_id: templates in general are not the member's.
        anyTemplate: { object: { resource_type: 'template' }, action: 'use' },
        create: { object: { resource_type: 'workspace', owner_id: 'me', organization_id: '' }, action: 'create' },
        createForOthers: { object: { resource_type: 'workspace' }, action: 'create' },
        unknownTemplate: {
          object: { resource_type: 'template', resource_id: '00000000-0000-4000-8000-000000000000' },
          action: 'read',
        },
      }
      assert.deepEqual(await api(sim.token, 'POST', '/authcheck', { checks }), {
        status: 200,
        body: {
          use: false,
          read: true,
          anyTemplate: false,
          create: true,
          createForOthers: false,
          unknownTemplate: false,
        },
      })
      const owner = await api(sim.adminToken, 'POST', '/authcheck', { checks })
      assert.deepEqual(owner.body, { ...owner.body, use: true, anyTemplate: true, createForOthers: true })
      assert.deepEqual(await api(sim.token, 'POST', '/authcheck', { checks: { k: { object: {}, action: 'read' } } }), {
        status: 400,
        body: { message: 'Object\'s "resource_type" field must be defined for key "k".' },
      })
      const badId = await api(sim.token, 'POST', '/authcheck', {
        checks: { k: { object: { resource_type: 'template', resource_id: 'nope' }, action: 'read' } },
      })
      assert.deepEqual(badId, {
        status: 400,
        body: {
          message: 'Object "nope" id is not a valid uuid.',
          validations: [{ field: 'resource_id', detail: 'invalid UUID length: 4' }],
        },
      })
      const unsupported = await api(sim.token, 'POST', '/authcheck', {
        checks: { k: { object: { resource_type: 'organization', resource_id: id }, action: 'read' } },
      })
      assert.deepEqual(
        [unsupported.status, unsupported.body.message],
        [400, 'Object type "organization" does not support "resource_id" field.'],
      )
    })
  })

  describe('through the committed bundles', () => {
    let job: CoderJob
    before(async () => {
      job = await startCoderJob('5252')
    })
    after(async () => job.close())

    it('provision fails in the preflight, says what is missing, and leaves no workspace', async () => {
      const coder = job.coder
      coder.faults.userPolicy = { 'ci-bot': { templatesReadOnly: ['ci-docker'] } }
      try {
        const before = coder.requests.length
        const denied = await runActionStep('provision-workspace', { env: job.env, inputs: coderInputs(job) })
        assert.equal(denied.code, 1, denied.stdout)
        assert.match(denied.stdout, /may not use template "ci-docker" \(organization "coder"\)/)
        assert.equal(denied.outputs.outcome, 'error')
        const expired = await runActionStep('provision-workspace', {
          env: job.env,
          inputs: { ...coderInputs(job), 'coder-token': 'abcdefghij-abcdefghijabcdefghijab' },
        })
        assert.equal(expired.code, 1, expired.stdout)
        assert.match(expired.stdout, /coderd did not accept the token \(a login problem, not a permission\)/)
        assert.deepEqual(
          coder.requests.slice(before).filter((r) => /^POST \/api\/v2\/users\/[^/]+\/workspaces$/.test(r)),
          [],
        )
        assert.equal(coder.engine.workspaces.size, 0)
      } finally {
        Object.assign(job.coder.faults, noCoderFaults())
      }
      const allowed = await runActionStep('provision-workspace', { env: job.env, inputs: coderInputs(job) })
      assert.equal(allowed.code, 0, allowed.stdout)
      const post = await runActionStep('provision-workspace', { env: job.env, post: allowed.state })
      assert.equal(post.code, 0, post.stdout)
      assert.deepEqual(job.coder.workspaces(), [])
    })
  })
})
