import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseContract } from './contract.js'
import { generateFiles } from './generate.js'
import { InputError } from '../errors.js'
import type { Reporter } from '../reporter.js'

/** One generated file that differs from what is committed. */
export interface Drift {
  readonly file: string
  /** A unified diff from the committed file to the generated one. */
  readonly diff: string
}

/** Reads and validates the contract at `contractFile` (relative to `root`), and generates its files. */
export function contractFiles(root: string, contractFile: string): Map<string, string> {
  const file = path.resolve(root, contractFile)
  if (!existsSync(file))
    throw new InputError('contract', contractFile, `the path of an environment contract (no file at ${file})`)
  const text = readFileSync(file, 'utf8')
  return generateFiles(parseContract(text, contractFile), contractFile)
}

/** Writes every generated file under `root`; returns their paths. */
export function writeContractFiles(root: string, contractFile: string): string[] {
  const files = contractFiles(root, contractFile)
  for (const [file, content] of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), content)
  }
  return [...files.keys()]
}

/** Every generated file that is missing or differs from the contract's output. */
export function checkContractFiles(root: string, contractFile: string): Drift[] {
  const drifts: Drift[] = []
  for (const [file, expected] of contractFiles(root, contractFile)) {
    const at = path.join(root, file)
    const actual = existsSync(at) ? readFileSync(at, 'utf8') : undefined
    if (actual === expected) continue
    drifts.push({ file, diff: unifiedDiff(file, actual ?? '', expected, actual === undefined) })
  }
  return drifts
}

/**
 * Logs a diff for every provider file that drifted from the contract; returns what failed, or undefined when every
 * file matches (the CLI's `contract check` and the contract-check action).
 */
export function reportContractDrift(
  root: string,
  contractFile: string,
  reporter: Pick<Reporter, 'info'>,
): string | undefined {
  const drifts = checkContractFiles(root, contractFile)
  if (drifts.length === 0) {
    reporter.info(`The provider files match ${contractFile}.`)
    return undefined
  }
  for (const drift of drifts) reporter.info(drift.diff)
  return `${drifts.map((d) => d.file).join(', ')} ${drifts.length === 1 ? 'differs' : 'differ'} from what ${contractFile} generates: run \`run-task contract generate\` and commit the result, or change the contract.`
}

/** A unified diff (3 lines of context) of two small texts, by longest common subsequence. */
export function unifiedDiff(file: string, before: string, after: string, missing = false): string {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const b = after.replace(/\n$/, '').split('\n')
  const ops = diffLines(a, b)
  const lines = [`--- ${missing ? '/dev/null' : `${file} (committed)`}`, `+++ ${file} (generated from the contract)`]
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0)
  let i = 0
  while (i < changed.length) {
    const start = Math.max(0, (changed[i] as number) - 3)
    let end = Math.min(ops.length, (changed[i] as number) + 4)
    while (i + 1 < changed.length && (changed[i + 1] as number) - 3 <= end)
      end = Math.min(ops.length, (changed[++i] as number) + 4)
    i += 1
    const hunk = ops.slice(start, end)
    const aStart = (hunk[0]?.a ?? 0) + 1
    const bStart = (hunk[0]?.b ?? 0) + 1
    const aCount = hunk.filter((op) => op.kind !== '+').length
    const bCount = hunk.filter((op) => op.kind !== '-').length
    lines.push(`@@ -${aCount ? aStart : aStart - 1},${aCount} +${bCount ? bStart : bStart - 1},${bCount} @@`)
    for (const op of hunk) lines.push(`${op.kind}${op.text}`)
  }
  return `${lines.join('\n')}\n`
}

interface DiffOp {
  readonly kind: ' ' | '-' | '+'
  readonly text: string
  /** Line index in the old text at this point. */
  readonly a: number
  /** Line index in the new text at this point. */
  readonly b: number
}

function diffLines(a: readonly string[], b: readonly string[]): DiffOp[] {
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1))
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      (lcs[i] as Uint32Array)[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as Uint32Array)[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as Uint32Array)[j] as number, (lcs[i] as Uint32Array)[j + 1] as number)
  const ops: DiffOp[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ kind: ' ', text: a[i++] as string, a: i - 1, b: j++ })
    // On a tie the removal goes first, as diff -u writes a changed line: - then +.
    else if (
      i < a.length &&
      (j >= b.length || ((lcs[i + 1] as Uint32Array)[j] as number) >= ((lcs[i] as Uint32Array)[j + 1] as number))
    )
      ops.push({ kind: '-', text: a[i++] as string, a: i - 1, b: j })
    else ops.push({ kind: '+', text: b[j++] as string, a: i, b: j - 1 })
  }
  return ops
}
