import { createHash, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type SimBuild, type SimTemplate, type SimVersion, type SimWorkspace, WorkspaceEngine } from './engine.js'
import { FAKE_CODER_CLI } from './fake-cli.js'
import { coderListener } from './https.js'
import { type CoderFaults, noCoderFaults } from './faults.js'
import { answerAuthcheck, authorize, type SimUser } from './rbac.js'
import { loseResponse, requestKey, resetConnection, takeRequestFault } from '../request-faults.js'
import { imagePath, startWorkspaceImage, type WorkspaceImage } from '../workspace-image.js'

const VERSION = 'v2.99.1-sim+0000001'
/** coderd/httpmw/apikey.go SignedOutErrorMessage: the message of every 401 for a token coderd does not accept. */
const SIGNED_OUT = 'You are signed out or your session has expired. Please sign in again to continue.'
const NOT_FOUND = { message: 'Resource not found or you do not have access to this resource' }

export interface CoderSim {
  readonly url: string
  /** A member's token and an owner's token (deployment config needs the latter). */
  readonly token: string
  readonly adminToken: string
  readonly faults: CoderFaults
  readonly engine: WorkspaceEngine
  /** The workspace image: its tools and the code-server every agent serves. */
  readonly image: WorkspaceImage
  readonly requests: string[]
  /** Set when it serves https: the PEM of the private CA that signed its certificate. */
  readonly caCert?: string
  /** Names of the workspaces that are not deleted. */
  workspaces(): string[]
  addTemplate(name: string, parameters: Record<string, unknown>[], options?: Partial<SimTemplate>): SimTemplate
  /** Adds a version to a template without making it the active one. */
  addVersion(template: SimTemplate, name: string, parameters: Record<string, unknown>[]): SimVersion
  close(): Promise<void>
}

