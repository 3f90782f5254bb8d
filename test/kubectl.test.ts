import { KubeConfig } from '@kubernetes/client-node'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { WorkspaceHandle } from '../src/shared/provider.js'
import { createCheProvider } from '../src/shared/providers/che/che-provider.js'
import { devfileSource, FAST, NAMESPACE, provisioned } from './che/fixture.js'
import { applyManifest, type Kubectl, kubectlFor, kubectlOnPath } from './harness/kubectl.js'
import { noFaults } from './sim/kube/faults.js'
import { type KubeSim, SIM_USER, startKubeSim } from './sim/kube/server.js'

/** The two kinds of user a kind or kubeadm cluster has: a bearer token, and a client certificate (CN, O). */
const USERS = [
  {
    kind: 'token',
    kubeconfig: (sim: KubeSim) => sim.kubeconfig,
    name: SIM_USER.name,
    groups: ['system:serviceaccounts'],
  },
  {
    kind: 'client certificate',
    kubeconfig: (sim: KubeSim) => sim.clientCertKubeconfig('jane', ['ci-developers', 'run-task']),
    name: 'jane',
    groups: ['ci-developers', 'run-task'],
  },
]

// A client nobody here wrote: the machine's kubectl (>= 1.30) against the simulated cluster, over TLS.
describe('a real kubectl against the simulated cluster', () => {
  let sim: KubeSim
  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 20 })
  })
  after(async () => sim.close())

  for (const user of USERS) {
    describe(`as a ${user.kind} user`, () => {
      let kubectl: Kubectl
      let handle: WorkspaceHandle
      const run = async (...args: string[]) => kubectl.run(args)
      const ok = async (...args: string[]) => {
        const result = await kubectl.run(args)
        assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed: ${result.stderr}`)
        return result.stdout
      }
      const podName = () =>
        ok(
          'get',
          'pods',
          '-n',
          NAMESPACE,
          '-l',
          `controller.devfile.io/devworkspace_name=${handle.name}`,
          '-o',
          'jsonpath={.items[0].metadata.name}',
        )
      before(async () => {
        const kubeconfig = user.kubeconfig(sim)
        kubectl = await kubectlFor(kubeconfig)
        const kubeConfig = new KubeConfig()
        kubeConfig.loadFromString(kubeconfig)
        const provider = createCheProvider(
          { kubeconfig, namespace: NAMESPACE, source: devfileSource(), container: '' },
          { kubeConfig, ...FAST },
        )
        handle = await provisioned(provider)
      })
      after(() => {
        Object.assign(sim.faults, noFaults())
        kubectl?.close()
      })

      it('is authenticated as the user the credentials name (auth whoami)', async () => {
        const review = JSON.parse(await ok('auth', 'whoami', '-o', 'json')) as {
          status: { userInfo: { username: string; groups: string[] } }
        }
        assert.equal(review.status.userInfo.username, user.name)
        for (const group of [...user.groups, 'system:authenticated'])
          assert.ok(review.status.userInfo.groups.includes(group), `${group} in ${review.status.userInfo.groups}`)
      })

      it('lists devworkspaces in api-resources (aggregated discovery)', async () => {
        const out = await ok('api-resources', '--api-group=workspace.devfile.io')
        assert.match(out, /^devworkspaces\s+dw\s+workspace\.devfile\.io\/v1alpha2\s+true\s+DevWorkspace$/m)
        assert.match(
          out,
          /^devworkspacetemplates\s+dwt\s+workspace\.devfile\.io\/v1alpha2\s+true\s+DevWorkspaceTemplate$/m,
        )
      })

      it('gets the workspace with the CRD printer columns and its phase', async () => {
        const out = await ok('get', 'devworkspaces', '-n', NAMESPACE)
        assert.match(out, /^NAME\s+DEVWORKSPACE ID\s+PHASE\s+INFO$/m)
        assert.match(out, new RegExp(`^${handle.name}\\s+${handle.id}\\s+Running\\s+Workspace is running$`, 'm'))
        assert.equal(await ok('get', 'dw', handle.name, '-n', NAMESPACE, '-o', 'jsonpath={.status.phase}'), 'Running')
      })

      it('runs a command with exec over WebSocket v5 and returns its exit code', async () => {
        const pod = await podName()
        const result = await kubectl.run(shIn(pod, 'echo out; echo err >&2; exit 7', '-v=6'))
        assert.equal(result.code, 7, result.stderr)
        assert.equal(result.stdout, 'out\n')
        assert.match(result.stderr, /The subprotocol is v5\.channel\.k8s\.io/)
        assert.match(result.stderr, /^err$/m)
        assert.match(result.stderr, /command terminated with exit code 7/)
      })

      it('copies a file out of the pod (kubectl cp: tar over exec)', async () => {
        const pod = await podName()
        const home = (await ok(...shIn(pod, 'printf "report\\n" > "$HOME/r.txt"; echo "$HOME"'))).trim()
        const dir = mkdtempSync(path.join(tmpdir(), 'kubectl-cp-'))
        try {
          await ok('cp', '-n', NAMESPACE, '-c', 'dev', `${pod}:${home}/r.txt`, path.join(dir, 'r.txt'))
          assert.equal(readFileSync(path.join(dir, 'r.txt'), 'utf8'), 'report\n')
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })

      it('asks the cluster with auth can-i', async () => {
        const yes = await run('auth', 'can-i', 'create', 'devworkspaces.workspace.devfile.io', '-n', NAMESPACE)
        assert.deepEqual([yes.code, yes.stdout.trim()], [0, 'yes'])
        sim.faults.denied = ['create pods/exec']
        const no = await run('auth', 'can-i', 'create', 'pods', '--subresource=exec', '-n', NAMESPACE)
        assert.deepEqual([no.code, no.stdout.trim()], [1, 'no'])
        sim.faults.denied = []
      })

      it('watches the phases with get -w --output-watch-events', async () => {
        const watch = watchOutput(kubectl, ['get', 'dw', handle.name, '-n', NAMESPACE, '-w', '--output-watch-events'])
        try {
          await watch.until(/^EVENT\s+NAME\s+DEVWORKSPACE ID\s+PHASE\s+INFO$/m)
          await watch.until(new RegExp(`^ADDED\\s+${handle.name}\\s+\\S+\\s+Running\\b`, 'm'))
          await ok('patch', 'dw', handle.name, '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"started":false}}')
          await watch.until(new RegExp(`^MODIFIED\\s+${handle.name}\\s+\\S+\\s+Stopping\\b`, 'm'))
          await watch.until(new RegExp(`^MODIFIED\\s+${handle.name}\\s+\\S+\\s+Stopped\\b`, 'm'))
        } finally {
          watch.stop()
        }
      })

      it('deletes with --wait, which returns once the finalizers are gone', async () => {
        const before = sim.store.get('devworkspaces', NAMESPACE, handle.name)
        assert.ok(before?.metadata.finalizers?.length, 'the workspace holds finalizers')
        const out = await ok('delete', 'dw', handle.name, '-n', NAMESPACE, '--wait', '--timeout=30s')
        assert.match(out, new RegExp(`devworkspace\\.workspace\\.devfile\\.io "${handle.name}" deleted`))
        assert.equal(sim.store.get('devworkspaces', NAMESPACE, handle.name), undefined)
        const missing = await run('get', 'dw', handle.name, '-n', NAMESPACE)
        assert.equal(missing.code, 1)
        assert.match(missing.stderr, /NotFound|not found/)
      })
    })
  }

  it('applies a Namespace, an HTTPRoute and a DevWorkspace with validation on (OpenAPI v3), and explains them', async () => {
    const kubectl = await kubectlFor(sim.kubeconfig)
    const apply = (manifest: string) => applyManifest(kubectl, manifest)
    try {
      const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'applied' } }
      const route = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'applied', namespace: NAMESPACE },
        spec: {
          parentRefs: [{ name: 'shared', namespace: 'gateway-system' }],
          rules: [{ backendRefs: [{ name: 'backend', port: 8080 }] }],
        },
      }
      const workspace = {
        apiVersion: 'workspace.devfile.io/v1alpha2',
        kind: 'DevWorkspace',
        metadata: { name: 'applied', namespace: NAMESPACE },
        spec: { started: false, template: { components: [{ name: 'dev', container: { image: 'busybox' } }] } },
      }
      const manifests = [namespace, route, workspace].map((o) => JSON.stringify(o))
      const first = await apply(manifests.join('\n'))
      assert.equal(first.code, 0, first.out)
      assert.match(first.out, /^namespace\/applied created$/m)
      assert.match(first.out, /^httproute\.gateway\.networking\.k8s\.io\/applied created$/m)
      assert.match(first.out, /^devworkspace\.workspace\.devfile\.io\/applied created$/m)
      const again = await apply(manifests.join('\n'))
      assert.match(again.out, /^namespace\/applied unchanged$/m)
      assert.match(again.out, /^devworkspace\.workspace\.devfile\.io\/applied unchanged$/m)
      // The CRD defaults the parentRef (group, kind) and the rule (a PathPrefix / match), and a JSON merge patch
      // replaces whole lists, so kubectl's three-way patch (current vs. manifest) is not empty and it says
      // "configured", as against a real cluster; the patch changes nothing.
      const generation = sim.store.get('httproutes', NAMESPACE, 'applied')?.metadata.generation
      assert.match(again.out, /^httproute\.gateway\.networking\.k8s\.io\/applied configured$/m)
      assert.equal(sim.store.get('httproutes', NAMESPACE, 'applied')?.metadata.generation, generation)
      // kubectl read the documents (once: they are cached by their hash) and left validation to the server.
      const served = sim.requests.filter((r) => r.startsWith('GET /openapi/v3/'))
      assert.ok(
        served.some((r) => r.startsWith('GET /openapi/v3/apis/workspace.devfile.io/v1alpha2?hash=')),
        served.join('\n'),
      )
      assert.equal(new Set(served).size, served.length, `fetched twice: ${served.join('\n')}`)
      assert.ok(sim.requests.some((r) => /^POST \/apis\/workspace\.devfile\.io\/.*fieldValidation=Strict/.test(r)))
      // A change goes out as a patch: JSON merge patch for the custom resources, strategic merge patch for a Namespace.
      const moved = { ...route, spec: { ...route.spec, rules: [{ backendRefs: [{ name: 'backend', port: 8081 }] }] } }
      const labelled = { ...namespace, metadata: { ...namespace.metadata, labels: { 'gateway-access': 'allowed' } } }
      const changed = await apply([labelled, moved].map((o) => JSON.stringify(o)).join('\n'))
      assert.equal(changed.out.match(/ configured$/gm)?.length, 2, changed.out)
      assert.equal(sim.store.get('namespaces', '', 'applied')?.metadata.labels?.['gateway-access'], 'allowed')
      // A field the DevWorkspace schema does not have: the server's strict decoding refuses it, as a create and as a patch.
      const typo = (name: string) => ({
        ...workspace,
        metadata: { ...workspace.metadata, name },
        spec: {
          ...workspace.spec,
          template: { components: [{ name: 'dev', container: { image: 'busybox', imagePullPolicy: 'Always' } }] },
        },
      })
      const created = await apply(JSON.stringify(typo('typo')))
      assert.equal(created.code, 1)
      assert.match(
        created.out,
        /Error from server \(BadRequest\): error when creating "STDIN": DevWorkspace in version "v1alpha2" cannot be handled as a DevWorkspace: strict decoding error: unknown field "spec\.template\.components\[0\]\.container\.imagePullPolicy"/,
      )
      const patched = await apply(JSON.stringify(typo('applied')))
      assert.equal(patched.code, 1)
      assert.match(
        patched.out,
        /The request is invalid: patch: Invalid value: .*strict decoding error: unknown field "spec\.template\.components\[0\]\.container\.imagePullPolicy"/,
      )
      assert.equal(sim.store.get('devworkspaces', NAMESPACE, 'typo'), undefined)
      // kubectl explain reads the same documents.
      const explained = await kubectl.run(['explain', 'devworkspaces.spec.started'])
      assert.equal(explained.code, 0, explained.stderr)
      assert.match(explained.stdout, /^FIELD: started <boolean>$/m)
      const rules = await kubectl.run(['explain', 'roles.rules'])
      assert.match(rules.stdout, /^FIELDS:\n\s+apiGroups\s+<\[\]string>/m)
    } finally {
      await kubectl.run(['delete', 'dw', 'applied', '-n', NAMESPACE, '--wait=false'])
      kubectl.close()
    }
  })

  it('delete --wait times out while a finalizer stays (it really waits)', async () => {
    const kubectl = await kubectlFor(sim.kubeconfig)
    try {
      sim.faults.stuckFinalizers = true
      sim.store.create('devworkspaces', {
        apiVersion: 'workspace.devfile.io/v1alpha2',
        kind: 'DevWorkspace',
        metadata: { name: 'held', namespace: NAMESPACE, finalizers: ['example.com/held'] },
        spec: { started: false, template: {} },
      })
      const result = await kubectl.run(['delete', 'dw', 'held', '-n', NAMESPACE, '--wait', '--timeout=2s'])
      assert.notEqual(result.code, 0)
      assert.match(result.stderr, /timed out waiting/)
      assert.ok(sim.store.get('devworkspaces', NAMESPACE, 'held')?.metadata.deletionTimestamp)
    } finally {
      sim.faults.stuckFinalizers = false
      kubectl.close()
    }
  })
})

describe('the kubectl the suite needs', () => {
  it('fails, never skips, when PATH has no kubectl or one older than 1.30', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'no-kubectl-'))
    try {
      await assert.rejects(kubectlFor('', dir), /needs kubectl 1\.30 or later on PATH, and there is no kubectl on PATH/)
      const old = path.join(dir, 'kubectl')
      writeFileSync(old, '#!/bin/sh\necho \'{"clientVersion":{"gitVersion":"v1.29.9"}}\'\n')
      chmodSync(old, 0o755)
      assert.equal(kubectlOnPath(dir), old)
      await assert.rejects(kubectlFor('', dir), /needs kubectl 1\.30 or later; .*kubectl is v1\.29\.9/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** `kubectl exec` arguments that run a shell script in the pod's dev container. */
function shIn(pod: string, script: string, ...flags: string[]): string[] {
  return ['exec', ...flags, '-n', NAMESPACE, pod, '-c', 'dev', '--', 'sh', '-c', script]
}

/** A long-running kubectl (get -w) whose output can be awaited, with a time limit. */
function watchOutput(kubectl: Kubectl, args: string[]): { until(pattern: RegExp): Promise<void>; stop(): void } {
  const child = kubectl.start(args)
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  return {
    until: async (pattern) => {
      const deadline = Date.now() + 15_000
      while (!pattern.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`kubectl ${args.join(' ')} never printed ${pattern}; it printed:\n${out}\n${err}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    stop: () => void child.kill('SIGTERM'),
  }
}
