import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Redactor } from '../../src/shared/redact.js'
import type { Reporter } from '../../src/shared/reporter.js'
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
})
