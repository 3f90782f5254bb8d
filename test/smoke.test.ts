import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { SMOKE_CHECKS } from '../src/shared/flows/smoke.js'
import { CREATED, DELETED } from '../src/shared/flows/flow.js'
import { parseJunitFile } from '../src/shared/evidence/junit-parser.js'
import { runActionStep, type StepResult } from './harness/action-runner.js'
import { cheInputs, type CoderJob, type Job, startCoderJob, startJob } from './harness/job.js'
import { type CoderSim, param } from './sim/coderd/server.js'

const ISSUER = 'https://login.example.test/realms/ci'
const ORDER = [
  CREATED,
  SMOKE_CHECKS.ide,
  SMOKE_CHECKS.tools,
  SMOKE_CHECKS.health,
  SMOKE_CHECKS.codexExtension,
  SMOKE_CHECKS.githubAuth,
  SMOKE_CHECKS.persistence,
  SMOKE_CHECKS.controlPlane,
  DELETED,
]

interface Check {
  name: string
  status: string
  message: string
}

/** Runs the committed smoke action and reads its checks and its JUnit report. */
async function smoke(
  job: Job,
  inputs: Record<string, string>,
): Promise<{ step: StepResult; checks: Check[]; failed: string[] }> {
  const step = await runActionStep('smoke', { env: job.env, inputs })
  const checks = JSON.parse(step.outputs.checks ?? '[]') as Check[]
  assert.deepEqual(
    checks.map((c) => c.name),
    ORDER,
    step.stdout,
  )
  const evidence = step.outputs['evidence-dir'] as string
  // Every case of the report (readReports keeps only the failed, flaky and slowest ones).
  const report = await parseJunitFile(path.join(evidence, 'junit', 'run-task-smoke.xml'))
  assert.deepEqual(
    report.cases.map((c) => [c.name, c.status === 'error' ? 'failed' : c.status]),
    checks.map((c) => [c.name, c.status]),
    'the JUnit report has one case per check',
  )
  return { step, checks, failed: checks.filter((c) => c.status === 'failed').map((c) => c.name) }
}

