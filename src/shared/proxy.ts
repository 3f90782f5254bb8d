/*
 * The runner's proxy rules for every HTTP client run-task opens itself: HTTPS_PROXY /
 * https_proxy for https: URLs, HTTP_PROXY / http_proxy for http:, NO_PROXY / no_proxy
 * (host or domain suffix, optional port, `*`) to go direct, and loopback always direct.
 * These are @actions/http-client's getProxyUrl and checkBypass, the rules the runner's own
 * clients (the artifact client, @actions/github's Octokit) follow, used here as they are.
 */
import { getProxyUrl } from '@actions/http-client'
import type { KubeConfig } from '@kubernetes/client-node'
import { fetch as undiciFetch, ProxyAgent } from 'undici'

/** The proxy the runner would use for a URL, or undefined when it goes direct. */
export function proxyFor(url: string | URL): string | undefined {
  return getProxyUrl(String(url)) || undefined
}

const agents = new Map<string, ProxyAgent>()

/**
 * fetch with the runner's proxy rules: through the proxy (CONNECT for https:) when one
 * applies, else Node's own fetch. Credentials in the proxy URL become Proxy-Authorization.
 */
export async function proxyAwareFetch(input: string, init: RequestInit = {}): Promise<Response> {
  const proxy = proxyFor(input)
  if (!proxy) return fetch(input, init)
  let dispatcher = agents.get(proxy)
  if (!dispatcher) agents.set(proxy, (dispatcher = new ProxyAgent(proxy)))
  // undici's own fetch with its ProxyAgent, as @actions/github's getProxyFetch does: Node's bundled
  // undici is another copy, and its fetch is not promised to accept this package's dispatcher.
  const response = await undiciFetch(input, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })
  return response as unknown as Response
}

/**
 * Gives every cluster of a kubeconfig that names no `proxy-url` the proxy the runner would
 * use for its server, as client-go does (http.ProxyFromEnvironment when proxy-url is unset).
 * client-node 2.x honours `proxy-url` (config.js createAgent and createDispatcher) but reads
 * no proxy variables itself.
 */
export function applyEnvProxy(kc: KubeConfig): void {
  kc.clusters = kc.clusters.map((cluster) => {
    if (cluster.proxyUrl) return cluster
    const proxy = proxyFor(cluster.server)
    return proxy ? { ...cluster, proxyUrl: proxy } : cluster
  })
}
