import { KubeConfig } from '@kubernetes/client-node'
import { Writable } from 'node:stream'
import { identityFromEnv } from '../../src/shared/identity.js'
import type { WorkspaceHandle, WorkspaceProvider } from '../../src/shared/provider.js'
import { createCheProvider } from '../../src/shared/providers/che/che-provider.js'
import type { UnsafePodField } from '../../src/shared/providers/che/pod-guardrails.js'
import { type DevWorkspaceSource, loadDevfile } from '../../src/shared/providers/che/devworkspace.js'
import { DEVFILE } from '../harness/job.js'
import { type KubeSim, startKubeSim } from '../sim/kube/server.js'

export const NAMESPACE = 'ci'
export const FAST = {
  retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
  heartbeat: { intervalMs: 200, deadlineMs: 2_000 },
  progressIntervalMs: 50,
}

export function devfileSource(text = DEVFILE): DevWorkspaceSource {
  return { devfile: loadDevfile('devfile', text, '.'), storageType: 'ephemeral' }
}

export function cheProvider(
  sim: KubeSim,
  source: DevWorkspaceSource = devfileSource(),
  container = '',
  routingClass = 'che',
  allowUnsafePod: readonly UnsafePodField[] = [],
): WorkspaceProvider {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromString(sim.kubeconfig)
  return createCheProvider(
    { kubeconfig: sim.kubeconfig, namespace: NAMESPACE, source, container, routingClass, allowUnsafePod },
    { kubeConfig, ...FAST },
  )
}

let counter = 0
export async function provisioned(provider: WorkspaceProvider, startTimeoutMs = 10_000): Promise<WorkspaceHandle> {
  counter += 1
  return provider.provision({
    name: `rt-test-${process.pid}-${counter}`,
    identity: identityFromEnv({ GITHUB_RUN_ID: '77' }),
    startTimeoutMs,
  })
}

/** Collects what a command writes. */
export function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk)
      cb()
    },
  })
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

export async function execText(
  provider: WorkspaceProvider,
  handle: WorkspaceHandle,
  command: string,
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
) {
  const out = sink()
  const err = sink()
  const result = await provider.exec(
    handle,
    {
      command,
      cwd: options.cwd ?? '',
      env: new Map(Object.entries(options.env ?? {})),
      timeoutMs: options.timeoutMs ?? 10_000,
    },
    { stdout: out.stream, stderr: err.stream },
  )
  return { ...result, stdout: out.text(), stderr: err.text() }
}

export { startKubeSim, type KubeSim }
