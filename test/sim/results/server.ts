import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/'

/** One artifact as the fake service stored it. */
export interface StoredArtifact {
  readonly id: string
  readonly name: string
  readonly size: string
  readonly hash: string
  /** The uploaded zip, assembled from its committed blocks. */
  readonly zip: Buffer
  readonly expiresAt: string | undefined
}

/** A running fake of the Actions results service. */
export interface ResultsSim {
  readonly url: string
  readonly artifacts: StoredArtifact[]
  /** Environment a runner gives a JS action so @actions/artifact can upload. */
  readonly env: Record<string, string>
  close(): Promise<void>
}

/**
 * The artifact half of the Actions results service: Twirp JSON methods
 * (CreateArtifact, FinalizeArtifact, ListArtifacts) with snake_case fields, and an
 * Azure-blob-style upload URL that takes `comp=block` and `comp=blocklist` PUTs.
 * A second CreateArtifact with the same name answers 409, as the real service does.
 */
export async function startResultsSim(): Promise<ResultsSim> {
  const artifacts: StoredArtifact[] = []
  const pending = new Map<
    string,
    { name: string; blocks: Map<string, Buffer>; committed?: Buffer; expiresAt: string | undefined }
  >()
  let nextId = 41
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => json(res, 500, { code: 'internal', msg: String(error) }))
  })
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sim')
    const body = await readBody(req)
    if (url.pathname.startsWith(SERVICE) && req.method === 'POST') {
      const method = url.pathname.slice(SERVICE.length)
      const request = JSON.parse(body.toString('utf8') || '{}') as Record<string, string>
      if (!request.workflow_run_backend_id || !request.workflow_job_run_backend_id)
        return json(res, 400, { code: 'invalid_argument', msg: 'missing backend ids' })
      if (method === 'CreateArtifact') {
        const name = request.name ?? ''
        if (artifacts.some((a) => a.name === name) || pending.has(name))
          return json(res, 409, {
            code: 'already_exists',
            msg: 'an artifact with this name already exists on the workflow run',
          })
        pending.set(name, { name, blocks: new Map(), expiresAt: request.expires_at })
        return json(res, 200, {
          ok: true,
          signed_upload_url: `http://${req.headers.host}/upload/${encodeURIComponent(name)}?sig=fake-signature`,
        })
      }
      if (method === 'FinalizeArtifact') {
        const upload = pending.get(request.name ?? '')
        if (!upload?.committed) return json(res, 404, { code: 'not_found', msg: 'artifact not found or not uploaded' })
        pending.delete(upload.name)
        nextId += 1
        artifacts.push({
          id: String(nextId),
          name: upload.name,
          size: request.size ?? '',
          hash: request.hash ?? '',
          zip: upload.committed,
          expiresAt: upload.expiresAt,
        })
        return json(res, 200, { ok: true, artifact_id: String(nextId) })
      }
      if (method === 'ListArtifacts') {
        return json(res, 200, {
          artifacts: artifacts.map((a) => ({
            workflow_run_backend_id: request.workflow_run_backend_id,
            workflow_job_run_backend_id: request.workflow_job_run_backend_id,
            database_id: a.id,
            name: a.name,
            size: a.size,
          })),
        })
      }
      return json(res, 404, { code: 'bad_route', msg: `no handler for ${method}` })
    }
    const upload = /^\/upload\/([^/]+)$/.exec(url.pathname)
    if (upload && req.method === 'PUT') {
      const entry = pending.get(decodeURIComponent(upload[1] as string))
      if (!entry) return blob(res, 404)
      const comp = url.searchParams.get('comp')
      if (comp === 'block') entry.blocks.set(url.searchParams.get('blockid') ?? '', body)
      else if (comp === 'blocklist') {
        const ids = [...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]+)<\//g)].map(
          (m) => m[1] as string,
        )
        entry.committed = Buffer.concat(ids.map((id) => entry.blocks.get(id) ?? Buffer.alloc(0)))
      } else entry.committed = body
      return blob(res, 201)
    }
    json(res, 404, { code: 'not_found', msg: url.pathname })
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return {
    url,
    artifacts,
    env: {
      ACTIONS_RUNTIME_TOKEN: unsignedJwt({ scp: 'Actions.ExampleScope Actions.Results:run-backend-1:job-backend-1' }),
      ACTIONS_RESULTS_URL: url,
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The artifact client only decodes the token; it never verifies it. */
function unsignedJwt(payload: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.sig`
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function blob(res: ServerResponse, code: number): void {
  res.writeHead(code, {
    'Content-Length': 0,
    'x-ms-request-id': 'fake',
    'x-ms-version': '2023-11-03',
    ETag: '"0x1"',
    'Last-Modified': new Date().toUTCString(),
  })
  res.end()
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
