import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { CoderClient } from './coder-client.js'

/** `/bin/coder-<os>-<arch>` names the deployment serves (32-bit ARM is `armv7`, as coder's release builds it). */
export function cliAsset(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const os = platform === 'win32' ? 'windows' : platform
  const cpu = arch === 'x64' ? 'amd64' : arch === 'arm' ? 'armv7' : arch
  return `coder-${os}-${cpu}${os === 'windows' ? '.exe' : ''}`
}

/**
 * The deployment's own `coder` CLI, so its version matches the server. Downloaded
 * once per server version into the tool cache and reused by later steps.
 */
export async function ensureCoderCli(
  client: CoderClient,
  cacheRoot: string = process.env.RUNNER_TOOL_CACHE ?? path.join(tmpdir(), 'run-task-tools'),
): Promise<string> {
  const info = await client.request<{ version?: string }>('GET', '/buildinfo', 'reading the Coder build info')
  const version = (info.version ?? 'unknown').replace(/[^A-Za-z0-9.+-]/g, '_')
  const asset = cliAsset()
  const file = path.join(cacheRoot, 'coder', version, asset)
  if (existsSync(file)) return file
  const bytes = await client.download(`/bin/${asset}`, `downloading the coder CLI from ${client.url}/bin/${asset}`)
  mkdirSync(path.dirname(file), { recursive: true })
  const partial = `${file}.${process.pid}.partial`
  writeFileSync(partial, Buffer.from(bytes))
  chmodSync(partial, 0o755)
  renameSync(partial, file)
  return file
}
