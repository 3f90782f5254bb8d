import {
  ApiException,
  KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  PatchStrategy,
} from '@kubernetes/client-node'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { ROOT } from './harness/action-runner.js'
import { applyManifest, kubectlFor, kubectlOnPath } from './harness/kubectl.js'
import { type KubeSim, SIM_USER, startKubeSim } from './sim/kube/server.js'
import { trustedFetch } from './sim/trusted-fetch.js'

/**
 * issue 12, "Must show": `run-task rbac render` output applies cleanly to the simulated cluster, and with it (and
 * nothing else: `sim.rules = []`) the workspace identity can bind the routing ClusterRole to itself and then route,
 * but cannot create a Role or bind any other role. Real HTTPS to the simulator, whose authorizer and escalation
 * checks are the apiserver's (test/sim/kube/rbac-authorizer.ts); every real request is matched by a
 * SelfSubjectAccessReview asked the same question.
 */

const RBAC = 'rbac.authorization.k8s.io'
const NS = 'ci'
const IDENTITY = SIM_USER.name // system:serviceaccount:ci:run-task
const GROUPS = '["system:serviceaccounts" "system:serviceaccounts:ci" "system:authenticated"]'

function render(...args: string[]): { yaml: string; objects: KubernetesObject[] } {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), 'rbac', 'render', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  })
  assert.equal(result.status, 0, result.stderr)
  return { yaml: result.stdout, objects: parseAllDocuments(result.stdout).map((d) => d.toJS() as KubernetesObject) }
}

function clientFor(kubeconfig: string): KubernetesObjectApi {
  const kc = new KubeConfig()
  kc.loadFromString(kubeconfig)
  return KubernetesObjectApi.makeApiClient(kc)
}

/** The HTTP status and Status message of a failed client-node call; status 0 when it succeeded. */
async function outcome(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call
    return { code: 0, message: '' }
  } catch (error) {
    if (!(error instanceof ApiException)) throw error
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { message?: string }
    return { code: error.code, message: body?.message ?? '' }
  }
}