describe('smoke action on Che', () => {
  let job: Job
  const inputs = (extra: Record<string, string> = {}) => ({
    ...cheInputs(job),
    editor: 'che-code',
    'storage-type': 'per-workspace',
    tools: 'git gh codex',
    'expected-oidc-issuer': ISSUER,
    ...extra,
  })
  before(async () => {
    // An administrator turned on skip_jwt_bearer_tokens, so the runner's token opens the IDE through the gateway.
    job = await startJob('6161', { oidcIssuer: ISSUER, gatewayTakesBearer: true })
    job.sim.addEditor('ci', 'che-code')
  })
  after(() => job.close())

  it('passes every check, each a JUnit case, and deletes the workspace', async () => {
    const { step, checks, failed } = await smoke(job, inputs())
    assert.equal(step.code, 0, step.stdout)
    assert.deepEqual(failed, [])
    assert.deepEqual(
      checks.filter((c) => c.status !== 'passed').map((c) => c.name),
      [SMOKE_CHECKS.codexExtension, SMOKE_CHECKS.githubAuth],
      'only the optional checks, not asked for, are skipped',
    )
    assert.match(checks[1]?.message ?? '', /GET http:\/\/127\.0\.0\.1:\d+\/gateway\/ci\/rt-[^/]+\/\d+\/ → 200/)
    assert.match(checks[6]?.message ?? '', /marker kept in \/.*\/projects \(storage-type per-workspace\)/)
    assert.match(checks[7]?.message ?? '', new RegExp(`OIDC issuer: ${ISSUER}`))
    assert.equal(step.outputs.outcome, 'passed')
    assert.equal(step.outputs['tests-total'], '9')
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
    assert.deepEqual(
      job.sim.store.list('persistentvolumeclaims', 'ci'),
      [],
      'the per-workspace PVC went with the workspace',
    )
  })

  it('fails exactly the broken check for each fault, and always deletes the workspace', async () => {
    const faults: [string, () => void, () => void][] = [
      [SMOKE_CHECKS.ide, () => (job.sim.faults.gatewayStatus = 502), () => (job.sim.faults.gatewayStatus = undefined)],
      [SMOKE_CHECKS.health, () => (job.sim.image.ideUnhealthy = true), () => (job.sim.image.ideUnhealthy = false)],
      [
        SMOKE_CHECKS.persistence,
        () => (job.sim.faults.loseProjectsOnStop = true),
        () => (job.sim.faults.loseProjectsOnStop = false),
      ],
      [SMOKE_CHECKS.tools, () => job.sim.image.removeTool('gh'), () => undefined],
    ]
    for (const [broken, breakIt, repair] of faults) {
      breakIt()
      const { step, failed, checks } = await smoke(job, inputs()).finally(repair)
      assert.deepEqual(failed, [broken], `${broken}: ${JSON.stringify(checks, null, 1)}`)
      assert.equal(step.code, 1, 'fail-on failure fails the step')
      assert.equal(step.outputs.outcome, 'failed')
      assert.equal(step.outputs['failed-checks'], broken)
      assert.deepEqual(job.sim.devWorkspaces('ci'), [], `${broken}: the workspace is deleted`)
    }
  })

  it('keep-on-failure keeps the workspace only when a check failed, and says so in the last case', async () => {
    const passing = await smoke(job, inputs({ 'keep-on-failure': 'true', tools: 'git' }))
    assert.deepEqual([passing.failed, job.sim.devWorkspaces('ci')], [[], []])
    job.sim.faults.gatewayStatus = 502
    const failing = await smoke(job, inputs({ 'keep-on-failure': 'true', tools: 'git' })).finally(
      () => (job.sim.faults.gatewayStatus = undefined),
    )
    assert.deepEqual(failing.failed, [SMOKE_CHECKS.ide, DELETED])
    assert.match(failing.checks[8]?.message ?? '', /kept by keep-on-failure/)
    assert.equal(job.sim.devWorkspaces('ci').length, 1)
    await runActionStep('cleanup', {
      env: job.env,
      inputs: { 'workspace-name': failing.step.outputs['workspace-name'] as string },
    })
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('skips persistence on ephemeral storage and the issuer when CheClusters may not be read', async () => {
    job.sim.faults.denied = ['list checlusters']
    const { checks, failed } = await smoke(job, inputs({ 'storage-type': 'ephemeral', tools: 'git' }))
    job.sim.faults.denied = []
    assert.deepEqual(failed, [])
    assert.equal(checks[6]?.status, 'skipped')
    assert.match(checks[6]?.message ?? '', /ephemeral/)
    assert.match(checks[7]?.message ?? '', /OIDC issuer: not checked/)
  })

  it('a workspace that never starts fails the first check, skips the rest, and still runs the control-plane check', async () => {
    job.sim.faults.failStart = {
      eventReason: 'FailedScheduling',
      eventMessage: '0/1 nodes are available: 1 Insufficient cpu.',
    }
    const { step, checks } = await smoke(job, inputs())
    assert.deepEqual(
      checks.map((c) => c.status),
      ['failed', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'passed', 'passed'],
    )
    assert.equal(step.outputs.outcome, 'error', 'a provider that cannot start a workspace is an infrastructure error')
    assert.equal(step.code, 1)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('deletes the workspace when cancelled (SIGINT), and its post step does when the process was killed', async () => {
    const cancelled = await runActionStep('smoke', { env: job.env, inputs: inputs(), interruptOn: 'Created workspace' })
    assert.match(cancelled.stdout, /Received SIGINT/)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [], 'the flow itself cleaned up')
    const killed = await runActionStep('smoke', {
      env: job.env,
      inputs: inputs(),
      interruptOn: 'Check: IDE answers',
      interruptWith: 'SIGKILL',
    })
    assert.equal(killed.signal, 'SIGKILL')
    assert.equal(job.sim.devWorkspaces('ci').length, 1, 'a killed step leaves its workspace')
    const post = await runActionStep('smoke', { env: job.env, post: killed.state })
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, /No cleanup ran for workspace rt-/)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('refuses bad input before creating anything', async () => {
    job.sim.requests.length = 0
    const step = await runActionStep('smoke', { env: job.env, inputs: inputs({ tools: 'git; rm -rf /' }) })
    assert.equal(step.code, 1)
    assert.match(step.stdout, /Input 'tools' has the value "git;", but expected command names/)
    assert.deepEqual(
      job.sim.requests.filter((r) => !r.startsWith('GET')),
      [],
      'nothing was created',
    )
  })
})

describe('smoke action on a stock Che gateway, and on basic routing', () => {
  let job: Job
  before(async () => {
    job = await startJob('6262', { oidcIssuer: ISSUER, dwo: { clusterHostSuffix: 'apps.sim.invalid' } })
    job.sim.addEditor('ci', 'che-code')
  })
  after(() => job.close())
  const inputs = (extra: Record<string, string>) => ({
    ...cheInputs(job),
    editor: 'che-code',
    'storage-type': 'per-workspace',
    tools: 'git',
    ...extra,
  })

  it("reports the IDE as routed, sign-in required through che-operator's oauth2-proxy, never as passed", async () => {
    const { step, checks, failed } = await smoke(job, inputs({}))
    assert.deepEqual(failed, [], JSON.stringify(checks, null, 1))
    assert.equal(checks[1]?.status, 'skipped')
    assert.match(
      checks[1]?.message ?? '',
      /^routed, sign-in required: GET .*\/gateway\/ci\/.* → 302: redirected to sign-in/,
    )
    assert.match(checks[1]?.message ?? '', /accepts no bearer token/)
    assert.equal(step.code, 0)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('passes every check on the basic routing class when DWO has a clusterHostSuffix', async () => {
    const { checks, failed } = await smoke(job, inputs({ 'routing-class': 'basic' }))
    assert.deepEqual(failed, [], JSON.stringify(checks, null, 1))
    assert.match(checks[1]?.message ?? '', /GET http:\/\/127\.0\.0\.1:\d+\/basic\/ci\/rt-[^/]+\/\d+\/ → 200/)
  })
})

describe('smoke action on Coder', () => {
  let job: CoderJob
  let coder: CoderSim
  const inputs = (extra: Record<string, string> = {}) => ({
    provider: 'coder',
    'coder-url': coder.url,
    'coder-token': coder.token,
    template: 'ci-docker',
    parameters: 'repo_url: https://example.com/app.git',
    'admin-token': coder.adminToken,
    'expected-oidc-issuer': ISSUER,
    ...extra,
  })
  before(async () => {
    job = await startCoderJob('6262', { oidcIssuer: ISSUER })
    coder = job.coder
    coder.addTemplate('envbuilder-k8s', [param('repo_url', 'string', { required: true })], { envbuilder: true })
  })
  after(async () => {
    await job.close()
  })

  it('passes every check through the app proxy, SSH and a stop/start, and deletes the workspace', async () => {
    const handshakes = coder.engine.sshHandshakes
    const tunnels = coder.requests.filter((r) => r.endsWith('/sim-ssh')).length
    const { step, checks, failed } = await smoke(job, inputs())
    assert.equal(step.code, 0, step.stdout)
    assert.deepEqual(failed, [])
    assert.deepEqual(
      [coder.engine.sshHandshakes - handshakes, coder.requests.filter((r) => r.endsWith('/sim-ssh')).length - tunnels],
      [2, 2],
      'one SSH connection (one tunnel process, one handshake) per workspace start: the first start and the restart',
    )
    assert.match(
      step.stdout,
      /SSH connection: aes128-gcm@openssh\.com with curve25519-sha256, on Node's crypto \(OpenSSL /,
    )
    assert.match(
      checks[1]?.message ?? '',
      /GET http:\/\/127\.0\.0\.1:\d+\/@ci-bot\/rt-[^/]+\.main\/apps\/code-server\/ → 200/,
    )
    assert.match(checks[2]?.message ?? '', /git, gh present; checkout found/)
    assert.match(
      checks[7]?.message ?? '',
      /initial user: The initial user has already been created!; OIDC issuer: https/,
    )
    assert.deepEqual(coder.workspaces(), [])
    for (const file of [
      path.join(step.outputs['evidence-dir'] as string, 'logs', 'command.log'),
      path.join(step.outputs['evidence-dir'] as string, 'junit', 'run-task-smoke.xml'),
    ]) {
      const text = readFileSync(file, 'utf8')
      assert.ok(!text.includes(coder.token) && !text.includes(coder.adminToken), `${file} holds no token`)
    }
  })

  it('fails exactly the broken check for each fault, and always deletes the workspace', async () => {
    const faults: [string, () => void, () => void][] = [
      [SMOKE_CHECKS.ide, () => (coder.faults.appProxyStatus = 502), () => (coder.faults.appProxyStatus = undefined)],
      // A 401 or a 403 through the app proxy with the token is a failure, never a pass (629 §1.1.3).
      [SMOKE_CHECKS.ide, () => (coder.faults.appProxyStatus = 403), () => (coder.faults.appProxyStatus = undefined)],
      [SMOKE_CHECKS.ide, () => (coder.faults.pathAppsDisabled = true), () => (coder.faults.pathAppsDisabled = false)],
      [
        SMOKE_CHECKS.persistence,
        () => (coder.faults.loseHomeOnStop = true),
        () => (coder.faults.loseHomeOnStop = false),
      ],
      [
        SMOKE_CHECKS.controlPlane,
        () => (coder.faults.noInitialUser = true),
        () => (coder.faults.noInitialUser = false),
      ],
      [SMOKE_CHECKS.tools, () => coder.image.removeTool('gh'), () => undefined],
    ]
    for (const [broken, breakIt, repair] of faults) {
      breakIt()
      const { failed, checks } = await smoke(job, inputs()).finally(repair)
      assert.deepEqual(failed, [broken], `${broken}: ${JSON.stringify(checks, null, 1)}`)
      assert.deepEqual(coder.workspaces(), [], `${broken}: the workspace is deleted`)
    }
  })

  it('an envbuilder-style template ($HOME lost on stop, PVC at /workspaces) passes with the marker on the PVC; a lost PVC fails', async () => {
    const envbuilder = inputs({ template: 'envbuilder-k8s', tools: 'git' })
    const persistence = (checks: Check[]): string =>
      checks.find((c) => c.name === SMOKE_CHECKS.persistence)?.message ?? ''
    const ok = await smoke(job, envbuilder)
    assert.deepEqual(ok.failed, [])
    // This host has no /workspaces, so the marker goes to the agent's directory: the clone on the PVC.
    assert.match(persistence(ok.checks), /^marker kept in \/.*\/ci-bot\/rt-[^/]+\/workspaces\/app \(/)
    const breaks: [() => void, RegExp][] = [
      [
        () => (coder.faults.loseVolumeOnStop = true),
        /the marker written to .*\/workspaces\/app before the stop was not there/,
      ],
      [
        () => (coder.faults.pvcGoneOnStop = true),
        /no longer has kubernetes_persistent_volume_claim_v1\.workspaces: the data on it does not survive/,
      ],
    ]
    for (const [breakIt, why] of breaks) {
      breakIt()
      const broken = await smoke(job, envbuilder).finally(() =>
        Object.assign(coder.faults, { loseVolumeOnStop: false, pvcGoneOnStop: false }),
      )
      assert.deepEqual(broken.failed, [SMOKE_CHECKS.persistence])
      assert.match(persistence(broken.checks), why)
      assert.deepEqual(coder.workspaces(), [])
    }
    const explicit = await smoke(job, { ...envbuilder, 'persistence-path': '/nonexistent-dir' })
    assert.match(persistence(explicit.checks), /could not write the marker/)
  })

  it('a failed check and a failed start show the [workspace-bootstrap] build log lines and the postCreate log', async () => {
    coder.faults.bootstrapLogs = true
    try {
      const failedCheck = await smoke(job, inputs({ template: 'envbuilder-k8s', tools: 'git no-such-tool' }))
      assert.deepEqual(failedCheck.failed, [SMOKE_CHECKS.tools])
      const junit = readFileSync(
        path.join(failedCheck.step.outputs['evidence-dir'] as string, 'junit', 'run-task-smoke.xml'),
        'utf8',
      )
      assert.match(junit, /\[workspace-bootstrap\] devcontainer built; postCreateCommand done/)
      assert.match(junit, /last lines of .*coder-postCreate\.log:[\s\S]*ameide doctor: gh auth: not logged in/)
      coder.faults.buildFails = { error: 'terraform apply failed: exit status 1', logs: ['Error: pod failed'] }
      const failedStart = await smoke(job, inputs({ template: 'envbuilder-k8s', tools: 'git' }))
      assert.match(failedStart.step.summary, /\[workspace-bootstrap\] ERROR: devcontainer build failed/)
    } finally {
      Object.assign(coder.faults, { bootstrapLogs: false, buildFails: undefined })
    }
  })

  it('the optional Codex extension and GitHub external-auth checks: skipped with a reason, else passed or failed', async () => {
    const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name)
    const plain = await smoke(job, inputs({ tools: 'git' }))
    assert.deepEqual(
      [SMOKE_CHECKS.codexExtension, SMOKE_CHECKS.githubAuth].map((n) => byName(plain.checks, n)?.status),
      ['skipped', 'skipped'],
    )
    assert.match(byName(plain.checks, SMOKE_CHECKS.codexExtension)?.message ?? '', /not asked for/)
    const asked = inputs({ tools: 'git', 'check-codex-extension': 'true', 'check-github-auth': 'true' })
    const ok = await smoke(job, asked)
    assert.deepEqual(ok.failed, [])
    assert.match(byName(ok.checks, SMOKE_CHECKS.codexExtension)?.message ?? '', /openai\.chatgpt is installed/)
    assert.match(byName(ok.checks, SMOKE_CHECKS.githubAuth)?.message ?? '', /a GitHub token of 34 characters/)
    assert.ok(!JSON.stringify(ok.checks).includes('gho_simulated'), 'the GitHub token is never shown')
    coder.image.removeExtension('openai.chatgpt')
    coder.image.linkGithub(undefined)
    try {
      const broken = await smoke(job, asked)
      assert.deepEqual(broken.failed, [SMOKE_CHECKS.codexExtension, SMOKE_CHECKS.githubAuth])
      assert.match(byName(broken.checks, SMOKE_CHECKS.githubAuth)?.message ?? '', /external-auth\/github/)
    } finally {
      coder.image.removeExtension('')
      coder.image.linkGithub('gho_simulatedGithubToken0123456789')
    }
  })

  it('a member token skips the issuer check with a note instead of failing it', async () => {
    const { checks, failed } = await smoke(job, inputs({ 'admin-token': '', tools: 'git' }))
    assert.deepEqual(failed, [])
    assert.match(checks[7]?.message ?? '', /OIDC issuer: not checked, the token is not an owner/)
  })
})
