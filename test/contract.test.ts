import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { parse } from 'yaml'
import { InputError } from '../src/shared/errors.js'
import { parseContract } from '../src/shared/contract/contract.js'
import { GENERATED_FILES } from '../src/shared/contract/generate.js'
import { toolCheckCommand } from '../src/shared/contract/tools.js'
import { devfileProblems } from '../src/shared/providers/che/schema.js'
import { ROOT, runActionStep } from './harness/action-runner.js'

const EXAMPLE = path.join(ROOT, 'examples', 'environment-contract.yaml')
const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A scratch repository holding the example contract. */
function repo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contract-'))
  dirs.push(dir)
  cpSync(EXAMPLE, path.join(dir, 'environment-contract.yaml'))
  return dir
}

/** The built CLI, as a user runs it. */
function cli(dir: string, ...args: string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), 'contract', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  })
  return { status: result.status, out: `${result.stdout}${result.stderr}` }
}

const read = (dir: string, file: string): string => readFileSync(path.join(dir, file), 'utf8')

describe('environment contract: generate and check', () => {
  it('generates a devcontainer.json and devfiles that validate against their schemas', () => {
    const dir = repo()
    assert.equal(cli(dir, 'generate').status, 0)
    for (const file of [GENERATED_FILES.devfile, GENERATED_FILES.taskDevfile])
      assert.deepEqual(devfileProblems(parse(read(dir, file))), [], file)
    const schema = JSON.parse(
      readFileSync(path.join(ROOT, '..', 'shared', 'reference', 'schemas', 'devContainer.base.schema.json'), 'utf8'),
    ) as object
    const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema)
    const devcontainer = JSON.parse(read(dir, GENERATED_FILES.devcontainer)) as Record<string, unknown>
    assert.ok(validate(devcontainer), JSON.stringify(validate.errors))
    // 629 §5.1: envbuilder runs postCreateCommand as root and logs it here.
    assert.match(String(devcontainer.postCreateCommand), /\/workspaces\/\.devcontainer\/logs\/coder-postCreate\.log/)
    assert.equal(devcontainer.remoteUser, 'vscode')
    // Task mode only: the interactive devfile has no postStart.
    assert.equal((parse(read(dir, GENERATED_FILES.devfile)) as { events?: unknown }).events, undefined)
    assert.deepEqual((parse(read(dir, GENERATED_FILES.taskDevfile)) as { events: unknown }).events, {
      postStart: ['setup', 'verify-tools'],
    })
  })

  it('generates the same bytes every time', () => {
    const [a, b] = [repo(), repo()]
    cli(a, 'generate')
    cli(b, 'generate')
    for (const file of Object.values(GENERATED_FILES)) assert.equal(read(a, file), read(b, file), file)
  })

  it('check fails with a diff on a hand edit to either generated file, and passes after generate', () => {
    const dir = repo()
    assert.equal(cli(dir, 'check').status, 1, 'nothing generated yet')
    cli(dir, 'generate')
    assert.deepEqual(cli(dir, 'check'), { status: 0, out: 'The provider files match environment-contract.yaml.\n' })
    for (const [file, from, to] of [
      [GENERATED_FILES.devcontainer, '"remoteUser": "vscode"', '"remoteUser": "root"'],
      [GENERATED_FILES.devfile, 'commandLine: ameide test cluster', 'commandLine: ameide test cluster --fast'],
    ] as const) {
      writeFileSync(path.join(dir, file), read(dir, file).replace(from, to))
      const drift = cli(dir, 'check')
      assert.equal(drift.status, 1, file)
      assert.match(drift.out, new RegExp(`--- ${file.replace(/\./g, '\\.')} \\(committed\\)`))
      assert.ok(drift.out.includes(`-${' '.repeat(from.startsWith('"') ? 2 : 6)}${to}`), drift.out)
      assert.ok(drift.out.includes(`+${' '.repeat(from.startsWith('"') ? 2 : 6)}${from}`), drift.out)
      assert.match(
        drift.out,
        /differs from what environment-contract\.yaml generates: run `run-task contract generate`/,
      )
      cli(dir, 'generate')
      assert.equal(cli(dir, 'check').status, 0)
    }
  })

  it('refuses an unknown tool, a privileged request and an inline secret value, naming the field', () => {
    const base = readFileSync(EXAMPLE, 'utf8')
    const refused = (text: string, field: RegExp): void =>
      assert.throws(
        () => parseContract(text, 'environment-contract.yaml'),
        (e: unknown) => e instanceof InputError && field.test(e.message),
      )
    refused(
      base.replace('tools: [git,', 'tools: [telepresence, git,'),
      /tools\[0\] is "telepresence": not a known tool/,
    )
    refused(
      base.replace('privileged: false', 'privileged: true'),
      /guardrails\.privileged is true: workspaces run unprivileged/,
    )
    refused(base.replace('user: vscode', 'user: root'), /user is "root": workspaces run unprivileged/)
    const inline = base.replace('from: codex-auth', 'value: sk-live-canary-123')
    refused(inline, /secrets\[1\]\.value holds a value: a contract names a secret and never holds one/)
    assert.throws(
      () => parseContract(inline, 'c.yaml'),
      (e: unknown) => e instanceof Error && !e.message.includes('sk-live-canary-123'),
      'the value itself is never repeated',
    )
    refused(
      base.replace('path: .run-task/evidence', 'path: ../outside'),
      /evidence\.path is "\.\.\/outside", expected: must match pattern/,
    )
    refused(
      base.replace('  directory: ameide', '  dir: ameide'),
      /checkout\.directory is required; checkout\.dir is not a field of the contract/,
    )
    const cliRun = repo()
    writeFileSync(path.join(cliRun, 'environment-contract.yaml'), base.replace('privileged: false', 'privileged: true'))
    const result = cli(cliRun, 'generate')
    assert.equal(result.status, 2, 'bad input')
    assert.match(result.out, /guardrails\.privileged is true/)
  })

  it('the tool check names what the image lacks, and passes when it has every tool', () => {
    const run = (tools: string[]) => spawnSync('sh', ['-c', toolCheckCommand(tools)], { encoding: 'utf8' })
    assert.equal(run(['git', 'tar']).status, 0)
    const missing = run(['git', 'codex'])
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /tools missing from the image: codex/)
  })

  it('ships check as an action a PR workflow gates on: it fails on a hand edit, with the diff, and passes after generate', async () => {
    const dir = repo()
    assert.equal(cli(dir, 'generate').status, 0)
    const env = { GITHUB_WORKSPACE: path.dirname(dir), RUNNER_TEMP: dir }
    const inputs = { root: path.basename(dir) }
    const clean = await runActionStep('contract-check', { env, inputs })
    assert.equal(clean.code, 0, clean.stdout)
    assert.match(clean.stdout, /The provider files match environment-contract\.yaml/)
    writeFileSync(
      path.join(dir, GENERATED_FILES.devfile),
      read(dir, GENERATED_FILES.devfile).replace('memoryLimit: 4Gi', 'memoryLimit: 8Gi'),
    )
    const drifted = await runActionStep('contract-check', { env, inputs })
    assert.equal(drifted.code, 1)
    assert.match(drifted.stdout, /-\s+memoryLimit: 8Gi\n\+\s+memoryLimit: 4Gi/)
    assert.match(drifted.stdout, /::error::devfile\.yaml differs from what environment-contract\.yaml generates/)
    assert.equal(cli(dir, 'generate').status, 0)
    assert.equal((await runActionStep('contract-check', { env, inputs })).code, 0)
  })
})
