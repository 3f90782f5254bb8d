import { closeSync, constants, mkdirSync, openSync, realpathSync, writeSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import path from 'node:path'
import { type Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { EvidenceError } from '../errors.js'

/** The tar header fields the extractor reads. */
interface TarHeader {
  readonly name: string
  readonly type?: string | null
  readonly size?: number
  readonly linkname?: string | null
}

/** The outcome of extracting one archive. */
export interface ExtractResult {
  readonly files: number
  readonly bytes: number
  /** Entries left out, each with the reason. */
  readonly skipped: string[]
}

/** What a tar header costs in the archive: each entry, even an empty file or a directory, counts this much. */
export const TAR_HEADER_BYTES = 512

/**
 * Files up to this size are gathered in memory and written with synchronous calls: open, write and close on the
 * thread pool cost a round trip each (about 1 ms a file in all), which for 2,000 small evidence files was most of the
 * collect step. A larger file is streamed, at the pace of the disk.
 */
const SMALL_FILE_BYTES = 128 * 1024
/** More entries than this stop the extraction whatever their size: each costs a file, an inode and a zip entry. */
export const MAX_EVIDENCE_ENTRIES = 100_000

/** Limits and test hooks of one extraction. */
export interface ExtractOptions {
  /** The most entries (files, directories, links, anything) the archive may hold. */
  readonly maxEntries?: number
  /** Opens the stream a file's bytes are written to (a test slows it down to stand for a slow disk). */
  readonly openFile?: (file: FileHandle) => Writable
}

/** A tar extractor to write an archive into, and a promise for the result. */
export interface SafeExtractor {
  readonly writable: Writable
  readonly done: Promise<ExtractResult>
}

/**
 * Extracts a tar stream into `destDir` so that nothing can land outside it:
 * absolute names and `..` segments are refused, links of every kind are skipped,
 * files are opened with O_NOFOLLOW, and each parent directory is checked by its
 * real path. Extraction stops with an EvidenceError once `maxBytes` is passed,
 * counting 512 bytes of tar header for every entry (so 100,000 empty files are not
 * free), or once there are more than `maxEntries` entries. A file is written at the
 * pace of the disk: the archive's writer waits (backpressure) while it is behind.
 */
export function createSafeExtractor(destDir: string, maxBytes: number, options: ExtractOptions = {}): SafeExtractor {
  mkdirSync(destDir, { recursive: true })
  const root = realpathSync(destDir)
  const extract = tar.extract()
  const result: Progress = { files: 0, bytes: 0, skipped: [], entries: 0, charged: 0, checkedDirs: new Set([root]) }
  const limits = {
    maxBytes,
    maxEntries: options.maxEntries ?? MAX_EVIDENCE_ENTRIES,
    openFile: options.openFile ?? ((file: FileHandle) => file.createWriteStream()),
    customOpenFile: options.openFile !== undefined,
  }

  const done = new Promise<ExtractResult>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      handleEntry(root, header, stream as unknown as Readable, result, limits).then(
        () => next(),
        (error: unknown) => {
          // The entry stream is destroyed along with the archive; its error is the archive's.
          stream.on('error', () => undefined)
          stream.resume()
          extract.destroy(error as Error)
        },
      )
    })
    extract.on('finish', () => resolve({ files: result.files, bytes: result.bytes, skipped: result.skipped }))
    extract.on('error', (error) =>
      reject(
        error instanceof EvidenceError
          ? error
          : new EvidenceError(`The evidence archive is not a valid tar stream: ${error.message}`, error),
      ),
    )
  })
  done.catch(() => undefined)
  return { writable: tolerantWriter(extract as unknown as Writable), done }
}

/**
 * The exec client writes whatever arrives and ends the stream on the status frame,
 * without regard to the extractor's state. Once the extractor has failed or seen
 * the end of the archive, further bytes are dropped instead of raising.
 */
function tolerantWriter(target: Writable): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (target.destroyed || target.writableEnded) return callback()
      if (target.write(chunk)) return callback()
      // The extractor may fail while full: then it never drains, but it closes.
      const resume = (): void => {
        target.off('drain', resume)
        target.off('close', resume)
        callback()
      }
      target.on('drain', resume)
      target.on('close', resume)
    },
    final(callback) {
      if (!target.destroyed && !target.writableEnded) target.end()
      callback()
    },
  })
}