describe('rbac render applied to the simulated cluster: bind-only routing power', () => {
  let sim: KubeSim
  let admin: KubernetesObjectApi
  let workspace: KubernetesObjectApi
  let review: (attributes: Record<string, string>) => Promise<{ allowed: boolean; reason?: string }>
  const canI = async (attributes: Record<string, string>) => (await review(attributes)).allowed

  const create = (api: KubernetesObjectApi, object: Record<string, unknown>) =>
    outcome(api.create(object as unknown as KubernetesObject))
  const routeBinding = (name: string, kind: string, role: string) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name, namespace: NS },
    roleRef: { apiGroup: RBAC, kind, name: role },
    subjects: [{ kind: 'ServiceAccount', namespace: NS, name: 'run-task' }],
  })
  const httpRoute = (name: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS },
    spec: {
      parentRefs: [{ name: 'shared', namespace: 'gateway-system' }],
      rules: [{ backendRefs: [{ name: 'backend', port: 8080 }] }],
    },
  })
  /** Both ways of asking: the real request's outcome and a SelfSubjectAccessReview; they must agree. */
  const agree = async (attributes: Record<string, string>, result: { code: number }, allowed: boolean) => {
    assert.equal(result.code === 0, allowed, `${JSON.stringify(attributes)}: ${JSON.stringify(result)}`)
    assert.equal(await canI(attributes), allowed, `SelfSubjectAccessReview ${JSON.stringify(attributes)}`)
  }

  before(async () => {
    sim = await startKubeSim({ stepDelayMs: 5 })
    admin = clientFor(sim.clientCertKubeconfig('platform-admin', ['system:masters']))
    workspace = clientFor(sim.kubeconfig)
    const fetch = trustedFetch(sim.caCert)
    review = async (resourceAttributes) => {
      const res = await fetch(`${sim.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes },
        }),
      })
      assert.equal(res.status, 201)
      return ((await res.json()) as { status: { allowed: boolean; reason?: string } }).status
    }
    // What the cluster has before GitOps runs: the namespaces, a Service to route to, and roles nobody may bind.
    for (const name of [NS, 'other']) {
      const made = await create(admin, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
      assert.ok(made.code === 0 || made.code === 409, made.message)
    }
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: NS } }
    assert.equal((await create(admin, { ...service, spec: { ports: [{ port: 8080 }] } })).code, 0)
    // kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go: cluster-admin, and admin's kind of rule.
    const clusterRole = (name: string, rules: unknown[]) => ({
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name },
      rules,
    })
    for (const role of [
      clusterRole('cluster-admin', [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ]),
      clusterRole('admin', [{ apiGroups: [''], resources: ['pods', 'secrets', 'services'], verbs: ['*'] }]),
    ])
      assert.equal((await create(admin, role)).code, 0)
    // Nothing but what the rendered objects (and the test's admin) grant.
    sim.rules = []
  })
  after(async () => sim?.close())

  it('applies every object rbac render prints, as a cluster admin (kubectl apply -f -, else client-node)', async (t) => {
    const { yaml, objects } = render('--namespace', NS, '--service-account', `${NS}/run-task`)
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata?.name}`),
      ['ClusterRole/run-task-routing', 'Role/run-task-bind-routing', 'RoleBinding/run-task-bind-routing'],
    )
    if (kubectlOnPath()) {
      const kubectl = await kubectlFor(sim.clientCertKubeconfig('platform-admin', ['system:masters']))
      // Validation on (kubectl's default --validate=strict): kubectl reads the simulator's OpenAPI v3, finds the
      // fieldValidation parameter on each kind's PATCH and leaves the check to the server with fieldValidation=Strict.
      const apply = (manifest: string) => applyManifest(kubectl, manifest)
      const applied = async (manifest: string): Promise<string> => {
        const { code, out } = await apply(manifest)
        assert.equal(code, 0, out)
        return out
      }
      try {
        const out = await applied(yaml)
        assert.match(out, /clusterrole\.rbac\.authorization\.k8s\.io\/run-task-routing created/)
        assert.match(out, /role\.rbac\.authorization\.k8s\.io\/run-task-bind-routing created/)
        assert.match(out, /rolebinding\.rbac\.authorization\.k8s\.io\/run-task-bind-routing created/)
        // GitOps re-syncs the same bytes: nothing to change.
        assert.equal((await applied(yaml)).match(/ unchanged$/gm)?.length, 3)
        assert.ok(
          sim.requests.some(
            (r) =>
              r.startsWith('POST /apis/rbac.authorization.k8s.io/v1/clusterroles?') &&
              r.includes('fieldValidation=Strict'),
          ),
          'kubectl left validation to the server',
        )
        // A typo in a manifest (`resourceName:`) is refused by the server's strict decoding, not silently dropped:
        // as a new object (400) and as a change to an existing one (the strategic merge patch's 422).
        const typo = yaml.replace(/^(\s*)resources:/m, '$1resourceName: [x]\n$1resources:')
        const changed = await apply(typo)
        assert.equal(changed.code, 1, changed.out)
        assert.match(
          changed.out,
          /The request is invalid: patch: Invalid value: "map\[.*": strict decoding error: unknown field "rules\[0\]\.resourceName"/,
        )
        const clusterRole = typo.split(/^---$/m)[0] ?? ''
        const fresh = await apply(clusterRole.replace('name: run-task-routing', 'name: run-task-routing-typo'))
        assert.match(
          fresh.out,
          /Error from server \(BadRequest\): error when creating "STDIN": ClusterRole in version "v1" cannot be handled as a ClusterRole: strict decoding error: unknown field "rules\[0\]\.resourceName"/,
        )
      } finally {
        kubectl.close()
      }
    } else {
      t.diagnostic('no kubectl on PATH: applied with @kubernetes/client-node only')
      for (const object of objects) assert.equal((await outcome(admin.create(object))).code, 0)
    }
    // Stored as rendered: no field dropped as unknown, nothing defaulted into something else.
    const grants = (o: Record<string, unknown>) => ({ rules: o.rules, roleRef: o.roleRef, subjects: o.subjects })
    for (const object of objects) {
      const stored = await admin.read(object as KubernetesObject & { metadata: { name: string } })
      const plain = JSON.parse(JSON.stringify(stored)) as Record<string, unknown> // client-node's classes, as JSON
      assert.deepEqual(grants(plain), grants(object as Record<string, unknown>))
    }
  })

  it('lets the workspace identity bind the routing ClusterRole to itself, and then route', async () => {
    const route = { verb: 'create', group: 'gateway.networking.k8s.io', resource: 'httproutes', namespace: NS }
    await agree(route, await create(workspace, httpRoute('before-binding')), false)
    const bind = { verb: 'bind', group: RBAC, resource: 'clusterroles', namespace: NS, name: 'run-task-routing' }
    assert.equal(await canI(bind), true)
    await agree(
      { verb: 'create', group: RBAC, resource: 'rolebindings', namespace: NS },
      await create(workspace, routeBinding('run-task-routing', 'ClusterRole', 'run-task-routing')),
      true,
    )
    await agree(route, await create(workspace, httpRoute('run-1')), true)
    // The reason the RBAC authorizer gives names the binding (rbac.go authorizingVisitor, rule.go roleBindingDescriber).
    assert.equal(
      (await review(route)).reason,
      `RBAC: allowed by RoleBinding "run-task-routing/${NS}" of ClusterRole "run-task-routing" to ServiceAccount "run-task/${NS}"`,
    )
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: NS } }
    await agree(
      { verb: 'get', group: '', resource: 'services', namespace: NS, name: 'backend' },
      await outcome(workspace.read(service)),
      true,
    )
    // The routing role reads Services; it does not change them.
    await agree(
      { verb: 'delete', group: '', resource: 'services', namespace: NS, name: 'backend' },
      await outcome(workspace.delete(service)),
      false,
    )
    // Only in its own namespace: RoleBindings elsewhere do not count.
    assert.equal(await canI({ ...route, namespace: 'other' }), false)
  })

  it('refuses the workspace identity a Role of its own (403)', async () => {
    const role = {
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name: 'mine', namespace: NS },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }],
    }
    const refused = await create(workspace, role)
    await agree({ verb: 'create', group: RBAC, resource: 'roles', namespace: NS }, refused, false)
    assert.equal(refused.code, 403)
    assert.equal(
      refused.message,
      `roles.${RBAC} is forbidden: User "${IDENTITY}" cannot create resource "roles" in API group "${RBAC}" in the namespace "${NS}"`,
    )
    assert.equal(await canI({ verb: 'escalate', group: RBAC, resource: 'roles', namespace: NS }), false)
  })

  it('refuses binding any other ClusterRole: the apiserver names the permissions not held', async () => {
    for (const role of ['cluster-admin', 'admin']) {
      assert.equal(
        await canI({ verb: 'bind', group: RBAC, resource: 'clusterroles', namespace: NS, name: role }),
        false,
      )
      const refused = await create(workspace, routeBinding(`sneak-${role}`, 'ClusterRole', role))
      assert.equal(refused.code, 403, refused.message)
      assert.ok(
        refused.message.startsWith(
          `rolebindings.${RBAC} "sneak-${role}" is forbidden: user "${IDENTITY}" (groups=${GROUPS}) is attempting to grant RBAC permissions not currently held:\n`,
        ),
        refused.message,
      )
    }
    const refused = await create(workspace, routeBinding('sneak-cluster-admin', 'ClusterRole', 'cluster-admin'))
    assert.match(
      refused.message,
      /\n\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}\n\{NonResourceURLs:\["\*"\], Verbs:\["\*"\]\}$/,
    )
    const admin = await create(workspace, routeBinding('sneak-admin', 'ClusterRole', 'admin'))
    assert.match(admin.message, /\{APIGroups:\[""\], Resources:\["pods"\], Verbs:\["\*"\]\}/)
    // A Role that does not exist cannot be bound without `bind` on it either (the registry's NotFound).
    const missing = await create(workspace, routeBinding('sneak-missing', 'Role', 'nope'))
    assert.deepEqual([missing.code, missing.message], [404, `roles.${RBAC} "nope" not found`])
    // Nor cluster-wide: ClusterRoleBindings are not the identity's to create.
    const cluster = {
      ...routeBinding('sneak-cluster', 'ClusterRole', 'run-task-routing'),
      kind: 'ClusterRoleBinding',
      metadata: { name: 'sneak-cluster' },
    }
    await agree(
      { verb: 'create', group: RBAC, resource: 'clusterrolebindings' },
      await create(workspace, cluster),
      false,
    )
  })

  it('with create on Roles granted, still refuses a Role granting more than the identity holds (escalation)', async () => {
    const writer = {
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name: 'role-writer', namespace: NS },
      rules: [{ apiGroups: [RBAC], resources: ['roles'], verbs: ['create'] }],
    }
    assert.equal((await create(admin, writer)).code, 0)
    assert.equal((await create(admin, routeBinding('role-writer', 'Role', 'role-writer'))).code, 0)
    const role = (name: string, rules: unknown[]) => ({
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name, namespace: NS },
      rules,
    })
    const refused = await create(
      workspace,
      role('more', [{ apiGroups: [''], resources: ['pods', 'secrets'], verbs: ['get', 'create'] }]),
    )
    assert.equal(refused.code, 403)
    assert.equal(
      refused.message,
      `roles.${RBAC} "more" is forbidden: user "${IDENTITY}" (groups=${GROUPS}) is attempting to grant RBAC permissions not currently held:\n` +
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "create"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create"]}',
    )
    // What it already holds it may hand out (ConfirmNoEscalation passes): reading the Service it routes to.
    const held = role('held', [
      { apiGroups: [''], resources: ['services'], resourceNames: ['backend'], verbs: ['get'] },
    ])
    assert.equal((await create(workspace, held)).code, 0)
  })

  it('keeps a binding pointing at its role: roleRef cannot change, not even for an admin (422)', async () => {
    const binding = routeBinding('run-task-routing', 'ClusterRole', 'cluster-admin')
    const patch = (api: KubernetesObjectApi) =>
      outcome(
        api.patch(
          { ...binding, roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' } } as KubernetesObject,
          undefined,
          undefined,
          undefined,
          undefined,
          PatchStrategy.MergePatch,
        ),
      )
    // The identity may create RoleBindings, not change them.
    await agree(
      { verb: 'patch', group: RBAC, resource: 'rolebindings', namespace: NS, name: 'run-task-routing' },
      await patch(workspace),
      false,
    )
    const changed = await patch(admin)
    assert.equal(changed.code, 422)
    assert.equal(
      changed.message,
      `RoleBinding.${RBAC} "run-task-routing" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"${RBAC}", Kind:"ClusterRole", Name:"cluster-admin"}: cannot change roleRef`,
    )
  })

  it('drops a field RBAC does not have (a typo) with a warning, and refuses it under fieldValidation=Strict', async () => {
    const kc = new KubeConfig()
    kc.loadFromString(sim.clientCertKubeconfig('platform-admin', ['system:masters']))
    const user = kc.getCurrentUser()
    const fetch = trustedFetch(sim.caCert, {
      cert: Buffer.from(user?.certData ?? '', 'base64').toString(),
      key: Buffer.from(user?.keyData ?? '', 'base64').toString(),
    })
    const post = (name: string, query: string) =>
      fetch(`${sim.url}/apis/${RBAC}/v1/namespaces/${NS}/roles${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: `${RBAC}/v1`,
          kind: 'Role',
          metadata: { name },
          rules: [{ apiGroups: [''], resources: ['secrets'], resourceName: ['one'], verbs: ['get'] }],
        }),
      })
    const strict = await post('typo-strict', '?fieldValidation=Strict')
    assert.equal(strict.status, 400)
    assert.equal(
      ((await strict.json()) as { message: string }).message,
      'Role in version "v1" cannot be handled as a Role: strict decoding error: unknown field "rules[0].resourceName"',
    )
    const warned = await post('typo-warn', '')
    assert.equal(warned.status, 201)
    assert.equal(warned.headers.get('warning'), '299 - "unknown field \\"rules[0].resourceName\\""')
    // What a typo costs: the rule now grants every Secret.
    assert.deepEqual(((await warned.json()) as { rules: unknown[] }).rules, [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    ])
  })

  it('--label-namespace: the identity may label its own namespace, and no other (client-node apply)', async () => {
    const { objects } = render('--namespace', NS, '--service-account', `${NS}/run-task`, '--label-namespace')
    const extra = objects.filter((o) => o.metadata?.name === `run-task-label-namespace-${NS}`)
    assert.deepEqual(
      extra.map((o) => o.kind),
      ['ClusterRole', 'ClusterRoleBinding'],
    )
    for (const object of extra) assert.equal((await outcome(admin.create(object))).code, 0)
    const label = (name: string) =>
      outcome(
        workspace.patch(
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'gateway-access': 'allowed' } } },
          undefined,
          undefined,
          undefined,
          undefined,
          PatchStrategy.MergePatch,
        ),
      )
    await agree({ verb: 'patch', group: '', resource: 'namespaces', name: NS }, await label(NS), true)
    assert.equal(sim.store.get('namespaces', '', NS)?.metadata.labels?.['gateway-access'], 'allowed')
    const other = await label('other')
    await agree({ verb: 'patch', group: '', resource: 'namespaces', name: 'other' }, other, false)
    assert.equal(
      other.message,
      `namespaces "other" is forbidden: User "${IDENTITY}" cannot patch resource "namespaces" in API group "" at the cluster scope`,
    )
    // resourceNames cannot be met without a name: listing or creating namespaces stays refused.
    assert.equal(await canI({ verb: 'patch', group: '', resource: 'namespaces' }), false)
  })
})
