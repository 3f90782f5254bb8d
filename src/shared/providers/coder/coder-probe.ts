import { ProviderRequestError, RunTaskError } from '../../errors.js'
import type { WorkspaceHandle } from '../../provider.js'
import type { ControlPlaneFinding, ControlPlaneRequest, IdeEndpoint, Persistence, WorkspaceProbe } from '../probe.js'
import { topLevelAgents } from './coder-agent.js'
import { type CoderClient, createCoderClient } from './coder-client.js'
import type { Workspace, WorkspaceAgent, WorkspaceApp, WorkspaceBuild, WorkspaceResource } from './coder-types.js'

/**
 * Terraform resources that hold a workspace's data or scope across a stop: volumes, disks and
 * the namespace a Kubernetes template creates. Resources not tied to `start_count` stay in the
 * stop build's state, so coderd lists them in its `resources`.
 */
const PERSISTENT_TYPE = /persistent_volume_claim|docker_volume|_disk$|ebs_volume|kubernetes_namespace/

/** The Coder side of the smoke check: apps, the stopped workspace, and coderd itself. */
export function createCoderProbe(client: CoderClient, token: string): WorkspaceProbe {
  const workspace = (handle: WorkspaceHandle, signal?: AbortSignal): Promise<Workspace> =>
    client.request<Workspace>('GET', `/workspaces/${handle.id}`, `reading workspace ${handle.name}`, undefined, signal)
  return {
    // envbuilder templates mount their PVC at /workspaces and keep $HOME in the image (629 §1.1.5, §5.1);
    // other templates keep the agent's directory (where sessions start) on their volume.
    persistentDir: '$([ -d /workspaces ] && echo /workspaces || pwd)',
    async ide(handle, slug, signal): Promise<IdeEndpoint> {
      const agent = agentOf(await workspace(handle, signal), handle.target)
      const app = agent.apps?.find((a) => a.slug === slug)
      if (!app)
        throw new RunTaskError(
          'workspace-start',
          `Agent ${agent.name} has no app '${slug}' (apps: ${agent.apps?.map((a) => a.slug).join(', ') || 'none'}).`,
        )
      const healthUrl = app.healthcheck?.url || `${new URL(app.url ?? 'http://localhost:13337').origin}/healthz`
      return {
        name: slug,
        proxyUrl: await appUrl(client, handle, agent, app, signal),
        headers: { 'Coder-Session-Token': token },
        healthUrl,
      }
    },
    persistence: (): Promise<Persistence> =>
      Promise.resolve({ persistent: true, detail: "the template's persistent resources outlive a stop" }),
    async checkStopped(handle, signal): Promise<string> {
      const w = await workspace(handle, signal)
      const b = w.latest_build
      if (b.transition !== 'stop' || b.status !== 'stopped')
        throw new RunTaskError(
          'workspace-start',
          `Workspace ${handle.name} should be stopped, but its latest build is ${b.transition} (${b.status}).`,
        )
      const started = await client.request<WorkspaceBuild>(
        'GET',
        `/users/${encodeURIComponent(w.owner_name)}/workspace/${encodeURIComponent(w.name)}/builds/${b.build_number - 1}`,
        `reading build ${b.build_number - 1} of workspace ${handle.name}`,
        undefined,
        signal,
      )
      const kept = persistentResources(b)
      const lost = persistentResources(started).filter((r) => !kept.some((k) => k.type === r.type && k.name === r.name))
      const where = `workspace ${w.owner_name}/${w.name} (stopped, build ${b.build_number})`
      if (lost.length)
        throw new RunTaskError(
          'workspace-start',
          `After the stop, ${where} no longer has ${lost.map(describeResource).join(', ')}: the data on it does not survive.`,
        )
      return kept.length
        ? `${where} still has ${kept.map(describeResource).join(', ')}`
        : `${where} still exists; its template declares no persistent volume`
    },
    async controlPlane(request: ControlPlaneRequest, signal): Promise<ControlPlaneFinding[]> {
      return [
        await initialUser(client, signal),
        await oidcIssuer(
          request.adminToken ? createCoderClient({ url: client.url, token: request.adminToken }) : client,
          request.expectedIssuer,
          signal,
        ),
      ]
    },
  }
}

function persistentResources(build: WorkspaceBuild): WorkspaceResource[] {
  return build.resources.filter((r) => PERSISTENT_TYPE.test(r.type))
}

function describeResource(r: WorkspaceResource): string {
  return `${r.type}.${r.name}`
}

function agentOf(w: Workspace, name: string): WorkspaceAgent {
  const agents = topLevelAgents(w)
  const agent = agents.find((a) => a.name === name) ?? (name ? undefined : agents[0])
  if (!agent)
    throw new RunTaskError(
      'workspace-start',
      `Workspace ${w.name} has no agent ${name || '(none at all)'}; is it running?`,
    )
  return agent
}

/** The app's URL on the deployment: a subdomain app under the wildcard host, else a path app. */
async function appUrl(
  client: CoderClient,
  handle: WorkspaceHandle,
  agent: WorkspaceAgent,
  app: WorkspaceApp,
  signal?: AbortSignal,
): Promise<string> {
  if (!app.subdomain)
    return `${client.url}/@${encodeURIComponent(handle.scope)}/${handle.name}.${agent.name}/apps/${encodeURIComponent(app.slug)}/`
  const { host } = await client.request<{ host: string }>(
    'GET',
    '/applications/host',
    'reading the wildcard app host',
    undefined,
    signal,
  )
  if (!host)
    throw new RunTaskError(
      'workspace-start',
      `App '${app.slug}' is a subdomain app, but the deployment has no wildcard access URL.`,
    )
  const label = app.subdomain_name || `${app.slug}--${agent.name}--${handle.name}--${handle.scope}`
  const base = new URL(client.url)
  // Both spellings occur: "*.apps.example.com" and "*--apps.example.com" (or without the star).
  return `${base.protocol}//${host.includes('*') ? host.replace('*', label) : `${label}.${host}`}/`
}

async function initialUser(client: CoderClient, signal?: AbortSignal): Promise<ControlPlaneFinding> {
  try {
    const { message } = await client.request<{ message: string }>(
      'GET',
      '/users/first',
      'checking the initial user',
      undefined,
      signal,
    )
    return { status: 'passed', message: `initial user: ${message}` }
  } catch (error) {
    if (error instanceof ProviderRequestError && error.status === 404)
      return { status: 'failed', message: `initial user: none; ${error.message}` }
    throw error
  }
}

async function oidcIssuer(client: CoderClient, expected: string, signal?: AbortSignal): Promise<ControlPlaneFinding> {
  let issuer: string
  try {
    const config = await client.request<{ config?: { oidc?: { issuer_url?: string } } }>(
      'GET',
      '/deployment/config',
      'reading the deployment config',
      undefined,
      signal,
    )
    issuer = config.config?.oidc?.issuer_url ?? ''
  } catch (error) {
    if (error instanceof ProviderRequestError && error.status === 403)
      return {
        status: 'skipped',
        message: 'OIDC issuer: not checked, the token is not an owner (give an admin token to check it)',
      }
    throw error
  }
  if (!expected) return { status: 'passed', message: `OIDC issuer: ${issuer || '(none configured)'}` }
  return issuer === expected
    ? { status: 'passed', message: `OIDC issuer: ${issuer}` }
    : { status: 'failed', message: `OIDC issuer: expected ${expected}, the deployment names ${issuer || 'none'}` }
}
