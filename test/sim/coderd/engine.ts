import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { simulateClone } from '../git-checkout.js'
import { AgentSshServer } from './agent-ssh.js'
import type { CoderFaults } from './faults.js'

/** A template version: its name and its rich parameters. */
export interface SimVersion {
  id: string
  name: string
  parameters: Record<string, unknown>[]
}

export interface SimTemplate {
  id: string
  name: string
  organization_id: string
  active_version_id: string
  /** The active version's parameters. */
  parameters: Record<string, unknown>[]
  versions: SimVersion[]
  /** `default_ttl_ms`: what a workspace gets when the create asks for none (coderd workspaces.go validWorkspaceTTLMillis). */
  default_ttl_ms: number
  /** `allow_user_cancel_workspace_jobs` (coderd workspacebuilds.go verifyUserCanCancelWorkspaceBuilds). */
  allow_user_cancel_workspace_jobs: boolean
  /**
   * An envbuilder-style Kubernetes template (coder/coder examples/templates/kubernetes-devcontainer):
   * a namespace and a PVC for /workspaces that outlive a stop, the repository cloned under it, and
   * a $HOME inside the image that a stop loses. Otherwise a Docker template with a home volume.
   */
  envbuilder?: boolean
}

export interface SimAgent {
  id: string
  name: string
  status: 'connecting' | 'connected' | 'disconnected' | 'timeout'
  lifecycle_state: string
  created_at: string
  ssh?: AgentSshServer
}

export interface SimBuild {
  id: string
  build_number: number
  transition: 'start' | 'stop' | 'delete'
  job: { id: string; status: string; error?: string; created_at: string; queue_position: number }
  logs: { id: number; created_at: string; log_source: string; log_level: string; stage: string; output: string }[]
  created_at: string
  noProvisioner: boolean
  /** A stop build whose persistent volume resource is gone (the PVC was deleted). */
  volumeGone?: boolean
}

export interface SimWorkspace {
  id: string
  name: string
  owner_id: string
  owner_name: string
  organization_id: string
  template: SimTemplate
  /** The version the latest build used (coderd builds the active one unless the request names another). */
  template_version_id: string
  created_at: string
  ttl_ms: number | null
  parameters: { name: string; value: string }[]
  builds: SimBuild[]
  agent: SimAgent
  deleted: boolean
}

let logId = 0

function wipe(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
}

function newAgent(id: string, name: string): SimAgent {
  return { id, name, status: 'connecting', lifecycle_state: 'created', created_at: new Date().toISOString() }
}

/**
 * Workspaces and their builds, moved along by timers the way provisioner daemons
 * and agents move them: a build's job goes pending → running → succeeded (or
 * failed), the agent connects and its lifecycle reaches ready, and a stop or
 * delete build takes the agent down. Every change is emitted for the SSE watch.
 */
export class WorkspaceEngine extends EventEmitter {
  readonly workspaces = new Map<string, SimWorkspace>()
  /** SSH handshakes the agents have completed: one per connection a client opened. */
  sshHandshakes = 0
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(
    private readonly root: string,
    private readonly faults: CoderFaults,
    private readonly stepMs: number,
    /** The workspace PATH (the simulated image's tools first). */
    private readonly path: string,
  ) {
    super()
  }

  /**
   * The agent's directory (coder_agent `dir`, `expanded_directory` in the API):
   * the clone of the `repo_url` parameter under home when there is one.
   */
  directory(w: SimWorkspace): string {
    const repo = w.parameters.find((p) => p.name === 'repo_url')?.value
    const name = repo ? path.basename(repo).replace(/\.git$/, '') : ''
    const base = w.template.envbuilder ? this.volume(w) : this.home(w)
    return name ? path.join(base, name) : base
  }

  home(w: SimWorkspace): string {
    return w.template.envbuilder ? path.join(this.root, w.owner_name, w.name, 'home') : this.volume(w)
  }

  /** The persistent volume: the home volume of a Docker template, the /workspaces PVC of an envbuilder one. */
  volume(w: SimWorkspace): string {
    return w.template.envbuilder
      ? path.join(this.root, w.owner_name, w.name, 'workspaces')
      : path.join(this.root, w.owner_name, w.name)
  }

