import { InputError, ProviderRequestError, RunTaskError, WorkspaceStartError } from '../../errors.js'
import { formatDuration } from '../../parse.js'
import type {
  DestroyResult,
  Diagnostics,
  DownloadLimits,
  DownloadResult,
  ExecRequest,
  ExecResult,
  ExecStreams,
  ProvisionRequest,
  SweepRequest,
  WorkspaceHandle,
  WorkspaceProvider,
} from '../../provider.js'
import { Deadline, sleep } from '../../wait.js'
import { withCommandDeadline } from '../command-deadline.js'
import { killCommand, tarCommand, wrapCommand } from '../exec-script.js'
import { downloadTar, textSink } from '../tar-download.js'
import { openSsh, type SshConnection, shellQuote } from '../ssh-connection.js'
import { ensureCoderCli } from './coder-cli.js'
import type { CoderClient } from './coder-client.js'
import { checkParameters } from './coder-parameters.js'
import { type CoderSettings, DEFAULT_TUNNEL_COMMAND } from './coder-settings.js'
import type {
  CoderOrganization,
  CoderTemplate,
  CoderUser,
  ProvisionerJobLog,
  TemplateVersionParameter,
  Workspace,
  WorkspaceAgent,
  WorkspaceBuild,
  WorkspaceTransition,
} from './coder-types.js'
import { watchWorkspace } from './coder-watch.js'
import { tunnelEnvironment } from '../../tunnel-env.js'

/** Transports and tunables. */
export interface CoderDependencies {
  readonly client: CoderClient
  readonly progressIntervalMs?: number
  readonly pollIntervalMs?: number
  /** Where the downloaded coder CLI is cached. */
  readonly toolCache?: string
}

const ACTIVE_JOB = new Set(['pending', 'running', 'canceling'])
const LOG_TAIL_LINES = 30

/** Creates the Coder provider over an injected coderd client. */
export function createCoderProvider(settings: CoderSettings, deps: CoderDependencies): WorkspaceProvider {
  return new CoderProvider(settings, deps)
}

class CoderProvider implements WorkspaceProvider {
  readonly name = 'coder' as const
  private readonly client: CoderClient

  constructor(
    private readonly settings: CoderSettings,
    private readonly deps: CoderDependencies,
  ) {
    this.client = deps.client
  }

  async checkPermissions(signal?: AbortSignal): Promise<void> {
    await this.client.request<CoderUser>(
      'GET',
      '/users/me',
      `checking the Coder token against ${this.client.url}`,
      undefined,
      signal,
    )
  }

  async provision(request: ProvisionRequest, signal?: AbortSignal): Promise<WorkspaceHandle> {
    const { template, parameters, me } = await this.resolve(signal)
    const ttl = this.settings.ttlMs > 0 ? { ttl_ms: Math.floor(this.settings.ttlMs / 60_000) * 60_000 } : {}
    const workspace = await this.client.request<Workspace>(
      'POST',
      `/users/${me.username}/workspaces`,
      `creating workspace ${request.name} from template ${template.name}`,
      { name: request.name, template_id: template.id, rich_parameter_values: parameters, ...ttl },
      signal,
    )
    const handle: WorkspaceHandle = {
      provider: 'coder',
      name: workspace.name,
      id: workspace.id,
      scope: workspace.owner_name,
      target: '',
      createdAt: new Date().toISOString(),
    }
    await request.onCreated?.(handle)
    const ready = await this.waitForAgent(handle, new Deadline(request.startTimeoutMs), request.onProgress, signal)
    if (ready.lifecycle_state !== 'ready') {
      request.onWarning?.(
        `Agent ${ready.name} of workspace ${handle.name} is ${ready.lifecycle_state}: its startup scripts ${ready.lifecycle_state === 'start_error' ? 'failed' : 'timed out'}. The command runs anyway, as coder ssh would; check the agent logs if it fails.`,
      )
    }
    return { ...handle, target: ready.name, readyAt: new Date().toISOString() }
  }

