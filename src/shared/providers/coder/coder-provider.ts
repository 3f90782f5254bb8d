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
import { SharedSsh, type SshConnection, type SshTarget, shellQuote } from '../ssh-connection.js'
import { checkCoderAccess } from './coder-access.js'
import { agentReadiness, topLevelAgents } from './coder-agent.js'
import { ensureCoderCli } from './coder-cli.js'
import { openCoderTunnel } from './coder-tunnel.js'
import { parseKnownHosts } from '../known-hosts.js'
import type { CoderClient } from './coder-client.js'
import { checkParameters } from './coder-parameters.js'
import { type CoderSettings, isDefaultTunnel } from './coder-settings.js'
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
  /** Lines for the step log (which SSH crypto a connection uses). */
  readonly log?: (line: string) => void
}

/** What a create needs, resolved and checked before it (CoderProvider.preflight). */
interface Resolved {
  readonly me: CoderUser
  readonly organization: CoderOrganization
  readonly template: CoderTemplate
  /** Set only when the template-version input names one. */
  readonly versionId: string | undefined
  readonly parameters: { name: string; value: string }[]
}

const ACTIVE_JOB = new Set(['pending', 'running', 'canceling'])
const LOG_TAIL_LINES = 30
const BOOTSTRAP_TAG = '[workspace-bootstrap]'
/** envbuilder's devcontainer lifecycle log: under /workspaces, or in the agent's folder (the workspace folder). */
const POST_CREATE_TAIL = `for f in /workspaces/.devcontainer/logs/coder-postCreate.log "$PWD/.devcontainer/logs/coder-postCreate.log"; do
  if [ -f "$f" ]; then echo "last lines of $f:"; tail -n 30 "$f"; exit 0; fi
done`

/** Creates the Coder provider over an injected coderd client. */
export function createCoderProvider(settings: CoderSettings, deps: CoderDependencies): WorkspaceProvider {
  return new CoderProvider(settings, deps)
}

class CoderProvider implements WorkspaceProvider {
  readonly name = 'coder' as const
  private readonly client: CoderClient
  /** One SSH connection per workspace start, shared by every exec and download (see SharedSsh). */
  private readonly ssh = new SharedSsh((target) => openCoderTunnel(target))
  /** The deployment's coder CLI: fetched or re-checked once per provider. */
  private cli: Promise<string> | undefined
  /** What checkPermissions resolved and checked, for the provision that follows it (taken once). */
  private checked: Resolved | undefined

  constructor(
    private readonly settings: CoderSettings,
    private readonly deps: CoderDependencies,
  ) {
    this.client = deps.client
  }

  /**
   * The token is valid (a 401 says coderd did not accept it), the organization, template, version and parameters
   * resolve, and coderd says the user may create a workspace from the template: all before anything is created.
   */
  async checkPermissions(signal?: AbortSignal): Promise<void> {
    this.checked = undefined
    this.checked = await this.preflight(signal)
  }

