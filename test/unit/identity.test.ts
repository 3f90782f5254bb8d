import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { identityFromEnv, identityLabels, workspaceName } from '../../src/shared/identity.js'

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

describe('run identity and names', () => {
  const env = {
    GITHUB_REPOSITORY: 'Ameide/Some_Repo',
    GITHUB_RUN_ID: '12345678901',
    GITHUB_RUN_ATTEMPT: '2',
    GITHUB_JOB: 'gate',
  }

  it('derives a short DNS-1123 name under the prefix, unique per call', () => {
    const identity = identityFromEnv(env, '{"os":"linux"}')
    const names = new Set(Array.from({ length: 50 }, () => workspaceName('rt', identity)))
    assert.equal(names.size, 50)
    for (const name of names) {
      assert.match(name, DNS_1123)
      assert.ok(name.length <= 63)
      assert.ok(name.startsWith('rt-2345678901-2-'), name)
    }
  })

  it('gives matrix legs different identities', () => {
    assert.notEqual(identityFromEnv(env, '{"os":"a"}').matrixHash, identityFromEnv(env, '{"os":"b"}').matrixHash)
  })

  it('labels with valid Kubernetes label values', () => {
    const labels = identityLabels(identityFromEnv({ ...env, GITHUB_JOB: 'build & test!' }))
    assert.equal(labels['run-task.ameide.io/created-by'], 'run-task')
    assert.equal(labels['run-task.ameide.io/run-id'], '12345678901')
    for (const value of Object.values(labels)) assert.match(value, /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/)
  })
})
