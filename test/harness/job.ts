import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CoderSim, startCoderSim } from '../sim/coderd/server.js'
import { type KubeSim, type KubeSimOptions, startKubeSim } from '../sim/kube/server.js'
import { type ResultsSim, startResultsSim } from '../sim/results/server.js'
import { runActionStep, type StepResult } from './action-runner.js'

export const DEVFILE = `schemaVersion: 2.2.0
metadata:
  name: test-workspace
projects:
  - name: app
    git:
      remotes:
        origin: https://example.com/app.git
components:
  - name: dev
    container:
      image: quay.io/devfile/universal-developer-image:ubi9-latest
`

/** A devfile whose container declares the backend's endpoint, so DWO makes `<devworkspace id>-service` for it. */
export const devfileWithEndpoint = (port: number): string => `${DEVFILE}      endpoints:
        - name: api
          targetPort: ${port}
          exposure: internal
`

/** One simulated GitHub job: a cluster, a results service, a workspace folder and RUNNER_TEMP. */
export interface Job {
  readonly sim: KubeSim
  readonly results: ResultsSim
  readonly env: Record<string, string> & { readonly RUNNER_TEMP: string }
  readonly workspace: string
  close(): Promise<void>
}

export async function startJob(runId = '4242', simOptions: KubeSimOptions = {}): Promise<Job> {
  const sim = await startKubeSim({ stepDelayMs: 5, ...simOptions })
  const results = await startResultsSim()
  const dir = mkdtempSync(path.join(tmpdir(), 'job-'))
  const workspace = path.join(dir, 'repo')
  const runnerTemp = path.join(dir, 'runner-temp')
  for (const d of [workspace, runnerTemp]) mkdirp(d)
  writeFileSync(path.join(workspace, 'devfile.yaml'), DEVFILE)
  const env = {
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'ameide/example',
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'gate',
    GITHUB_SHA: 'deadbeefcafe',
    GITHUB_ACTOR: 'octocat',
    GITHUB_WORKFLOW: 'ci',
    ...results.env,
  }
  return {
    sim,
    results,
    env,
    workspace,
    close: async () => {
      await sim.close()
      await results.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A job with a simulated coderd as well, and a RUNNER_TOOL_CACHE for the coder CLI it downloads. */
export interface CoderJob extends Job {
  readonly coder: CoderSim
}

export async function startCoderJob(
  runId: string,
  coderOptions: Parameters<typeof startCoderSim>[0] = {},
): Promise<CoderJob> {
  const job = await startJob(runId)
  const coder = await startCoderSim({ stepMs: 5, ...coderOptions })
  const tools = mkdtempSync(path.join(tmpdir(), 'tools-'))
  const certs = mkdtempSync(path.join(tmpdir(), 'runner-ca-'))
  Object.assign(job.env, { RUNNER_TOOL_CACHE: tools })
  // A runner behind a private CA: Node (the steps and the coder CLI stand-in) trusts it through NODE_EXTRA_CA_CERTS.
  if (coder.caCert) {
    writeFileSync(path.join(certs, 'ca.pem'), coder.caCert)
    Object.assign(job.env, { NODE_EXTRA_CA_CERTS: path.join(certs, 'ca.pem') })
  }
  return {
    ...job,
    coder,
    close: async () => {
      await coder.close()
      await job.close()
      for (const dir of [tools, certs]) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The four steps of a merge gate, plus the provision post step, as the runner runs them. */
export interface ChainResult {
  readonly provision: StepResult
  readonly run: StepResult
  readonly collect: StepResult
  readonly cleanup: StepResult
  readonly post: StepResult
}

/** The provision inputs of a job on the simulated Che cluster. */
export function cheInputs(job: Job): Record<string, string> {
  return { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci', devfile: 'devfile.yaml' }
}

/** Provision inputs for the simulated coderd's `ci-docker` template. */
export function coderInputs(job: CoderJob): Record<string, string> {
  return {
    provider: 'coder',
    'coder-url': job.coder.url,
    'coder-token': job.coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git\nregion: us',
  }
}

/** Provision inputs for either simulated provider of the job. */
export const providerInputs = (job: CoderJob, provider: 'che' | 'coder'): Record<string, string> =>
  provider === 'che' ? cheInputs(job) : coderInputs(job)

export async function runChain(
  job: Job,
  command: string,
  runInputs: Record<string, string> = {},
  provisionInputs: Record<string, string> = cheInputs(job),
  collectInputs: Record<string, string> = {},
  extraEnv: Record<string, string> = {},
): Promise<ChainResult> {
  const env = { ...job.env, ...extraEnv }
  const provision = await runActionStep('provision-workspace', { env, inputs: provisionInputs })
  const run = await runActionStep('run-task', { env, inputs: { command, ...runInputs } })
  const collect = await runActionStep('collect-evidence', { env, inputs: collectInputs })
  const cleanup = await runActionStep('cleanup', { env })
  const post = await runActionStep('provision-workspace', { env, post: provision.state })
  return { provision, run, collect, cleanup, post }
}

function mkdirp(dir: string): void {
  mkdirSync(dir, { recursive: true })
}
