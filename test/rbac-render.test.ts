import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { ROOT } from './harness/action-runner.js'

/** issue 12: `run-task rbac render`, the GitOps-owned, bind-only routing RBAC, through the built CLI. */

interface Rule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
  resourceNames?: string[]
}
interface RbacObject {
  kind: string
  metadata: { name: string; namespace?: string }
  rules?: Rule[]
  roleRef?: { kind: string; name: string }
  subjects?: Record<string, string>[]
}

function render(...args: string[]): { status: number | null; out: string; objects: RbacObject[] } {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), 'rbac', 'render', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  })
  const objects = result.status === 0 ? parseAllDocuments(result.stdout).map((d) => d.toJS() as RbacObject) : []
  return { status: result.status, out: `${result.stdout}${result.stderr}`, objects }
}

describe('rbac render: routing power granted at bootstrap, bind-only', () => {
  it('prints the routing ClusterRole, and a Role that may only bind it by name, bound to the workspace user', () => {
    const { status, objects } = render('--namespace', 'ws-alice', '--user', 'alice@example.com')
    assert.equal(status, 0)
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['ClusterRole/run-task-routing', 'Role/run-task-bind-routing', 'RoleBinding/run-task-bind-routing'],
    )
    const routing = objects[0]?.rules ?? []
    assert.ok(routing.some((r) => r.resources.includes('httproutes') && r.verbs.includes('create')))
    assert.ok(routing.some((r) => r.resources.includes('services') && r.verbs.includes('get')))
    const role = objects[1] as RbacObject
    assert.equal(role.metadata.namespace, 'ws-alice')
    const rbacRules = (role.rules ?? []).filter((r) => r.apiGroups.includes('rbac.authorization.k8s.io'))
    // Roles and ClusterRoles: only `bind`, only the predeclared one; never create, update, patch or escalate.
    for (const rule of rbacRules.filter((r) => r.resources.some((x) => x === 'roles' || x === 'clusterroles'))) {
      assert.deepEqual(rule.verbs, ['bind'])
      assert.deepEqual(rule.resourceNames, ['run-task-routing'])
    }
    assert.ok(!rbacRules.some((r) => r.verbs.includes('escalate') || r.verbs.includes('*')))
    assert.ok(rbacRules.some((r) => r.resources.includes('rolebindings') && r.verbs.includes('create')))
    assert.deepEqual(objects[2]?.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'run-task-bind-routing',
    })
    assert.deepEqual(objects[2]?.subjects, [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice@example.com' },
    ])
  })

  it('binds a ServiceAccount, lets it label only its own namespace when asked, and prints the same bytes every time', () => {
    const args = ['--namespace', 'ws-ci', '--service-account', 'ws-ci/runner', '--label-namespace']
    const first = render(...args)
    assert.equal(first.status, 0)
    assert.equal(render(...args).out, first.out)
    assert.deepEqual(first.objects[2]?.subjects, [{ kind: 'ServiceAccount', namespace: 'ws-ci', name: 'runner' }])
    const label = first.objects.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'run-task-label-namespace-ws-ci',
    )
    assert.deepEqual(label?.rules, [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'], resourceNames: ['ws-ci'] },
    ])
    assert.ok(first.objects.some((o) => o.kind === 'ClusterRoleBinding' && o.roleRef?.name === label?.metadata.name))
  })

  it('refuses bad input naming it, with exit 2', () => {
    const bad = render('--namespace', 'Not_A_Label', '--user', 'alice')
    assert.equal(bad.status, 2)
    assert.match(bad.out, /Input 'namespace' has the value "Not_A_Label", but expected a Kubernetes namespace/)
    const both = render('--namespace', 'ws', '--user', 'a', '--service-account', 'ws/b')
    assert.equal(both.status, 2)
    assert.match(both.out, /exactly one identity/)
  })
})