  async exec(
    handle: WorkspaceHandle,
    request: ExecRequest,
    streams: ExecStreams,
    signal?: AbortSignal,
  ): Promise<ExecResult> {
    const ssh = await this.connect(handle)
    const wrapped = wrapCommand(request.command, request.cwd, request.env)
    const started = Date.now()
    try {
      const status = await withCommandDeadline(
        request.timeoutMs,
        signal,
        (execSignal) => ssh.exec(remote(wrapped.argv), { ...streams, stdin: wrapped.stdin, signal: execSignal }),
        () => this.kill(handle, ssh, wrapped.token),
      )
      return { exitCode: status.code, signal: status.signal, durationMs: Date.now() - started }
    } finally {
      ssh.close()
    }
  }

  async download(
    handle: WorkspaceHandle,
    remoteDir: string,
    localDir: string,
    limits: DownloadLimits,
    signal?: AbortSignal,
  ): Promise<DownloadResult> {
    const ssh = await this.connect(handle)
    try {
      return await downloadTar(
        async (stdout, stderr, tarSignal) =>
          (await ssh.exec(remote(tarCommand(remoteDir)), { stdout, stderr, signal: tarSignal })).code,
        remoteDir,
        localDir,
        limits.maxBytes,
        signal,
      )
    } finally {
      ssh.close()
    }
  }

  async stop(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = new Deadline(timeoutMs)
    await this.build(handle, 'stop', deadline, signal)
    await this.waitForBuild(handle, 'stopped', deadline, signal)
  }

