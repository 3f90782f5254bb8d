import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { InputError } from '../../errors.js'
import { firstLine } from '../../text.js'

/**
 * Refuses, before anything is created, a kubeconfig whose user gets its credentials from an exec plugin
 * (`users[].user.exec`, client-go pkg/client/auth/exec) that cannot run here: kubectl would fail on its first
 * request, and so would every step.
 */
export function checkExecPlugin(kc: KubeConfig, pathVariable = process.env.PATH ?? ''): void {
  const user = kc.getCurrentUser()
  const exec = user?.exec as { command?: string; installHint?: string } | undefined
  if (!exec) return
  const command = exec.command ?? ''
  if (command && runnable(command, pathVariable)) return
  const hint = exec.installHint ? ` (${firstLine(exec.installHint.trim())})` : ''
  throw new InputError(
    'kubeconfig',
    '(content hidden)',
    `a user whose credentials this runner can get: user "${user?.name ?? ''}" takes them from the exec plugin "${command}", which is not on PATH${hint}; install it in an earlier step, or give a kubeconfig with a token or a client certificate`,
  )
}

/** Warnings about a kubeconfig that works but should not be used as it is. */
export function kubeconfigWarnings(kc: KubeConfig): string[] {
  const cluster = kc.getCurrentCluster()
  if (!cluster?.skipTLSVerify) return []
  return [
    `The kubeconfig's cluster ${cluster.name} (${cluster.server}) sets insecure-skip-tls-verify: the server's certificate is not checked, so whoever sits between this runner and the cluster can read its credentials. Put the cluster's CA in certificate-authority-data instead.`,
  ]
}

function runnable(command: string, pathVariable: string): boolean {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : pathVariable
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command))
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
