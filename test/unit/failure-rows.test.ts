import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { marked } from 'marked'
import type { EvidenceMeta } from '../../src/shared/evidence/meta.js'
import { renderSummary } from '../../src/shared/evidence/summary.js'
import { readReports, type TestResults } from '../../src/shared/evidence/test-results.js'
import { evidenceMeta } from '../harness/evidence-meta.js'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/junit')

function meta(results: TestResults, command = 'ameide test'): EvidenceMeta {
  return evidenceMeta('failed', results.counts, { command })
}

/**
 * The summary of one fixture, as collect-evidence renders it, read as a reader sees it: the
 * escapes that keep workspace text from rendering as Markdown and the zero-width spaces that
 * break mentions removed (test/unit/summary-markdown.test.ts checks those).
 */
async function summaryOf(fixture: string, repoRoot?: string): Promise<string> {
  const results = await readReports(FIXTURES, [fixture])
  assert.deepEqual(results.problems, [])
  const text = renderSummary({
    meta: meta(results),
    cases: results.cases,
    artifactUrl: '',
    repoRoot,
    notes: results.notes,
  })
  return text.replace(/\\([\\`*_[\]<>!~&])/g, '$1').replace(/\u200B/g, '')
}

/** The rows of the "Failed tests" table. */
function failedRows(summary: string): string[] {
  const lines = summary.split('\n')
  const start = lines.indexOf('| Test | Location | Message |')
  assert.ok(start >= 0, 'the summary has a failed-test table')
  const end = lines.indexOf('', start)
  return lines.slice(start + 2, end)
}

describe('the failed-test table shows why and where each test failed', () => {
  let checkout: string
  before(() => {
    checkout = mkdtempSync(path.join(tmpdir(), 'checkout-'))
    for (const file of ['test/math_test.cc', 'tests/UserTest.php', 'tests/EmailTest.php']) {
      mkdirSync(path.dirname(path.join(checkout, file)), { recursive: true })
      writeFileSync(path.join(checkout, file), '')
    }
  })
  after(() => rmSync(checkout, { recursive: true, force: true }))

  /** One fixture per producer convention, and the rows its summary must show. */
  const CASES: {
    readonly convention: string
    readonly fixture: string
    readonly inCheckout?: boolean
    readonly rows: string[]
  }[] = [
    {
      convention:
        'Playwright: skips the `file:line:col title` message and the header, keeps the timeout; the line from the header',
      fixture: 'playwright-timeout.xml',
      rows: [
        '| auth/login.spec.ts › login › remembers the user | `auth/login.spec.ts:30` | Test timeout of 10000ms exceeded. |',
        '| auth/login.spec.ts › login › shows the error | `auth/login.spec.ts:40` | Error: Timed out 5000ms waiting for expect(locator).toHaveText(expected) |',
      ],
    },
    {
      convention: 'Playwright: an expect failure below the header',
      fixture: 'playwright.xml',
      rows: [
        '| login.spec.ts › login › rejects a bad password | `login.spec.ts:21` | Error: Timed out 5000ms waiting for expect(locator).toBeVisible() |',
      ],
    },
    {
      convention: 'PHPUnit: skips the `Class::method` line and shows the assertion',
      fixture: 'phpunit.xml',
      inCheckout: true,
      rows: [
        "| Tests.UserTest › testEmail | `tests/UserTest.php:20` | Failed asserting that 'a@b' is a valid email. |",
        '| 💥 Tests.UserTest › testDb | `tests/UserTest.php:30` | PDOException: could not connect |',
      ],
    },
    {
      convention: 'PHPUnit: skips `Class::method with data set …` too',
      fixture: 'phpunit-data-provider.xml',
      inCheckout: true,
      rows: [
        '| Tests.EmailTest › testRejects with data set "no domain" | `tests/EmailTest.php:18` | Failed asserting that true is false. |',
        '| Tests.EmailTest › testRejects with data set #2 | `tests/EmailTest.php:18` | Failed asserting that true is false. |',
      ],
    },
    {
      convention:
        'GoogleTest: skips the leading `file:line`, takes it as the location, and reads the assertion with its values',
      fixture: 'googletest.xml',
      inCheckout: true,
      rows: [
        '| MathTest › Divides | `test/math_test.cc:12` | Expected equality of these values: Divide(6, 3) Which is: 3 2 |',
      ],
    },
    {
      convention: 'mocha-junit-reporter (Cypress): the file comes from the empty sibling Root Suite',
      fixture: 'mocha-junit-reporter-cypress.xml',
      rows: [
        "| cart shows the total | `cypress/e2e/cart.cy.ts` | Timed out retrying after 4000ms: expected '<span.total>' to have text '12.00', but the text was '0.00' |",
      ],
    },
    {
      convention:
        'an absolute path outside the checkout stays absolute; pytest’s line is the traceback’s, not the 0-based attribute',
      fixture: 'pytest-outside-checkout.xml',
      inCheckout: true,
      rows: [
        "| test_x › test_reads_config | `/home/runner/work/_shared/plugins/test_x.py:12` | AssertionError: assert 'dev' == 'prod' |",
      ],
    },
    {
      convention: 'go-junit-report: a message that only says "Failed" gives way to the body',
      fixture: 'go-junit-report.xml',
      rows: ['| example.com/app/pkg › TestFormat | – | format_test.go:17: got "a", want "b" |'],
    },
  ]
  for (const c of CASES)
    it(c.convention, async () => {
      assert.deepEqual(failedRows(await summaryOf(c.fixture, c.inCheckout ? checkout : undefined)), c.rows)
    })

  it('nanosecond times are spotted and said, not printed as hours', async () => {
    const summary = await summaryOf('container-structure-test.xml')
    assert.deepEqual(failedRows(summary), [
      "| Command Test: jq | – | Expected string 'jq-1.7' not found in output 'jq-1.6' |",
    ])
    assert.doesNotMatch(summary, /Slowest tests/)
    assert.doesNotMatch(summary, /\d+h/)
    assert.match(
      summary,
      /> \[!NOTE\]\n> - container-structure-test\.xml: its `time` values cannot be seconds \(a test says 562974992 s, 6,516 days; nanoseconds or milliseconds\?\), so its durations are not shown\./,
    )
  })

  it('keeps durations in seconds as they are', async () => {
    const results = await readReports(FIXTURES, ['jest-junit.xml', 'surefire.xml'])
    assert.deepEqual(results.notes, [])
  })
})

describe('code spans in the summary', () => {
  it('fence with more backticks than any run inside, so `<` and backticks show as written', async () => {
    const results = await readReports(FIXTURES, ['phpunit.xml'])
    const command = "ameide test --filter '<slow>' `pwd` ``x``"
    const summary = renderSummary({ meta: meta(results, command), cases: results.cases, artifactUrl: '' })
    assert.match(summary, /^### ❌ Failed: ``` ameide test --filter '<slow>' `pwd` ``x`` ```$/m)
    assert.doesNotMatch(summary, /`[^`\n]*&lt;[^`\n]*`/, 'no entity inside a code span')
    const html = await marked.parse(summary, { gfm: true })
    assert.match(html, /<code>ameide test --filter &#39;&lt;slow&gt;&#39; `pwd` ``x``<\/code>/)
    assert.doesNotMatch(html, /&amp;lt;/)
  })

  it('keep a `|` in a table cell escaped for GFM, which removes the backslash before reading the span', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'junit-'))
    try {
      writeFileSync(
        path.join(dir, 'r.xml'),
        '<testsuite name="s"><testcase classname="c" name="t" file="src/a|b `x`.ts" line="3"><failure message="boom"/></testcase></testsuite>',
      )
      const results = await readReports(dir, ['r.xml'])
      const summary = renderSummary({ meta: meta(results), cases: results.cases, artifactUrl: '' })
      assert.deepEqual(failedRows(summary), ['| c › t | ``src/a\\|b `x`.ts:3`` | boom |'])
      const html = await marked.parse(summary, { gfm: true })
      assert.match(html, /<td><code>src\/a\|b `x`\.ts:3<\/code><\/td>/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
