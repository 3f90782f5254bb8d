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
import type { FileHandle } from 'node:fs/promises'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { after, describe, it } from 'node:test'
import tar from 'tar-stream'
import { createSafeExtractor, MAX_EVIDENCE_ENTRIES, safeRelativePath } from '../../src/shared/evidence/safe-extract.js'

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

/** A POSIX ustar header for an empty file or a directory (POSIX.1-1988 ustar, as GNU tar writes it). */
function ustarHeader(entry: { name: string; type: 'file' | 'directory' }): Buffer {
  const header = Buffer.alloc(512)
  const octal = (value: number, at: number, width: number): void =>
    void header.write(`${value.toString(8).padStart(width - 1, '0')}\0`, at, 'ascii')
  header.write(entry.name, 0, 100, 'utf8')
  octal(entry.type === 'directory' ? 0o755 : 0o644, 100, 8)
  octal(0, 108, 8)
  octal(0, 116, 8)
  octal(0, 124, 12)
  octal(0, 136, 12)
  header.write(entry.type === 'directory' ? '5' : '0', 156, 'ascii')
  header.write('ustar\u000000', 257, 'binary')
  header.fill(' ', 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii')
  return header
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
        1030,
      ),
      /larger than max-evidence-size \(1030 bytes, counting 512 bytes of tar header for each of its 2 entries so far\); stopped at b\.txt/,
    )
  })

  it('counts every entry: 100,000 empty files or 10,000 directories do not pass a 1 KiB limit', async () => {
    // Headers only, as tar writes them: 512 bytes each, then the two zero blocks that end an archive.
    const archive = (count: number, header: (i: number) => { name: string; type: 'file' | 'directory' }): Buffer =>
      Buffer.concat([...Array.from({ length: count }, (_, i) => ustarHeader(header(i))), Buffer.alloc(1024)])
    const run = async (bytes: Buffer, dest: string): Promise<unknown> => {
      const extractor = createSafeExtractor(dest, 1024)
      await pipeline(Readable.from([bytes]), extractor.writable)
      return extractor.done
    }
    const empties = archive(100_000, (i) => ({ name: `e/${i}.txt`, type: 'file' }))
    await assert.rejects(run(empties, path.join(root, 'empties')), /larger than max-evidence-size \(1024 bytes/)
    assert.ok(readdirSync(path.join(root, 'empties', 'e')).length <= 2, 'it stopped after two entries')
    const dirs = archive(10_000, (i) => ({ name: `d${i}/`, type: 'directory' }))
    await assert.rejects(run(dirs, path.join(root, 'dirs')), /stopped at d2\//)
    assert.ok(readdirSync(path.join(root, 'dirs')).length <= 2)
  })

  it('stops at the entry limit with a clear message, whatever the size limit', async () => {
    const many = Array.from({ length: 120 }, (_, i): Entry => ({ name: `m/${i}`, body: '' }))
    const dest = path.join(root, 'many')
    const pack = tar.pack()
    for (const e of many) pack.entry({ name: e.name, size: 0 }, '')
    pack.finalize()
    const extractor = createSafeExtractor(dest, 1024 ** 3, { maxEntries: 100 })
    await pipeline(pack as unknown as NodeJS.ReadableStream, extractor.writable).catch(() => undefined)
    await assert.rejects(
      extractor.done,
      /more than 100 entries \(files, directories and links\); stopped at m\/100\. Keep fewer files/,
    )
    assert.equal(MAX_EVIDENCE_ENTRIES, 100_000)
  })

  it('pauses its source while the disk is slow: the archive is read no faster than files are written', async () => {
    const dest = path.join(root, 'slow')
    const pack = tar.pack()
    const fileSize = 256 * 1024
    const count = 64
    for (let i = 0; i < count; i++) pack.entry({ name: `f${i}.bin`, size: fileSize }, Buffer.alloc(fileSize, i))
    pack.finalize()
    let written = 0
    let produced = 0
    let maxAhead = 0
    let pauses = 0
    const source = new Readable({
      read() {
        const chunk = pack.read() as Buffer | null
        if (chunk === null) return void pack.once('readable', () => this._read(0)).once('end', () => this.push(null))
        produced += chunk.length
        maxAhead = Math.max(maxAhead, produced - written)
        this.push(chunk)
      },
    })
    source.on('pause', () => (pauses += 1))
    const slowDisk = (file: FileHandle): Writable => {
      const real = file.createWriteStream()
      return new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _e, cb) {
          written += chunk.length
          real.write(chunk, () => setTimeout(cb, 1))
        },
        final(cb) {
          real.end(cb)
        },
      })
    }
    const extractor = createSafeExtractor(dest, 1024 ** 3, { openFile: slowDisk })
    await pipeline(source, extractor.writable)
    const result = await extractor.done
    assert.equal(result.files, count)
    assert.equal(readFileSync(path.join(dest, 'f63.bin')).length, fileSize)
    assert.ok(pauses > 10, `the source was paused ${pauses} times`)
    assert.ok(maxAhead < 2 * 1024 * 1024, `${maxAhead} bytes were read ahead of the disk (of ${count * fileSize})`)
  })

  it('normalises names', () => {
    assert.equal(safeRelativePath('./a/./b/'), 'a/b')
    assert.equal(safeRelativePath('.'), '')
    assert.equal(safeRelativePath('a/../b'), 'b')
    assert.equal(safeRelativePath('a/../../b'), undefined)
    assert.equal(safeRelativePath('/etc/passwd'), undefined)
  })
})