/** Starts a simulated coderd (REST, SSE watch, build logs, agents with SSH) on loopback. */
export async function startCoderSim(
  options: {
    stepMs?: number
    oidcIssuer?: string
    https?: boolean
    /** Names the build of the served CLI: two deployments with the same name serve the same bytes. */
    cliBuild?: string
    /** The member's session token (a test canary); random otherwise. */
    token?: string
  } = {},
): Promise<CoderSim> {
  const root = mkdtempSync(path.join(tmpdir(), 'coderd-sim-'))
  const faults = noCoderFaults()
  const image = await startWorkspaceImage(root)
  const engine = new WorkspaceEngine(root, faults, options.stepMs ?? 10, imagePath(image))
  const org = {
    id: randomUUID(),
    name: 'coder',
    display_name: 'Coder',
    is_default: true,
    created_at: new Date().toISOString(),
  }
  const member = {
    id: randomUUID(),
    username: 'ci-bot',
    email: 'ci@example.com',
    status: 'active',
    login_type: 'token',
    organization_ids: [org.id],
    roles: [] as { name: string }[],
  }
  const owner = { ...member, id: randomUUID(), username: 'admin', roles: [{ name: 'owner', display_name: 'Owner' }] }
  const tokens = new Map([
    [options.token ?? `${randomHex(10)}-${randomHex(22)}`, member],
    [`${randomHex(10)}-${randomHex(22)}`, owner],
  ])
  const [token, adminToken] = [...tokens.keys()] as [string, string]
  const templates = new Map<string, SimTemplate>()
  const requests: string[] = []
  const addTemplate = (
    name: string,
    parameters: Record<string, unknown>[],
    options: Partial<SimTemplate> = {},
  ): SimTemplate => {
    const version = { id: randomUUID(), name: 'v1', parameters }
    const t: SimTemplate = {
      id: randomUUID(),
      name,
      organization_id: org.id,
      active_version_id: version.id,
      parameters,
      versions: [version],
      default_ttl_ms: 8 * 3_600_000,
      allow_user_cancel_workspace_jobs: true,
      ...options,
    }
    templates.set(name, t)
    return t
  }
  const addVersion = (template: SimTemplate, name: string, parameters: Record<string, unknown>[]): SimVersion => {
    const version = { id: randomUUID(), name, parameters }
    template.versions.push(version)
    return version
  }
  const findVersion = (id: string): { t: SimTemplate; v: SimVersion } | undefined => {
    for (const t of templates.values()) {
      const v = t.versions.find((x) => x.id === id)
      if (v) return { t, v }
    }
    return undefined
  }
  addTemplate('ci-docker', [
    param('image', 'string', { default_value: 'codercom/enterprise-base:ubuntu' }),
    param('region', 'string', { default_value: 'eu', options: [option('eu'), option('us')] }),
    param('cpu', 'number', { default_value: '2', validation_min: 1, validation_max: 8 }),
    param('repo_url', 'string', { required: true, default_value: '' }),
  ])
  const streams = new Set<ServerResponse>()
  // Each deployment's binary differs (a build of its own), so two deployments of one version can serve different files.
  const cliBytes = Buffer.from(`${FAKE_CODER_CLI}// build ${options.cliBuild ?? randomUUID()}\n`)

  const { server, scheme, caCert } = coderListener(options.https ?? false, (req, res) => {
    requests.push(`${req.method} ${req.url}`)
    const lose = faults.loseResponses
    if (lose && lose.count > 0 && lose.match.test(`${req.method} ${new URL(req.url ?? '/', 'http://sim').pathname}`)) {
      // The handler runs to the end; only its answer is lost on the way back.
      lose.count -= 1
      res.end = (() => {
        req.socket.destroy()
        return res
      }) as typeof res.end
    }
    if (answerRequestFault(req, res)) return
    route(req, res).catch((error: unknown) => send(res, 500, { message: 'Internal error.', detail: String(error) }))
  })

  /** Applies the first matching request fault; true when the request was answered (or its connection reset). */
  const answerRequestFault = (req: IncomingMessage, res: ServerResponse): boolean => {
    const fault = takeRequestFault(faults.requestFaults, requestKey(req))
    if (!fault) return false
    if (fault.kind === 'reset') return (resetConnection(req.socket), true)
    if (fault.kind === 'lose') return (loseResponse(req, res), false)
    const status = fault.status ?? 503
    res.setHeader('X-Coder-Build-Version', VERSION)
    if (status === 429) {
      // coderd/httpmw/ratelimit.go RateLimit: go-chi/httprate's limit handler sets Retry-After, and coderd answers
      // with httpapi.Write and this message.
      res.setHeader('Retry-After', String(fault.retryAfterSeconds ?? 1))
      send(res, 429, { message: "You've been rate limited for sending more than 512 requests in 1m0s." })
      return true
    }
    // coderd's own 500: coderd/httpapi/httpapi.go InternalServerError ("An internal server error occurred." with the
    // error as detail). A 503 stands for the proxy in front while coderd restarts (not coderd's code; its body is ours).
    if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds))
    send(
      res,
      status,
      status === 500
        ? { message: 'An internal server error occurred.', detail: 'pq: canceling statement due to statement timeout' }
        : { message: 'Service Unavailable', detail: 'coderd is restarting' },
    )
    return true
  }

  /**
   * site/site.go New, the `/bin/` handler: underscores in the name become hyphens, only the
   * binaries the release built exist (coder-linux-armv7, never coder-linux-arm), and the
   * ETag is the quoted lower-case hex SHA-1 of the file (binHashCache.getHash,
   * `fmt.Sprintf(`%q`, hash)`). http.FileServer then answers If-None-Match with 304.
   */
  const serveCli = (req: IncomingMessage, res: ServerResponse, name: string): void => {
    if (!SERVED_CLIS.has(name)) return sendHtml(res, 404, 'Not Found')
    const etag = `"${createHash('sha1').update(cliBytes).digest('hex')}"`
    if (etagListMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ETag: etag })
      return void res.end()
    }
    // A fault for a body altered on the way (a proxy or cache in between): the ETag stays the file's.
    const body = faults.cliTampered ? Buffer.concat([cliBytes, Buffer.from('\nprocess.exit(0)\n')]) : cliBytes
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, ETag: etag })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sim')
    const p = url.pathname
    res.setHeader('X-Coder-Build-Version', VERSION)
    if (p.startsWith('/bin/')) return serveCli(req, res, p.slice('/bin/'.length).replaceAll('_', '-'))
    const app = APP_PATH.exec(p)
    if (app) return proxyApp(req, res, app, url)
    if (!p.startsWith('/api/v2/')) return send(res, 404, { message: 'Route not found.' })
    res.setHeader('X-RateLimit-Limit', '512')
    if (faults.rateLimited > 0) {
      faults.rateLimited -= 1
      res.setHeader('Retry-After', '1')
      return send(res, 429, { message: "You've been rate limited for sending more than 512 requests in 1m0s." })
    }
    if (faults.serverErrors > 0) {
      faults.serverErrors -= 1
      return send(res, 503, { message: 'Service Unavailable', detail: 'coderd is restarting' })
    }
    const api = p.slice('/api/v2'.length)
    if (api === '/buildinfo')
      return send(res, 200, {
        external_url: 'https://github.com/coder/coder',
        version: VERSION,
        dashboard_url: simUrl,
        agent_api_version: '2.0',
        deployment_id: 'sim',
        telemetry: false,
        upgrade_message: '',
        workspace_proxy: false,
      })
    if (api === '/users/first')
      return faults.noInitialUser
        ? send(res, 404, { message: 'The initial user has not been created!' })
        : send(res, 200, { message: 'The initial user has already been created!' })
    const sessionToken = String(req.headers['coder-session-token'] ?? '')
    const user = tokens.get(sessionToken)
    // coderd/httpmw/apikey.go ExtractAPIKey: every unaccepted token is a 401, its detail saying why (signedOut).
    if (!user || (user === member && faults.tokenExpired)) return send(res, 401, signedOut(sessionToken, user))
    const body =
      req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' ? await readJson(req) : undefined
    let m: RegExpExecArray | null
    if (api === '/users/me' || api === `/users/${user.username}`) return send(res, 200, user)
    if (api === '/deployment/config') {
      if (!user.roles.some((r) => r.name === 'owner'))
        return send(res, 403, {
          message: 'Forbidden.',
          detail:
            "You don't have permission to view this content. If you believe this is a mistake, please contact your administrator or try signing in with different credentials.",
        })
      return send(res, 200, {
        config: { access_url: simUrl, oidc: { issuer_url: options.oidcIssuer ?? '', client_id: 'coder' } },
        options: [],
      })
    }
    if ((m = /^\/organizations\/([^/]+)$/.exec(api)))
      return m[1] === 'default' || m[1] === org.name || m[1] === org.id
        ? send(res, 200, org)
        : send(res, 404, NOT_FOUND)
    if ((m = /^\/organizations\/([^/]+)\/templates\/([^/]+)$/.exec(api))) {
      const t =
        m[1] === org.id || m[1] === 'default' || m[1] === org.name
          ? templates.get(decodeURIComponent(m[2] as string))
          : undefined
      // A template the user may not read is a 404 like a missing one (httpapi.Is404Error counts dbauthz's refusal).
      return t && canRead(user, t) ? send(res, 200, templateJson(t)) : send(res, 404, NOT_FOUND)
    }
    if (api === '/authcheck' && req.method === 'POST') {
      // coderd/authorize.go checkAuthorization, answered from the user's policy (rbac.ts answerAuthcheck).
      const answer = answerAuthcheck(body, user, policyOf(user), {
        template: (id) => [...templates.values()].find((t) => t.id === id),
        workspace: (id) => engine.workspaces.get(id),
        user: (id) => [...tokens.values()].find((u) => u.id === id),
      })
      return send(res, answer.status, answer.body)
    }
    if ((m = /^\/templates\/([^/]+)\/versions\/([^/]+)$/.exec(api))) {
      // coderd templateversions.go templateVersionByName; httpmw.ExtractTemplateParam hides a template the user may
      // not read behind the generic 404.
      const t = [...templates.values()].find((x) => x.id === m?.[1])
      if (t && !canRead(user, t)) return send(res, 404, NOT_FOUND)
      const v = t?.versions.find((x) => x.name === decodeURIComponent(m?.[2] ?? ''))
      if (!t || !v)
        return send(res, 404, {
          message: `No template version found by name "${decodeURIComponent(m[2] as string)}".`,
        })
      return send(res, 200, { id: v.id, template_id: t.id, organization_id: org.id, name: v.name, archived: false })
    }
    if ((m = /^\/templateversions\/([^/]+)\/rich-parameters$/.exec(api))) {
      const found = findVersion(m[1] as string)
      return found && canRead(user, found.t) ? send(res, 200, found.v.parameters) : send(res, 404, NOT_FOUND)
    }
    if ((m = /^\/users\/([^/]+)\/workspaces$/.exec(api)) && req.method === 'POST')
      return createWorkspace(res, user, body as Record<string, unknown>)
    if ((m = /^\/users\/([^/]+)\/workspace\/([^/]+)\/builds\/(\d+)$/.exec(api))) {
      // coderd workspacebuilds.go workspaceBuildByBuildNumber
      const w = [...engine.workspaces.values()].find(
        (x) => x.name === m?.[2] && !x.deleted && (m?.[1] === 'me' ? x.owner_id === user.id : x.owner_name === m?.[1]),
      )
      const b = w?.builds.find((x) => x.build_number === Number(m?.[3]))
      return w && b ? send(res, 200, buildJson(w, b)) : send(res, 404, NOT_FOUND)
    }
    if ((m = /^\/users\/([^/]+)\/workspace\/([^/]+)$/.exec(api))) {
      const w = [...engine.workspaces.values()].find(
        (x) => x.name === m?.[2] && !x.deleted && (m?.[1] === 'me' ? x.owner_id === user.id : x.owner_name === m?.[1]),
      )
      return w ? send(res, 200, workspaceJson(w)) : send(res, 404, NOT_FOUND)
    }
    if (api === '/workspaces' && req.method === 'GET') {
      const q = url.searchParams.get('q') ?? ''
      const name = /name:(\S+)/.exec(q)?.[1] ?? ''
      const list = [...engine.workspaces.values()].filter(
        (w) => !w.deleted && w.owner_id === user.id && w.name.includes(name),
      )
      return send(res, 200, { workspaces: list.map(workspaceJson), count: list.length })
    }
    if ((m = /^\/workspaces\/([^/]+)$/.exec(api))) {
      const w = engine.workspaces.get(m[1] as string)
      if (!w) return send(res, 404, NOT_FOUND)
      if (w.deleted && url.searchParams.get('include_deleted') !== 'true')
        return send(res, 410, {
          message: `Workspace "${w.id}" was deleted, you can view this workspace by specifying '?deleted=true' and trying again.`,
        })
      return send(res, 200, workspaceJson(w))
    }
    if ((m = /^\/workspaces\/([^/]+)\/watch$/.exec(api))) return watch(req, res, m[1] as string)
    if ((m = /^\/workspaces\/([^/]+)\/builds$/.exec(api)) && req.method === 'POST')
      return newBuild(res, m[1] as string, body as { transition?: string })
    if ((m = /^\/workspacebuilds\/([^/]+)(\/logs|\/cancel)?$/.exec(api))) {
      const found = findBuild(m[1] as string)
      if (!found) return send(res, 404, NOT_FOUND)
      if (!m[2]) return send(res, 200, buildJson(found.w, found.b))
      if (m[2] === '/logs') {
        const after = url.searchParams.get('after')
        if (after !== null && !/^\d+$/.test(after))
          return send(res, 400, {
            message: 'Query param "after" must be an integer.',
            validations: [{ field: 'after', detail: 'Must be an integer' }],
          })
        return send(
          res,
          200,
          found.b.logs.filter((l) => l.id > Number(after ?? 0)),
        )
      }
      return cancelBuild(res, user, found.w, found.b, url.searchParams.get('expect_status') ?? '')
      return send(res, 200, { message: 'Job has been marked as canceled...' })
    }
    if ((m = /^\/workspaceagents\/([^/]+)(\/sim-ssh)?$/.exec(api))) {
      const w = [...engine.workspaces.values()].find((x) => x.agent.id === m?.[1])
      if (!w) return send(res, 404, NOT_FOUND)
      if (m[2])
        return w.agent.ssh
          ? send(res, 200, { port: w.agent.ssh.port })
          : send(res, 409, { message: 'The agent is not connected.' })
      return send(res, 200, agentJson(w))
    }
    send(res, 404, { message: 'Route not found.' })
  }

  const policyOf = (user: SimUser) => faults.userPolicy[user.username] ?? {}
  const canRead = (user: SimUser, t: SimTemplate): boolean =>
    authorize(user, policyOf(user), 'read', { type: 'template', orgId: t.organization_id, template: t })

  /**
   * coderd workspaces.go createWorkspace, right after requestTemplate: first `create` on a workspace of the owner in
   * the template's organization, then `use` on the template; each refusal is a 403 with its own message. Nothing is
   * created.
   */
  const createDenied = (user: SimUser, t: SimTemplate): { message: string; detail: string } | undefined => {
    const policy = policyOf(user)
    if (!authorize(user, policy, 'create', { type: 'workspace', ownerId: user.id, orgId: t.organization_id }))
      return {
        message: 'Unauthorized to create workspace.',
        detail:
          'You are unable to create a workspace in this organization. It is possible to have access to the template, but not be able to create a workspace. Please contact an administrator about your permissions if you feel this is an error.',
      }
    if (!authorize(user, policy, 'use', { type: 'template', orgId: t.organization_id, template: t }))
      return {
        message: `Unauthorized access to use the template ${JSON.stringify(t.name)}.`,
        detail:
          'Although you are able to view the template, you are unable to create a workspace using it. Please contact an administrator about your permissions if you feel this is an error.',
      }
    return undefined
  }

  /**
   * The 401 body for a token coderd does not accept (coderd/httpmw/apikey.go APIKeyFromRequest and ExtractAPIKey):
   * none given, not `<10>-<22>` (SplitAPIToken), unknown, or expired.
   */
  const signedOut = (token: string, user: SimUser | undefined): { message: string; detail: string } => {
    if (!token)
      return { message: SIGNED_OUT, detail: 'Cookie "coder_session_token" or query parameter must be provided.' }
    if (user)
      return { message: SIGNED_OUT, detail: `API key expired at "${goTime(new Date(Date.now() - 3_600_000))}".` }
    const parts = token.split('-')
    const [id = '', secret = ''] = parts
    const format =
      parts.length !== 2
        ? `incorrect amount of API key parts, expected 2 got ${parts.length}`
        : id.length !== 10
          ? `invalid API key ID length, expected 10 got ${id.length}`
          : secret.length !== 22
            ? `invalid API key secret length, expected 22 got ${secret.length}`
            : ''
    return { message: SIGNED_OUT, detail: format ? `Invalid API key format: ${format}` : 'API key is invalid.' }
  }

  const createWorkspace = (
    res: ServerResponse,
    user: typeof member,
    body: Record<string, unknown> | undefined,
  ): void => {
    if (!body) return send(res, 400, { message: 'Request body must be valid JSON.' })
    const name = String(body.name ?? '')
    // codersdk/name.go NameValid, the `workspace_name` validator: <= 32 characters,
    // alphanumeric words joined by single hyphens, never "new" or "create".
    if (name.length > 32 || !NAME_VALID.test(name) || name === 'new' || name === 'create')
      return send(res, 400, {
        message: 'Validation failed.',
        validations: [
          { field: 'name', detail: 'Validation failed for tag "workspace_name" with value: "' + name + '"' },
        ],
      })
    // codersdk/organizations.go CreateWorkspaceRequest: template_id and template_version_id are
    // `required_without` and `excluded_with` each other; template_id builds the active version.
    const byVersion = body.template_version_id ? findVersion(String(body.template_version_id)) : undefined
    if (body.template_id && body.template_version_id)
      return send(res, 400, {
        message: 'Validation failed.',
        validations: [
          {
            field: 'template_id',
            detail: `Validation failed for tag "excluded_with" with value: "${String(body.template_id)}"`,
          },
          {
            field: 'template_version_id',
            detail: `Validation failed for tag "excluded_with" with value: "${String(body.template_version_id)}"`,
          },
        ],
      })
    const found = byVersion?.t ?? [...templates.values()].find((t) => t.id === body.template_id)
    // coderd workspaces.go requestTemplate: the template is read as the user, and one it may not read "doesn't exist".
    const template = found && canRead(user, found) ? found : undefined
    if (!template)
      return send(res, 400, {
        message: body.template_version_id
          ? `Template version "${String(body.template_version_id)}" doesn't exist.`
          : `Template "${String(body.template_id)}" doesn't exist.`,
        validations: [
          body.template_version_id
            ? { field: 'template_version_id', detail: 'template version not found' }
            : { field: 'template_id', detail: 'template not found' },
        ],
      })
    const denied = createDenied(user, template)
    if (denied) return send(res, 403, denied)
    const version = byVersion?.v ?? (template.versions.find((v) => v.id === template.active_version_id) as SimVersion)
    if ([...engine.workspaces.values()].some((w) => !w.deleted && w.owner_id === user.id && w.name === name))
      return send(res, 409, {
        message: `Workspace "${name}" already exists.`,
        validations: [{ field: 'name', detail: 'This value is already in use and should be unique.' }],
      })
    // coderd workspaces.go validWorkspaceTTLMillis: 0 or null is the template's default.
    const asked = body.ttl_ms as number | null | undefined
    const ttl = asked ? asked : template.default_ttl_ms || null
    if (asked && asked < 60_000)
      return send(res, 400, {
        message: 'Invalid Workspace Time to Shutdown.',
        validations: [{ field: 'ttl_ms', detail: 'time until shutdown must be at least one minute' }],
      })
    const values = (body.rich_parameter_values ?? []) as { name: string; value: string }[]
    for (const p of version.parameters) {
      // codersdk/richparameters.go validateBuildParameter: a required parameter's value may not be empty.
      if (p.required && !values.find((v) => v.name === p.name)?.value)
        return send(res, 400, {
          message: `Unable to validate parameter "${String(p.name)}"`,
          detail: 'parameter value is required',
        })
    }
    const w = engine.create(user, template, version.id, name, ttl, values)
    send(res, 201, workspaceJson(w))
  }

  const newBuild = (res: ServerResponse, id: string, body: { transition?: string } | undefined): void => {
    const w = engine.workspaces.get(id)
    if (!w) return send(res, 404, NOT_FOUND)
    const transition = body?.transition
    if (transition !== 'start' && transition !== 'stop' && transition !== 'delete')
      return send(res, 400, {
        message: 'Validation failed.',
        validations: [{ field: 'transition', detail: 'Validation failed for tag "oneof"' }],
      })
    // coderd workspacebuilds.go postWorkspaceBuilds: a delete build is allowed on a deleted
    // workspace (another delete is queued); only start and stop are refused.
    if (w.deleted && transition !== 'delete')
      return send(res, 409, {
        message: `Cannot ${transition} a deleted workspace!`,
        detail: 'This workspace has been deleted and cannot be modified.',
      })
    // coderd/wsbuilder/wsbuilder.go Build: a job of the workspace is still active.
    if (engine.activeBuild(w)) return send(res, 409, { message: 'A workspace build is already active.' })
    send(res, 201, buildJson(w, engine.build(w, transition)))
  }

  /** coderd workspacebuilds.go patchCancelWorkspaceBuild and verifyUserCanCancelWorkspaceBuilds. */
  const cancelBuild = (
    res: ServerResponse,
    user: typeof member,
    w: SimWorkspace,
    b: SimBuild,
    expect: string,
  ): void => {
    if (expect && expect !== 'running' && expect !== 'pending')
      return send(res, 400, { message: `Invalid expect_status "${expect}". Only 'running' or 'pending' are allowed.` })
    // Only `expect_status=pending` skips the permission check: canceling a queued job touches no resource.
    const allowed =
      expect === 'pending' || w.template.allow_user_cancel_workspace_jobs || user.roles.some((r) => r.name === 'owner')
    if (!allowed)
      return send(res, 403, { message: 'User is not allowed to cancel workspace builds. Owner role is required.' })
    if (b.job.status === 'succeeded' || b.job.status === 'failed')
      return send(res, 400, { message: 'Job has already completed!' })
    if (b.job.status === 'canceled' || b.job.status === 'canceling')
      return send(res, 400, { message: 'Job has already been marked as canceled!' })
    if (expect && b.job.status !== expect) return send(res, 412, { message: 'Job is not in the expected state.' })
    engine.cancel(w, b)
    send(res, 200, { message: 'Job has been marked as canceled...' })
  }

  const watch = (req: IncomingMessage, res: ServerResponse, id: string): void => {
    const w = engine.workspaces.get(id)
    if (!w) return send(res, 404, NOT_FOUND)
    if (faults.watchUnavailable) return send(res, 404, { message: 'Route not found.' })
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
    streams.add(res)
    const event = (type: string, data?: unknown): void =>
      void res.write(`event: ${type}\n${data === undefined ? '' : `data: ${JSON.stringify(data)}\n`}\n`)
    event('ping')
    event('data', workspaceJson(w))
    let sent = 1
    const onChange = (changed: SimWorkspace): void => {
      if (changed.id !== id || res.writableEnded) return
      event('data', workspaceJson(changed))
      // A proxy in front (nginx proxy_read_timeout, a load balancer's stream limit) ends the SSE stream mid-wait.
      if (faults.watchCloseAfterEvents !== undefined && ++sent >= faults.watchCloseAfterEvents) res.end()
    }
    engine.on('change', onChange)
    const ping = setInterval(() => event('ping'), 15_000)
    const end = (): void => {
      clearInterval(ping)
      engine.off('change', onChange)
      streams.delete(res)
    }
    req.on('close', end)
    res.on('close', end)
  }

  /**
   * Path-based app proxy, `/@user/workspace[.agent]/apps/slug/…`: needs a session
   * (header, cookie or query parameter), the owner's own workspace, a connected
   * agent, and proxies to the app's internal URL.
   */
  const proxyApp = (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, url: URL): void => {
    const [, owner, workspace, agent, slug, rest] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
      string,
    ]
    // coderd/workspaceapps/proxy.go handleWorkspaceAppPath: path apps can be switched off (401 page).
    if (faults.pathAppsDisabled)
      return sendHtml(res, 401, 'Unauthorized: Path-based applications are disabled on this Coder deployment')
    const cookie = /(?:^|;\s*)coder_session_token=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1]
    const user = tokens.get(
      String(req.headers['coder-session-token'] ?? cookie ?? url.searchParams.get('coder_session_token') ?? ''),
    )
    if (!user) {
      // workspaceapps/db.go DBTokenProvider.Issue: the API key is optional there, so a missing,
      // invalid or expired token is "not signed in": httpmw.RedirectToLogin, a 307 to /login.
      res.writeHead(307, { Location: `/login?redirect=${encodeURIComponent(url.pathname)}` })
      return void res.end()
    }
    const w = [...engine.workspaces.values()].find(
      (x) => !x.deleted && x.name === workspace && x.owner_name === decodeURIComponent(owner),
    )
    // A valid key without access to the app is a 404, never a 403 (Issue: "insufficient permissions").
    if (!w || w.owner_id !== user.id || (agent !== undefined && agent !== w.agent.name) || slug !== 'code-server')
      return sendHtml(res, 404, 'Application Not Found')
    if (faults.appProxyStatus !== undefined)
      return sendHtml(res, faults.appProxyStatus, 'Bad Gateway: failed to connect to the application')
    if (w.agent.status !== 'connected')
      return sendHtml(res, 502, `Agent is ${w.agent.status}: the workspace is not running`)
    const upstream = httpRequest(`${image.ideUrl}/${rest}${url.search}`, { method: req.method }, (up) => {
      res.writeHead(up.statusCode ?? 502, { 'Content-Type': up.headers['content-type'] ?? 'text/plain' })
      up.pipe(res)
    })
    upstream.on('error', () => sendHtml(res, 502, 'Bad Gateway'))
    req.pipe(upstream)
  }

  const findBuild = (id: string): { w: SimWorkspace; b: SimBuild } | undefined => {
    for (const w of engine.workspaces.values()) {
      const b = w.builds.find((x) => x.id === id)
      if (b) return { w, b }
    }
    return undefined
  }

  const agentJson = (w: SimWorkspace): Record<string, unknown> => ({
    id: w.agent.id,
    parent_id: null,
    created_at: w.agent.created_at,
    name: w.agent.name,
    status: w.agent.status,
    lifecycle_state: w.agent.lifecycle_state,
    // codersdk/workspaceagents.go WorkspaceAgentScript; cli/ssh.go waits only for start_blocks_login.
    scripts: [
      {
        display_name: 'Startup Script',
        script: 'git clone "$REPO_URL"',
        run_on_start: true,
        run_on_stop: false,
        start_blocks_login: faults.startBlocksLogin,
        timeout: 0,
      },
    ],
    architecture: 'amd64',
    operating_system: 'linux',
    expanded_directory: engine.directory(w),
    version: VERSION,
    connection_timeout_seconds: 1,
    troubleshooting_url: 'https://coder.com/docs/admin/templates/troubleshooting',
    apps: [
      {
        id: randomUUIDFor(w.agent.id),
        url: `${image.ideUrl}/?folder=${encodeURIComponent(engine.directory(w))}`,
        external: false,
        slug: 'code-server',
        display_name: 'code-server',
        command: '',
        icon: '/icon/code.svg',
        subdomain: false,
        subdomain_name: '',
        sharing_level: 'owner',
        healthcheck: { url: `${image.ideUrl}/healthz`, interval: 5, threshold: 6 },
        health: w.agent.status === 'connected' ? 'healthy' : 'initializing',
        hidden: false,
        open_in: 'slim-window',
        statuses: [],
      },
    ],
  })

  /**
   * A devcontainer sub-agent (coderd agentapi SubAgentAPI CreateSubAgent): `parent_id` names
   * its parent; coderd workspaces.go convertWorkspace and the CLI leave it out of the choice.
   */
  const subAgentJson = (w: SimWorkspace): Record<string, unknown> => ({
    ...agentJson(w),
    id: randomUUIDFor(`${w.agent.id.slice(0, 20)}5ub0`),
    parent_id: w.agent.id,
    name: 'devcontainer',
    apps: [],
  })

  /**
   * The resources in a build's Terraform state (codersdk.WorkspaceResource). Those not tied to
   * `start_count` outlive a stop and are listed by the stop build too: a Docker template's home
   * volume, or an envbuilder Kubernetes template's namespace and /workspaces PVC.
   */
  const resourcesJson = (w: SimWorkspace, b: SimBuild, withAgent: boolean): Record<string, unknown>[] => {
    if (b.job.status !== 'succeeded' || b.transition === 'delete') return []
    const resource = (type: string, name: string, agents: Record<string, unknown>[] = []) => ({
      id: randomUUIDFor(`${w.id.slice(0, 16)}${type.length}${name.length}`),
      created_at: b.created_at,
      job_id: b.job.id,
      workspace_transition: b.transition,
      type,
      name,
      hide: false,
      icon: '',
      agents,
      metadata: [],
      daily_cost: 0,
    })
    const kube = w.template.envbuilder
    const volume = kube
      ? resource('kubernetes_persistent_volume_claim_v1', 'workspaces')
      : resource('docker_volume', 'home_volume')
    const kept = [
      ...(kube ? [resource('kubernetes_namespace_v1', 'workspace')] : []),
      ...(b.volumeGone ? [] : [volume]),
    ]
    if (b.transition === 'stop') return kept
    const agents = withAgent ? (faults.subAgent ? [agentJson(w), subAgentJson(w)] : [agentJson(w)]) : []
    return [...kept, resource(kube ? 'kubernetes_deployment_v1' : 'docker_container', 'workspace', agents)]
  }

  const buildJson = (w: SimWorkspace, b: SimBuild): Record<string, unknown> => {
    const latest = engine.latest(w) === b
    const withAgent = latest && b.transition === 'start' && b.job.status === 'succeeded'
    return {
      id: b.id,
      created_at: b.created_at,
      workspace_id: w.id,
      workspace_name: w.name,
      workspace_owner_name: w.owner_name,
      template_version_id: w.template_version_id,
      build_number: b.build_number,
      transition: b.transition,
      initiator_name: w.owner_name,
      reason: 'initiator',
      status: workspaceStatus(b),
      job: { ...b.job, ...(b.job.status === 'pending' ? {} : { started_at: b.created_at }), queue_size: 0 },
      resources: resourcesJson(w, b, withAgent),
      matched_provisioners: b.noProvisioner ? { count: 0, available: 0 } : { count: 1, available: 1 },
      daily_cost: 0,
    }
  }

  const workspaceJson = (w: SimWorkspace): Record<string, unknown> => ({
    id: w.id,
    created_at: w.created_at,
    updated_at: new Date().toISOString(),
    owner_id: w.owner_id,
    owner_name: w.owner_name,
    organization_id: w.organization_id,
    organization_name: org.name,
    template_id: w.template.id,
    template_name: w.template.name,
    template_active_version_id: w.template.active_version_id,
    latest_build: buildJson(w, engine.latest(w)),
    name: w.name,
    ttl_ms: w.ttl_ms,
    outdated: false,
    health: { healthy: w.agent.status === 'connected', failing_agents: [] },
    automatic_updates: 'never',
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const simUrl = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: simUrl,
    ...(caCert ? { caCert } : {}),
    token,
    adminToken,
    faults,
    engine,
    image,
    requests,
    workspaces: () => [...engine.workspaces.values()].filter((w) => !w.deleted).map((w) => w.name),
    addTemplate,
    addVersion,
    close: async () => {
      engine.close()
      await image.close()
      for (const s of streams) s.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** codersdk.ConvertWorkspaceStatus: the job status and the transition give the workspace status. */
function workspaceStatus(b: SimBuild): string {
  const s = b.job.status
  if (s === 'pending' || s === 'canceling' || s === 'canceled' || s === 'failed') return s
  if (s === 'running') return { start: 'starting', stop: 'stopping', delete: 'deleting' }[b.transition]
  return { start: 'running', stop: 'stopped', delete: 'deleted' }[b.transition]
}

/** A rich parameter as coderd lists it (codersdk.TemplateVersionParameter). */
export function param(name: string, type: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    display_name: name,
    description: '',
    type,
    mutable: true,
    default_value: '',
    icon: '',
    options: [],
    required: false,
    ephemeral: false,
    validation_regex: '',
    validation_error: '',
    validation_min: null,
    validation_max: null,
    ...extra,
  }
}

function option(value: string): Record<string, string> {
  return { name: value, description: '', value, icon: '' }
}

function templateJson(t: SimTemplate): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    display_name: t.name,
    organization_id: t.organization_id,
    organization_name: 'coder',
    active_version_id: t.active_version_id,
    provisioner: 'terraform',
    deprecated: false,
    deprecation_message: '',
    default_ttl_ms: t.default_ttl_ms,
    allow_user_cancel_workspace_jobs: t.allow_user_cancel_workspace_jobs,
  }
}