  async provision(request: ProvisionRequest, signal?: AbortSignal): Promise<WorkspaceHandle> {
    const checked = this.checked
    this.checked = undefined
    const { template, versionId, parameters, me } = checked ?? (await this.preflight(signal))
    // No ttl_ms (0): the template's default autostop (coderd workspaces.go validWorkspaceTTLMillis).
    const ttl = this.settings.ttlMs > 0 ? { ttl_ms: Math.floor(this.settings.ttlMs / 60_000) * 60_000 } : {}
    // template_id builds the active version; a named version goes alone as template_version_id.
    const source = versionId ? { template_version_id: versionId } : { template_id: template.id }
    const workspace = await this.client.create<Workspace>(
      `/users/${me.username}/workspaces`,
      `creating workspace ${request.name} from template ${template.name}${this.settings.templateVersion ? ` version ${this.settings.templateVersion}` : ''}`,
      { name: request.name, ...source, rich_parameter_values: parameters, ...ttl },
      // A response lost after coderd created it: the name is this attempt's own, so what has it is ours.
      () => this.findByName(request.name, signal),
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
    const ready = await this.waitForAgent(
      handle,
      new Deadline(request.startTimeoutMs),
      request.onProgress,
      request.onWarning,
      signal,
    )
    if (ready.lifecycle_state === 'start_error' || ready.lifecycle_state === 'start_timeout') {
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
    const wrapped = wrapCommand(request.command, request.cwd, request.env)
    const started = Date.now()
    const status = await withCommandDeadline(
      request.timeoutMs,
      signal,
      (execSignal) =>
        this.withSsh(
          handle,
          (ssh) => ssh.exec(remote(wrapped.argv), { ...streams, stdin: wrapped.stdin, signal: execSignal }),
          execSignal,
        ),
      () => this.kill(handle, wrapped.token),
    )
    return { exitCode: status.code, signal: status.signal, durationMs: Date.now() - started }
  }

  async download(
    handle: WorkspaceHandle,
    remoteDir: string,
    localDir: string,
    limits: DownloadLimits,
    signal?: AbortSignal,
  ): Promise<DownloadResult> {
    return downloadTar(
      async (stdout, stderr, tarSignal) =>
        (
          await this.withSsh(
            handle,
            (ssh) => ssh.exec(remote(tarCommand(remoteDir)), { stdout, stderr, signal: tarSignal }),
            tarSignal,
          )
        ).code,
      remoteDir,
      localDir,
      limits.maxBytes,
      signal,
    )
  }

  /** Ends the SSH connection; a later exec or download opens a new one. */
  async close(): Promise<void> {
    await this.ssh.close()
  }

  async stop(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // The agent goes away with the stop: its connection is of no further use.
    await this.ssh.close()
    const deadline = new Deadline(timeoutMs)
    await this.build(handle, 'stop', deadline, signal)
    await this.waitForBuild(handle, 'stopped', deadline, signal)
  }

  async start(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<WorkspaceHandle> {
    await this.ssh.close()
    const deadline = new Deadline(timeoutMs)
    await this.build(handle, 'start', deadline, signal)
    const agent = await this.waitForAgent(handle, deadline, undefined, undefined, signal)
    return { ...handle, target: agent.name, readyAt: new Date().toISOString() }
  }

  async destroy(handle: WorkspaceHandle, timeoutMs: number, signal?: AbortSignal): Promise<DestroyResult> {
    await this.ssh.close()
    const deadline = new Deadline(timeoutMs)
    const id = handle.id || (await this.findByName(handle.name, signal))?.id
    if (!id) return { alreadyGone: true }
    const target = { ...handle, id }
    // coderd accepts a delete build on a deleted workspace and queues another one
    // (workspacebuilds.go postWorkspaceBuilds): look first, and never send it for nothing.
    const current = await this.readWorkspace(id, handle.name, signal)
    if (!current) return { alreadyGone: true }
    const deleting = current.latest_build.transition === 'delete' && ACTIVE_JOB.has(current.latest_build.job.status)
    try {
      if (!deleting) await this.build(target, 'delete', deadline, signal)
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
      return {
        lines: [
          ...describeWorkspace(workspace),
          ...(await this.logTail(workspace.latest_build)),
          ...(await this.postCreateTail(handle, workspace)),
        ],
      }
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

  /** Resolves the inputs, then asks coderd whether the user may create from the template (coder-access.ts). */
  private async preflight(signal?: AbortSignal): Promise<Resolved> {
    const resolved = await this.resolve(signal)
    await checkCoderAccess(this.client, resolved, signal)
    return resolved
  }

  /** The user, the template and checked parameters: every input problem is found before a create. */
  private async resolve(signal?: AbortSignal): Promise<Resolved> {
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
        throw notFoundAsInput(
          error,
          'template',
          s.template,
          `a template in organization ${org.name} that the token's user may read`,
        )
      })
    let versionId: string | undefined
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
      `/templateversions/${versionId ?? template.active_version_id}/rich-parameters`,
      `reading the parameters of template ${template.name}`,
      undefined,
      signal,
    )
    return {
      me,
      organization: org,
      template,
      versionId,
      parameters: checkParameters(template.name, s.parameters, declared),
    }
  }

  private async waitForAgent(
    handle: WorkspaceHandle,
    deadline: Deadline,
    onProgress: ((s: string) => void) | undefined,
    onWarning: ((s: string) => void) | undefined,
    signal?: AbortSignal,
  ): Promise<WorkspaceAgent> {
    const warned = new Set<string>()
    const warnOnce = (key: string, text: string): void => {
      if (!warned.has(key)) onWarning?.(text)
      warned.add(key)
    }
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
        if (build.transition !== 'start' || ['failed', 'canceled', 'canceling'].includes(build.status))
          return { done: w }
        // cli/cliui/provisionerjob.go only warns: a provisioner may register on demand.
        if (build.status === 'pending' && build.matched_provisioners?.count === 0)
          warnOnce('provisioner', `${noProvisionerHint(handle)} Waiting for one, as the coder CLI does.`)
        if (build.status !== 'running') return undefined
        const agent = this.pickAgent(w)
        if (agent instanceof RunTaskError) return { fail: agent }
        if (agent?.status === 'timeout')
          warnOnce(
            'timeout',
            `Agent ${agent.name} of workspace ${handle.name} has not connected within its connection timeout${agent.connection_timeout_seconds ? ` (${agent.connection_timeout_seconds}s)` : ''}; waiting for it, as coder ssh does.`,
          )
        return agent && agentReadiness(agent) ? { done: w } : undefined
      },
      onTimeout: async (last) =>
        new WorkspaceStartError(
          `Workspace ${handle.scope}/${handle.name} was not ready within the start timeout (${formatDuration(deadline.totalMs)}); last seen: ${last ? describeWorkspace(last).join('; ') : 'nothing'}.${last ? stuckHint(handle, last) : ''}`,
          last ? await this.logTail(last.latest_build) : [],
        ),
    })
    return this.agentOrFail(handle, settled)
  }

  /** Turns the settled workspace into its ready agent, or a start error with the build log tail. */
  private async agentOrFail(handle: WorkspaceHandle, w: Workspace): Promise<WorkspaceAgent> {
    const build = w.latest_build
    const where = `Workspace ${handle.scope}/${handle.name}`
    if (build.transition !== 'start')
      throw new WorkspaceStartError(
        `${where} was ${build.transition === 'delete' ? 'deleted' : 'stopped'} while starting (build #${build.build_number} ${build.transition}: ${build.status}).`,
        describeWorkspace(w),
      )
    if (build.status !== 'running') {
      throw new WorkspaceStartError(
        `${where}: the ${build.transition} build ${build.status}${build.job.error ? `: ${build.job.error}` : ''}`,
        await this.logTail(build),
      )
    }
    const agent = this.pickAgent(w) as WorkspaceAgent
    if (agentReadiness(agent) === 'shutting-down')
      throw new WorkspaceStartError(
        `${where}: agent ${agent.name} is ${agent.lifecycle_state}: it is shutting down, so coder ssh would not connect either.`,
        describeWorkspace(w),
      )
    return agent
  }

  private pickAgent(w: Workspace): WorkspaceAgent | RunTaskError | undefined {
    const agents = topLevelAgents(w)
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

  /**
   * Starts a build; a 409 "already active" cancels the active one (or waits for it) and
   * tries again. A response lost after coderd queued the build is recovered from the
   * workspace's latest build, never by queueing a second one.
   */
  private async build(
    handle: WorkspaceHandle,
    transition: WorkspaceTransition,
    deadline: Deadline,
    signal?: AbortSignal,
  ): Promise<WorkspaceBuild> {
    let idleConflicts = 0
    for (;;) {
      const before = await this.getWorkspace(handle, signal)
      try {
        return await this.client.create<WorkspaceBuild>(
          `/workspaces/${handle.id}/builds`,
          `${transition} build of workspace ${handle.name}`,
          { transition },
          async () => {
            const latest = (await this.getWorkspace(handle, signal)).latest_build
            return latest.build_number > before.latest_build.build_number && latest.transition === transition
              ? latest
              : undefined
          },
          signal,
        )
      } catch (error) {
        if (!(error instanceof ProviderRequestError && error.status === 409) || deadline.expired()) throw error
        const w = await this.getWorkspace(handle, signal)
        if (!ACTIVE_JOB.has(w.latest_build.job.status)) {
          // The active build may have finished between the 409 and this read: try once more.
          if (++idleConflicts > 1) throw error
          continue
        }
        if (!(await this.cancel(handle, w.latest_build, signal)))
          await this.waitForJobEnd(handle, w.latest_build, deadline, signal)
        else await sleep(Math.min(this.deps.pollIntervalMs ?? 1_000, deadline.remainingMs()), signal)
      }
    }
  }

  /**
   * Cancels an active build the way coderd allows (workspacebuilds.go
   * patchCancelWorkspaceBuild): `expect_status` names the job's state, so a job that
   * moved on is not canceled by surprise (412), and a pending one needs no permission.
   * A running one needs the template's allow_user_cancel_workspace_jobs or the owner
   * role: without them (403) this returns false and the caller waits for the build.
   */
  private async cancel(handle: WorkspaceHandle, build: WorkspaceBuild, signal?: AbortSignal): Promise<boolean> {
    const status = build.job.status
    if (status !== 'pending' && status !== 'running') return true
    try {
      await this.client.request(
        'PATCH',
        `/workspacebuilds/${build.id}/cancel?expect_status=${status}`,
        `canceling the ${build.transition} build of ${handle.name}`,
        undefined,
        signal,
      )
      return true
    } catch (error) {
      if (!(error instanceof ProviderRequestError)) throw error
      if (error.status === 403) return false
      // 400: it completed or was canceled meanwhile; 412: it moved from pending to running. Read again.
      if (error.status === 400 || error.status === 412) return true
      throw error
    }
  }

  /** Waits until the workspace's active job ends, for a build this token may not cancel. */
  private async waitForJobEnd(
    handle: WorkspaceHandle,
    build: WorkspaceBuild,
    deadline: Deadline,
    signal?: AbortSignal,
  ): Promise<void> {
    await watchWorkspace<true>({
      client: this.client,
      workspaceId: handle.id,
      deadline,
      signal,
      pollIntervalMs: this.deps.pollIntervalMs,
      judge: (w) => (w === null || !ACTIVE_JOB.has(w.latest_build.job.status) ? { done: true } : undefined),
      onTimeout: () =>
        new RunTaskError(
          'provider-request',
          `The ${build.transition} build of workspace ${handle.scope}/${handle.name} is still running after ${formatDuration(deadline.totalMs)}, and this token may not cancel it (the template does not allow user cancel and the user is not an owner).`,
        ),
    })
  }

  private getWorkspace(handle: WorkspaceHandle, signal?: AbortSignal): Promise<Workspace> {
    return this.client.request<Workspace>(
      'GET',
      `/workspaces/${handle.id}`,
      `reading workspace ${handle.name}`,
      undefined,
      signal,
    )
  }

  /** The workspace, or null once it is deleted (410) or unknown (404). */
  private async readWorkspace(id: string, name: string, signal?: AbortSignal): Promise<Workspace | null> {
    try {
      return await this.client.request<Workspace>(
        'GET',
        `/workspaces/${id}`,
        `reading workspace ${name}`,
        undefined,
        signal,
      )
    } catch (error) {
      if (error instanceof ProviderRequestError && (error.status === 404 || error.status === 410)) return null
      throw error
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

  /**
   * The tail of the build log, after every `[workspace-bootstrap]` line of the whole log
   * (envbuilder and the template's bootstrap say there what they did, 629 §5.1).
   */
  private async logTail(build: WorkspaceBuild): Promise<string[]> {
    try {
      const logs = await this.client.request<ProvisionerJobLog[]>(
        'GET',
        `/workspacebuilds/${build.id}/logs`,
        'reading the build logs',
      )
      const line = (l: ProvisionerJobLog): string => `[${l.log_level}] ${l.stage ? `${l.stage}: ` : ''}${l.output}`
      const tail = logs.slice(-LOG_TAIL_LINES)
      const bootstrap = logs
        .slice(0, -LOG_TAIL_LINES)
        .filter((l) => l.output.includes(BOOTSTRAP_TAG))
        .slice(-LOG_TAIL_LINES)
      return [
        ...(bootstrap.length
          ? [`${BOOTSTRAP_TAG} lines of build #${build.build_number}:`, ...bootstrap.map(line)]
          : []),
        `last ${tail.length} lines of the build #${build.build_number} log:`,
        ...tail.map(line),
      ]
    } catch {
      return ['build logs could not be read']
    }
  }

  /** The tail of the devcontainer's postCreate log, when the agent can be reached (629 §5.1). */
  private async postCreateTail(handle: WorkspaceHandle, w: Workspace): Promise<string[]> {
    const agent = this.pickAgent(w)
    if (w.latest_build.status !== 'running' || !agent || agent instanceof RunTaskError || agent.status !== 'connected')
      return []
    const target = { ...handle, target: agent.name }
    const sink = textSink()
    try {
      await withCommandDeadline(
        15_000,
        undefined,
        (signal) =>
          this.withSsh(target, (ssh) =>
            ssh.exec(remote(['sh', '-c', POST_CREATE_TAIL]), { stdout: sink.writable, stderr: sink.writable, signal }),
          ),
        () => Promise.resolve(),
      )
    } catch {
      return []
    }
    const text = sink.text().trim()
    return text ? text.split('\n') : []
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

  /**
   * Runs `run` on the workspace's shared SSH connection, opening it when there is none; `signal` (a cancelled step)
   * also ends the opening's retries.
   */
  private withSsh<T>(
    handle: WorkspaceHandle,
    run: (ssh: SshConnection) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.ssh.use(
      `${handle.id}/${handle.scope}/${handle.name}.${handle.target}`,
      () => this.sshTarget(handle, signal),
      run,
    )
  }

  private coderCli(): Promise<string> {
    this.cli ??= ensureCoderCli(this.client, this.deps.toolCache).catch((error: unknown) => {
      this.cli = undefined
      throw error
    })
    return this.cli
  }

  private async sshTarget(handle: WorkspaceHandle, signal?: AbortSignal): Promise<SshTarget> {
    const s = this.settings
    const workspace = `${handle.scope}/${handle.name}.${handle.target}`
    let command = s.sshTunnelCommand
    // --disable-autostart: coder ssh would start a stopped workspace by itself (cli/ssh.go getWorkspaceAndAgent).
    if (isDefaultTunnel(command))
      command = `${shellQuote(await this.coderCli())} ssh --stdio --disable-autostart {workspace}`
    return {
      tunnelCommand: command.replaceAll('{workspace}', shellQuote(workspace)),
      tunnelEnv: {
        ...tunnelEnvironment(),
        CODER_URL: this.client.url,
        CODER_SESSION_TOKEN: s.token,
        CODER_NO_VERSION_WARNING: 'true',
      },
      username: s.sshUser,
      ...(s.sshPrivateKey ? { privateKey: s.sshPrivateKey } : {}),
      ...(s.sshKnownHosts.trim() ? { knownHosts: parseKnownHosts(s.sshKnownHosts).keys } : {}),
      readyTimeoutMs: 60_000,
      ...(this.deps.log ? { log: this.deps.log } : {}),
      ...(signal ? { signal } : {}),
    }
  }

  /** Stops the command's process tree; a connection that broke is replaced by a new one for it. */
  private async kill(handle: WorkspaceHandle, token: string): Promise<void> {
    const sink = textSink()
    await this.withSsh(handle, (ssh) =>
      ssh.exec(remote(killCommand(token)), { stdout: sink.writable, stderr: sink.writable }),
    ).catch(() => undefined)
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
    lines.push(
      `agent ${agent.name}${agent.parent_id ? ' (sub-agent)' : ''}: ${agent.status}, lifecycle ${agent.lifecycle_state}`,
    )
  return lines
}

function noProvisionerHint(handle: WorkspaceHandle): string {
  return `The build of workspace ${handle.name} is pending and no provisioner matches its tags (matched_provisioners.count is 0); a provisioner daemon for this organization and these tags must be started.`
}

/** Why a start that timed out was stuck, in the words an administrator acts on. */
function stuckHint(handle: WorkspaceHandle, w: Workspace): string {
  const b = w.latest_build
  if (b.status === 'pending' && b.matched_provisioners?.count === 0) return ` ${noProvisionerHint(handle)}`
  const agent = topLevelAgents(w).find((a) => a.status === 'timeout')
  return agent
    ? ` Agent ${agent.name} never connected: its connection timeout passed${agent.troubleshooting_url ? ` (see ${agent.troubleshooting_url})` : ''}.`
    : ''
}

function notFoundAsInput(error: unknown, input: string, value: string, expected: string): unknown {
  return error instanceof ProviderRequestError && (error.status === 404 || error.status === 400)
    ? new InputError(input, value, `${expected} (${error.message})`)
    : error
}
