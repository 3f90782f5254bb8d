import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Redactor } from '../../src/shared/redact.js'
import { consoleReporter, type Reporter } from '../../src/shared/reporter.js'
import { OutputCapture } from '../../src/shared/steps/output-capture.js'

describe('command output capture', () => {
  it('streams redacted output live and to command.log, and says a quiet command is still running', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capture-'))
    let live = ''
    const reporter = {
      rawOutput: () => ({ write: (t: string) => void (live += t), end: () => undefined }),
    } as unknown as Reporter
    const redactor = new Redactor()
    redactor.add('hunter22')
    try {
      const capture = new OutputCapture(reporter, redactor, path.join(dir, 'logs', 'command.log'), 30)
      capture.stdout.write('password is hunter22\n')
      await delay(100)
      await capture.close()
      assert.match(live, /password is \*\*\*\n/)
      assert.match(live, /\[run-task\] run: still running after \d+ms; no output for \d+ms/)
      assert.equal(
        readFileSync(path.join(dir, 'logs', 'command.log'), 'utf8'),
        'password is ***\n',
        'progress lines stay out of command.log',
      )
      assert.equal(capture.tail(), 'password is ***')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('pauses its source while the log file falls behind: output in memory stays bounded', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capture-'))
    const reporter = { rawOutput: () => ({ write: () => undefined, end: () => undefined }) } as unknown as Reporter
    let logged = 0
    const slowLog = (): Writable =>
      new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _e, cb) {
          logged += chunk.length
          setTimeout(cb, 2)
        },
      })
    const chunk = `${'z'.repeat(1023)}\n`.repeat(64)
    const total = 16 * 1024 * 1024
    let produced = 0
    let maxAhead = 0
    let pausedReads = 0
    const source = new Readable({
      read() {
        maxAhead = Math.max(maxAhead, produced - logged)
        if (produced >= total) return void this.push(null)
        produced += chunk.length
        this.push(chunk)
      },
    })
    source.on('pause', () => (pausedReads += 1))
    try {
      const capture = new OutputCapture(reporter, new Redactor(), path.join(dir, 'command.log'), 60_000, slowLog)
      await pipeline(source, capture.stdout)
      await capture.close()
      assert.equal(logged, total, 'all output reaches the log')
      assert.ok(pausedReads > 10, `the source was paused ${pausedReads} times`)
      assert.ok(maxAhead < 1024 * 1024, `at most ${maxAhead} bytes were produced ahead of the log`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('pauses its source while the job log (the runner pipe) falls behind, and keeps a split secret redacted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capture-'))
    let shown = 0
    let text = ''
    const slowPipe = new Writable({
      highWaterMark: 64 * 1024,
      decodeStrings: false,
      write(chunk: string | Buffer, _e, cb) {
        shown += chunk.length
        text = (text + chunk.toString()).slice(-4096)
        setTimeout(cb, 2)
      },
    })
    const reporter = consoleReporter({ out: slowPipe, inActions: false })
    const redactor = new Redactor()
    redactor.add('hunter22-secret')
    const chunk = Buffer.from(`${'z'.repeat(1023)}\n`.repeat(64) + 'hunter2')
    const tail = Buffer.from('2-secret\n')
    const total = 16 * 1024 * 1024
    let produced = 0
    let maxAhead = 0
    const source = new Readable({
      read() {
        maxAhead = Math.max(maxAhead, produced - shown)
        if (produced >= total) return void this.push(null)
        produced += chunk.length + tail.length
        this.push(chunk)
        this.push(tail)
      },
    })
    try {
      const capture = new OutputCapture(reporter, redactor, path.join(dir, 'command.log'), 60_000)
      await pipeline(source, capture.stdout)
      await capture.close()
      assert.ok(maxAhead < 1024 * 1024, `at most ${maxAhead} bytes were produced ahead of the job log`)
      assert.ok(!text.includes('hunter2'), 'a secret split across chunks is not shown')
      assert.match(text, /\*\*\*\n$/)
      assert.ok(!readFileSync(path.join(dir, 'command.log'), 'utf8').includes('hunter2'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
