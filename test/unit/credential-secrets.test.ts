import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { codexAuthSecrets, kubeconfigSecrets } from '../../src/shared/credential-secrets.js'
import { provisionSecrets } from '../../src/shared/provider-factory.js'
import { Redactor } from '../../src/shared/redact.js'
import type { ProvisionSettings } from '../../src/shared/settings/provision-settings.js'

describe('secrets inside credential documents', () => {
  it('a kubeconfig gives its token and client key (base64 and each line of the decoded key)', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const keyData = Buffer.from(pem).toString('base64')
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]
users:
  - name: u
    user:
      token: kube-t0ken-canary-1234
      client-key-data: ${keyData}
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
    const secrets = kubeconfigSecrets(kubeconfig)
    assert.ok(secrets.includes('kube-t0ken-canary-1234'))
    assert.ok(secrets.includes(keyData))
    const redactor = new Redactor()
    const settings = { provider: 'che', che: { kubeconfig } } as unknown as ProvisionSettings
    for (const s of provisionSecrets(settings)) redactor.add(s)
    const keyLine = pem.split('\n')[1] as string
    assert.equal(redactor.redact('Bearer kube-t0ken-canary-1234 sent'), 'Bearer *** sent')
    assert.equal(redactor.redact(`key ${keyLine} leaked`), 'key *** leaked')
    assert.equal(redactor.redact('-----BEGIN PRIVATE KEY-----'), '-----BEGIN PRIVATE KEY-----', 'the PEM frame stays')
    const structure = 'apiVersion: v1\nkind: Config\ncurrent-context: x\nusers:'
    assert.equal(redactor.redact(structure), structure, "the kubeconfig's structure is not a secret")
  })

  it('a Codex auth.json gives its API key and every token, refresh token included', () => {
    const auth = JSON.stringify({
      OPENAI_API_KEY: null,
      tokens: { id_token: 'eyJ.id.token-value', access_token: 'eyJ.access.token', refresh_token: 'rt_refresh-canary' },
      last_refresh: '2026-11-01T00:00:00Z',
    })
    assert.deepEqual(codexAuthSecrets(auth), ['eyJ.id.token-value', 'eyJ.access.token', 'rt_refresh-canary'])
    assert.deepEqual(codexAuthSecrets('not json'), [])
  })
})
