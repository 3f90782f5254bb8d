import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { identityFromEnv } from '../../src/shared/identity.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../../src/shared/provider.js'
import { createCoderClient } from '../../src/shared/providers/coder/coder-client.js'
import { createCoderProvider } from '../../src/shared/providers/coder/coder-provider.js'
import { type CoderSettings, DEFAULT_TUNNEL_COMMAND } from '../../src/shared/providers/coder/coder-settings.js'
import { type CoderSim, startCoderSim } from '../sim/coderd/server.js'

export const FAST_RETRY = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 }
const toolCache = mkdtempSync(path.join(tmpdir(), 'coder-tools-'))

export function coderSettings(sim: CoderSim, overrides: Partial<CoderSettings> = {}): CoderSettings {
  return {
    url: sim.url,
    token: sim.token,
    organization: 'default',
    template: 'ci-docker',
    templateVersion: '',
    parameters: new Map([['repo_url', 'https://example.com/app.git']]),
    agent: '',
    ttlMs: 2 * 3_600_000,
    sshTunnelCommand: DEFAULT_TUNNEL_COMMAND,
    sshUser: 'coder',
    sshPrivateKey: '',
    sshKnownHosts: '',
    ...overrides,
  }
}

export function coderProvider(sim: CoderSim, overrides: Partial<CoderSettings> = {}): WorkspaceProvider {
  const settings = coderSettings(sim, overrides)
  return createCoderProvider(settings, {
    client: createCoderClient({ url: settings.url, token: settings.token, retry: FAST_RETRY }),
    pollIntervalMs: 20,
    progressIntervalMs: 50,
    toolCache,
  })
}

let counter = 0
export async function provisioned(provider: WorkspaceProvider, startTimeoutMs = 10_000): Promise<WorkspaceHandle> {
  counter += 1
  return provider.provision({
    name: `rt-coder-${process.pid}-${counter}`,
    identity: identityFromEnv({ GITHUB_RUN_ID: '88' }),
    startTimeoutMs,
  })
}

export { startCoderSim, type CoderSim }
