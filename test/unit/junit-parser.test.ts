import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parseJunitFile } from '../../src/shared/evidence/junit-parser.js'
import { readReports } from '../../src/shared/evidence/test-results.js'
import { evidenceMeta } from '../harness/evidence-meta.js'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/junit')
const DIALECTS: Record<
  string,
  { total: number; passed: number; failed: number; errored: number; skipped: number; flaky: number }
> = {
  'surefire.xml': { total: 4, passed: 2, failed: 1, errored: 0, skipped: 1, flaky: 1 },
  'pytest.xml': { total: 5, passed: 2, failed: 1, errored: 1, skipped: 1, flaky: 0 },
  'jest-junit.xml': { total: 3, passed: 2, failed: 1, errored: 0, skipped: 0, flaky: 0 },
  'vitest.xml': { total: 3, passed: 1, failed: 1, errored: 0, skipped: 1, flaky: 0 },
  'go-junit-report.xml': { total: 3, passed: 2, failed: 1, errored: 0, skipped: 0, flaky: 0 },
  'gotestsum.xml': { total: 2, passed: 1, failed: 0, errored: 1, skipped: 0, flaky: 0 },
  'playwright.xml': { total: 3, passed: 1, failed: 1, errored: 0, skipped: 1, flaky: 0 },
  'ctest.xml': { total: 3, passed: 1, failed: 1, errored: 0, skipped: 1, flaky: 0 },
  'phpunit.xml': { total: 4, passed: 1, failed: 1, errored: 1, skipped: 1, flaky: 0 },
}

