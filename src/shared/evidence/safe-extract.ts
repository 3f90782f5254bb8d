import { constants, mkdirSync, realpathSync } from 'node:fs'
import { open } from 'node:fs/promises'
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

/** A tar extractor to write an archive into, and a promise for the result. */
export interface SafeExtractor {
  readonly writable: Writable
  readonly done: Promise<ExtractResult>
}

/**
 * Extracts a tar stream into `destDir` so that nothing can land outside it:
 * absolute names and `..` segments are refused, links of every kind are skipped,
 * files are opened with O_NOFOLLOW, and each parent directory is checked by its
 * real path. Extraction stops with an EvidenceError once `maxBytes` is passed.
 */
export function createSafeExtractor(destDir: string, maxBytes: number): SafeExtractor {
  mkdirSync(destDir, { recursive: true })
  const root = realpathSync(destDir)
  const extract = tar.extract()
  const result = { files: 0, bytes: 0, skipped: [] as string[] }

  const done = new Promise<ExtractResult>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      handleEntry(root, header, stream as unknown as Readable, result, maxBytes).then(
        () => next(),
        (error: unknown) => {
          // The entry stream is destroyed along with the archive; its error is the archive's.
          stream.on('error', () => undefined)
          stream.resume()
          extract.destroy(error as Error)
        },
      )
    })
    extract.on('finish', () => resolve(result))
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
      if (target.write(chunk)) callback()
      else target.once('drain', () => callback())
    },
    final(callback) {
      if (!target.destroyed && !target.writableEnded) target.end()
      callback()
    },
  })
}

async function handleEntry(
  root: string,
  header: TarHeader,
  stream: Readable,
  result: { files: number; bytes: number; skipped: string[] },
  maxBytes: number,
): Promise<void> {
  const relative = safeRelativePath(header.name)
  if (relative === undefined) {
    result.skipped.push(`${header.name}: the path leaves the evidence directory`)
    return drain(stream)
  }
  if (relative === '') return drain(stream)
  const target = path.join(root, relative)
  if (header.type === 'directory') {
    ensureDirectoryInside(root, target)
    return drain(stream)
  }
  if (header.type !== 'file' && header.type !== 'contiguous-file') {
    const to = header.linkname ? ` to ${header.linkname}` : ''
    result.skipped.push(`${relative}: a ${header.type ?? 'special entry'}${to} is not copied`)
    return drain(stream)
  }
  if (result.bytes + (header.size ?? 0) > maxBytes) {
    throw new EvidenceError(
      `The evidence is larger than max-evidence-size (${maxBytes} bytes); stopped at ${relative}.`,
    )
  }
  ensureDirectoryInside(root, path.dirname(target))
  // O_NOFOLLOW: a link planted at the target by an earlier entry cannot redirect the write.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW
  const file = await open(target, flags, 0o644)
  await pipeline(stream, file.createWriteStream())
  result.files += 1
  result.bytes += header.size ?? 0
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

function ensureDirectoryInside(root: string, dir: string): void {
  mkdirSync(dir, { recursive: true })
  const real = realpathSync(dir)
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new EvidenceError(`Refusing to extract into ${dir}: it resolves outside the evidence directory.`)
  }
}

function drain(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('error', reject)
    stream.resume()
  })
}
