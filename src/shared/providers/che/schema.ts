import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import devfileSchema from './schemas/devfile.json' with { type: 'json' }
import devWorkspaceSchema from './schemas/dev-workspace.json' with { type: 'json' }

// Both schemas come from devfile/api 2.3.0 (schemas/latest). They use Go-style regex
// escapes that are invalid in unicode mode, and custom formats (int64) ajv does not know.
let compiled: { devfile: ValidateFunction; devWorkspace: ValidateFunction } | undefined

function validators(): { devfile: ValidateFunction; devWorkspace: ValidateFunction } {
  if (!compiled) {
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, validateFormats: false, logger: false })
    compiled = { devfile: ajv.compile(devfileSchema), devWorkspace: ajv.compile(devWorkspaceSchema) }
  }
  return compiled
}

/** Problems of a devfile 2.x document against the devfile schema; empty when valid. */
export function devfileProblems(document: unknown): string[] {
  const validate = validators().devfile
  return validate(document) ? [] : formatErrors(validate.errors)
}

/** Problems of a DevWorkspace object against the DevWorkspace schema; empty when valid. */
export function devWorkspaceProblems(object: unknown): string[] {
  const validate = validators().devWorkspace
  return validate(object) ? [] : formatErrors(validate.errors)
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
