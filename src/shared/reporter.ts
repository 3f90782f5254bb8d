import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { EOL } from 'node:os'
import type { TextRedactor } from './redact.js'

/** Where a location-aware message points. */
export interface AnnotationProps {
  readonly title?: string
  readonly file?: string
  readonly startLine?: number
}

/**
 * How steps talk to the outside: the job log, outputs, masks and the summary.
 * The action implementation uses @actions/core; the CLI prints to the terminal.
 */
export interface Reporter {
  info(message: string): void
  warning(message: string, props?: AnnotationProps): void
  error(message: string, props?: AnnotationProps): void
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
  setOutput(name: string, value: string | number): void
  setSecret(value: string): void
  /** Appends markdown to the job summary (or prints it, outside Actions). */
  summary(markdown: string): Promise<void>
  /** Writes untrusted output verbatim: workflow commands inside it are not obeyed. */
  rawOutput(): RawOutput
}

/**
 * The job log, for a command's own output: bytes pass as they are. `write` returns a
 * promise when the log behind it is full (the runner reads the pipe slower than output
 * arrives): the caller waits for it, so output is never queued in memory without limit.
 */
export interface RawOutput {
  write(output: string | Uint8Array): Promise<void> | undefined
  end(): void
}

/** Writes to a stream; a promise that settles on 'drain' (or the stream's end) when it is full. */
export function writeWithBackpressure(
  out: NodeJS.WritableStream,
  output: string | Uint8Array,
): Promise<void> | undefined {
  if (out.write(output)) return undefined
  return new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('drain', done)
      out.off('close', done)
      out.off('error', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
    out.on('error', done)
  })
}

/**
 * A line the runner could take as a workflow command: `::name::` (after leading
 * blanks) or the older `##[name]` anywhere in it (actions/runner
 * src/Runner.Common/ActionCommand.cs TryParseV2 and TryParse).
 */
const COMMAND_LIKE = /::|##\[/

/**
 * Writes text to the job log so that no line in it is obeyed as a workflow
 * command, and it still reads exactly as written: text that looks like a command
 * is framed by `::stop-commands::<random token>` and `::<token>::`. While
 * stopped, the runner obeys nothing but the token (ActionCommandManager
 * TryProcessCommand), and the workspace cannot guess a 128-bit token.
 */
export function writeUntrusted(
  text: string,
  write: (output: string | Uint8Array) => void = (t) => process.stdout.write(t),
): void {
  if (!COMMAND_LIKE.test(text)) return void write(`${text}${EOL}`)
  const framed = withoutCommands(write)
  void framed.write(text)
  framed.end()
}

/** A stream of text during which the runner obeys no workflow command, until `end()`. */
function withoutCommands(write: (output: string | Uint8Array) => Promise<void> | undefined | void): RawOutput {
  const token = randomBytes(16).toString('hex')
  void write(`::stop-commands::${token}${EOL}`)
  return { write: (text) => write(text) ?? undefined, end: () => void write(`${EOL}::${token}::${EOL}`) }
}

/**
 * The reporter used inside GitHub Actions. Every log line goes through
 * writeUntrusted: messages carry text from the workspace and the provider (pod
 * events, health bodies, command output), and our own lines never need to issue
 * a command through the log. Warnings, errors and groups are escaped by @actions/core.
 */
export function actionsReporter(): Reporter {
  return {
    info: (m) => writeUntrusted(m),
    warning: (m, p) => core.warning(m, p),
    error: (m, p) => core.error(m, p),
    group: (name, fn) => core.group(name, fn),
    setOutput: (n, v) => core.setOutput(n, v),
    setSecret: (v) => core.setSecret(v),
    summary: async (markdown) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return
      await core.summary.addRaw(markdown, true).write()
    },
    // The command's output must not be able to set outputs, add masks or end groups.
    rawOutput: () => withoutCommands((text) => writeWithBackpressure(process.stdout, text)),
  }
}

/** A reporter that masks the secrets a redactor knows in everything it passes on. */
export function redactingReporter(reporter: Reporter, redactor: TextRedactor): Reporter {
  const r = (text: string): string => redactor.redact(text)
  const props = (p?: AnnotationProps): AnnotationProps | undefined => (p?.title ? { ...p, title: r(p.title) } : p)
  return {
    info: (m) => reporter.info(r(m)),
    warning: (m, p) => reporter.warning(r(m), props(p)),
    error: (m, p) => reporter.error(r(m), props(p)),
    group: (name, fn) => reporter.group(r(name), fn),
    setOutput: (n, v) => reporter.setOutput(n, typeof v === 'string' ? r(v) : v),
    setSecret: (v) => reporter.setSecret(v),
    summary: (markdown) => reporter.summary(r(markdown)),
    rawOutput: () => {
      const raw = reporter.rawOutput()
      const text = (output: string | Uint8Array): string =>
        typeof output === 'string' ? output : Buffer.from(output).toString('utf8')
      return { write: (output) => raw.write(r(text(output))), end: () => raw.end() }
    },
  }
}

/**
 * The reporter used by the CLI: plain lines on stderr, outputs as `name=value` on
 * request. Run from a workflow's `run:` step, its lines reach the runner, which
 * reads commands on stderr too, so they are neutralised as in actionsReporter.
 */
export function consoleReporter(
  options: { outputs?: Map<string, string>; out?: NodeJS.WritableStream; inActions?: boolean } = {},
): Reporter {
  const out = options.out ?? process.stderr
  const write = (output: string | Uint8Array): void => void out.write(output)
  const rawWrite = (output: string | Uint8Array): Promise<void> | undefined => writeWithBackpressure(out, output)
  const inActions = options.inActions ?? process.env.GITHUB_ACTIONS === 'true'
  const line = (text: string): void => (inActions ? writeUntrusted(text, write) : write(`${text}\n`))
  return {
    info: line,
    warning: (m) => line(`warning: ${m}`),
    error: (m) => line(`error: ${m}`),
    group: async (name, fn) => {
      line(`── ${name}`)
      return fn()
    },
    setOutput: (n, v) => void options.outputs?.set(n, String(v)),
    setSecret: () => undefined,
    summary: (markdown) => Promise.resolve(line(`\n${markdown}`)),
    rawOutput: () => (inActions ? withoutCommands(rawWrite) : { write: rawWrite, end: () => undefined }),
  }
}
