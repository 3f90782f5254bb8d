import assert from 'node:assert/strict'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { EvidenceMeta } from '../src/shared/evidence/meta.js'
import { execFileSync } from 'node:child_process'
import { ApiException, KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node'
import { parseAllDocuments } from 'yaml'
import { ROUTING_RULES } from '../src/shared/rbac/bootstrap.js'
import { ROOT, runActionStep, type StepResult } from './harness/action-runner.js'
import { type CoderJob, coderInputs, devfileWithEndpoint, runChain, startCoderJob } from './harness/job.js'
import type { KubeObject } from './sim/kube/store.js'

/**
 * issue 12: a header-diverted HTTPRoute per run through the committed bundles, against the simulated cluster's
 * Gateway controller and its loopback data plane (test/sim/kube/README.md "Gateway API"): requests with the run's
 * header reach the run's backend during the command and the baseline after cleanup; the command starts only after
 * Accepted and ResolvedRefs; an unadmitted namespace, a missing permission and rejected credentials fail before
 * the command, each with its own message; cleanup, the post step and the sweep delete routes.
 */

const HOST = 'app.dev.sim.test'
const ROUTES = 'httproutes'

// The command: serves the run's backend on $PORT, then asks the Gateway for the hostname with and without the
// run's header, as Playwright with extraHTTPHeaders would.
const PROBE = [
  "const http=require('http');",
  "console.log('command-started-at '+Date.now());",
  "const get=(h)=>new Promise((ok,no)=>{const u=new URL(process.env.GATEWAY);const r=http.request({host:u.hostname,port:u.port,path:'/',headers:{host:process.env.RUN_TASK_ROUTE_HOSTNAME,...h}},(res)=>{let t='';res.on('data',(c)=>t+=c);res.on('end',()=>ok(res.statusCode+' '+t))});r.on('error',no);r.end()});",
  "const srv=http.createServer((q,s)=>s.end('run-backend')).listen(+process.env.PORT,'127.0.0.1',async()=>{",
  "console.log('with-header: '+await get({[process.env.RUN_TASK_ROUTE_HEADER_NAME]:process.env.RUN_TASK_ROUTE_HEADER_VALUE}));",
  "console.log('without-header: '+await get({}));srv.close()});",
].join('')
const COMMAND = 'node -e "$ROUTE_PROBE"'

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A free loopback port for the command's backend. */
async function freePort(): Promise<number> {
  const probe = createServer()
  const port = await listen(probe)
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

const logsOf = (steps: Record<string, StepResult>): string =>
  Object.entries(steps)
    .map(([step, r]) => `${step} (exit ${String(r.code)}):\n${r.stdout}${r.stderr}`)
    .join('\n')

describe('issue 12: a header-diverted route per run', () => {
  let job: CoderJob
  let baseline: Server
  /** A request through the simulated Gateway: status and body. */
  const viaGateway = (headers: Record<string, string> = {}) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(job.sim.gatewayUrl)
      const req = request(
        { host: url.hostname, port: url.port, path: '/', headers: { host: HOST, ...headers } },
        (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve(`${res.statusCode ?? 0} ${text.trim()}`))
        },
      )
      req.on('error', reject)
      req.end()
    })
  const routes = (namespace: string) => job.sim.store.list(ROUTES, namespace).map((o) => o.metadata.name)
  const namespace = (name: string, labels: Record<string, string> = {}) =>
    job.sim.store.create('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
    })
  const routeInputs = (port: number, extra: Record<string, string> = {}) => ({
    'route-gateway': 'gateway-system/shared',
    'route-hostname': HOST,
    'route-backend-port': String(port),
    ...extra,
  })
  const cheRouted = (port: number, extra: Record<string, string> = {}) => ({
    provider: 'che',
    kubeconfig: job.sim.kubeconfig,
    namespace: 'ci',
    devfile: devfileWithEndpoint(port),
    ...routeInputs(port, extra),
  })
  const probeEnv = (port: number) => ({ env: `ROUTE_PROBE=${PROBE}\nGATEWAY=${job.sim.gatewayUrl}\nPORT=${port}` })

  before(async () => {
    job = await startCoderJob('5400')
    // The baseline: the normal dev route everyone uses, in a namespace GitOps admitted.
    baseline = createServer((_req, res) => res.end('baseline'))
    const port = await listen(baseline)
    namespace('dev', { 'gateway-access': 'allowed' })
    job.sim.addBackend('dev', 'baseline', port)
    job.sim.store.create(ROUTES, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'dev', namespace: 'dev' },
      spec: {
        parentRefs: [
          { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'shared' },
        ],
        hostnames: [HOST],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ group: '', kind: 'Service', name: 'baseline', port: 80, weight: 1 }],
          },
        ],
      },
    } as KubeObject)
    for (let i = 0; i < 200 && (await viaGateway()) !== '200 baseline'; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(await viaGateway(), '200 baseline', 'the baseline route serves the hostname')
  })
  after(async () => {
    job.sim.faults.gatewayControllerDown = false
    await new Promise<void>((resolve) => baseline.close(() => resolve()))
    await job.close()
  })

  it('on Che: diverts requests with the header to the run, only after Accepted and ResolvedRefs, until cleanup', async () => {
    const port = await freePort()
    // The Gateway's controller is down at first: the route is created, but never accepted until it comes back.
    job.sim.faults.gatewayControllerDown = true
    let acceptedAt = 0
    let routeCreatedAt = 0
    const unsubscribe = job.sim.store.subscribe((e) => {
      if (e.resource !== ROUTES || e.object.metadata.namespace !== 'ci') return
      if (e.type === 'ADDED') routeCreatedAt ||= Date.now()
      const parents = (
        e.object.status as { parents?: { conditions?: { type: string; status: string }[] }[] } | undefined
      )?.parents
      const ok = (type: string) => parents?.[0]?.conditions?.some((c) => c.type === type && c.status === 'True')
      if (ok('Accepted') && ok('ResolvedRefs')) acceptedAt ||= Date.now()
    })
    const env = job.env
    const provisioning = runActionStep('provision-workspace', {
      env,
      inputs: cheRouted(port, { 'route-label-namespace': 'true' }),
    })
    for (let i = 0; i < 1000 && !routeCreatedAt; i++) await new Promise((r) => setTimeout(r, 10))
    assert.ok(routeCreatedAt, 'provision created the route')
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(acceptedAt, 0, 'not accepted while the controller is down')
    job.sim.faults.gatewayControllerDown = false
    job.sim.resyncGatewayController()
    const provision = await provisioning
    const run = await runActionStep('run-task', { env, inputs: { command: COMMAND, ...probeEnv(port) } })
    const collect = await runActionStep('collect-evidence', { env, inputs: { upload: 'false' } })
    const routesBeforeCleanup = routes('ci')
    const cleanup = await runActionStep('cleanup', { env })
    const post = await runActionStep('provision-workspace', { env, post: provision.state })
    unsubscribe()
    const logs = logsOf({ provision, run, collect, cleanup, post })
    assert.equal(collect.outputs.outcome, 'passed', logs)
    const name = provision.outputs['workspace-name'] as string
    assert.match(run.stdout, /with-header: 200 run-backend/, logs)
    assert.match(run.stdout, /without-header: 200 baseline/, logs)
    const started = Number(/command-started-at (\d+)/.exec(run.stdout)?.[1])
    assert.ok(acceptedAt > 0 && started > acceptedAt, `the command started after the route was accepted\n${logs}`)
    assert.deepEqual(routesBeforeCleanup, [name])
    assert.deepEqual(routes('ci'), [], 'cleanup deleted the route')
    assert.equal(await viaGateway({ 'X-Run-Task-Route': name }), '200 baseline', 'the header no longer diverts')
    assert.equal(provision.outputs['route-header-name'], 'X-Run-Task-Route')
    assert.equal(provision.outputs['route-header-value'], name)
    assert.equal(provision.outputs['route-name'], `ci/${name}`)
    const meta = JSON.parse(
      readFileSync(path.join(collect.outputs['evidence-dir'] as string, 'meta.json'), 'utf8'),
    ) as EvidenceMeta
    assert.equal(meta.route?.headerValue, name)
    assert.match(meta.route?.backendService ?? '', /-service$/)
    assert.ok(meta.route?.acceptedAt, 'meta.json records when the Gateway accepted the route')
    assert.match(collect.summary, new RegExp(`Route \`ci/${name}\` \\(accepted\\)`))
    assert.equal(
      job.sim.store.get('namespaces', '', 'ci')?.metadata.labels?.['gateway-access'],
      'allowed',
      'route-label-namespace opted the namespace in',
    )
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('on Che: an unadmitted namespace fails at provision naming the label, and post deletes route and workspace', async () => {
    namespace('closed')
    const port = await freePort()
    const inputs = { ...cheRouted(port), namespace: 'closed', 'route-timeout': '10m' }
    const provision = await runActionStep('provision-workspace', { env: job.env, inputs })
    const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
    const logs = logsOf({ provision, post })
    assert.equal(provision.code, 1, logs)
    assert.equal(provision.outputs.outcome, 'error', logs)
    // The Gateway's own verdict, not the 10m route-timeout.
    assert.match(provision.stdout, /does not accept routes from namespace closed \(NotAllowedByListeners/, logs)
    assert.match(provision.stdout, /kubectl label namespace closed gateway-access=allowed/, logs)
    assert.doesNotMatch(provision.stdout, /within 600s/, logs)
    assert.deepEqual(routes('closed'), [], 'the post step deleted the route')
    assert.deepEqual(job.sim.devWorkspaces('closed'), [], 'and the workspace')
  })

  it('says no controller owns the Gateway when no status comes by route-timeout', async () => {
    job.sim.faults.gatewayControllerDown = true
    try {
      const port = await freePort()
      const inputs = cheRouted(port, { 'route-label-namespace': 'true', 'route-timeout': '2s' })
      const provision = await runActionStep('provision-workspace', { env: job.env, inputs })
      const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
      const logs = logsOf({ provision, post })
      assert.equal(provision.outputs.outcome, 'error', logs)
      assert.match(
        provision.stdout,
        /RouteError: HTTPRoute ci\/\S+ was not Accepted with ResolvedRefs by Gateway gateway-system\/shared within 2s \(route-timeout\); last status: no status from Gateway gateway-system\/shared yet\. No controller wrote status for that Gateway/,
        logs,
      )
      assert.deepEqual(routes('ci'), [], logs)
    } finally {
      job.sim.faults.gatewayControllerDown = false
      job.sim.resyncGatewayController()
    }
  })

  for (const signal of ['SIGINT', 'SIGKILL'] as const)
    it(`a provision ${signal === 'SIGINT' ? 'cancelled' : 'killed'} while waiting for the Gateway leaves no route once the post step ran`, async () => {
      job.sim.faults.gatewayControllerDown = true
      try {
        const port = await freePort()
        const inputs = cheRouted(port, { 'route-label-namespace': 'true' })
        const provision = await runActionStep('provision-workspace', {
          env: job.env,
          inputs,
          interruptOn: 'waiting for Accepted and ResolvedRefs',
          interruptWith: signal,
        })
        assert.deepEqual(routes('ci'), [provision.outputs['workspace-name']], 'the route was there when the step ended')
        const post = await runActionStep('provision-workspace', { env: job.env, post: provision.state })
        const logs = logsOf({ provision, post })
        assert.notEqual(provision.code, 0, logs)
        assert.equal(post.code, 0, logs)
        assert.deepEqual(routes('ci'), [], logs)
        assert.deepEqual(job.sim.devWorkspaces('ci'), [], logs)
      } finally {
        job.sim.faults.gatewayControllerDown = false
        job.sim.resyncGatewayController()
      }
    })

  it('names every missing routing permission, and a 401 apart from a 403, before anything is created', async () => {
    const port = await freePort()
    const saved = job.sim.rules
    job.sim.rules = [
      {
        apiGroups: ['*'],
        resources: ['devworkspaces', 'devworkspacetemplates', 'pods', 'pods/exec', 'events'],
        verbs: ['*'],
      },
      { apiGroups: ['*'], resources: ['persistentvolumeclaims', 'checlusters'], verbs: ['*'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'watch'] },
    ]
    const before = job.sim.requests.length
    try {
      const denied = await runActionStep('provision-workspace', { env: job.env, inputs: cheRouted(port) })
      await runActionStep('provision-workspace', { env: job.env, post: denied.state })
      const logs = logsOf({ denied })
      assert.equal(denied.outputs.outcome, 'error', logs)
      for (const missing of [
        'create httproutes.gateway.networking.k8s.io in ci',
        'delete httproutes.gateway.networking.k8s.io in ci',
        'get services in ci',
      ])
        assert.ok(denied.stdout.includes(missing), `names ${missing}\n${logs}`)
      assert.match(denied.stdout, /lacks permissions: .*Routing power is granted at bootstrap/, logs)
      assert.match(denied.stdout, /user "system:serviceaccount:ci:run-task"/, logs)
    } finally {
      job.sim.rules = saved
    }
    // The API server stops trusting the token (its OIDC issuer or claims): 401 on every request.
    job.sim.faults.tokenRejected = true
    const rejected = await runActionStep('provision-workspace', { env: job.env, inputs: cheRouted(port) }).finally(
      () => (job.sim.faults.tokenRejected = false),
    )
    await runActionStep('provision-workspace', { env: job.env, post: rejected.state })
    assert.equal(rejected.outputs.outcome, 'error', logsOf({ rejected }))
    assert.match(
      rejected.stdout,
      /code: 401\)\. The API server did not accept the kubeconfig's credentials/,
      logsOf({ rejected }),
    )
    assert.doesNotMatch(rejected.stdout, /lacks permissions/)
    // (The post steps' DELETE by name finds nothing: 404.)
    const writes = job.sim.requests.slice(before).filter((r) => /^(POST|PUT|PATCH) /.test(r) && !/selfsubject/.test(r))
    assert.deepEqual(writes, [], 'nothing was created')
  })

  it('with only the rendered bootstrap RBAC, the run binds the routing role itself and routes', async () => {
    const port = await freePort()
    const saved = job.sim.rules
    // The workspace identity's own Role: everything the Che run needs, nothing of routing or RBAC.
    job.sim.rules = [
      {
        apiGroups: ['workspace.devfile.io', '', 'org.eclipse.che'],
        resources: [
          'devworkspaces',
          'devworkspacetemplates',
          'pods',
          'pods/exec',
          'events',
          'persistentvolumeclaims',
          'checlusters',
        ],
        verbs: ['*'],
      },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
    ]
    const admin = new KubeConfig()
    admin.loadFromString(job.sim.clientCertKubeconfig('gitops', ['system:masters']))
    const objects = KubernetesObjectApi.makeApiClient(admin)
    const rendered = execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'dist/cli/index.js'),
        'rbac',
        'render',
        '--namespace',
        'ci',
        '--service-account',
        'ci/run-task',
        '--label-namespace',
      ],
      { encoding: 'utf8' },
    )
    try {
      for (const doc of parseAllDocuments(rendered)) await objects.create(doc.toJS() as KubernetesObject)
      const chain = await runChain(job, COMMAND, probeEnv(port), cheRouted(port, { 'route-label-namespace': 'true' }), {
        upload: 'false',
      })
      const logs = logsOf({ ...chain })
      assert.equal(chain.collect.outputs.outcome, 'passed', logs)
      assert.match(
        chain.provision.stdout,
        /Bound ClusterRole run-task-routing to "system:serviceaccount:ci:run-task" in ci \(RoleBinding run-task-routing-[0-9a-f]{10}\)/,
        logs,
      )
      assert.match(chain.run.stdout, /with-header: 200 run-backend/, logs)
      const bindings = job.sim.store.list('rolebindings', 'ci').map((o) => o.metadata.name)
      assert.ok(
        bindings.some((n) => /^run-task-routing-[0-9a-f]{10}$/.test(n)),
        String(bindings),
      )
      // The identity may bind the predeclared role, never make a Role of its own.
      const workspace = new KubeConfig()
      workspace.loadFromString(job.sim.kubeconfig)
      const asWorkspace = KubernetesObjectApi.makeApiClient(workspace)
      const role = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'mine', namespace: 'ci' },
        rules: ROUTING_RULES,
      }
      await assert.rejects(asWorkspace.create(role), (e: unknown) => e instanceof ApiException && e.code === 403)
    } finally {
      job.sim.rules = saved
    }
  })

  it('on Coder: routes to the backend in route-namespace with the kubeconfig given for it', async () => {
    const port = await freePort()
    namespace('apps', { 'gateway-access': 'allowed' })
    job.sim.addBackend('apps', 'run-api', port)
    const inputs = {
      ...coderInputs(job),
      kubeconfig: job.sim.kubeconfig,
      ...routeInputs(80, { 'route-namespace': 'apps', 'route-backend-service': 'run-api' }),
    }
    const chain = await runChain(job, COMMAND, probeEnv(port), inputs, { upload: 'false' })
    const logs = logsOf({ ...chain })
    assert.equal(chain.collect.outputs.outcome, 'passed', logs)
    assert.match(chain.run.stdout, /with-header: 200 run-backend/, logs)
    assert.match(chain.run.stdout, /without-header: 200 baseline/, logs)
    assert.deepEqual(routes('apps'), [], logs)
    assert.deepEqual(job.coder.workspaces(), [])
  })

  it('the sweep deletes a route that a killed run left', async () => {
    const port = await freePort()
    // A run killed after provision: no run, no cleanup, no post step ever comes.
    const killed = await runActionStep('provision-workspace', {
      env: { ...job.env, GITHUB_RUN_ID: '5401' },
      inputs: cheRouted(port),
    })
    assert.equal(killed.code, 0, logsOf({ killed }))
    const left = killed.outputs['workspace-name'] as string
    assert.deepEqual(routes('ci'), [left])
    // The next run sweeps: its own route goes in cleanup, the killed run's with the sweep.
    const env = job.env
    const provision = await runActionStep('provision-workspace', { env, inputs: cheRouted(port) })
    const run = await runActionStep('run-task', { env, inputs: { command: 'true' } })
    const cleanup = await runActionStep('cleanup', { env, inputs: { 'sweep-older-than': '1ms' } })
    const post = await runActionStep('provision-workspace', { env, post: provision.state })
    const logs = logsOf({ killed, provision, run, cleanup, post })
    assert.match(cleanup.stdout, new RegExp(`Swept 1 stale HTTPRoutes: ${left}`), logs)
    assert.deepEqual(routes('ci'), [], logs)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [], logs)
  })
})
