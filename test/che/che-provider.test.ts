import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import {
  CommandTimeoutError,
  ExecStreamError,
  PermissionError,
  ProviderUnavailableError,
  WorkspaceStartError,
} from '../../src/shared/errors.js'
import { UNSAFE_POD_FIELDS, type UnsafePodField } from '../../src/shared/providers/che/pod-guardrails.js'
import { noFaults, type PodMutation } from '../sim/kube/faults.js'
import { cheProvider, devfileSource, execText, type KubeSim, NAMESPACE, provisioned, startKubeSim } from './fixture.js'

describe('Che provider against the simulated cluster', () => {
  let sim: KubeSim
  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 2 })
  })
  afterEach(() => Object.assign(sim.faults, noFaults()))
  after(async () => sim.close())

  it('provisions a labelled, started, ephemeral DevWorkspace and finds its container', async () => {
    const provider = cheProvider(sim)
    await provider.checkPermissions()
    const handle = await provisioned(provider)
    assert.equal(handle.target, 'dev')
    assert.match(handle.id, /^workspace[0-9a-f]{16}$/)
    const stored = sim.store.get('devworkspaces', NAMESPACE, handle.name) as unknown as {
      metadata: { labels: Record<string, string> }
      spec: { started: boolean; template: { attributes: Record<string, string> } }
      status: { phase: string }
    }
    assert.equal(stored.spec.started, true)
    assert.equal(stored.status.phase, 'Running')
    assert.equal(stored.spec.template.attributes['controller.devfile.io/storage-type'], 'ephemeral')
    assert.equal(stored.metadata.labels['run-task.ameide.io/run-id'], '77')
    assert.equal(stored.metadata.labels['run-task.ameide.io/created-by'], 'run-task')
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: false })
    assert.deepEqual(await provider.destroy(handle, 5_000), { alreadyGone: true })
  })

  it('resumes a watch that the server closes after every event', async () => {
    sim.faults.watchCloseAfterEvents = 1
    const provider = cheProvider(sim)
    const handle = await provisioned(provider)
    const watches = sim.requests.filter((r) => r.includes('watch=true') && r.includes(handle.name))
    assert.ok(watches.length > 3, `the watch was resumed (${watches.length} watch requests)`)
    assert.ok(
      watches.slice(1).every((r) => /resourceVersion=\d+/.test(r)),
      'each resumed watch carries a resourceVersion',
    )
    await provider.destroy(handle, 5_000)
  })

  it('lists again after 410 Gone when the resourceVersion has been compacted away', async () => {
    sim.faults.slowStartMs = 300
    sim.faults.watchCloseAfterEvents = 1
    const provider = cheProvider(sim)
    const compacting = setInterval(() => sim.store.compact(), 20)
    try {
      const handle = await provisioned(provider)
      assert.equal(handle.target, 'dev')
      await provider.destroy(handle, 5_000)
    } finally {
      clearInterval(compacting)
    }
    const lists = sim.requests.filter(
      (r) => r.startsWith('GET /apis/workspace.devfile.io') && r.includes('fieldSelector') && !r.includes('watch=true'),
    )
    assert.ok(lists.length > 2, `re-listed after 410 (${lists.length} lists)`)
  })

  it('retries a create answered with 503 and creates the workspace once', async () => {
    sim.faults.createServerErrors = 2
    const provider = cheProvider(sim)
    const handle = await provisioned(provider)
    assert.equal(
      sim.requests.filter((r) =>
        r.startsWith(`POST /apis/workspace.devfile.io/v1alpha2/namespaces/${NAMESPACE}/devworkspaces?`),
      ).length >= 3,
      true,
    )
    await provider.destroy(handle, 5_000)
  })

  it('retries a pod list answered 429, while waiting for the pod and before an exec', async () => {
    // An API server under load throttles the pod list like any other call (the load test found it was not retried).
    const podList = { match: /^GET \/api\/v1\/namespaces\/ci\/pods$/, kind: 'status' as const, status: 429 }
    const provider = cheProvider(sim)
    const throttled = { ...podList, count: 2, retryAfterSeconds: 0 }
    sim.faults.requestFaults.push(throttled)
    const handle = await provisioned(provider)
    assert.equal(throttled.count, 0, 'both 429s were answered while provisioning')
    const again = { ...podList, count: 2, retryAfterSeconds: 0 }
    sim.faults.requestFaults.push(again)
    assert.equal((await execText(provider, handle, 'echo after-429')).stdout, 'after-429\n')
    assert.equal(again.count, 0, 'both 429s were answered before the exec')
    await provider.destroy(handle, 5_000)
  })

  it('retries the CheCluster list answered 429 before the create (it failed the provision)', async () => {
    // The load test found 429s here failed provision: discovery normalized the error before the retry saw it, so
    // its Retry-After was lost and the call got the policy's 5 attempts, not the 10 retries Retry-After earns.
    const throttled = {
      match: /^GET \/apis\/org\.eclipse\.che\/v2\/checlusters$/,
      kind: 'status' as const,
      status: 429,
      count: 5,
      retryAfterSeconds: 0,
    }
    sim.faults.requestFaults.push(throttled)
    const provider = cheProvider(sim)
    const handle = await provisioned(provider)
    assert.equal(throttled.count, 0, 'all five 429s were answered')
    await provider.destroy(handle, 5_000)
  })

  it('waits for the Retry-After of a 429 on the status list before listing again', async () => {
    const throttled = {
      match: /^GET \/apis\/workspace\.devfile\.io\/v1alpha2\/namespaces\/ci\/devworkspaces$/,
      kind: 'status' as const,
      status: 429,
      retryAfterSeconds: 1,
      count: 1,
    }
    const provider = cheProvider(sim)
    sim.faults.requestFaults.push(throttled)
    const started = Date.now()
    const handle = await provisioned(provider)
    assert.equal(throttled.count, 0)
    assert.ok(Date.now() - started >= 1_000, 'listed again only after Retry-After: 1')
    await provider.destroy(handle, 5_000)
  })

  it('reports an API server that stays down as unavailable, naming what it was doing', async () => {
    sim.faults.unavailable = true
    const provider = cheProvider(sim)
    await assert.rejects(
      provider.checkPermissions(),
      (e: unknown) =>
        e instanceof ProviderUnavailableError &&
        /checking permission .*: the server is currently unable to handle the request \(reason: ServiceUnavailable, code: 503\)/.test(
          e.message,
        ),
    )
  })

  it('lists every missing permission before creating anything', async () => {
    sim.faults.denied = ['create devworkspaces', 'create pods/exec']
    const provider = cheProvider(sim)
    await assert.rejects(
      provider.checkPermissions(),
      (e: unknown) =>
        e instanceof PermissionError &&
        /create devworkspaces\.workspace\.devfile\.io in ci, create pods\/exec in ci\./.test(e.message),
    )
  })

  it('fails at once on a Failed workspace, with conditions and events', async () => {
    sim.faults.failStart = {
      eventReason: 'FailedMount',
      eventMessage: 'MountVolume.SetUp failed for volume "projects"',
      eventCount: 3,
    }
    const provider = cheProvider(sim)
    await assert.rejects(provisioned(provider, 600_000), (e: unknown) => {
      assert.ok(e instanceof WorkspaceStartError)
      assert.match(
        e.message,
        /failed to start: Error creating DevWorkspace deployment: Detected unrecoverable event FailedMount 3 times: MountVolume/,
      )
      assert.ok(e.diagnostics.some((l) => /condition FailedStart=True \(InfrastructureFailure\)/.test(l)))
      assert.ok(e.diagnostics.some((l) => /event Warning FailedMount on Pod .*MountVolume\.SetUp failed/.test(l)))
      return true
    })
  })

  it('gives up at the start timeout with the last status seen', async () => {
    sim.faults.slowStartMs = 5_000
    const provider = cheProvider(sim)
    await assert.rejects(
      provisioned(provider, 300),
      (e: unknown) =>
        e instanceof WorkspaceStartError &&
        /was not Running within the start timeout .*last status: Starting \(Waiting for workspace deployment\)/.test(
          e.message,
        ),
    )
  })

  it('fails a DevWorkspace whose parent template does not exist', async () => {
    const provider = cheProvider(sim, { template: { name: 'missing-template' }, storageType: 'ephemeral' })
    await assert.rejects(
      provisioned(provider),
      (e: unknown) =>
        e instanceof WorkspaceStartError &&
        /devworkspacetemplates\.workspace\.devfile\.io "missing-template" not found/.test(e.message),
    )
  })

  it('refuses a workspace with a privileged container, even when allow-unsafe-pod lists everything', async () => {
    sim.faults.privilegedPod = true
    const provider = cheProvider(sim, devfileSource(), '', 'che', [...UNSAFE_POD_FIELDS])
    await assert.rejects(
      provisioned(provider),
      (e: unknown) =>
        e instanceof WorkspaceStartError &&
        /container dev: securityContext\.privileged is true\..*\(privileged cannot be allowed\)/.test(e.message),
    )
  })

  const guardrails: { field: UnsafePodField; mutation: PodMutation; names: RegExp }[] = [
    {
      field: 'allowPrivilegeEscalation',
      mutation: { containerSecurityContext: { allowPrivilegeEscalation: true } },
      names: /container dev: securityContext\.allowPrivilegeEscalation is true/,
    },
    {
      field: 'hostPath',
      mutation: { hostPath: '/var/run/docker.sock' },
      names: /volume host: hostPath \/var\/run\/docker\.sock \(mounted by container dev\)/,
    },
    { field: 'hostNetwork', mutation: { hostNetwork: true }, names: /pod: spec\.hostNetwork is true/ },
    { field: 'hostPID', mutation: { hostPID: true }, names: /pod: spec\.hostPID is true/ },
    { field: 'hostIPC', mutation: { hostIPC: true }, names: /pod: spec\.hostIPC is true/ },
  ]
  for (const { field, mutation, names } of guardrails) {
    it(`refuses a pod with ${field} before any command, naming the field, unless allow-unsafe-pod lists it`, async () => {
      sim.faults.podMutation = mutation
      await assert.rejects(
        provisioned(cheProvider(sim)),
        (e: unknown) =>
          e instanceof WorkspaceStartError &&
          names.test(e.message) &&
          e.message.includes(`allow them explicitly with allow-unsafe-pod: ${field}.`),
      )
      const others = UNSAFE_POD_FIELDS.filter((f) => f !== field)
      await assert.rejects(provisioned(cheProvider(sim, devfileSource(), '', 'che', others)), WorkspaceStartError)
      const provider = cheProvider(sim, devfileSource(), '', 'che', [field])
      const handle = await provisioned(provider)
      try {
        assert.match(handle.podSecurity?.allowedUnsafe.join('\n') ?? '', names)
        assert.equal((await execText(provider, handle, 'echo ran')).stdout, 'ran\n')
      } finally {
        await provider.destroy(handle, 5_000)
      }
    })
  }

  it('records runAsNonRoot of the pod and the container, the container winning', async () => {
    const provider = cheProvider(sim)
    const handle = await provisioned(provider)
    await provider.destroy(handle, 5_000)
    assert.deepEqual(handle.podSecurity, {
      runAsNonRoot: { pod: true, container: null, effective: true },
      allowedUnsafe: [],
    })
    sim.faults.podMutation = { runAsNonRoot: true, containerSecurityContext: { runAsNonRoot: false } }
    const root = await provisioned(provider)
    await provider.destroy(root, 5_000)
    assert.deepEqual(root.podSecurity?.runAsNonRoot, { pod: true, container: false, effective: false })
  })

  describe('exec', () => {
    let provider: ReturnType<typeof cheProvider>
    let handle: Awaited<ReturnType<typeof provisioned>>
    before(async () => {
      provider = cheProvider(sim)
      handle = await provisioned(provider)
    })
    after(async () => provider.destroy(handle, 5_000))

    it('keeps stdout and stderr apart and reads the exit code from the status channel', async () => {
      const result = await execText(provider, handle, 'echo out; echo err >&2; exit 7')
      assert.equal(result.exitCode, 7)
      assert.equal(result.stdout, 'out\n')
      assert.equal(result.stderr, 'err\n')
    })

    it('works on an API server that only speaks v4.channel.k8s.io', async () => {
      sim.faults.execProtocols = ['v4.channel.k8s.io']
      const result = await execText(provider, handle, 'echo v4; exit 2')
      assert.deepEqual([result.exitCode, result.stdout], [2, 'v4\n'])
    })

    it('passes environment values exactly, newlines, quotes and $ included, without a command line', async () => {
      const tricky = `a 'b' "c" $HOME \\ \`x\`\nsecond line\n`
      const result = await execText(provider, handle, 'printf %s "$TRICKY"', { env: { TRICKY: tricky } })
      assert.equal(result.stdout, tricky)
      const execs = sim.requests.filter((r) => r.startsWith('UPGRADE')).join('\n')
      assert.ok(!execs.includes(encodeURIComponent('second line')), 'the value is not in any exec URL')
    })

    it('runs in the project source by default and in a relative working directory on request', async () => {
      assert.match((await execText(provider, handle, 'pwd')).stdout, /\/projects\/app\n$/)
      await execText(provider, handle, 'mkdir -p sub/dir')
      assert.match((await execText(provider, handle, 'pwd', { cwd: 'sub/dir' })).stdout, /\/projects\/app\/sub\/dir\n$/)
      const missing = await execText(provider, handle, 'pwd', { cwd: 'nope' })
      assert.equal(missing.exitCode, 125)
      assert.match(missing.stderr, /working directory 'nope' does not exist/)
    })

    it('kills the whole process tree when the time limit runs out', async () => {
      const marker = path.join(sim.folders.dir(NAMESPACE, handle.name), 'home', 'late-marker')
      await assert.rejects(
        execText(provider, handle, `(sleep 2; touch "${marker}") & sleep 2; touch "${marker}"`, { timeoutMs: 300 }),
        CommandTimeoutError,
      )
      await delay(2_500)
      assert.equal(existsSync(marker), false, 'no process of the command survived the timeout')
    })

    it('reports a dropped stream as an ExecStreamError, not an exit code', async () => {
      sim.faults.execDropOnOutput = 'DROP'
      await assert.rejects(
        execText(provider, handle, 'echo DROP; sleep 1'),
        (e: unknown) =>
          e instanceof ExecStreamError && /closed before the command's exit status arrived/.test(e.message),
      )
    })

    it('reports a refused exec upgrade with its status code', async () => {
      sim.faults.execUpgradeStatus = 403
      await assert.rejects(
        execText(provider, handle, 'true'),
        /opening an exec stream .*refused the exec upgrade with HTTP 403 \(code: 403\)/,
      )
    })

    it('downloads the evidence directory as one tar, skipping links that point outside', async () => {
      await execText(
        provider,
        handle,
        'd="$PROJECTS_ROOT/ev"; mkdir -p "$d/junit" "$d/deep/er"; echo "<testsuite/>" > "$d/junit/a.xml"; echo x > "$d/deep/er/b.txt"; ln -sf /etc/passwd "$d/passwd"; ln -sfn / "$d/root"',
      )
      const local = mkdtempSync(path.join(tmpdir(), 'ev-'))
      try {
        const result = await provider.download(handle, 'ev', local, { maxBytes: 1_000_000 })
        assert.equal(result.found, true)
        assert.equal(result.files, 2)
        assert.deepEqual([...result.skipped].sort(), [
          'passwd: a symlink to /etc/passwd is not copied',
          'root: a symlink to / is not copied',
        ])
        assert.equal(readFileSync(path.join(local, 'junit', 'a.xml'), 'utf8'), '<testsuite/>\n')
        assert.deepEqual(readdirSync(local).sort(), ['deep', 'junit'])
        assert.equal(lstatSync(path.join(local, 'deep', 'er', 'b.txt')).isFile(), true)
        assert.deepEqual(await provider.download(handle, 'no-such-dir', local, { maxBytes: 1_000 }), {
          files: 0,
          bytes: 0,
          skipped: [],
          found: false,
        })
        await assert.rejects(
          provider.download(handle, 'ev', mkdtempSync(path.join(tmpdir(), 'ev-')), { maxBytes: 5 }),
          /larger than max-evidence-size/,
        )
      } finally {
        rmSync(local, { recursive: true, force: true })
      }
    })
  })

  it('keeps the projects across stop and start on per-workspace storage, and loses them on ephemeral', async () => {
    for (const [storageType, expected] of [
      ['per-workspace', 'kept\n'],
      ['ephemeral', 'gone\n'],
    ] as const) {
      const provider = cheProvider(sim, { ...devfileSource(), storageType })
      const handle = await provisioned(provider)
      await execText(provider, handle, 'echo kept > "$PROJECTS_ROOT/marker"')
      await provider.stop(handle, 5_000)
      assert.equal(
        (sim.store.get('devworkspaces', NAMESPACE, handle.name) as unknown as { status: { phase: string } }).status
          .phase,
        'Stopped',
      )
      const restarted = await provider.start(handle, 5_000)
      assert.equal(
        (await execText(provider, restarted, 'cat "$PROJECTS_ROOT/marker" 2>/dev/null || echo gone')).stdout,
        expected,
        storageType,
      )
      await provider.destroy(restarted, 5_000)
    }
  })

  it('names stuck finalizers when deletion does not finish in time', async () => {
    const provider = cheProvider(sim, { ...devfileSource(), storageType: 'per-user' })
    const handle = await provisioned(provider)
    sim.faults.stuckFinalizers = true
    await assert.rejects(
      provider.destroy(handle, 300),
      /was not gone 0s after deletion; last phase Terminating, finalizers may be stuck/,
    )
    sim.faults.stuckFinalizers = false
    const stored = sim.store.get('devworkspaces', NAMESPACE, handle.name)
    assert.ok(stored)
    // Unstick it by touching the object so the controller reconciles again.
    sim.store.update('devworkspaces', stored)
    await delay(100)
    assert.deepEqual(
      sim.devWorkspaces(NAMESPACE).filter((n) => n === handle.name),
      [],
    )
  })

  it('sweeps only its own stale workspaces under the prefix', async () => {
    const provider = cheProvider(sim)
    const handle = await provisioned(provider)
    assert.ok(
      !(await provider.sweep({ namePrefix: 'rt', olderThanMs: 60_000 })).includes(handle.name),
      'a fresh workspace is not stale',
    )
    await delay(20)
    assert.deepEqual(await provider.sweep({ namePrefix: 'other', olderThanMs: 1 }), [])
    const swept = await provider.sweep({ namePrefix: 'rt', olderThanMs: 1 })
    assert.ok(swept.includes(handle.name))
    assert.ok(swept.every((name) => name.startsWith('rt-')))
    assert.deepEqual(
      sim.devWorkspaces(NAMESPACE).filter((n) => n.startsWith('rt-')),
      [],
    )
  })
})
