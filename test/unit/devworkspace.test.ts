import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InputError } from '../../src/shared/errors.js'
import { buildDevWorkspace, loadDevfile, parseTemplateRef } from '../../src/shared/providers/che/devworkspace.js'
import { devWorkspaceProblems } from '../../src/shared/providers/che/schema.js'
import { DEVFILE } from '../harness/job.js'

describe('DevWorkspace from a devfile', () => {
  const meta = { name: 'rt-1-1-abc', namespace: 'ci', labels: { 'run-task.ameide.io/run-id': '1' } }

  it('turns the devfile into spec.template with started, storage type and labels', () => {
    const dw = buildDevWorkspace({ devfile: loadDevfile('devfile', DEVFILE, '.'), storageType: 'ephemeral' }, meta, {
      routingClass: 'che',
    })
    assert.equal(dw.apiVersion, 'workspace.devfile.io/v1alpha2')
    assert.equal(dw.spec.started, true)
    assert.equal(
      (dw.spec.template?.attributes as Record<string, string>)['controller.devfile.io/storage-type'],
      'ephemeral',
    )
    assert.deepEqual(dw.metadata.labels, meta.labels)
    assert.equal((dw.spec.template?.components as unknown[]).length, 1)
    assert.equal('schemaVersion' in (dw.spec.template ?? {}), false)
    assert.deepEqual(devWorkspaceProblems(dw), [])
  })

  it('references a DevWorkspaceTemplate as parent and an editor as a contribution', () => {
    const dw = buildDevWorkspace(
      {
        template: parseTemplateRef('devworkspace-template', 'shared/base'),
        editor: parseTemplateRef('editor', 'che-code'),
        storageType: 'per-user',
      },
      meta,
      { routingClass: 'che' },
    )
    assert.deepEqual(dw.spec.template?.parent, { kubernetes: { name: 'base', namespace: 'shared' } })
    assert.deepEqual(dw.spec.contributions, [{ name: 'editor', kubernetes: { name: 'che-code' } }])
    assert.deepEqual(devWorkspaceProblems(dw), [])
  })

  it('rejects a devfile that fails the schema, naming the input and the problem', () => {
    const bad = 'schemaVersion: 2.2.0\ncomponents:\n  - name: dev\n    container:\n      memoryLimit: 1Gi\n'
    assert.throws(
      () => loadDevfile('devfile', bad, '.'),
      (e: unknown) =>
        e instanceof InputError &&
        /Input 'devfile'/.test(e.message) &&
        /\/components\/0\/container must have required property 'image'/.test(e.message),
    )
    assert.throws(() => loadDevfile('devfile', 'components: []\n', '.'), /must have required property 'schemaVersion'/)
    assert.throws(() => loadDevfile('devfile', 'schemaVersion: 2.2.0\na: [\n', '.'), /valid YAML/)
    assert.throws(() => loadDevfile('devfile', 'missing.yaml', '/nowhere'), /no file at \/nowhere\/missing\.yaml/)
  })

  it('rejects bad template references', () => {
    assert.throws(() => parseTemplateRef('editor', 'Bad_Name'), /Input 'editor'/)
    assert.throws(() => parseTemplateRef('editor', 'a/b/c'), /namespace\/name/)
  })
})

describe('vendored schemas', () => {
  it('are the same bytes as the reference copies in ../shared', async (t) => {
    const { existsSync, readFileSync } = await import('node:fs')
    const path = await import('node:path')
    const root = path.resolve(import.meta.dirname, '../..')
    const shared = path.resolve(root, '../shared/reference/schemas')
    if (!existsSync(shared)) return t.skip('../shared is not beside this checkout')
    for (const name of ['dev-workspace.json', 'devfile.json']) {
      assert.ok(
        readFileSync(path.join(root, 'src/shared/providers/che/schemas', name)).equals(
          readFileSync(path.join(shared, name)),
        ),
        `${name} matches`,
      )
    }
  })
})