  create(
    owner: { id: string; username: string },
    template: SimTemplate,
    versionId: string,
    name: string,
    ttlMs: number | null,
    parameters: { name: string; value: string }[],
  ): SimWorkspace {
    const w: SimWorkspace = {
      id: randomUUID(),
      name,
      owner_id: owner.id,
      owner_name: owner.username,
      organization_id: template.organization_id,
      template,
      template_version_id: versionId,
      created_at: new Date().toISOString(),
      ttl_ms: ttlMs,
      parameters,
      builds: [],
      agent: newAgent(randomUUID(), 'main'),
      deleted: false,
    }
    this.workspaces.set(w.id, w)
    mkdirSync(this.home(w), { recursive: true })
    mkdirSync(this.volume(w), { recursive: true })
    const repo = parameters.find((p) => p.name === 'repo_url')?.value
    if (repo) simulateClone(repo, this.directory(w))
    this.build(w, 'start')
    return w
  }

  latest(w: SimWorkspace): SimBuild {
    return w.builds[w.builds.length - 1] as SimBuild
  }

  activeBuild(w: SimWorkspace): boolean {
    return ['pending', 'running', 'canceling'].includes(this.latest(w).job.status)
  }

  build(w: SimWorkspace, transition: SimBuild['transition']): SimBuild {
    const b: SimBuild = {
      id: randomUUID(),
      build_number: w.builds.length + 1,
      transition,
      job: { id: randomUUID(), status: 'pending', created_at: new Date().toISOString(), queue_position: 0 },
      logs: [],
      created_at: new Date().toISOString(),
      noProvisioner: this.faults.noProvisioner,
    }
    w.builds.push(b)
    this.changed(w)
    if (!b.noProvisioner) this.later(() => this.runJob(w, b))
    // Provisioners can register on demand (coder cli/cliui/provisionerjob.go: a build with no match only warns).
    else if (this.faults.provisionerArrivesAfterMs !== undefined)
      this.later(() => this.provisionerArrives(), this.faults.provisionerArrivesAfterMs)
    return b
  }

  /** A provisioner daemon that matches the tags registers: every waiting job is acquired. */
  provisionerArrives(): void {
    for (const w of this.workspaces.values())
      for (const b of w.builds)
        if (b.noProvisioner && b.job.status === 'pending') {
          b.noProvisioner = false
          this.later(() => this.runJob(w, b))
        }
  }

