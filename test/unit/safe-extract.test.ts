import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { after, describe, it } from 'node:test'
import tar from 'tar-stream'
import { createSafeExtractor, safeRelativePath } from '../../src/shared/evidence/safe-extract.js'

type Entry = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: string }

async function extract(entries: Entry[], dest: string, maxBytes = 1_000_000) {
  const pack = tar.pack()
  for (const e of entries) {
    const { body, ...header } = e
    pack.entry(
      {
        ...header,
        ...(e.type === 'directory' || e.type === 'symlink' || e.type === 'link'
          ? {}
          : { size: Buffer.byteLength(body ?? '') }),
      },
      body ?? '',
    )
  }
  pack.finalize()
  const extractor = createSafeExtractor(dest, maxBytes)
  await pipeline(pack as unknown as NodeJS.ReadableStream, extractor.writable)
  return extractor.done
}

describe('safe extraction of evidence', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'extract-'))
  after(() => rmSync(root, { recursive: true, force: true }))

  it('writes nothing outside the evidence dir for ../, absolute and climbing names', async () => {
    const dest = path.join(root, 'a', 'evidence')
    const result = await extract(
      [
        { name: '../escape.txt', body: 'x' },
        { name: '/tmp/absolute.txt', body: 'x' },
        { name: 'ok/../../../climb.txt', body: 'x' },
        { name: './fine/report.xml', body: '<testsuite/>' },
        { name: 'C:\\windows.txt', body: 'x' },
      ],
      dest,
    )
    assert.equal(result.files, 1)
    assert.equal(result.skipped.length, 4)
    assert.deepEqual(readdirSync(path.join(root, 'a')), ['evidence'])
    assert.equal(existsSync('/tmp/absolute.txt'), false)
    assert.equal(readFileSync(path.join(dest, 'fine', 'report.xml'), 'utf8'), '<testsuite/>')
  })

  it('skips symlinks and hard links, so a later entry cannot write through them', async () => {
    const outside = path.join(root, 'b', 'outside')
    mkdirSync(outside, { recursive: true })
    const dest = path.join(root, 'b', 'evidence')
    const result = await extract(
      [
        { name: 'link', type: 'symlink', linkname: outside },
        { name: 'link/planted.txt', body: 'through the link' },
        { name: 'hard', type: 'link', linkname: '/etc/passwd' },
        { name: 'up', type: 'symlink', linkname: '../../..' },
      ],
      dest,
    )
    assert.deepEqual(readdirSync(outside), [])
    assert.equal(existsSync(path.join(dest, 'hard')), false)
    assert.ok(result.skipped.some((s) => s.startsWith('link: a symlink')))
    assert.ok(result.skipped.some((s) => s.startsWith('hard: a link to /etc/passwd')))
  })

  it('refuses to follow a symlink that was already in the destination', async () => {
    const outside = path.join(root, 'c', 'outside')
    const dest = path.join(root, 'c', 'evidence')
    mkdirSync(outside, { recursive: true })
    mkdirSync(dest, { recursive: true })
    symlinkSync(outside, path.join(dest, 'planted-dir'))
    writeFileSync(path.join(outside, 'target.txt'), 'original')
    symlinkSync(path.join(outside, 'target.txt'), path.join(dest, 'planted-file'))
    await assert.rejects(
      extract([{ name: 'planted-dir/x.txt', body: 'x' }], dest),
      /resolves outside the evidence directory/,
    )
    await assert.rejects(extract([{ name: 'planted-file', body: 'overwrite' }], dest), /ELOOP/)
    assert.deepEqual(readdirSync(outside), ['target.txt'])
    assert.equal(readFileSync(path.join(outside, 'target.txt'), 'utf8'), 'original')
  })

  it('stops once the evidence is larger than the limit', async () => {
    await assert.rejects(
      extract(
        [
          { name: 'a.txt', body: '12345' },
          { name: 'b.txt', body: '67890' },
        ],
        path.join(root, 'd'),
        8,
      ),
      /larger than max-evidence-size \(8 bytes\); stopped at b\.txt/,
    )
  })

  it('normalises names', () => {
    assert.equal(safeRelativePath('./a/./b/'), 'a/b')
    assert.equal(safeRelativePath('.'), '')
    assert.equal(safeRelativePath('a/../b'), 'b')
    assert.equal(safeRelativePath('a/../../b'), undefined)
    assert.equal(safeRelativePath('/etc/passwd'), undefined)
  })
})
