import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { EvidenceMeta } from '../src/shared/evidence/meta.js'
import { ROOT, runActionStep } from './harness/action-runner.js'
import { type CoderJob, providerInputs, runChain, startCoderJob } from './harness/job.js'

/**
 * issue 13: one environment contract drives both simulated providers through the whole chain (the committed
 * bundles): the workspace definition (Che: the contract's task devfile; Coder: the template builds from the
 * generated devcontainer.json, checked for drift), the command (its first entrypoint) and the evidence path and
 * JUnit patterns, with the same evidence layout on both.
 */

// The entrypoint writes its report where the contract's junit pattern finds it, outside collect's defaults.
const ENTRYPOINT =
  'mkdir -p "$RUN_TASK_EVIDENCE_DIR/reports" && printf \'<testsuite name="s"><testcase classname="c" name="from-contract"/></testsuite>\' > "$RUN_TASK_EVIDENCE_DIR/reports/suite.result.xml" && echo contract entrypoint ran'
const CONTRACT = `version: 1
name: app
image: quay.io/devfile/universal-developer-image:ubi9-latest
user: vscode
tools: [git]
checkout:
  directory: app
entrypoints:
  test: ${JSON.stringify(ENTRYPOINT)}
  test-cluster: echo cluster
evidence:
  path: out/evidence
  junit: ['reports/*.result.xml']
`

describe('one environment contract drives both providers', () => {
  let job: CoderJob
  before(async () => {
    job = await startCoderJob('5300')
    writeFileSync(path.join(job.workspace, 'environment-contract.yaml'), CONTRACT)
    execFileSync(process.execPath, [
      path.join(ROOT, 'dist/cli/index.js'),
      'contract',
      'generate',
      '--root',
      job.workspace,
    ])
  })
  after(async () => {
    await job.close()
  })

  // The contract replaces the devfile on Che; on Coder the template stays.
  const inputs = (provider: 'che' | 'coder'): Record<string, string> => ({
    ...providerInputs(job, provider),
    devfile: '',
    contract: 'environment-contract.yaml',
  })

  it('runs the chain on Che and on Coder with the same command, evidence path and evidence layout', async () => {
    const layouts: string[][] = []
    for (const provider of ['che', 'coder'] as const) {
      const chain = await runChain(job, '', {}, inputs(provider), { upload: 'false' })
      const logs = Object.entries(chain)
        .map(([step, r]) => `${step} (exit ${String(r.code)}):\n${r.stdout}${r.stderr}`)
        .join('\n')
      assert.equal(chain.collect.outputs.outcome, 'passed', logs)
      assert.match(chain.run.stdout, /contract entrypoint ran/, logs)
      const dir = chain.collect.outputs['evidence-dir'] as string
      const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as EvidenceMeta
      assert.equal(meta.command, ENTRYPOINT, 'meta.json names the contract entrypoint as the command')
      assert.equal(chain.collect.outputs['tests-passed'], '1', `the contract's junit pattern found the report\n${logs}`)
      assert.equal(chain.post.code, 0, logs)
      layouts.push(files(dir))
    }
    assert.deepEqual(layouts[0], layouts[1])
    assert.ok(layouts[0]?.includes('workspace/reports/suite.result.xml'), String(layouts[0]))
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    assert.deepEqual(job.coder.workspaces(), [])
  })

  it("smoke-checks the contract's tools on Coder when the tools input is empty", async () => {
    const smoke = await runActionStep('smoke', {
      env: job.env,
      inputs: { ...inputs('coder'), 'admin-token': job.coder.adminToken },
    })
    assert.match(smoke.stdout, /git present; checkout found/, smoke.stdout)
    assert.doesNotMatch(smoke.stdout, /git, gh present/, 'not the smoke default (git gh)')
    assert.deepEqual(job.coder.workspaces(), [])
  })

  it("smoke-checks the contract's tools and its checkout's persistence on Che", async () => {
    job.sim.addEditor('ci', 'che-code')
    const smoke = await runActionStep('smoke', {
      env: job.env,
      inputs: { ...inputs('che'), editor: 'che-code', 'storage-type': 'per-workspace' },
    })
    assert.match(smoke.stdout, /git present; checkout found/, smoke.stdout)
    // The marker goes into the contract's checkout, on the workspace's persistent volume.
    assert.match(smoke.stdout, /marker kept in \/\S*\/projects\/app \(/, smoke.stdout)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('refuses a Coder provision whose devcontainer.json drifted from the contract, before anything is created', async () => {
    const file = path.join(job.workspace, '.devcontainer/coder/devcontainer.json')
    const generated = readFileSync(file, 'utf8')
    writeFileSync(file, generated.replace('"remoteUser": "vscode"', '"remoteUser": "root"'))
    try {
      const provision = await runActionStep('provision-workspace', { env: job.env, inputs: inputs('coder') })
      assert.equal(provision.code, 1)
      assert.match(provision.stdout, /contract.*environment-contract\.yaml.*drifted/s)
      assert.match(provision.stdout, /-\s+"remoteUser": "root"/)
      assert.match(provision.stdout, /run-task contract generate/)
      assert.deepEqual(job.coder.workspaces(), [])
    } finally {
      writeFileSync(file, generated)
    }
  })

  it('refuses a contract and a devfile together on Che', async () => {
    const provision = await runActionStep('provision-workspace', {
      env: job.env,
      inputs: { ...inputs('che'), devfile: 'devfile.yaml' },
    })
    assert.equal(provision.code, 1)
    assert.match(provision.stdout, /devfile.*nothing when a contract is given/)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })
})

/** Every file under the evidence folder, relative and sorted, with the workspace-specific logs left out. */
function files(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}
