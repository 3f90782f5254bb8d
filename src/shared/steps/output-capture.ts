import { createWriteStream, mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { formatDuration } from '../parse.js'
import { type Redactor, redactingStream } from '../redact.js'
import type { RawOutput, Reporter } from '../reporter.js'

const TAIL_BYTES = 4_000

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
  private tailBytes = Buffer.alloc(0)
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
    // Output stays bytes all the way: it is never decoded, so it costs no heap.
    const sink = (bytes: Buffer): Promise<void> | undefined => {
      this.lastOutputAt = Date.now()
      const live = this.live.write(bytes)
      this.keepTail(bytes)
      // A log that fails (a full disk) stops logging; the live output goes on.
      const logged =
        this.log.write(bytes) || this.log.destroyed
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

  private keepTail(bytes: Buffer): void {
    this.tailBytes =
      bytes.length >= TAIL_BYTES
        ? Buffer.from(bytes.subarray(-TAIL_BYTES))
        : Buffer.concat([
            this.tailBytes.subarray(Math.max(0, this.tailBytes.length + bytes.length - TAIL_BYTES)),
            bytes,
          ])
  }

  /** The last lines of output, without a partial first line. */
  tail(): string {
    const bytes =
      this.tailBytes.length < TAIL_BYTES ? this.tailBytes : this.tailBytes.subarray(this.tailBytes.indexOf(0x0a) + 1)
    return bytes.toString('utf8').trimEnd()
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
