/**
 * Where input values come from: `core.getInput` in an action, flags and
 * `RUN_TASK_*` environment variables in the CLI. Returns '' for an unset input.
 */
export type InputReader = (name: string) => string

/** Reads an input and falls back to its documented default when empty. */
export function inputOr(read: InputReader, name: string, fallback: string): string {
  const value = read(name).trim()
  return value === '' ? fallback : value
}
