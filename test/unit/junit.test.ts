import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { synthesizeJunit } from '../../src/shared/evidence/junit.js'
import { readReports } from '../../src/shared/evidence/test-results.js'

const dir = mkdtempSync(path.join(tmpdir(), 'synth-'))
async function countJunit(xml: string) {
  writeFileSync(path.join(dir, 'r.xml'), xml)
  const r = await readReports(dir, ['r.xml'])
  return r.problems.length
    ? { problem: r.problems[0] }
    : {
        counts: {
          total: r.counts.total,
          failed: r.counts.failed,
          errored: r.counts.errored,
          skipped: r.counts.skipped,
        },
      }
}

describe('JUnit counting and synthesis', () => {
  it('counts testcases of nested suites under a testsuites root', async () => {
    const xml = `<?xml version="1.0"?><testsuites><testsuite name="a"><testcase name="1"/><testcase name="2"><failure message="boom"/></testcase><testsuite name="inner"><testcase name="3"><skipped/></testcase><testcase name="4"><error/></testcase></testsuite></testsuite></testsuites>`
    assert.deepEqual(await countJunit(xml), { counts: { total: 4, failed: 1, errored: 1, skipped: 1 } })
  })

  it('counts a bare testsuite root', async () => {
    assert.deepEqual(await countJunit('<testsuite tests="99"><testcase name="only"/></testsuite>'), {
      counts: { total: 1, failed: 0, errored: 0, skipped: 0 },
    })
  })

  it('reports malformed XML and DOCTYPEs as problems, never expanding entities', async () => {
    assert.match(
      ((await countJunit('<testsuite><testcase>')) as { problem: string }).problem,
      /not a readable JUnit report/,
    )
    const billionLaughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><testsuite><testcase name="&lol2;"/></testsuite>'
    assert.match(((await countJunit(billionLaughs)) as { problem: string }).problem, /DOCTYPE/)
    assert.match(((await countJunit('<html/>')) as { problem: string }).problem, /root element is <html>/)
  })

  it('synthesises a well-formed report that counts back to its outcome', async () => {
    const failed = synthesizeJunit({
      outcome: 'failed',
      command: 'ameide test --x "y"',
      exitCode: 3,
      durationMs: 1234,
      message: 'exited with 3',
      outputTail: 'line <1> & \u0007bell',
      diagnostics: [],
    })
    assert.deepEqual(await countJunit(failed), { counts: { total: 1, failed: 1, errored: 0, skipped: 0 } })
    assert.match(failed, /name="run-task: ameide test --x &quot;y&quot;"/)
    assert.match(failed, /line &lt;1&gt; &amp; bell/)
    const error = synthesizeJunit({
      outcome: 'error',
      command: 'x',
      exitCode: null,
      durationMs: 0,
      message: 'stream broke',
      outputTail: '',
      diagnostics: ['phase: Failed'],
    })
    assert.deepEqual(await countJunit(error), { counts: { total: 1, failed: 0, errored: 1, skipped: 0 } })
    assert.match(error, /Diagnostics:\nphase: Failed/)
    assert.deepEqual(
      await countJunit(
        synthesizeJunit({
          outcome: 'passed',
          command: 'x',
          exitCode: 0,
          durationMs: 1,
          message: '',
          outputTail: '',
          diagnostics: [],
        }),
      ),
      { counts: { total: 1, failed: 0, errored: 0, skipped: 0 } },
    )
  })
})
