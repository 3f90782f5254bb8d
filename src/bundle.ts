/**
 * The one bundle behind every action and the CLI. Each action's dist entry imports its
 * run function from here. Each run function loads its action's modules on demand, and
 * those load each provider only when it is used, so a step compiles only what it runs
 * (ncc emits every dynamic import as its own chunk next to this file).
 */
import './esm-globals.js'

export const provisionWorkspace = async (): Promise<void> =>
  (await import('./actions/provision-workspace/main.js')).run()
export const runTask = async (): Promise<void> => (await import('./actions/run-task/main.js')).run()
export const collectEvidence = async (): Promise<void> => (await import('./actions/collect-evidence/main.js')).run()
export const cleanup = async (): Promise<void> => (await import('./actions/cleanup/main.js')).run()
export const smoke = async (): Promise<void> => (await import('./actions/smoke/main.js')).run()
export const e2e = async (): Promise<void> => (await import('./actions/e2e/main.js')).run()
export const contractCheck = async (): Promise<void> => (await import('./actions/contract-check/main.js')).run()
export const runCli = async (): Promise<void> => (await import('./cli/run-cli.js')).runCli()