const NAME_VALID = /^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$/

const SERVED_CLIS = new Set(
  [
    'linux-amd64',
    'linux-arm64',
    'linux-armv7',
    'darwin-amd64',
    'darwin-arm64',
    'windows-amd64.exe',
    'windows-arm64.exe',
  ].map((s) => `coder-${s}`),
)

const APP_PATH = /^\/(?:@|%40)([^/]+)\/([^/.]+)(?:\.([^/]+))?\/apps\/([^/]+)\/(.*)$/

/**
 * Go net/http fs.go checkIfNoneMatch: a comma-separated list of entity tags, `*` matches any,
 * compared weakly (a `W/` prefix is ignored).
 */
function etagListMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((raw) => {
    const tag = raw.trim().replace(/^W\//, '')
    return tag === '*' || tag === etag
  })
}

function sendHtml(res: ServerResponse, code: number, title: string): void {
  const text = `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`
  res.writeHead(code, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'))
      } catch {
        resolve(undefined)
      }
    })
  })
}

function randomHex(length: number): string {
  return randomUUID().replace(/-/g, '').repeat(2).slice(0, length)
}

function randomUUIDFor(seed: string): string {
  return `${seed.slice(0, 24)}000000000000`.slice(0, 36)
}

/** Go's time.Time String() in UTC, as coderd prints an API key's expiry: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goTime(date: Date): string {
  return `${date.toISOString().replace('T', ' ').replace('Z', '')} +0000 UTC`
}