  /**
   * coderd workspacebuilds.go patchCancelWorkspaceBuild: a job no daemon has acquired
   * is completed as canceled at once; a running one is marked and goes through
   * `canceling` until its daemon stops it.
   */
  cancel(w: SimWorkspace, b: SimBuild): void {
    if (b.job.status === 'pending') {
      b.job.status = 'canceled'
      this.log(b, 'Cleaning Up', 'Job canceled by the user')
      return this.changed(w)
    }
    b.job.status = 'canceling'
    this.changed(w)
    this.later(() => {
      b.job.status = 'canceled'
      this.log(b, 'Cleaning Up', 'Job canceled by the user')
      this.changed(w)
    })
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t)
    for (const w of this.workspaces.values()) w.agent.ssh?.close()
  }

  private runJob(w: SimWorkspace, b: SimBuild): void {
    if (b.job.status !== 'pending') return
    b.job.status = 'running'
    this.log(b, 'Setting up', 'Provisioner daemon sim-1 acquired the job')
    this.log(b, 'Planning infrastructure', `terraform plan (${b.transition})`)
    if (this.faults.bootstrapLogs && b.transition === 'start') this.bootstrap(w, b)
    this.changed(w)
    this.later(() => this.finishJob(w, b))
  }

  private finishJob(w: SimWorkspace, b: SimBuild): void {
    if (b.job.status !== 'running') return
    const failure = b.transition === 'start' ? this.faults.buildFails : undefined
    if (failure) {
      this.faults.buildFails = undefined
      for (const line of failure.logs) this.log(b, 'Starting workspace', line, 'error')
      b.job.status = 'failed'
      b.job.error = failure.error
      return this.changed(w)
    }
    this.log(
      b,
      b.transition === 'delete' ? 'Destroying workspace' : 'Starting workspace',
      `terraform apply (${b.transition}) complete`,
    )
    b.job.status = 'succeeded'
    if (b.transition === 'start') return this.startAgent(w)
    w.agent.ssh?.close()
    delete w.agent.ssh
    w.agent.status = 'disconnected'
    w.agent.lifecycle_state = 'off'
    if (b.transition === 'delete') {
      if (w.deleted) return this.changed(w)
      w.deleted = true
      rmSync(path.join(this.root, w.owner_name, w.name), { recursive: true, force: true })
    } else {
      // envbuilder: $HOME lives in the container image and is gone with the pod; /workspaces is a PVC.
      if (this.faults.loseHomeOnStop || w.template.envbuilder) wipe(this.home(w))
      if (this.faults.loseVolumeOnStop || this.faults.pvcGoneOnStop) wipe(this.volume(w))
      b.volumeGone = this.faults.pvcGoneOnStop
      mkdirSync(this.directory(w), { recursive: true })
    }
    this.changed(w)
  }

  private startAgent(w: SimWorkspace): void {
    w.agent = newAgent(w.agent.id, w.agent.name)
    this.changed(w)
    // coderd database/modelmethods.go WorkspaceAgent.Status: `timeout` only means "never connected
    // and connection_timeout_seconds have passed"; the agent can still connect afterwards.
    if (this.faults.agentNeverConnects || this.faults.agentConnectsLateMs > 0) {
      this.later(() => {
        w.agent.status = 'timeout'
        this.changed(w)
      })
      if (this.faults.agentNeverConnects) return
    }
    this.later(async () => {
      const ssh = new AgentSshServer(
        this.directory(w),
        this.home(w),
        {
          PATH: this.path,
          USER: w.owner_name,
          CODER: 'true',
          CODER_WORKSPACE_NAME: w.name,
          CODER_WORKSPACE_OWNER_NAME: w.owner_name,
          CODER_WORKSPACE_AGENT_NAME: w.agent.name,
        },
        () => this.faults,
        this.faults.loginShell,
        () => (this.sshHandshakes += 1),
      )
      await ssh.listen()
      const shutdown = this.faults.agentShutsDown
      // agent/agent.go: a shutdown while starting runs the shutdown scripts, and their result is the
      // state; the `shutting_down` in between is one a watcher or a poll can miss, so it is left out.
      w.agent = { ...w.agent, ssh, status: 'connected', lifecycle_state: shutdown ?? 'starting' }
      this.changed(w)
      if (shutdown) return
      this.later(() => {
        w.agent.lifecycle_state = this.faults.agentStartError ? 'start_error' : 'ready'
        this.changed(w)
      }, this.stepMs + this.faults.slowStartMs)
    }, this.stepMs + this.faults.agentConnectsLateMs)
  }

  /**
   * What an envbuilder template's bootstrap says in the build log (629 §5.1: `[workspace-bootstrap]`
   * lines), followed by enough Terraform output that a log tail alone would miss them, and the
   * devcontainer's postCreate log in the workspace folder.
   */
  private bootstrap(w: SimWorkspace, b: SimBuild): void {
    const failing = this.faults.buildFails !== undefined
    this.log(b, 'Starting workspace', '[workspace-bootstrap] cloning the repository into /workspaces')
    this.log(
      b,
      'Starting workspace',
      failing
        ? '[workspace-bootstrap] ERROR: devcontainer build failed: postCreateCommand exited with 1'
        : '[workspace-bootstrap] devcontainer built; postCreateCommand done',
      failing ? 'error' : 'info',
    )
    for (let i = 0; i < 40; i++)
      this.log(b, 'Starting workspace', `kubernetes_deployment_v1.main: Still creating... [${i}s elapsed]`)
    const logs = path.join(this.directory(w), '.devcontainer', 'logs')
    mkdirSync(logs, { recursive: true })
    writeFileSync(
      path.join(logs, 'coder-postCreate.log'),
      ['+ npm ci', 'added 812 packages in 41s', '+ ameide doctor', 'ameide doctor: gh auth: not logged in', ''].join(
        '\n',
      ),
    )
  }

  private log(b: SimBuild, stage: string, output: string, level = 'info'): void {
    b.logs.push({
      id: ++logId,
      created_at: new Date().toISOString(),
      log_source: 'provisioner',
      log_level: level,
      stage,
      output,
    })
  }

  private changed(w: SimWorkspace): void {
    this.emit('change', w)
  }

  private later(fn: () => void | Promise<void>, ms = this.stepMs): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      void fn()
    }, ms)
    this.timers.add(t)
  }
}