  async start(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<WorkspaceHandle> {
    const deadline = new Deadline(timeoutMs)
    await this.build(handle, 'start', deadline, signal)
    const agent = await this.waitForAgent(handle, deadline, undefined, signal)
    return { ...handle, target: agent.name, readyAt: new Date().toISOString() }
  }

  async destroy(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<DestroyResult> {
    const deadline = new Deadline(timeoutMs)
    const id = handle.id || (await this.findByName(handle.name, signal))?.id
    if (!id) return { alreadyGone: true }
    const target = { ...handle, id }
    try {
      await this.build(target, 'delete', deadline, signal)
    } catch (error) {
      if (error instanceof ProviderRequestError && (error.status === 404 || error.status === 410))
        return { alreadyGone: true }
      throw error
    }
    await this.waitForBuild(target, 'deleted', deadline, signal)
    return { alreadyGone: false }
  }

  async diagnose(handle: WorkspaceHandle): Promise<Diagnostics> {
    try {
      const workspace = await this.client.request<Workspace>(
        'GET',
        `/workspaces/${handle.id}?include_deleted=true`,
        `reading workspace ${handle.name}`,
      )
      return { lines: [...describeWorkspace(workspace), ...(await this.logTail(workspace.latest_build))] }
    } catch (error) {
      return { lines: [`diagnostics could not be read: ${(error as Error).message}`] }
    }
  }

  async sweep(request: SweepRequest, signal?: AbortSignal): Promise<string[]> {
    const query = encodeURIComponent(`owner:me name:${request.namePrefix}-`)
    const list = await this.client.request<{ workspaces: Workspace[] }>(
      'GET',
      `/workspaces?q=${query}&limit=100`,
      'listing workspaces to sweep',
      undefined,
      signal,
    )
    const cutoff = Date.now() - request.olderThanMs
    const removed: string[] = []
    for (const w of list.workspaces.filter(
      (w) => w.name.startsWith(`${request.namePrefix}-`) && Date.parse(w.created_at) < cutoff,
    )) {
      const result = await this.destroy(
        { provider: 'coder', name: w.name, id: w.id, scope: w.owner_name, target: '', createdAt: w.created_at },
        5 * 60_000,
        signal,
      )
      if (!result.alreadyGone) removed.push(w.name)
    }
    return removed
  }

  /** The user, the template and checked parameters: every input problem is found before a create. */
  private async resolve(
    signal?: AbortSignal,
  ): Promise<{ me: CoderUser; template: CoderTemplate; parameters: { name: string; value: string }[] }> {
    const s = this.settings
    const me = await this.client.request<CoderUser>(
      'GET',
      '/users/me',
      `checking the Coder token against ${this.client.url}`,
      undefined,
      signal,
    )
    const org = await this.client
      .request<CoderOrganization>(
        'GET',
        `/organizations/${encodeURIComponent(s.organization)}`,
        `reading organization ${s.organization}`,
        undefined,
        signal,
      )
      .catch((error: unknown) => {
        throw notFoundAsInput(error, 'coder-organization', s.organization, 'an organization the token can see')
      })
    const template = await this.client
      .request<CoderTemplate>(
        'GET',
        `/organizations/${org.id}/templates/${encodeURIComponent(s.template)}`,
        `reading template ${s.template}`,
        undefined,
        signal,
      )
      .catch((error: unknown) => {
        throw notFoundAsInput(error, 'template', s.template, `a template in organization ${org.name}`)
      })
    let versionId = template.active_version_id
    if (s.templateVersion) {
      const version = await this.client
        .request<{ id: string }>(
          'GET',
          `/templates/${template.id}/versions/${encodeURIComponent(s.templateVersion)}`,
          `reading template version ${s.templateVersion}`,
          undefined,
          signal,
        )
        .catch((error: unknown) => {
          throw notFoundAsInput(error, 'template-version', s.templateVersion, `a version of template ${template.name}`)
        })
      versionId = version.id
    }
    const declared = await this.client.request<TemplateVersionParameter[]>(
      'GET',
      `/templateversions/${versionId}/rich-parameters`,
      `reading the parameters of template ${template.name}`,
      undefined,
      signal,
    )
    return {
      me,
      template: { ...template, active_version_id: versionId },
      parameters: checkParameters(template.name, s.parameters, declared),
    }
  }

  private async waitForAgent(
    handle: WorkspaceHandle,
    deadline: Deadline,
    onProgress: ((s: string) => void) | undefined,
    signal?: AbortSignal,
  ): Promise<WorkspaceAgent> {
    const settled = await watchWorkspace<Workspace>({
      client: this.client,
      workspaceId: handle.id,
      deadline,
      signal,
      onProgress,
      progressIntervalMs: this.deps.progressIntervalMs,
      pollIntervalMs: this.deps.pollIntervalMs,
      judge: (w) => {
        if (w === null)
          return {
            fail: new WorkspaceStartError(`Workspace ${handle.scope}/${handle.name} was deleted while starting.`),
          }
        const build = w.latest_build
        if (['failed', 'canceled', 'canceling'].includes(build.status)) return { done: w }
        if (build.status === 'pending' && build.matched_provisioners?.count === 0) return { done: w }
        if (build.status !== 'running') return undefined
        const agent = this.pickAgent(w)
        if (agent instanceof RunTaskError) return { fail: agent }
        if (
          agent &&
          (agent.status === 'timeout' || agent.lifecycle_state === 'shutting_down' || agent.lifecycle_state === 'off')
        )
          return { done: w }
        return agent &&
          agent.status === 'connected' &&
          ['ready', 'start_error', 'start_timeout'].includes(agent.lifecycle_state)
          ? { done: w }
          : undefined
      },
      onTimeout: async (last) =>
        new WorkspaceStartError(
          `Workspace ${handle.scope}/${handle.name} was not ready within the start timeout (${formatDuration(deadline.totalMs)}); last seen: ${last ? describeWorkspace(last).join('; ') : 'nothing'}.`,
          last ? await this.logTail(last.latest_build) : [],
        ),
    })
    return this.agentOrFail(handle, settled)
  }

  /** Turns the settled workspace into its ready agent, or a start error with the build log tail. */
  private async agentOrFail(handle: WorkspaceHandle, w: Workspace): Promise<WorkspaceAgent> {
    const build = w.latest_build
    const where = `Workspace ${handle.scope}/${handle.name}`
    if (build.status === 'pending') {
      throw new WorkspaceStartError(
        `${where}: the build is pending and no provisioner matches its tags (matched_provisioners.count is 0); start a provisioner daemon for this organization and tags.`,
      )
    }
    if (build.status !== 'running') {
      throw new WorkspaceStartError(
        `${where}: the ${build.transition} build ${build.status}${build.job.error ? `: ${build.job.error}` : ''}`,
        await this.logTail(build),
      )
    }
    const agent = this.pickAgent(w) as WorkspaceAgent
    if (agent.status === 'timeout')
      throw new WorkspaceStartError(
        `${where}: agent ${agent.name} never connected${agent.troubleshooting_url ? ` (see ${agent.troubleshooting_url})` : ''}.`,
        describeWorkspace(w),
      )
    if (agent.lifecycle_state !== 'ready') {
      if (agent.lifecycle_state === 'start_error' || agent.lifecycle_state === 'start_timeout') return agent
      throw new WorkspaceStartError(`${where}: agent ${agent.name} is ${agent.lifecycle_state}.`, describeWorkspace(w))
    }
    return agent
  }

  private pickAgent(w: Workspace): WorkspaceAgent | RunTaskError | undefined {
    const agents = w.latest_build.resources.flatMap((r) => r.agents ?? [])
    if (this.settings.agent) {
      const named = agents.find((a) => a.name === this.settings.agent)
      if (!named && agents.length > 0)
        return new InputError(
          'agent',
          this.settings.agent,
          `one of the workspace's agents: ${agents.map((a) => a.name).join(', ')}`,
        )
      return named
    }
    if (agents.length > 1)
      return new InputError(
        'agent',
        '',
        `the agent to run in; the workspace has several: ${agents.map((a) => a.name).join(', ')}`,
      )
    return agents[0]
  }

  /** Starts a build; a 409 "already active" cancels the running one (or waits for it) and tries again. */
  private async build(
    handle: WorkspaceHandle,
    transition: WorkspaceTransition,
    deadline: Deadline,
    signal?: AbortSignal,
  ): Promise<WorkspaceBuild> {
    let idleConflicts = 0
    for (;;) {
      try {
        return await this.client.request<WorkspaceBuild>(
          'POST',
          `/workspaces/${handle.id}/builds`,
          `${transition} build of workspace ${handle.name}`,
          { transition },
          signal,
        )
      } catch (error) {
        if (!(error instanceof ProviderRequestError && error.status === 409) || deadline.expired()) throw error
        const w = await this.client.request<Workspace>(
          'GET',
          `/workspaces/${handle.id}`,
          `reading workspace ${handle.name}`,
          undefined,
          signal,
        )
        if (!ACTIVE_JOB.has(w.latest_build.job.status)) {
          // The active build may have finished between the 409 and this read: try once more.
          if (++idleConflicts > 1) throw error
          continue
        }
        if (w.latest_build.job.status !== 'canceling') {
          await this.client
            .request(
              'PATCH',
              `/workspacebuilds/${w.latest_build.id}/cancel`,
              `canceling the ${w.latest_build.transition} build of ${handle.name}`,
              undefined,
              signal,
            )
            .catch(() => undefined)
        }
        await sleep(Math.min(this.deps.pollIntervalMs ?? 1_000, deadline.remainingMs()), signal)
      }
    }
  }

  private async waitForBuild(
    handle: WorkspaceHandle,
    want: 'stopped' | 'deleted',
    deadline: Deadline,
    signal?: AbortSignal,
  ): Promise<void> {
    const settled = await watchWorkspace<Workspace | null>({
      client: this.client,
      workspaceId: handle.id,
      deadline,
      signal,
      pollIntervalMs: this.deps.pollIntervalMs,
      judge: (w) =>
        w === null ||
        w.latest_build.status === want ||
        w.latest_build.status === 'failed' ||
        w.latest_build.status === 'canceled'
          ? { done: w }
          : undefined,
      onTimeout: (last) =>
        new RunTaskError(
          'provider-request',
          `Workspace ${handle.scope}/${handle.name} did not reach ${want} within ${formatDuration(deadline.totalMs)}; last build status ${last?.latest_build.status ?? 'unknown'}.`,
        ),
    })
    if (settled === null || settled.latest_build.status === want) return
    const build = settled.latest_build
    throw new RunTaskError(
      'provider-request',
      `The ${build.transition} build of workspace ${handle.scope}/${handle.name} ${build.status}${build.job.error ? `: ${build.job.error}` : ''}`,
      { diagnostics: await this.logTail(build) },
    )
  }

  private async logTail(build: WorkspaceBuild): Promise<string[]> {
    try {
      const logs = await this.client.request<ProvisionerJobLog[]>(
        'GET',
        `/workspacebuilds/${build.id}/logs`,
        'reading the build logs',
      )
      return logs.slice(-LOG_TAIL_LINES).map((l) => `[${l.log_level}] ${l.stage ? `${l.stage}: ` : ''}${l.output}`)
    } catch {
      return ['build logs could not be read']
    }
  }

  private async findByName(name: string, signal?: AbortSignal): Promise<Workspace | undefined> {
    try {
      return await this.client.request<Workspace>(
        'GET',
        `/users/me/workspace/${encodeURIComponent(name)}`,
        `finding workspace ${name}`,
        undefined,
        signal,
      )
    } catch (error) {
      if (error instanceof ProviderRequestError && (error.status === 404 || error.status === 410)) return undefined
      throw error
    }
  }

  private async connect(handle: WorkspaceHandle): Promise<SshConnection> {
    const s = this.settings
    const workspace = `${handle.scope}/${handle.name}.${handle.target}`
    let command = s.sshTunnelCommand
    if (command === DEFAULT_TUNNEL_COMMAND)
      command = `${shellQuote(await ensureCoderCli(this.client, this.deps.toolCache))} ssh --stdio {workspace}`
    return openSsh({
      tunnelCommand: command.replaceAll('{workspace}', shellQuote(workspace)),
      tunnelEnv: {
        ...tunnelEnvironment(),
        CODER_URL: this.client.url,
        CODER_SESSION_TOKEN: s.token,
        CODER_NO_VERSION_WARNING: 'true',
      },
      username: s.sshUser,
      ...(s.sshPrivateKey ? { privateKey: s.sshPrivateKey } : {}),
      readyTimeoutMs: 60_000,
    })
  }

  private async kill(handle: WorkspaceHandle, current: SshConnection, token: string): Promise<void> {
    const sink = textSink()
    const run = (ssh: SshConnection) =>
      ssh.exec(remote(killCommand(token)), { stdout: sink.writable, stderr: sink.writable })
    // The first connection may be the one that broke: fall back to a new one.
    await run(current)
      .catch(async () => {
        const fresh = await this.connect(handle)
        try {
          await run(fresh)
        } finally {
          fresh.close()
        }
      })
      .catch(() => undefined)
  }
}

/** An argv as one command line for the remote login shell. */
function remote(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ')
}

function describeWorkspace(w: Workspace): string[] {
  const b = w.latest_build
  const lines = [
    `build #${b.build_number} ${b.transition}: ${b.status} (job ${b.job.status}${b.job.error ? `: ${b.job.error}` : ''})`,
  ]
  for (const agent of b.resources.flatMap((r) => r.agents ?? []))
    lines.push(`agent ${agent.name}: ${agent.status}, lifecycle ${agent.lifecycle_state}`)
  return lines
}

function notFoundAsInput(error: unknown, input: string, value: string, expected: string): unknown {
  return error instanceof ProviderRequestError && (error.status === 404 || error.status === 400)
    ? new InputError(input, value, `${expected} (${error.message})`)
    : error
}