describe('JUnit dialects', () => {
  for (const [file, expected] of Object.entries(DIALECTS)) {
    it(`parses ${file} to the counts it holds`, async () => {
      const results = await readReports(FIXTURES, [file])
      assert.deepEqual(results.problems, [])
      assert.deepEqual(results.counts, expected)
    })
  }

  it('keeps messages, bodies, locations and output', async () => {
    const pytest = (await parseJunitFile(path.join(FIXTURES, 'pytest.xml'))).cases
    const sub = pytest.find((c) => c.name === 'test_sub')
    assert.deepEqual(
      [sub?.status, sub?.message, sub?.file, sub?.line],
      // The line of the failing assert (traceback `tests/test_math.py:8:`), not the 0-based `line="7"` of the def.
      ['failed', 'assert 1 == 2', 'tests/test_math.py', 8],
    )
    assert.match(sub?.details ?? '', /> {7}assert 1 == 2/)
    const out = pytest.find((c) => c.name === 'test_out')
    assert.deepEqual([out?.systemOut, out?.systemErr], ['hello from stdout', 'warning on stderr'])
    const surefire = (await parseJunitFile(path.join(FIXTURES, 'surefire.xml'))).cases
    const divides = surefire.find((c) => c.name === 'divides')
    assert.deepEqual(
      [divides?.status, divides?.message, divides?.type],
      ['failed', 'expected: <2> but was: <3>', 'org.opentest4j.AssertionFailedError'],
    )
    assert.match(divides?.details ?? '', /CalculatorTest\.java:42/)
    assert.equal(surefire.find((c) => c.name === 'retriesNetwork')?.flaky, true)
    const php = (await parseJunitFile(path.join(FIXTURES, 'phpunit.xml'))).cases.find((c) => c.name === 'testEmail')
    assert.deepEqual(
      [php?.classname, php?.file, php?.line, php?.suite],
      ['Tests.UserTest', '/app/tests/UserTest.php', 20, 'Tests\\UserTest'],
    )
    const jest = (await parseJunitFile(path.join(FIXTURES, 'jest-junit.xml'))).cases.find((c) => c.status === 'failed')
    assert.equal(jest?.message, 'Error: expect(received).toBe(expected) // Object.is equality')
    assert.equal(
      (await parseJunitFile(path.join(FIXTURES, 'jest-junit.xml'))).cases.find((c) => c.name === 'math slow')
        ?.durationMs,
      2400,
    )
  })

  it('merges several reports and adds the counts up', async () => {
    const results = await readReports(FIXTURES, Object.keys(DIALECTS))
    const sum = (k: keyof (typeof DIALECTS)[string]) => Object.values(DIALECTS).reduce((s, d) => s + d[k], 0)
    assert.deepEqual(results.counts, {
      total: sum('total'),
      passed: sum('passed'),
      failed: sum('failed'),
      errored: sum('errored'),
      skipped: sum('skipped'),
      flaky: sum('flaky'),
    })
    // Every failed or errored case is kept in full; passing ones only when they are among the slowest.
    const failed = results.cases.filter((c) => c.status === 'failed' || c.status === 'error')
    assert.equal(failed.length, sum('failed') + sum('errored'))
    assert.equal(results.cases.filter((c) => c.flaky).length, sum('flaky'))
  })

  it('turns a malformed report into a problem and an error case naming the file', async () => {
    const results = await readReports(FIXTURES, ['malformed.xml', 'jest-junit.xml'])
    assert.equal(results.problems.length, 1)
    assert.match(results.problems[0] as string, /^malformed\.xml: not a readable JUnit report/)
    const error = results.cases.find((c) => c.status === 'error')
    assert.equal(error?.name, 'report malformed.xml')
    assert.equal(results.counts.total, 4)
  })

  for (const file of ['xxe.xml', 'billion-laughs.xml']) {
    it(`refuses ${file} without resolving or expanding any entity`, async () => {
      const results = await readReports(FIXTURES, [file])
      assert.match(results.problems[0] as string, /DOCTYPE/)
      assert.ok(!JSON.stringify(results).includes('root:'), 'no file content leaked')
      assert.ok(!JSON.stringify(results).includes('lollol'), 'nothing expanded')
    })
  }

  it('reports a file that is not JUnit at all', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'junit-'))
    try {
      writeFileSync(path.join(dir, 'html.xml'), '<html><body/></html>')
      writeFileSync(path.join(dir, 'empty.xml'), '')
      const results = await readReports(dir, ['html.xml', 'empty.xml'])
      assert.match(results.problems[0] as string, /root element is <html>/)
      assert.match(results.problems[1] as string, /empty/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('a report with 100,000 test cases', () => {
  it('is parsed and summarised without failing, and the summary stays under 1 MiB', async () => {
    const { renderSummary } = await import('../../src/shared/evidence/summary.js')
    const dir = mkdtempSync(path.join(tmpdir(), 'junit-big-'))
    try {
      const cases = Array.from({ length: 100_000 }, (_, i) =>
        i % 4 === 0
          ? `<testcase classname="pkg.S${i % 50}" name="c${i}" file="src/f${i % 300}.ts" line="${(i % 90) + 1}" time="0.01"><failure message="expected ${i}">stack ${i}</failure></testcase>`
          : `<testcase classname="pkg.S${i % 50}" name="c${i}" time="0.001"/>`,
      )
      writeFileSync(
        path.join(dir, 'big.xml'),
        `<?xml version="1.0"?><testsuites><testsuite name="big">${cases.join('')}</testsuite></testsuites>`,
      )
      const results = await readReports(dir, ['big.xml'])
      assert.deepEqual([results.counts.total, results.counts.failed], [100_000, 25_000])
      const meta = evidenceMeta('failed', results.counts)
      const summary = renderSummary({ meta, cases: results.cases, artifactUrl: '' })
      assert.ok(Buffer.byteLength(summary) < 1024 * 1024)
      assert.match(summary, /… \d+ more failed tests/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('hostile or huge reports cost bounded memory', () => {
  it('keeps no attribute or text whole: an 80 MB message is cut with a marker', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'junit-huge-attr-'))
    try {
      const huge = 'm'.repeat(80 * 1024 * 1024)
      writeFileSync(
        path.join(dir, 'r.xml'),
        `<testsuite name="${'s'.repeat(5000)}"><testcase classname="c" name="${'n'.repeat(5000)}"><failure message="${huge}" type="${'t'.repeat(5000)}">${'d'.repeat(1024 * 1024)}</failure><system-out>${'o'.repeat(100_000)}</system-out></testcase></testsuite>`,
      )
      const results = await readReports(dir, ['r.xml'])
      const c = results.cases[0]
      assert.ok(c)
      assert.equal(c.status, 'failed')
      for (const [field, value, max] of [
        ['message', c.message, 16 * 1024],
        ['details', c.details, 16 * 1024],
        ['systemOut', c.systemOut, 16 * 1024],
        ['name', c.name, 1024],
        ['suite', c.suite, 1024],
        ['type', c.type, 1024],
      ] as const) {
        assert.ok(value && value.length < max + 100, `${field} is ${value?.length} characters`)
        assert.match(value, /… \(\d+ more characters not kept\)$/, field)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('counts 1,000,000 cases but keeps only the failed, flaky and slowest ones', async () => {
    const { FAILED_CASES_KEPT } = await import('../../src/shared/evidence/test-results.js')
    const dir = mkdtempSync(path.join(tmpdir(), 'junit-million-'))
    try {
      const file = path.join(dir, 'million.xml')
      const out = createWriteStream(file)
      out.write('<testsuites><testsuite name="m">')
      for (let block = 0; block < 1_000; block++) {
        let text = ''
        for (let i = block * 1_000; i < (block + 1) * 1_000; i++)
          text +=
            i % 200 === 0
              ? `<testcase classname="k" name="c${i}" time="0.5"><failure message="m${i}">stack</failure></testcase>`
              : `<testcase classname="k" name="c${i}" time="${i === 777_777 ? 9 : 0.001}"/>`
        if (!out.write(text)) await once(out, 'drain')
      }
      out.end('</testsuite></testsuites>')
      await once(out, 'finish')
      const results = await readReports(dir, ['million.xml'])
      assert.equal(results.counts.total, 1_000_000)
      assert.equal(results.counts.failed, 5_000)
      const failed = results.cases.filter((c) => c.status === 'failed')
      assert.equal(failed.length, FAILED_CASES_KEPT, 'the first failed cases are kept, in report order')
      assert.equal(failed[0]?.name, 'c0')
      assert.ok(results.cases.length <= FAILED_CASES_KEPT + 10, `${results.cases.length} cases kept`)
      assert.ok(
        results.cases.some((c) => c.name === 'c777777'),
        'the slowest passing case is kept',
      )
      const meta = evidenceMeta('failed', results.counts)
      const { renderSummary } = await import('../../src/shared/evidence/summary.js')
      assert.match(renderSummary({ meta, cases: results.cases, artifactUrl: '' }), /… \d+ more failed tests/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
