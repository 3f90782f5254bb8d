import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { CoreV1Api } from '@kubernetes/client-node'
import { parse, stringify } from 'yaml'
import { uploadEvidence } from '../src/shared/evidence/artifact.js'
import { githubClient } from '../src/shared/github-context.js'
import { createCoderClient } from '../src/shared/providers/coder/coder-client.js'
import { ensureCoderCli } from '../src/shared/providers/coder/coder-cli.js'
import { loadKubeConfig } from '../src/shared/settings/che-inputs.js'
import { startTestProxy, type TestProxy } from './harness/proxy.js'
import { createCheProvider } from '../src/shared/providers/che/che-provider.js'
import { devfileSource, execText, FAST, NAMESPACE, provisioned } from './che/fixture.js'
import { type CoderSim, startCoderSim } from './sim/coderd/server.js'
import { type GitHubSim, startGitHubSim } from './sim/github/server.js'
import { type KubeSim, startKubeSim } from './sim/kube/server.js'
import { type ResultsSim, startResultsSim } from './sim/results/server.js'

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const
const ARTIFACT_VARS = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL'] as const

/** A URL on a `.sim.test` name: only the test proxy resolves it (to 127.0.0.1), so reaching it proves the proxy. */
function viaName(url: string, name: string): string {
  const u = new URL(url)
  u.hostname = `${name}.sim.test`
  return u.href.replace(/\/$/, '')
}

