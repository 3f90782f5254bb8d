import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { type Redactor, redactingStream } from '../redact.js'
import type { Reporter } from '../reporter.js'

const TAIL_CHARS = 4_000

/**
 * Where a command's output goes: live into the job log, into logs/command.log,
 * and into a short tail for the synthesised JUnit. Everything is redacted first.
 */
export class OutputCapture {
  readonly stdout: Writable
  readonly stderr: Writable
  private readonly log: WriteStream
  private readonly live: { write(text: string): void; end(): void }
  private tailText = ''

  constructor(reporter: Reporter, redactor: Redactor, logFile: string) {
    mkdirSync(path.dirname(logFile), { recursive: true })
    this.log = createWriteStream(logFile)
    this.live = reporter.rawOutput()
    const sink = (text: string): void => {
      this.live.write(text)
      this.log.write(text)
      this.tailText = (this.tailText + text).slice(-TAIL_CHARS)
    }
    this.stdout = redactingStream(redactor, sink)
    this.stderr = redactingStream(redactor, sink)
  }

  /** The last lines of output, without a partial first line. */
  tail(): string {
    const text = this.tailText.length < TAIL_CHARS ? this.tailText : this.tailText.slice(this.tailText.indexOf('\n') + 1)
    return text.trimEnd()
  }

  /** Flushes everything; call once the command has ended, however it ended. */
  async close(): Promise<void> {
    for (const stream of [this.stdout, this.stderr]) if (!stream.writableEnded) stream.end()
    await Promise.all([finished(this.stdout), finished(this.stderr)]).catch(() => undefined)
    this.live.end()
    this.log.end()
    await finished(this.log).catch(() => undefined)
  }
}
