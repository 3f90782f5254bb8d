import { InputError } from './errors.js'

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1_000,
  MB: 1_000_000,
  GB: 1_000_000_000,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
}

/**
 * Parses a duration such as `90s`, `15m`, `2h` or `1h30m` into milliseconds.
 * A bare number, an unknown unit or zero is rejected: a typo must never become "no limit".
 */
export function parseDuration(input: string, value: string): number {
  const text = value.trim()
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d)/g)]
  const joined = parts.map((p) => p[0]).join('')
  if (text === '' || parts.length === 0 || joined !== text) {
    throw new InputError(input, value, 'a duration such as 90s, 15m, 2h or 1h30m (units: ms, s, m, h, d)')
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] as string] as number), 0)
  if (ms <= 0) throw new InputError(input, value, 'a duration greater than zero')
  return ms
}

/** Parses a size such as `500MiB`, `2GB` or `1024B` into bytes. */
export function parseSize(input: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(value.trim())
  if (!match)
    throw new InputError(input, value, 'a size such as 500MiB, 2GiB or 100MB (units: B, KB, MB, GB, KiB, MiB, GiB)')
  const bytes = Math.floor(Number(match[1]) * (SIZE_UNITS[match[2] as string] as number))
  if (bytes <= 0) throw new InputError(input, value, 'a size greater than zero')
  return bytes
}

/** Accepts exactly one of `allowed`, case-sensitively. */
export function parseEnum<T extends string>(input: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new InputError(input, value, `one of: ${allowed.join(', ')}`)
}

/** YAML 1.2 core booleans only, as `core.getBooleanInput` does. */
export function parseBoolean(input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw new InputError(input, value, 'a boolean: true or false')
}

/** A whole number within [min, max]. */
export function parseInteger(input: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new InputError(input, value, `a whole number from ${min} to ${max}`)
  }
  return Number(value)
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Parses `NAME=value` lines. Blank lines and `#` comments are skipped.
 * Values may contain `=`; names must be valid shell identifiers and unique.
 */
export function parseEnvLines(input: string, value: string): ReadonlyMap<string, string> {
  const result = new Map<string, string>()
  for (const [index, raw] of value.split(/\r?\n/).entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    const name = eq === -1 ? line : line.slice(0, eq)
    // Never echo a line without '=': all of it may be a secret value.
    if (eq === -1) throw new InputError(input, `line ${index + 1} (content hidden)`, 'NAME=value lines')
    if (!ENV_NAME.test(name))
      throw new InputError(
        input,
        `line ${index + 1}: ${name.slice(0, 40)}`,
        'NAME=value lines with NAME a shell identifier',
      )
    if (result.has(name)) throw new InputError(input, `line ${index + 1}: ${name}`, 'each NAME at most once')
    result.set(name, line.slice(eq + 1))
  }
  return result
}

/** Splits a multi-line input into its non-empty, trimmed lines. */
export function parseLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

/** Formats milliseconds the way inputs are written: `1h2m3s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  let seconds = Math.round(ms / 1000)
  const h = Math.floor(seconds / 3600)
  seconds -= h * 3600
  const m = Math.floor(seconds / 60)
  seconds -= m * 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${seconds || (!h && !m) ? `${seconds}s` : ''}`
}