describe('finding 15: every HTTP client honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY as the runner does', () => {
  let proxy: TestProxy
  let coder: CoderSim
  let github: GitHubSim
  let results: ResultsSim
  let kube: KubeSim
  let dir: string
  const saved = new Map<string, string | undefined>()

  before(async () => {
    for (const name of [...PROXY_VARS, ...ARTIFACT_VARS]) saved.set(name, process.env[name])
    ;[proxy, coder, github, results, kube] = await Promise.all([
      startTestProxy(),
      startCoderSim({ stepMs: 5 }),
      startGitHubSim(),
      startResultsSim(),
      startKubeSim({ stepDelayMs: 5 }),
    ])
    dir = mkdtempSync(path.join(tmpdir(), 'proxy-'))
  })
  const useProxy = (vars: Partial<Record<(typeof PROXY_VARS)[number], string>>): void => {
    for (const name of PROXY_VARS) delete process.env[name]
    Object.assign(process.env, vars)
    proxy.seen.length = 0
  }
  afterEach(() => {
    for (const [name, value] of saved)
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
  })
  after(async () => {
    await Promise.all([proxy.close(), coder.close(), github.close(), results.close(), kube.close()])
    rmSync(dir, { recursive: true, force: true })
  })

  it('coderd: the REST client and the CLI download go through the proxy (CONNECT)', async () => {
    useProxy({ HTTPS_PROXY: proxy.url, http_proxy: proxy.url })
    const url = viaName(coder.url, 'coder')
    const client = createCoderClient({ url, token: coder.token })
    const info = await client.request<{ version: string }>('GET', '/buildinfo', 'reading the build info')
    assert.match(info.version, /sim/)
    await ensureCoderCli(client, dir)
    const host = new URL(url).host
    assert.ok(proxy.seen.includes(`CONNECT ${host}`), proxy.seen.join('\n'))
    assert.ok(proxy.seen.every((s) => s === `CONNECT ${host}`))
  })

  it('coderd: credentials in the proxy URL become Proxy-Authorization', async () => {
    const authed = await startTestProxy({ auth: 'ci:p@ss word' })
    try {
      const [host, port] = authed.url.slice('http://'.length).split(':')
      useProxy({ http_proxy: `http://ci:${encodeURIComponent('p@ss word')}@${host}:${port}` })
      const client = createCoderClient({ url: viaName(coder.url, 'coder'), token: coder.token })
      await client.request('GET', '/buildinfo', 'reading the build info')
      assert.equal(authed.seen.length, 1)
    } finally {
      await authed.close()
    }
  })

  it('Octokit (@actions/github getOctokit) goes through the proxy', async () => {
    useProxy({ HTTP_PROXY: proxy.url })
    github.writeTokens.add('ghs_proxy')
    const octokit = await githubClient('ghs_proxy', viaName(github.url, 'api'))
    await octokit.rest.checks.create({ owner: 'o', repo: 'r', name: 'proxy', head_sha: 'a'.repeat(40) })
    assert.ok(
      proxy.seen.some((s) => s.startsWith('CONNECT api.sim.test:')),
      proxy.seen.join('\n'),
    )
  })

  it('the artifact client (@actions/http-client and the blob upload) goes through the proxy', async () => {
    useProxy({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url })
    Object.assign(process.env, results.env, { ACTIONS_RESULTS_URL: `${viaName(results.url, 'results')}/` })
    const evidence = path.join(dir, 'evidence')
    rmSync(evidence, { recursive: true, force: true })
    writeFileSync(path.join(dir, 'a.txt'), 'x')
    const { mkdirSync, copyFileSync } = await import('node:fs')
    mkdirSync(evidence, { recursive: true })
    copyFileSync(path.join(dir, 'a.txt'), path.join(evidence, 'a.txt'))
    const id = await uploadEvidence('proxied', evidence, 1)
    assert.ok(id)
    assert.ok(
      proxy.seen.some((s) => /results\.sim\.test:\d+/.test(s)),
      `the results service was reached through the proxy:\n${proxy.seen.join('\n')}`,
    )
    assert.equal(results.artifacts.at(-1)?.name, 'proxied')
  })

  it('the Kubernetes client uses the proxy when the kubeconfig names no proxy-url, and proxy-url when it does', async () => {
    useProxy({ HTTPS_PROXY: proxy.url })
    const config = parse(kube.kubeconfig) as { clusters: { cluster: Record<string, string> }[] }
    const cluster = config.clusters[0]?.cluster as Record<string, string>
    cluster.server = viaName(kube.url, 'kube')
    cluster['tls-server-name'] = 'localhost' // the simulator's certificate names 127.0.0.1 and localhost
    const list = (text: string) =>
      loadKubeConfig(text).makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' })
    await list(stringify(config))
    assert.ok(
      proxy.seen.some((s) => s.startsWith('CONNECT kube.sim.test:')),
      proxy.seen.join('\n'),
    )

    const own = await startTestProxy()
    try {
      cluster['proxy-url'] = own.url
      proxy.seen.length = 0
      await list(stringify(config))
      assert.deepEqual(proxy.seen, [], 'proxy-url wins over HTTPS_PROXY')
      assert.ok(
        own.seen.some((s) => s.startsWith('CONNECT kube.sim.test:')),
        own.seen.join('\n'),
      )
    } finally {
      await own.close()
    }
  })

  it('Che: provision, exec (WebSocket) and delete through the proxy', async () => {
    useProxy({ HTTPS_PROXY: proxy.url })
    const config = parse(kube.kubeconfig) as { clusters: { cluster: Record<string, string> }[] }
    const cluster = config.clusters[0]?.cluster as Record<string, string>
    cluster.server = viaName(kube.url, 'kube')
    cluster['tls-server-name'] = 'localhost'
    const text = stringify(config)
    const provider = createCheProvider(
      { kubeconfig: text, namespace: NAMESPACE, source: devfileSource(), container: '', routingClass: 'che' },
      { kubeConfig: loadKubeConfig(text), ...FAST },
    )
    const handle = await provisioned(provider)
    try {
      const result = await execText(provider, handle, 'echo through-the-proxy')
      assert.deepEqual([result.exitCode, result.stdout], [0, 'through-the-proxy\n'])
    } finally {
      await provider.destroy(handle, 10_000)
    }
    assert.ok(
      proxy.seen.length > 0 && proxy.seen.every((s) => s.startsWith('CONNECT kube.sim.test:')),
      proxy.seen.join('\n'),
    )
  })

  it('NO_PROXY sends a host direct, and loopback always goes direct', async () => {
    useProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,.sim.test' })
    const named = createCoderClient({
      url: viaName(coder.url, 'coder'),
      token: coder.token,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    })
    // Direct, nothing resolves coder.sim.test: the request fails without touching the proxy.
    await assert.rejects(named.request('GET', '/buildinfo', 'reading the build info'))
    useProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url })
    await createCoderClient({ url: coder.url, token: coder.token }).request('GET', '/buildinfo', 'reading')
    const octokit = await githubClient('ghs_proxy', github.url)
    await octokit.rest.checks.create({ owner: 'o', repo: 'r', name: 'direct', head_sha: 'b'.repeat(40) })
    await loadKubeConfig(kube.kubeconfig).makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' })
    assert.deepEqual(proxy.seen, [], 'the proxy saw nothing')
  })
})
