import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ProviderUnavailableError } from '../../errors.js'
import type { CoderClient } from './coder-client.js'

/** `/bin/coder-<os>-<arch>` names the deployment serves (32-bit ARM is `armv7`, as coder's release builds it). */
export function cliAsset(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const os = platform === 'win32' ? 'windows' : platform
  const cpu = arch === 'x64' ? 'amd64' : arch === 'arm' ? 'armv7' : arch
  return `coder-${os}-${cpu}${os === 'windows' ? '.exe' : ''}`
}

const SHA1_HEX = /^[0-9a-f]{40}$/

/** The SHA-1 hex digest coderd publishes for a binary (site/site.go binHashCache.getHash). */
export function sha1Hex(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/**
 * The hash in coderd's ETag for `/bin/*`: `"<40 lower-case hex>"` (site/site.go New sets
 * `fmt.Sprintf("%q", hash)`). Undefined when the header is missing or not of that form.
 */
export function etagHash(etag: string | null): string | undefined {
  const match = /^(?:W\/)?"([0-9A-Fa-f]{40})"$/.exec(etag?.trim() ?? '')
  return match?.[1]?.toLowerCase()
}

/**
 * The deployment's own `coder` CLI, so its version matches the server. It comes from the
 * deployment's origin only (the client follows no redirect elsewhere), its bytes must hash to
 * the SHA-1 coderd publishes in the ETag, and the tool cache keeps it under the URL and that
 * hash. A cached copy is used only when the deployment still publishes its hash (a conditional
 * GET answered 304, as coder/vscode-coder fetchBinary asks) and its bytes still hash to it.
 */
export async function ensureCoderCli(
  client: CoderClient,
  cacheRoot: string = process.env.RUNNER_TOOL_CACHE ?? path.join(tmpdir(), 'run-task-tools'),
): Promise<string> {
  const asset = cliAsset()
  const source = `${client.url}/bin/${asset}`
  const urlDir = path.join(cacheRoot, 'coder', createHash('sha256').update(source).digest('hex').slice(0, 32))
  const fileFor = (hash: string): string => path.join(urlDir, hash, asset)
  const held = existsSync(urlDir) ? readdirSync(urlDir).filter((h) => SHA1_HEX.test(h) && existsSync(fileFor(h))) : []
  const doing = `downloading the coder CLI from ${source}`

  let answer = await client.download(
    `/bin/${asset}`,
    doing,
    held.map((h) => `"${h}"`),
  )
  const published = etagHash(answer.etag)
  if (!published)
    throw new ProviderUnavailableError(
      `${doing}: the deployment published no SHA-1 ETag for it (got ${JSON.stringify(answer.etag)}), so it cannot be verified and is not run.`,
    )
  if (answer.notModified) {
    const cached = fileFor(published)
    if (held.includes(published) && sha1Hex(readFileSync(cached)) === published) return cached
    // The cached copy changed since it was stored: never run it; fetch the file again.
    rmSync(path.dirname(cached), { recursive: true, force: true })
    answer = await client.download(`/bin/${asset}`, doing)
  }
  const expected = etagHash(answer.etag)
  const actual = sha1Hex(answer.bytes)
  if (answer.notModified || actual !== expected)
    throw new ProviderUnavailableError(
      `${doing}: the downloaded file's SHA-1 is ${actual}, but the deployment publishes ${expected ?? 'none'} for it ` +
        '(altered or truncated on the way?). It was not stored or run.',
    )
  const file = fileFor(actual)
  mkdirSync(path.dirname(file), { recursive: true })
  const partial = `${file}.${process.pid}.partial`
  writeFileSync(partial, answer.bytes)
  chmodSync(partial, 0o755)
  renameSync(partial, file)
  return file
}
