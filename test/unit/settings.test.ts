import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { InputError } from '../../src/shared/errors.js'
import type { InputReader } from '../../src/shared/inputs.js'
import { getCleanupSettings } from '../../src/shared/settings/cleanup-settings.js'
import { getCollectSettings } from '../../src/shared/settings/collect-settings.js'
import { getProvisionSettings } from '../../src/shared/settings/provision-settings.js'
import { getRunSettings, withContractDefaults } from '../../src/shared/settings/run-settings.js'
import { DEVFILE } from '../harness/job.js'

const KUBECONFIG =
  'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: u\n  user:\n    token: t0k3n\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: from-context\ncurrent-context: x\n'
const reader =
  (values: Record<string, string>): InputReader =>
  (name) =>
    values[name] ?? ''
const repo = mkdtempSync(path.join(tmpdir(), 'settings-'))
writeFileSync(path.join(repo, 'devfile.yaml'), DEVFILE)
const provision = (values: Record<string, string>) =>
  getProvisionSettings(reader({ provider: 'che', kubeconfig: KUBECONFIG, ...values }), { GITHUB_WORKSPACE: repo }, repo)
const inputError = (input: string, pattern: RegExp) => (e: unknown) =>
  e instanceof InputError && e.message.startsWith(`Input '${input}'`) && pattern.test(e.message)

describe('provision settings', () => {
  it('fills defaults: the repository devfile, the context namespace, the devfile’s storage, che routing, 15m', async () => {
    const s = await provision({})
    assert.equal(s.che?.namespace, 'from-context')
    assert.equal(s.che?.source?.storageType, undefined, "no storage-type input: the devfile's attribute or ephemeral")
    assert.equal(s.che?.routingClass, 'che')
    assert.equal((await provision({ 'storage-type': 'per-user' })).che?.source?.storageType, 'per-user')
    assert.equal((await provision({ 'routing-class': 'basic' })).che?.routingClass, 'basic')
    await assert.rejects(() => provision({ 'routing-class': 'Basic!' }), /Input 'routing-class'/)
    assert.equal(s.startTimeoutMs, 15 * 60_000)
    assert.equal(s.workspaceNamePrefix, 'rt')
    assert.equal(s.source, path.join(repo, 'devfile.yaml'))
    assert.match(s.providerReason, /the 'provider' input/)
  })

  it('rejects an unknown provider', () =>
    assert.rejects(
      () => provision({ provider: 'docker' }),
      inputError('provider', /"docker", but expected one of: che/),
    ))
  it('rejects a duration of 10x', () =>
    assert.rejects(() => provision({ 'start-timeout': '10x' }), inputError('start-timeout', /"10x"/)))
  it('rejects a devfile that fails the schema', () =>
    assert.rejects(
      () => provision({ devfile: 'schemaVersion: 2.2.0\ncomponents:\n  - name: Bad Name\n' }),
      inputError('devfile', /must match pattern/),
    ))
  it('rejects a devfile without a container component', () =>
    assert.rejects(
      () => provision({ devfile: 'schemaVersion: 2.2.0\ncomponents: []\n' }),
      inputError('devfile', /at least one container component/),
    ))
  it('rejects a container the devfile does not have', () =>
    assert.rejects(
      () => provision({ container: 'tools' }),
      inputError('container', /one of the devfile's container components: dev/),
    ))
  it('rejects a bad namespace', () =>
    assert.rejects(() => provision({ namespace: 'Not_A_Namespace' }), inputError('namespace', /DNS label/)))
  it('rejects a bad storage type', () =>
    assert.rejects(
      () => provision({ 'storage-type': 'tmpfs' }),
      inputError('storage-type', /ephemeral, per-workspace/),
    ))
  it('rejects a long prefix', () =>
    assert.rejects(
      () => provision({ 'workspace-name-prefix': 'a-very-long-prefix-indeed' }),
      inputError('workspace-name-prefix', /1 to 20/),
    ))
  it('rejects a kubeconfig that is not one, without quoting it', () =>
    assert.rejects(
      () => provision({ kubeconfig: 'token: s3cr3t\n- [' }),
      (e: unknown) => inputError('kubeconfig', /content hidden/)(e) && !(e as Error).message.includes('s3cr3t'),
    ))
})

describe('run, collect and cleanup settings', () => {
  it('requires a command, unless provision used a contract (its first entrypoint and evidence path)', () => {
    const empty = getRunSettings(reader({}))
    assert.throws(() => withContractDefaults(empty, undefined), inputError('command', /one command line to run/))
    const contract = {
      file: 'environment-contract.yaml',
      entrypoint: 'ameide test',
      evidencePath: 'out/evidence',
      junitPatterns: [],
      tools: [],
      checkoutDirectory: 'app',
    }
    const filled = withContractDefaults(empty, contract)
    assert.equal(filled.command, 'ameide test')
    assert.equal(filled.evidencePath, 'out/evidence')
    const given = withContractDefaults(getRunSettings(reader({ command: 'make', 'evidence-path': 'e' })), contract)
    assert.deepEqual([given.command, given.evidencePath], ['make', 'e'])
    assert.equal(
      withContractDefaults(getRunSettings(reader({ command: 'x' })), undefined).evidencePath,
      '.run-task/evidence',
    )
  })
  it('maps git-token to GIT_TOKEN and GH_TOKEN as secrets', () => {
    const s = getRunSettings(reader({ command: 'ameide test', 'git-token': 'ghs_x' }))
    assert.equal(s.secretEnv.get('GIT_TOKEN'), 'ghs_x')
    assert.equal(s.secretEnv.get('GH_TOKEN'), 'ghs_x')
    assert.equal(s.timeoutMs, 60 * 60_000)
    assert.equal(s.failOn, 'failure')
  })
  it('rejects reserved and duplicated environment names', () => {
    assert.throws(
      () => getRunSettings(reader({ command: 'x', env: 'RUN_TASK_EVIDENCE_DIR=/x' })),
      inputError('env', /RUN_TASK_/),
    )
    assert.throws(
      () => getRunSettings(reader({ command: 'x', env: 'A=1', 'secret-env': 'A=2' })),
      inputError('secret-env', /not also set in env/),
    )
  })
  it('rejects a bad fail-on and an evidence path that climbs', () => {
    assert.throws(
      () => getRunSettings(reader({ command: 'x', 'fail-on': 'always' })),
      inputError('fail-on', /failure, error, never/),
    )
    assert.throws(
      () => getRunSettings(reader({ command: 'x', 'evidence-path': '../../etc' })),
      inputError('evidence-path', /without \.\./),
    )
  })
  it('checks collect inputs', () => {
    assert.equal(getCollectSettings(reader({})).maxEvidenceBytes, 500 * 1024 ** 2)
    assert.throws(
      () => getCollectSettings(reader({ 'artifact-name': 'a/b' })),
      inputError('artifact-name', /without any of/),
    )
    assert.throws(() => getCollectSettings(reader({ 'retention-days': '0' })), inputError('retention-days', /1 to 90/))
    assert.throws(() => getCollectSettings(reader({ upload: 'yes' })), inputError('upload', /boolean/))
  })
  it('checks cleanup inputs', () => {
    assert.equal(getCleanupSettings(reader({})).sweepOlderThanMs, undefined)
    assert.equal(getCleanupSettings(reader({ 'sweep-older-than': '6h' })).sweepOlderThanMs, 6 * 3_600_000)
    assert.throws(
      () => getCleanupSettings(reader({ 'keep-on-failure': 'maybe' })),
      inputError('keep-on-failure', /boolean/),
    )
  })
})
