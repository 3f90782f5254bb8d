import { createWriteStream, mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { formatDuration } from '../parse.js'
import { type Redactor, redactingStream } from '../redact.js'
import type { RawOutput, Reporter } from '../reporter.js'

const TAIL_CHARS = 4_000

/**
 * Where a command's output goes: live into the job log, into logs/command.log,
 * and into a short tail for the synthesised JUnit. Everything is redacted first.
 * When the log file falls behind, the output streams stop taking writes until it
 * drains, so the exec stream behind them pauses and memory stays bounded.
 */
export class OutputCapture {
  readonly stdout: Writable
  readonly stderr: Writable
  private readonly log: Writable
  private readonly live: RawOutput
  private tailText = ''
  private lastOutputAt = Date.now()
  private readonly startedAt = Date.now()
  private readonly progress: NodeJS.Timeout

  constructor(
    reporter: Reporter,
    redactor: Redactor,
    logFile: string,
    progressIntervalMs = 15_000,
    openLog: (file: string) => Writable = (file) => createWriteStream(file),
  ) {
    mkdirSync(path.dirname(logFile), { recursive: true })
    this.log = openLog(logFile)
    this.log.on('error', () => undefined)
    this.live = reporter.rawOutput()
    // A quiet command still shows a sign of life, so a hang is told from slow work.
    this.progress = setInterval(() => {
      const quiet = Date.now() - this.lastOutputAt
      if (quiet >= progressIntervalMs)
        void this.live.write(
          `[run-task] run: still running after ${formatDuration(Date.now() - this.startedAt)}; no output for ${formatDuration(quiet)}\n`,
        )
    }, progressIntervalMs)
    this.progress.unref()
    const sink = (text: string): Promise<void> | undefined => {
      this.lastOutputAt = Date.now()
      const live = this.live.write(text)
      this.tailText = text.length >= TAIL_CHARS ? text.slice(-TAIL_CHARS) : (this.tailText + text).slice(-TAIL_CHARS)
      // A log that fails (a full disk) stops logging; the live output goes on.
      const logged =
        this.log.write(text) || this.log.destroyed
          ? undefined
          : once(this.log, 'drain').then(
              () => undefined,
              () => undefined,
            )
      // The job log (the runner's pipe) is a sink like the file: a full one holds the stream too.
      return live || logged ? Promise.all([live, logged]).then(() => undefined) : undefined
    }
    this.stdout = redactingStream(redactor, sink)
    this.stderr = redactingStream(redactor, sink)
  }

  /** The last lines of output, without a partial first line. */
  tail(): string {
    const text =
      this.tailText.length < TAIL_CHARS ? this.tailText : this.tailText.slice(this.tailText.indexOf('\n') + 1)
    return text.trimEnd()
  }

  /** Flushes everything; call once the command has ended, however it ended. */
  async close(): Promise<void> {
    clearInterval(this.progress)
    for (const stream of [this.stdout, this.stderr]) if (!stream.writableEnded) stream.end()
    await Promise.all([finished(this.stdout), finished(this.stderr)]).catch(() => undefined)
    this.live.end()
    this.log.end()
    await finished(this.log).catch(() => undefined)
  }
}
