import { KubeConfig } from '@kubernetes/client-node'
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { InputError, PermissionError, ProviderRequestError, WorkspaceStartError } from '../../src/shared/errors.js'
import { judgeIde } from '../../src/shared/flows/ide-verdict.js'
import { identityFromEnv, identityLabels } from '../../src/shared/identity.js'
import { createCheProbe } from '../../src/shared/providers/che/che-probe.js'
import { createCheProvider } from '../../src/shared/providers/che/che-provider.js'
import { noFaults } from '../sim/kube/faults.js'
import type { KubeObject } from '../sim/kube/store.js'
import { trustedFetch } from '../sim/trusted-fetch.js'
import { cheProvider, devfileSource, execText, type KubeSim, NAMESPACE, provisioned, startKubeSim } from './fixture.js'

type StoredDw = KubeObject & {
  spec: { routingClass?: string; template: { attributes: Record<string, unknown> } }
  status: { phase: string; mainUrl?: string }
}
const stored = (sim: KubeSim, name: string) => sim.store.get('devworkspaces', NAMESPACE, name) as StoredDw

const TWO_CONTAINERS = `schemaVersion: 2.2.0
metadata:
  name: two
projects:
  - name: app
    clonePath: src/app
    git:
      remotes:
        origin: https://example.com/app.git
components:
  - name: dev
    container:
      image: quay.io/devfile/universal-developer-image:ubi9-latest
  - name: sidecar
    container:
      image: quay.io/devfile/universal-developer-image:ubi9-latest
      mountSources: false
`

