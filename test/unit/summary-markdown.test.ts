import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Token, marked } from 'marked'
import { publishCheckRun } from '../../src/shared/evidence/check-run.js'
import type { TestCaseResult } from '../../src/shared/evidence/junit-parser.js'
import { renderSummary } from '../../src/shared/evidence/summary.js'
import { countCases } from '../../src/shared/evidence/test-results.js'
import { evidenceMeta } from '../harness/evidence-meta.js'
import { type GitHubSim, startGitHubSim } from '../sim/github/server.js'

/** What a hostile or careless report puts into names and messages. */
const HOSTILE = [
  '![x](http://127.0.0.1:1/p.png)',
  '[link](https://evil.example)',
  '@org/team and @octocat',
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  'a ``b` c',
  'see https://evil.example/x or www.evil.example',
  'mail admin@evil.example',
  '[ref][1]\n\n[1]: https://evil.example',
  '<https://evil.example>',
  '&lt;img src=x&gt; | ~~struck~~ **bold**',
  'trailing backslash \\',
]

const hostileCase = (text: string, i: number): TestCaseResult => ({
  reportFile: 'r.xml',
  suite: text,
  classname: `pkg.${text}`,
  name: text,
  file: `src/<t${i}>.test.ts`,
  line: i + 1,
  durationMs: 10 + i,
  status: i % 2 ? 'failed' : 'error',
  flaky: false,
  message: `${text}\nsecond line ${text}`,
  details: text,
})

const cases = HOSTILE.map(hostileCase)
const meta = evidenceMeta('failed', countCases(cases), {
  source: '@org/team https://evil.example',
  evidence: { files: 1, bytes: 1, skipped: [], problems: HOSTILE },
})

/** Every token of a Markdown document, depth first. */
function tokens(markdown: string): Token[] {
  const all: Token[] = []
  // Synchronous here: no async extensions are registered, so the returned promises are empty.
  void marked.walkTokens(marked.lexer(markdown, { gfm: true }), (t) => {
    all.push(t)
  })
  return all
}

/** `@name` that GitHub would turn into a mention: `@` after a non-word character, then a word character. */
const ACTIVE_MENTION = /(?:^|[^\p{L}\p{N}_`])@[\p{L}\p{N}_]/u

/** The summary's own collapsible sections, with a fixed title. */
const OWN_HTML = /^<\/?details(?: open)?>(?:<summary>[A-Za-z ]+<\/summary>)?\s*$/

function assertInert(markdown: string, ownLinks = 0): void {
  const all = tokens(markdown)
  const kinds = all.map((t) => t.type)
  assert.ok(!kinds.includes('image'), 'no image')
  const html = all.filter((t) => t.type === 'html' && !OWN_HTML.test(t.raw)).map((t) => t.raw)
  assert.deepEqual(html, [], 'no HTML but the summary’s own <details> blocks')
  const links = all.filter((t) => t.type === 'link')
  assert.equal(links.length, ownLinks, `links: ${JSON.stringify(links.map((l) => l.raw))}`)
  assert.ok(!kinds.includes('del'), 'no strikethrough from the workspace')
  const prose = all.filter((t) => t.type === 'text' || t.type === 'escape').map((t) => (t as { text: string }).text)
  for (const text of prose) assert.doesNotMatch(text, ACTIVE_MENTION)
  assert.doesNotMatch(markdown.replace(/`[^`]*`/g, ''), ACTIVE_MENTION)
}

describe('Markdown and mentions from test reports stay inert', () => {
  it('the job summary shows hostile names and messages as text: no image, link, HTML or mention', () => {
    const text = renderSummary({
      meta,
      cases,
      artifactUrl: 'https://github.com/o/r/actions/runs/1/artifacts/9',
      notes: HOSTILE,
    })
    assertInert(text, 1)
    const spans = tokens(text)
      .filter((t) => t.type === 'codespan')
      .map((t) => (t as { text: string }).text)
    assert.ok(spans.includes('src/<t1>.test.ts:2'), `a code span shows < as written: ${spans.join(' ')}`)
    assert.ok(!spans.some((s) => s.includes('&lt;')))
  })

  it('keeps the text readable: the escapes render back to what the report said', () => {
    const text = renderSummary({ meta, cases: [hostileCase('<img src=x> @org/team', 1)], artifactUrl: '' })
    const html = marked.parse(text, { gfm: true, async: false })
    assert.match(html, /&lt;img src=x&gt; @\u200Borg\/team/)
  })

  describe('check run', () => {
    let github: GitHubSim
    let eventFile: string
    before(async () => {
      github = await startGitHubSim()
      github.writeTokens.add('write-token')
      eventFile = path.join(mkdtempSync(path.join(tmpdir(), 'event-')), 'event.json')
      writeFileSync(eventFile, JSON.stringify({ pull_request: { head: { sha: 'headsha0001' } } }))
    })
    after(async () => github.close())

    it('the fake GitHub API receives an inert summary and annotations without a mention or autolink', async () => {
      const summaryMarkdown = renderSummary({ meta, cases, artifactUrl: '' })
      const result = await publishCheckRun({
        token: 'write-token',
        name: 'gate',
        env: {
          GITHUB_REPOSITORY: 'ameide/app',
          GITHUB_API_URL: github.url,
          GITHUB_SHA: 'sha',
          GITHUB_EVENT_NAME: 'pull_request',
          GITHUB_EVENT_PATH: eventFile,
        },
        meta,
        cases: cases.map((c) => ({ ...c, file: 'src/a.test.ts' })),
        summaryMarkdown,
      })
      assert.ok('id' in result, JSON.stringify(result))
      const run = github.checkRuns.at(-1)
      const output = run?.body.output as { summary: string; title: string; text?: string }
      assertInert(output.summary)
      assertInert(output.title)
      assert.equal(run?.annotations.length, HOSTILE.length)
      for (const a of run?.annotations ?? [])
        for (const field of [a.title, a.message, a.raw_details] as string[]) {
          assert.doesNotMatch(field, ACTIVE_MENTION)
          assert.doesNotMatch(field, /https?:\/\/|www\./)
        }
    })
  })
})
