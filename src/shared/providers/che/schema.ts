import type { ErrorObject } from 'ajv'
import { devfile, devWorkspace } from './schemas/validators.js'

// Both schemas come from devfile/api 2.3.0 (schemas/latest), compiled ahead of time by
// scripts/compile-schemas.mjs (ajv standalone code), so nothing is compiled at start-up.

/** Problems of a devfile 2.x document against the devfile schema; empty when valid. */
export function devfileProblems(document: unknown): string[] {
  return devfile(document) ? [] : formatErrors(devfile.errors)
}

/** Problems of a DevWorkspace object against the DevWorkspace schema; empty when valid. */
export function devWorkspaceProblems(object: unknown): string[] {
  return devWorkspace(object) ? [] : formatErrors(devWorkspace.errors)
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? [])
    // oneOf/anyOf summaries repeat what the branch errors already say.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf')
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : ''}`,
    )
  return [...new Set(lines)].slice(0, 10)
}
