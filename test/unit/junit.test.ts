import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { countJunit, synthesizeJunit } from '../../src/shared/evidence/junit.js'

describe('JUnit counting and synthesis', () => {
  it('counts testcases of nested suites under a testsuites root', () => {
    const xml = `<?xml version="1.0"?><testsuites><testsuite name="a"><testcase name="1"/><testcase name="2"><failure message="boom"/></testcase><testsuite name="inner"><testcase name="3"><skipped/></testcase><testcase name="4"><error/></testcase></testsuite></testsuite></testsuites>`
    assert.deepEqual(countJunit(xml), { counts: { total: 4, failed: 1, errored: 1, skipped: 1 } })
  })

  it('counts a bare testsuite root', () => {
    assert.deepEqual(countJunit('<testsuite tests="99"><testcase name="only"/></testsuite>'), { counts: { total: 1, failed: 0, errored: 0, skipped: 0 } })
  })

  it('reports malformed XML and DOCTYPEs as problems, never expanding entities', () => {
    assert.match((countJunit('<testsuite><testcase>') as { problem: string }).problem, /not well-formed/)
    const billionLaughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><testsuite><testcase name="&lol2;"/></testsuite>'
    assert.match((countJunit(billionLaughs) as { problem: string }).problem, /DOCTYPE/)
    assert.match((countJunit('<html/>') as { problem: string }).problem, /no testsuites or testsuite/)
  })

  it('synthesises a well-formed report that counts back to its outcome', () => {
    const failed = synthesizeJunit({ outcome: 'failed', command: 'ameide test --x "y"', exitCode: 3, durationMs: 1234, message: 'exited with 3', outputTail: 'line <1> & \u0007bell', diagnostics: [] })
    assert.deepEqual(countJunit(failed), { counts: { total: 1, failed: 1, errored: 0, skipped: 0 } })
    assert.match(failed, /name="run-task: ameide test --x &quot;y&quot;"/)
    assert.match(failed, /line &lt;1&gt; &amp; bell/)
    const error = synthesizeJunit({ outcome: 'error', command: 'x', exitCode: null, durationMs: 0, message: 'stream broke', outputTail: '', diagnostics: ['phase: Failed'] })
    assert.deepEqual(countJunit(error), { counts: { total: 1, failed: 0, errored: 1, skipped: 0 } })
    assert.match(error, /Diagnostics:\nphase: Failed/)
    assert.deepEqual(countJunit(synthesizeJunit({ outcome: 'passed', command: 'x', exitCode: 0, durationMs: 1, message: '', outputTail: '', diagnostics: [] })), { counts: { total: 1, failed: 0, errored: 0, skipped: 0 } })
  })
})
