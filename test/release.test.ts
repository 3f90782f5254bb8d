import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'

const ROOT = path.resolve(import.meta.dirname, '..')
const CHECK_DIST = path.join(ROOT, 'scripts/check-dist.sh')
const RELEASE_NOTES = path.join(ROOT, 'scripts/release-notes.sh')
/** The scratch repository's build: like scripts/build.mjs it starts from an empty dist/; dist/ is src/ upper-cased. */
const BUILD_COMMAND = 'rm -rf dist && mkdir dist && tr a-z A-Z < src/main.js > dist/index.js'

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim()
}

function run(repo: string, script: string, ...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('bash', [script, ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, BUILD_COMMAND },
  })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** What the release workflow does first on a tag: check out the tag, then run the dist check. */
function checkTag(repo: string, tag: string): { status: number | null; output: string } {
  git(repo, 'checkout', '--quiet', '--force', tag)
  return run(repo, CHECK_DIST)
}

describe('the release checks, on a scratch git repository', () => {
  let repo: string
  before(() => {
    repo = mkdtempSync(path.join(tmpdir(), 'release-'))
    git(repo, 'init', '--quiet', '--initial-branch=main')
    git(repo, 'config', 'user.email', 'dev@example.com')
    git(repo, 'config', 'user.name', 'dev')
    mkdirSync(path.join(repo, 'src'))
    mkdirSync(path.join(repo, 'dist'))
    writeFileSync(path.join(repo, 'package.json'), '{ "name": "x", "version": "1.2.3" }\n')
    writeFileSync(path.join(repo, 'src/main.js'), 'export const answer = 42\n')
    writeFileSync(path.join(repo, 'dist/index.js'), 'EXPORT CONST ANSWER = 42\n')
    writeFileSync(
      path.join(repo, 'CHANGELOG.md'),
      '# Changelog\n\n## [Unreleased]\n\n## [1.2.3] - 2026-11-23\n\n### Fixed\n\n- The answer.\n\n## [1.2.2]\n\n- Older.\n',
    )
    git(repo, 'add', '.')
    git(repo, 'commit', '--quiet', '-m', 'v1.2.3')
    git(repo, 'tag', 'v1.2.3')
    writeFileSync(path.join(repo, 'src/main.js'), 'export const answer = 43\n')
    git(repo, 'commit', '--quiet', '-am', 'src changed, dist/ not rebuilt')
    git(repo, 'tag', 'v1.2.4')
    git(repo, 'checkout', '--quiet', 'v1.2.3')
    writeFileSync(path.join(repo, 'dist/extra.js'), 'left over\n')
    git(repo, 'add', '.')
    git(repo, 'commit', '--quiet', '-m', 'a stray file in dist/')
    git(repo, 'tag', 'v1.2.5')
  })
  after(() => rmSync(repo, { recursive: true, force: true }))

  it('accepts a tag whose dist/ is the build of src/', () => {
    const result = checkTag(repo, 'v1.2.3')
    assert.equal(result.status, 0, result.output)
    assert.match(result.output, /dist\/ is the build of src\//)
  })

  it('refuses a tag whose dist/ does not match src/, naming the file', () => {
    const result = checkTag(repo, 'v1.2.4')
    assert.equal(result.status, 1, result.output)
    assert.match(result.output, /dist\/ does not match src\/ at [0-9a-f]+: run 'npm run build' and commit dist\//)
    assert.match(result.output, /M dist\/index\.js/)
  })

  it('refuses a tag whose dist/ holds a file the build no longer makes, or lacks one it makes', () => {
    const stray = checkTag(repo, 'v1.2.5')
    assert.equal(stray.status, 1, stray.output)
    assert.match(stray.output, /D dist\/extra\.js/)
    git(repo, 'checkout', '--quiet', '--force', 'v1.2.3')
    git(repo, 'rm', '--quiet', 'dist/index.js')
    git(repo, 'commit', '--quiet', '-m', 'dist/index.js never committed')
    git(repo, 'tag', 'v1.2.6')
    const untracked = checkTag(repo, 'v1.2.6')
    assert.equal(untracked.status, 1, untracked.output)
    assert.match(untracked.output, /\?\? dist\//)
  })

  it('takes the release notes from the tag’s CHANGELOG.md section', () => {
    git(repo, 'checkout', '--quiet', '--force', 'v1.2.3')
    const notes = run(repo, RELEASE_NOTES, 'v1.2.3')
    assert.equal(notes.status, 0, notes.output)
    assert.equal(notes.output.trim(), '### Fixed\n\n- The answer.')
  })

  it('refuses a tag that is not vX.Y.Z, that package.json does not carry, or that CHANGELOG.md lacks', () => {
    assert.match(run(repo, RELEASE_NOTES, 'v1.2').output, /'v1\.2' is not vX\.Y\.Z/)
    assert.match(run(repo, RELEASE_NOTES, 'v1.2.2').output, /does not match package\.json's version 1\.2\.3/)
    writeFileSync(path.join(repo, 'package.json'), '{ "name": "x", "version": "1.3.0" }\n')
    const missing = run(repo, RELEASE_NOTES, 'v1.3.0')
    assert.equal(missing.status, 1)
    assert.match(missing.output, /CHANGELOG\.md has no section '## \[1\.3\.0\]'/)
    git(repo, 'checkout', '--quiet', '--', 'package.json')
  })

  it("this repository's own CHANGELOG.md has notes for package.json's version", () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    const notes = spawnSync('bash', [RELEASE_NOTES, `v${version}`], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(notes.status, 0, notes.stderr)
    assert.match(notes.stdout, /### Added/)
  })

  it('the release workflow and .ci/run both run scripts/check-dist.sh', () => {
    assert.match(readFileSync(path.join(ROOT, '.github/workflows/release.yml'), 'utf8'), /bash scripts\/check-dist\.sh/)
    assert.match(readFileSync(path.join(ROOT, '.ci/run'), 'utf8'), /bash scripts\/check-dist\.sh/)
  })
})

describe('Dependabot configuration', () => {
  it('updates npm and github-actions weekly, grouped, with only the keys GitHub documents', async () => {
    const { parse } = await import('yaml')
    const { Ajv } = await import('ajv')
    // The subset of GitHub's dependabot.yml reference (docs.github.com, "Dependabot options reference") used here.
    const group = {
      type: 'object',
      additionalProperties: false,
      properties: {
        'dependency-type': { enum: ['development', 'production'] },
        'update-types': { type: 'array', items: { enum: ['major', 'minor', 'patch'] } },
        patterns: { type: 'array', items: { type: 'string' } },
        'exclude-patterns': { type: 'array', items: { type: 'string' } },
        'applies-to': { enum: ['version-updates', 'security-updates'] },
      },
    }
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['version', 'updates'],
      properties: {
        version: { const: 2 },
        updates: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['package-ecosystem', 'directory', 'schedule'],
            properties: {
              'package-ecosystem': { enum: ['npm', 'github-actions'] },
              directory: { type: 'string' },
              schedule: {
                type: 'object',
                required: ['interval'],
                properties: { interval: { enum: ['daily', 'weekly', 'monthly'] } },
              },
              'open-pull-requests-limit': { type: 'integer', minimum: 0 },
              groups: { type: 'object', additionalProperties: group, minProperties: 1 },
              'commit-message': {
                type: 'object',
                additionalProperties: false,
                properties: { prefix: { type: 'string', maxLength: 50 }, include: { const: 'scope' } },
              },
            },
          },
        },
      },
    }
    const config = parse(readFileSync(path.join(ROOT, '.github/dependabot.yml'), 'utf8')) as {
      updates: { 'package-ecosystem': string; groups?: object }[]
    }
    const validate = new Ajv({ strict: true, allErrors: true }).compile(schema)
    assert.ok(validate(config), JSON.stringify(validate.errors))
    assert.deepEqual(
      config.updates.map((u) => [u['package-ecosystem'], Boolean(u.groups)]),
      [
        ['npm', true],
        ['github-actions', true],
      ],
    )
  })
})
