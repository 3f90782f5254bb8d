import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { ROOT, runActionStep, type StepResult } from './action-runner.js'

interface CompositeStep {
  id: string
  if?: string
  uses?: string
  with?: Record<string, string>
  run?: string
  shell?: string
  env?: Record<string, string>
}

interface CompositeAction {
  inputs: Record<string, { default?: string }>
  outputs: Record<string, { value: string }>
  runs: { using: string; steps: CompositeStep[] }
}

/** What the composite left: its outputs, whether it failed, and each step's result. */
export interface CompositeResult {
  readonly failed: boolean
  readonly outputs: Record<string, string>
  readonly steps: Record<string, { outcome: 'success' | 'failure' | 'skipped'; result?: StepResult; stdout?: string }>
  readonly post: StepResult | undefined
}

/**
 * Runs the root composite action step by step, as the runner does: inputs with
 * their defaults, `${{ inputs.* }}` and `${{ steps.*.outputs.* }}` substituted,
 * `if: always()` honoured after a failure, `uses: $/actions/…` steps run through
 * the JS action harness, `run:` steps through their shell, and the nested
 * provision action's post step at the end of the job.
 */
export async function runComposite(
  inputs: Record<string, string>,
  env: Record<string, string>,
): Promise<CompositeResult> {
  const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as CompositeAction
  if (action.runs.using !== 'composite') throw new Error('action.yml is not a composite action')
  const values: Record<string, string> = {}
  for (const [name, spec] of Object.entries(action.inputs)) values[name] = inputs[name] ?? spec.default ?? ''
  const steps: CompositeResult['steps'] = {}
  const outputsOf: Record<string, Record<string, string>> = {}
  let failed = false
  let provisionState: Record<string, string> | undefined
  const evaluate = (text: string): string =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
      const input = /^inputs\.([a-z0-9-]+)$/.exec(expr)
      if (input) return values[input[1] as string] ?? ''
      const output = /^steps\.([a-z0-9-]+)\.outputs\.([a-z0-9-]+)$/.exec(expr)
      if (output) return outputsOf[output[1] as string]?.[output[2] as string] ?? ''
      throw new Error(`the harness does not evaluate \${{ ${expr} }}`)
    })
  for (const step of action.runs.steps) {
    const condition = step.if?.trim() ?? 'success()'
    if (condition !== 'always()' && condition !== 'success()')
      throw new Error(`the harness does not evaluate if: ${condition}`)
    if (condition === 'success()' && failed) {
      steps[step.id] = { outcome: 'skipped' }
      continue
    }
    if (step.uses) {
      const match = /^\$\/actions\/([a-z-]+)$/.exec(step.uses)
      if (!match) throw new Error(`the harness runs only $/actions/* steps, not ${step.uses}`)
      const withValues = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, evaluate(String(v))]))
      const result = await runActionStep(match[1] as string, { env, inputs: withValues })
      if (match[1] === 'provision-workspace') provisionState = result.state
      outputsOf[step.id] = result.outputs
      steps[step.id] = { outcome: result.code === 0 ? 'success' : 'failure', result }
      failed ||= result.code !== 0
    } else if (step.run) {
      if (!step.shell) throw new Error(`step ${step.id} has run: without shell:`)
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(String(v))]))
      const { code, stdout } = await shell(step.shell, step.run, {
        PATH: process.env.PATH ?? '',
        ...env,
        ...stepEnv,
        GITHUB_ACTION_PATH: ROOT,
      })
      steps[step.id] = { outcome: code === 0 ? 'success' : 'failure', stdout }
      failed ||= code !== 0
    }
  }
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([name, spec]) => [name, evaluate(spec.value)]))
  const post = provisionState ? await runActionStep('provision-workspace', { env, post: provisionState }) : undefined
  return { failed, outputs, steps, post }
}

function shell(
  kind: string,
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string }> {
  if (kind !== 'bash') throw new Error(`the harness runs shell: bash only, not ${kind}`)
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { env })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stdout += d.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })))
}