// Issue 9: each case runs the real provider against a simulator that fails where DWO, che-operator or the apiserver do.
describe('Che: DevWorkspaces made the way Che makes them', () => {
  let sim: KubeSim
  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 2 })
    sim.addEditor(NAMESPACE, 'che-code')
  })
  afterEach(async () => {
    Object.assign(sim.faults, noFaults())
    const provider = cheProvider(sim)
    for (const name of sim.devWorkspaces(NAMESPACE))
      await provider.destroy({ provider: 'che', name, id: '', scope: NAMESPACE, target: '', createdAt: '' }, 5_000)
    sim.cluster.dwo = { ...sim.cluster.dwo, clusterHostSuffix: '', progressTimeout: '5m' }
  })
  after(async () => sim.close())

  it('row 1: sends routingClass che, and basic fails without clusterHostSuffix but works with it', async () => {
    const handle = await provisioned(cheProvider(sim))
    assert.equal(stored(sim, handle.name).spec.routingClass, 'che')
    await cheProvider(sim).destroy(handle, 5_000)

    const basic = cheProvider(sim, devfileSource(), '', 'basic')
    await assert.rejects(
      provisioned(basic),
      (e: unknown) =>
        e instanceof WorkspaceStartError &&
        /basic routing requires \.config\.routing\.clusterHostSuffix to be set in operator config/.test(e.message),
    )
    sim.cluster.dwo = { ...sim.cluster.dwo, clusterHostSuffix: 'apps.sim.invalid' }
    const editor = { ...devfileSource(), editor: { name: 'che-code' } }
    const routed = await provisioned(cheProvider(sim, editor, '', 'basic'))
    assert.match(stored(sim, routed.name).status.mainUrl ?? '', /\/basic\/ci\/rt-test-/)
    await basic.destroy(routed, 5_000)
  })

  it("row 2: names Che's devworkspace-config, whose start timeout then applies", async () => {
    const handle = await provisioned(cheProvider(sim))
    assert.deepEqual(stored(sim, handle.name).spec.template.attributes['controller.devfile.io/devworkspace-config'], {
      name: 'devworkspace-config',
      namespace: 'eclipse-che',
    })
    await cheProvider(sim).destroy(handle, 5_000)
    // startTimeoutSeconds 1 reaches the workspace only through the attribute (che-operator writes progressTimeout 1s).
    const che = sim.cluster.che
    assert.ok(che)
    sim.cluster.che = { ...che, startTimeoutSeconds: 1 }
    sim.faults.failStart = {}
    try {
      await assert.rejects(
        provisioned(cheProvider(sim), 20_000),
        (e: unknown) =>
          e instanceof WorkspaceStartError &&
          /failed to progress past step 'Waiting for workspace deployment' for longer than timeout \(1s\)/.test(
            e.message,
          ),
      )
    } finally {
      sim.cluster.che = che
    }
  })

  it('row 3: label values stay valid however the job name is cut', async () => {
    const identity = identityFromEnv({ GITHUB_RUN_ID: '9', GITHUB_JOB: `${'j'.repeat(54)}.-_x` })
    const labels = identityLabels(identity)
    for (const value of Object.values(labels)) assert.match(value, /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/)
    const provider = cheProvider(sim)
    const handle = await provider.provision({ name: 'rt-labels-1', identity, startTimeoutMs: 10_000 })
    await provider.destroy(handle, 5_000)
  })

  it('row 7: a stall fails after progressTimeout whatever the start timeout; an unrecoverable state fails at once', async () => {
    sim.cluster.dwo = { ...sim.cluster.dwo, progressTimeout: '1s' }
    sim.cluster.che = undefined
    try {
      sim.faults.failStart = {}
      // Here the stall is the `che` routing class on a cluster without Che: no solver ever readies the routing.
      await assert.rejects(
        provisioned(cheProvider(sim), 30_000),
        /failed to progress past step 'Preparing networking' for longer than timeout \(1s\)/,
      )
    } finally {
      sim.cluster.che = {
        name: 'eclipse-che',
        namespace: 'eclipse-che',
        startTimeoutSeconds: 300,
        persistUserHome: false,
      }
    }
    sim.faults.failStart = { containerState: 'CrashLoopBackOff' }
    const started = Date.now()
    await assert.rejects(
      provisioned(cheProvider(sim), 600_000),
      /Error creating DevWorkspace deployment: Container dev has state CrashLoopBackOff/,
    )
    assert.ok(Date.now() - started < 5_000)
  })

  it('row 11: a Role missing one permission fails before anything is created, naming verb and resource', async () => {
    const full = ['create', 'get', 'list', 'watch', 'patch', 'delete']
    sim.rules = [
      { apiGroups: ['workspace.devfile.io'], resources: ['devworkspaces'], verbs: full },
      { apiGroups: ['workspace.devfile.io'], resources: ['devworkspacetemplates'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] },
    ]
    try {
      const provider = cheProvider(sim)
      await assert.rejects(
        provider.checkPermissions(),
        (e: unknown) =>
          e instanceof PermissionError &&
          /lacks permissions: list events in ci\./.test(e.message) &&
          // The name the API server authenticates (SelfSubjectReview), for an RBAC bound to another identity.
          /authenticates it as user "system:serviceaccount:ci:run-task"/.test(e.message),
      )
      assert.deepEqual(sim.devWorkspaces(NAMESPACE), [])
      // The simulator enforces the same Role on real requests.
      const kc = new KubeConfig()
      kc.loadFromString(sim.kubeconfig)
      const res = await trustedFetch(sim.caCert)(`${sim.url}/api/v1/namespaces/ci/events`, {
        headers: { authorization: `Bearer ${sim.token}` },
      })
      assert.equal(res.status, 403)
      assert.match(((await res.json()) as { message: string }).message, /cannot list resource "events" in API group ""/)
    } finally {
      sim.rules = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]
    }
  })

  it('row 11b: a token the API server does not accept is a login problem (401), told apart from RBAC (403)', async () => {
    const kubeconfig = sim.kubeconfig.replace(sim.token, 'expired-or-foreign-issuer-token')
    assert.notEqual(kubeconfig, sim.kubeconfig)
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromString(kubeconfig)
    const provider = createCheProvider(
      {
        kubeconfig,
        namespace: NAMESPACE,
        source: devfileSource(),
        container: '',
        routingClass: 'che',
        allowUnsafePod: [],
      },
      { kubeConfig },
    )
    await assert.rejects(provider.checkPermissions(), (e: unknown) => {
      assert.ok(e instanceof ProviderRequestError && e.status === 401, String(e))
      assert.match(e.message, /code: 401\)\. .*login problem, not a permission.*OIDC/)
      assert.doesNotMatch(e.message, /RoleBinding/)
      return true
    })
    assert.deepEqual(sim.devWorkspaces(NAMESPACE), [])
  })

  it('row 12: through the stock gateway the IDE check is "routed, sign-in required", never a pass', async () => {
    const provider = cheProvider(sim, { ...devfileSource(), editor: { name: 'che-code' } })
    const handle = await provisioned(provider)
    try {
      const kc = new KubeConfig()
      kc.loadFromString(sim.kubeconfig)
      const endpoint = await createCheProbe(kc, NAMESPACE).ide(handle, '')
      assert.match(endpoint.signInOnly ?? '', /accepts no bearer token/)
      const verdict = await judgeIde(endpoint, AbortSignal.timeout(5_000))
      assert.equal(verdict.status, 'skipped')
      assert.match(verdict.message, /^routed, sign-in required: GET .* → 302: redirected to sign-in/)
      const json = await fetch(endpoint.proxyUrl, { headers: { ...endpoint.headers, accept: 'application/json' } })
      assert.equal(json.status, 401)
    } finally {
      await provider.destroy(handle, 5_000)
    }
  })

  it('row 13: the devfile’s own storage type stands unless the input sets one', async () => {
    const text = `${TWO_CONTAINERS}attributes:\n  controller.devfile.io/storage-type: per-workspace\n`
    const fromDevfile = { devfile: devfileSource(text).devfile }
    const handle = await provisioned(cheProvider(sim, fromDevfile))
    assert.equal(
      stored(sim, handle.name).spec.template.attributes['controller.devfile.io/storage-type'],
      'per-workspace',
    )
    await cheProvider(sim).destroy(handle, 5_000)
    const forced = await provisioned(cheProvider(sim, { ...fromDevfile, storageType: 'ephemeral' }))
    assert.equal(stored(sim, forced.name).spec.template.attributes['controller.devfile.io/storage-type'], 'ephemeral')
    await cheProvider(sim).destroy(forced, 5_000)
  })

  it('row 10: env and /projects only in mountSources containers, PROJECT_SOURCE from clonePath, a fresh /tmp on start', async () => {
    const provider = cheProvider(sim, { ...devfileSource(TWO_CONTAINERS), storageType: 'per-workspace' })
    const handle = await provisioned(provider)
    try {
      const dev = await execText(
        provider,
        handle,
        'echo "$PROJECT_SOURCE"; echo kept > "$TMPDIR/t"; echo kept > "$HOME/h"',
      )
      assert.match(dev.stdout, /\/projects\/src\/app\n/)
      const sidecar = await execText(
        cheProvider(sim, devfileSource(TWO_CONTAINERS), 'sidecar'),
        { ...handle, target: 'sidecar' },
        'echo "[${PROJECTS_ROOT:-}]"',
      )
      assert.equal(sidecar.stdout, '[]\n')
      await provider.stop(handle, 5_000)
      const restarted = await provider.start(handle, 5_000)
      const after = await execText(provider, restarted, 'cat "$TMPDIR/t" "$HOME/h" 2>&1; true')
      assert.match(after.stdout, /No such file/)
      assert.doesNotMatch(after.stdout, /kept/)
    } finally {
      await provider.destroy(handle, 5_000)
    }
  })

  it('every DevWorkspace the provider sends passes structural pruning with nothing pruned, for each shape', async () => {
    const volumesAndEnv = `schemaVersion: 2.2.0
metadata:
  name: shapes
projects:
  - name: app
    git:
      remotes:
        origin: https://example.com/app.git
      checkoutFrom:
        revision: main
components:
  - name: dev
    container:
      image: quay.io/devfile/universal-developer-image:ubi9-latest
      env:
        - name: GREETING
          value: hello
      volumeMounts:
        - name: cache
          path: /cache
      memoryLimit: 2Gi
  - name: cache
    volume:
      size: 1Gi
commands:
  - id: build
    exec:
      component: dev
      commandLine: make
events:
  postStart: [build]
`
    sim.addEditor(NAMESPACE, 'base')
    const shapes = [
      devfileSource(),
      { ...devfileSource(), editor: { name: 'che-code' } },
      devfileSource(volumesAndEnv),
      { template: { name: 'base' }, storageType: 'per-workspace' as const },
      ...(['ephemeral', 'per-workspace', 'per-user', 'common', 'async'] as const).map((storageType) => ({
        ...devfileSource(),
        storageType,
      })),
    ]
    sim.pruned.length = 0
    for (const source of shapes) {
      const provider = cheProvider(sim, source)
      const handle = await provisioned(provider)
      await provider.destroy(handle, 5_000)
    }
    assert.deepEqual(sim.pruned, [])
    assert.ok(
      sim.requests.some((r) => r.includes('fieldValidation=Strict')),
      'creates ask for strict field validation',
    )
  })

  it('the simulated apiserver prunes unknown fields with a warning, and refuses them under fieldValidation=Strict', async () => {
    const post = (query: string) =>
      trustedFetch(sim.caCert)(`${sim.url}/apis/workspace.devfile.io/v1alpha2/namespaces/ci/devworkspaces${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'workspace.devfile.io/v1alpha2',
          kind: 'DevWorkspace',
          metadata: { name: `pruned${query ? '-strict' : ''}` },
          spec: { started: false, routingClass: 'che', template: { bogus: 1 }, extra: true },
        }),
      })
    const strict = await post('?fieldValidation=Strict')
    assert.equal(strict.status, 400)
    assert.match(((await strict.json()) as { message: string }).message, /unknown field "spec.extra"/)
    const warned = await post('')
    assert.equal(warned.status, 201)
    assert.match(warned.headers.get('warning') ?? '', /unknown field \\"spec.template.bogus\\"/)
    const body = (await warned.json()) as { spec: Record<string, unknown> }
    assert.equal('extra' in body.spec, false)
  })

  it("rows 9 and 10: the probe names Che's legacy claim; persistUserHome keeps $HOME across a restart", async () => {
    const che = sim.cluster.che
    assert.ok(che)
    sim.cluster.che = { ...che, persistUserHome: true }
    sim.store.create('persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim-che-workspace', namespace: NAMESPACE },
      status: { phase: 'Bound' },
    })
    const provider = cheProvider(sim, { ...devfileSource(), storageType: 'per-user' })
    const handle = await provisioned(provider)
    try {
      await execText(provider, handle, 'echo kept > "$HOME/h"')
      await provider.stop(handle, 5_000)
      const kc = new KubeConfig()
      kc.loadFromString(sim.kubeconfig)
      assert.match(await createCheProbe(kc, NAMESPACE).checkStopped(handle), /PVC claim-che-workspace is Bound/)
      const restarted = await provider.start(handle, 5_000)
      assert.equal((await execText(provider, restarted, 'cat "$HOME/h"')).stdout, 'kept\n')
    } finally {
      sim.cluster.che = che
      await provider.destroy(handle, 5_000)
      sim.store.remove('persistentvolumeclaims', NAMESPACE, 'claim-che-workspace')
    }
  })

  it('rows 4 and 5: the apiserver and the webhook refuse what a real cluster refuses', async () => {
    const post = (body: unknown) =>
      trustedFetch(sim.caCert)(`${sim.url}/apis/workspace.devfile.io/v1alpha2/namespaces/ci/devworkspaces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const dw = (metadata: Record<string, unknown>, template: Record<string, unknown> = {}) => ({
      apiVersion: 'workspace.devfile.io/v1alpha2',
      kind: 'DevWorkspace',
      metadata,
      spec: { started: false, template },
    })
    for (const [metadata, field] of [
      [{ name: 'Upper' }, 'metadata.name'],
      [{ name: 'ok', labels: { 'run-task.ameide.io/job': 'ends-' } }, 'metadata.labels'],
      [{ name: 'ok', annotations: { 'has space': 'x' } }, 'metadata.annotations'],
    ] as const) {
      const res = await post(dw(metadata))
      const body = (await res.json()) as { reason: string; details: { causes: { field: string }[] } }
      assert.equal(res.status, 422, JSON.stringify(metadata))
      assert.equal(body.reason, 'Invalid')
      assert.equal(body.details.causes[0]?.field, field)
    }
    const twoRemotes = { projects: [{ name: 'p', git: { remotes: { a: 'https://a', b: 'https://b' } } }] }
    const denied = await post(dw({ name: 'two-remotes' }, twoRemotes))
    assert.equal(denied.status, 403)
    assert.match(
      ((await denied.json()) as { message: string }).message,
      /has more than one remote defined, but has no checkoutfrom remote defined/,
    )
    const badEvent = {
      commands: [{ id: 'build', exec: { component: 'dev', commandLine: 'true' } }],
      events: { postStart: ['missing'] },
    }
    const refused = await post(dw({ name: 'bad-event' }, badEvent))
    assert.equal(refused.status, 403)
    assert.match(((await refused.json()) as { message: string }).message, /postStart type events are invalid/)
  })

  it('row 5: the provider refuses such a devfile as bad input before anything is created', () => {
    const text = TWO_CONTAINERS.replace(
      '        origin: https://example.com/app.git',
      '        origin: https://example.com/app.git\n        fork: https://example.com/fork.git',
    )
    assert.throws(
      () => devfileSource(text),
      (e: unknown) => e instanceof InputError && /projects app: several git remotes \(origin, fork\)/.test(e.message),
    )
    assert.throws(
      () => devfileSource(`${TWO_CONTAINERS}events:\n  postStart: [missing]\n`),
      /events\.postStart names missing, which is not a command id/,
    )
    assert.deepEqual(sim.devWorkspaces(NAMESPACE), [])
  })

  it('row 6: an editor from another namespace needs allow-import-from', async () => {
    sim.addEditor('shared', 'che-code')
    const provider = cheProvider(sim, { ...devfileSource(), editor: { name: 'che-code', namespace: 'shared' } })
    await assert.rejects(provisioned(provider), /does not allow imports from namespace ci/)
    const template = sim.store.get('devworkspacetemplates', 'shared', 'che-code') as KubeObject
    template.metadata.annotations = { 'controller.devfile.io/allow-import-from': 'ci' }
    sim.store.update('devworkspacetemplates', template)
    const handle = await provisioned(provider)
    await provider.destroy(handle, 5_000)
    await assert.rejects(
      provisioned(cheProvider(sim, { ...devfileSource(), editor: { name: 'nope' } })),
      /Error processing devfile: plugin for component editor not found/,
    )
  })

  it('row 8: at most one async-storage workspace runs per namespace', async () => {
    const provider = cheProvider(sim, { ...devfileSource(), storageType: 'async' })
    const first = await provisioned(provider)
    try {
      await assert.rejects(
        provisioned(provider),
        /at most one workspace using async storage can be running in a namespace/,
      )
    } finally {
      await provider.destroy(first, 5_000)
    }
  })

  it('row 9: the common PVC goes with its last workspace; a failed cleanup Job (phase Error) fails destroy at once', async () => {
    const provider = cheProvider(sim, { ...devfileSource(), storageType: 'per-user' })
    const first = await provisioned(provider)
    assert.ok(sim.store.get('persistentvolumeclaims', NAMESPACE, 'claim-devworkspace'))
    await provider.destroy(first, 5_000)
    assert.equal(sim.store.get('persistentvolumeclaims', NAMESPACE, 'claim-devworkspace'), undefined)
    const handle = await provisioned(provider)
    sim.faults.failCleanupJob = true
    const started = Date.now()
    await assert.rejects(provider.destroy(handle, 60_000), /could not be deleted: DevWorkspace PVC cleanup job failed/)
    assert.ok(Date.now() - started < 5_000)
    sim.faults.failCleanupJob = false
    sim.store.update('devworkspaces', stored(sim, handle.name)) // an administrator fixes the Job; DWO reconciles
    while (sim.devWorkspaces(NAMESPACE).length > 0) await new Promise((r) => setTimeout(r, 10))
  })
})