interface Progress {
  files: number
  bytes: number
  readonly skipped: string[]
  entries: number
  /** What counts against max-evidence-size: the files' bytes and a header for every entry. */
  charged: number
  /** Directories already made and found inside the root (the extractor never creates a link, so they stay inside). */
  readonly checkedDirs: Set<string>
}

interface Limits {
  readonly maxBytes: number
  readonly maxEntries: number
  readonly openFile: (file: FileHandle) => Writable
  /** A test's own writer (a slow disk): every file then goes through it. */
  readonly customOpenFile: boolean
}

async function handleEntry(
  root: string,
  header: TarHeader,
  stream: Readable,
  result: Progress,
  limits: Limits,
): Promise<void> {
  chargeEntry(header, result, limits)
  const relative = safeRelativePath(header.name)
  if (relative === undefined) {
    result.skipped.push(`${header.name}: the path leaves the evidence directory`)
    return drain(stream)
  }
  if (relative === '') return drain(stream)
  const target = path.join(root, relative)
  if (header.type === 'directory') {
    ensureDirectoryInside(root, target, result.checkedDirs)
    return drain(stream)
  }
  if (header.type !== 'file' && header.type !== 'contiguous-file') {
    const to = header.linkname ? ` to ${header.linkname}` : ''
    result.skipped.push(`${relative}: a ${header.type ?? 'special entry'}${to} is not copied`)
    return drain(stream)
  }
  ensureDirectoryInside(root, path.dirname(target), result.checkedDirs)
  // O_NOFOLLOW: a link planted at the target by an earlier entry cannot redirect the write.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW
  if ((header.size ?? 0) <= SMALL_FILE_BYTES && !limits.customOpenFile)
    writeSmallFile(target, flags, await gather(stream))
  else await pipeline(stream, limits.openFile(await open(target, flags, 0o644)))
  result.files += 1
  result.bytes += header.size ?? 0
}

/** Counts an entry and its size against the limits, before anything of it is written. */
function chargeEntry(header: TarHeader, result: Progress, limits: Limits): void {
  result.entries += 1
  if (result.entries > limits.maxEntries)
    throw new EvidenceError(
      `The evidence has more than ${limits.maxEntries.toLocaleString('en-US')} entries (files, directories and links); stopped at ${header.name}. Keep fewer files in the evidence directory, for example by archiving them into one.`,
    )
  const isFile = header.type === 'file' || header.type === 'contiguous-file'
  result.charged += TAR_HEADER_BYTES + (isFile ? (header.size ?? 0) : 0)
  if (result.charged > limits.maxBytes)
    throw new EvidenceError(
      `The evidence is larger than max-evidence-size (${limits.maxBytes} bytes, counting ${TAR_HEADER_BYTES} bytes of tar header for each of its ${result.entries.toLocaleString('en-US')} entries so far); stopped at ${header.name}.`,
    )
}

/** Normalises a tar entry name; undefined when it is absolute or climbs out. */
export function safeRelativePath(name: string): string | undefined {
  if (name.includes('\0') || name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name) || name.includes('\\'))
    return undefined
  const normalised = path.posix
    .normalize(name)
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
  if (normalised === '.') return ''
  if (normalised === '..' || normalised.startsWith('../') || path.posix.isAbsolute(normalised)) return undefined
  return normalised
}

function ensureDirectoryInside(root: string, dir: string, checked: Set<string>): void {
  if (checked.has(dir)) return
  mkdirSync(dir, { recursive: true })
  const real = realpathSync(dir)
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new EvidenceError(`Refusing to extract into ${dir}: it resolves outside the evidence directory.`)
  }
  checked.add(dir)
}

/** The whole (small) entry, as the chunks it came in. */
async function gather(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return chunks
}

function writeSmallFile(target: string, flags: number, chunks: Buffer[]): void {
  const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
  const fd = openSync(target, flags, 0o644)
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at)
  } finally {
    closeSync(fd)
  }
}

function drain(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('error', reject)
    stream.resume()
  })
}
