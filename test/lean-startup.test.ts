import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from './harness/action-runner.js'
import { type CoderJob, type Job, cheInputs, runChain, startCoderJob, startJob } from './harness/job.js'

// What each step of the committed bundles loads: a step compiles only the chunks it
// uses (issue 16, start-up). Each marker is a string literal found only in that package.
const MARKERS = {
  kubernetesClient: 'authorization.k8s.io/v1/selfsubjectaccessreviews', // @kubernetes/client-node's generated API
  ssh2: 'SSH-2.0-ssh2js', // ssh2's identification string
  artifactClient: 'github.actions.results.api.v1.ArtifactService', // @actions/artifact's Twirp service
} as const
type Package = keyof typeof MARKERS

const HOOK = path.join(ROOT, 'test', 'harness', 'trace-chunks.mjs')

/** Runs a chain with every step traced; returns, per step, the packages its loaded chunks contain. */
async function tracedChain(
  job: Job,
  provisionInputs: Record<string, string>,
  collectInputs: Record<string, string> = {},
): Promise<{ steps: Map<string, Set<Package>>; outcome: string | undefined; log: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trace-'))
  const file = path.join(dir, 'chunks')
  try {
    const chain = await runChain(job, 'echo traced', {}, provisionInputs, collectInputs, {
      NODE_OPTIONS: `--import ${HOOK}`,
      RUN_TASK_TRACE_CHUNKS: file,
    })
    const steps = new Map<string, Set<Package>>()
    for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
      const [entry = '', phase = '', chunk = ''] = line.split(' ')
      const step = `${path.basename(path.dirname(entry))} ${phase}`
      const found = steps.get(step) ?? new Set<Package>()
      const text = readFileSync(chunk, 'utf8')
      for (const [name, marker] of Object.entries(MARKERS)) if (text.includes(marker)) found.add(name as Package)
      steps.set(step, found)
    }
    const log = [chain.provision, chain.run, chain.collect].map((s) => s.stdout + s.stderr).join('\n')
    return { steps, outcome: chain.collect.outputs.outcome, log }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('dist bundles load only what the step uses', () => {
  let job: CoderJob
  before(async () => {
    job = await startCoderJob('1616')
  })
  after(async () => job.close())

  it('no step of a Coder chain loads the Kubernetes client; only upload loads the artifact client', async () => {
    const coder = {
      provider: 'coder',
      'coder-url': job.coder.url,
      'coder-token': job.coder.token,
      template: 'ci-docker',
      parameters: 'repo_url: https://example.com/app.git\nregion: us',
    }
    const { steps, outcome, log } = await tracedChain(job, coder, { upload: 'false' })
    assert.equal(outcome, 'passed', log)
    assert.deepEqual([...steps.keys()].sort(), [
      'cleanup main',
      'collect-evidence main',
      'provision-workspace main',
      'provision-workspace post',
      'run-task main',
    ])
    for (const [step, packages] of steps) {
      assert.ok(!packages.has('kubernetesClient'), `${step} loaded @kubernetes/client-node`)
      assert.ok(!packages.has('artifactClient'), `${step} loaded @actions/artifact`)
    }
    assert.ok(steps.get('run-task main')?.has('ssh2'), 'the run step talks SSH')
    for (const step of ['provision-workspace main', 'cleanup main'])
      assert.ok(!steps.get(step)?.has('ssh2'), `${step} runs no command, so it never loads ssh2`)
  })

  it('no step of a Che chain loads ssh2; the collect step that uploads loads the artifact client', async () => {
    const che = await startJob('1617')
    try {
      const { steps, outcome, log } = await tracedChain(che, cheInputs(che))
      assert.equal(outcome, 'passed', log)
      for (const [step, packages] of steps) assert.ok(!packages.has('ssh2'), `${step} loaded ssh2`)
      assert.ok(steps.get('provision-workspace main')?.has('kubernetesClient'))
      assert.ok(steps.get('collect-evidence main')?.has('artifactClient'))
      assert.ok(!steps.get('run-task main')?.has('artifactClient'))
    } finally {
      await che.close()
    }
  })
})
