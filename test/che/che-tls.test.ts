import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parse, stringify } from 'yaml'
import { CommandTimeoutError } from '../../src/shared/errors.js'
import { runActionStep } from '../harness/action-runner.js'
import { cheInputs, type Job, startJob } from '../harness/job.js'
import { createCertificateAuthority } from '../sim/kube/pki.js'
import { cheProvider, execText, provisioned } from './fixture.js'

type KubeconfigDoc = {
  clusters: { cluster: Record<string, unknown> }[]
  users: { name: string; user: Record<string, unknown> }[]
}

/** The job's kubeconfig with its cluster and user entries changed. */
function edited(job: Job, change: (doc: KubeconfigDoc) => void): string {
  const doc = parse(job.sim.kubeconfig) as KubeconfigDoc
  change(doc)
  return stringify(doc)
}

// The kubeconfig shapes installers write, over TLS, through the provision action as a runner runs it.
describe('Che provision: kubeconfig TLS and credentials', () => {
  let job: Job
  let bin: string
  before(async () => {
    job = await startJob('1717')
    bin = mkdtempSync(path.join(tmpdir(), 'exec-plugin-'))
  })
  after(async () => {
    await job.close()
    rmSync(bin, { recursive: true, force: true })
  })

  const provision = (kubeconfig: string, env: Record<string, string> = {}) =>
    runActionStep('provision-workspace', { env: { ...job.env, ...env }, inputs: { ...cheInputs(job), kubeconfig } })
  const cleanUp = async (state: Record<string, string>) => {
    const post = await runActionStep('provision-workspace', { env: job.env, post: state })
    assert.equal(post.code, 0, post.stdout)
  }

  it('fails at once with a TLS error naming the server when the CA does not match, and creates nothing', async () => {
    const other = createCertificateAuthority('some-other-cluster-ca')
    const kubeconfig = edited(job, (doc) => {
      doc.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from(other.cert).toString('base64')
    })
    const before = job.sim.requests.length
    const result = await provision(kubeconfig)
    assert.equal(result.code, 1)
    assert.equal(result.outputs.outcome, 'error')
    const server = job.sim.url.replace(/[.]/g, '\\.')
    assert.match(
      result.stdout,
      new RegExp(
        `::error::ProviderRequestError: checking permission to \\w+ [\\w./]+ in \\w+: TLS verification of ${server} failed: .*\\(SELF_SIGNED_CERT_IN_CHAIN\\); the kubeconfig's certificate-authority-data is not the CA that signed the server's certificate`,
      ),
    )
    assert.doesNotMatch(result.stdout, /retry|attempt \d/i)
    assert.equal(job.sim.requests.length, before, 'no request got past the TLS handshake')
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('refuses an exec credential plugin that is not on PATH, before any request', async () => {
    const kubeconfig = edited(job, (doc) => {
      doc.users[0]!.user = {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'kubelogin-not-installed',
          args: ['get-token'],
          installHint: 'kubelogin is installed with: brew install int128/kubelogin/kubelogin',
          interactiveMode: 'Never',
        },
      }
    })
    const before = job.sim.requests.length
    const result = await provision(kubeconfig)
    assert.equal(result.code, 1)
    assert.match(
      result.stdout,
      /::error::InputError: Input 'kubeconfig' has the value "\(content hidden\)", but expected a user whose credentials this runner can get: user "run-task" takes them from the exec plugin "kubelogin-not-installed", which is not on PATH \(kubelogin is installed with: brew install int128\/kubelogin\/kubelogin\)/,
    )
    assert.equal(job.sim.requests.length, before)
    assert.deepEqual(job.sim.devWorkspaces('ci'), [])
  })

  it('provisions with an exec credential plugin that is on PATH (ExecCredential with a token)', async () => {
    const plugin = path.join(bin, 'sim-credential')
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: job.sim.token },
    }
    writeFileSync(plugin, `#!/bin/sh\necho '${JSON.stringify(credential)}'\n`)
    chmodSync(plugin, 0o755)
    const kubeconfig = edited(job, (doc) => {
      doc.users[0]!.user = {
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sim-credential', interactiveMode: 'Never' },
      }
    })
    const result = await provision(kubeconfig, { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` })
    assert.equal(result.code, 0, result.stdout)
    await cleanUp(result.state)
  })

  it('warns about insecure-skip-tls-verify, and still provisions', async () => {
    const kubeconfig = edited(job, (doc) => {
      delete doc.clusters[0]!.cluster['certificate-authority-data']
      doc.clusters[0]!.cluster['insecure-skip-tls-verify'] = true
    })
    const result = await provision(kubeconfig)
    assert.equal(result.code, 0, result.stdout)
    assert.match(
      result.stdout,
      /::warning::The kubeconfig's cluster sim \(https:\/\/127\.0\.0\.1:\d+\) sets insecure-skip-tls-verify: the server's certificate is not checked/,
    )
    await cleanUp(result.state)
  })

  it('stops a command whose time limit runs out while the exec upgrade is still under way', async () => {
    const provider = cheProvider(job.sim)
    const handle = await provisioned(provider)
    const marker = path.join(job.sim.folders.dir('ci', handle.name), 'home', 'late-marker')
    job.sim.faults.execUpgradeDelayMs = 400
    try {
      await assert.rejects(
        execText(provider, handle, `sleep 1; touch "${marker}"`, { timeoutMs: 100 }),
        CommandTimeoutError,
      )
    } finally {
      job.sim.faults.execUpgradeDelayMs = 0
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    assert.equal(existsSync(marker), false, 'the command was killed, not left to finish')
    await provider.destroy(handle, 10_000)
  })
})
