import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'

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
  rawOutput(): { write(text: string): void; end(): void }
}

/** The reporter used inside GitHub Actions. */
export function actionsReporter(): Reporter {
  return {
    info: (m) => core.info(m),
    warning: (m, p) => core.warning(m, p),
    error: (m, p) => core.error(m, p),
    group: (name, fn) => core.group(name, fn),
    setOutput: (n, v) => core.setOutput(n, v),
    setSecret: (v) => core.setSecret(v),
    summary: async (markdown) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return
      await core.summary.addRaw(markdown, true).write()
    },
    rawOutput: () => {
      // The command's output must not be able to set outputs, add masks or end groups.
      const token = randomBytes(16).toString('hex')
      process.stdout.write(`::stop-commands::${token}\n`)
      return {
        write: (text) => process.stdout.write(text),
        end: () => process.stdout.write(`\n::${token}::\n`),
      }
    },
  }
}

/** The reporter used by the CLI: plain lines on stderr, outputs as `name=value` on request. */
export function consoleReporter(
  options: { outputs?: Map<string, string>; out?: NodeJS.WritableStream } = {},
): Reporter {
  const out = options.out ?? process.stderr
  const line = (text: string): void => void out.write(`${text}\n`)
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
    summary: async (markdown) => line(`\n${markdown}`),
    rawOutput: () => ({ write: (text) => void out.write(text), end: () => undefined }),
  }
}
