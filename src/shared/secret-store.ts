import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'
import { MASK, mergeRanges, type Ranges, secretForms, type TextRedactor } from './redact.js'

/*
 * Why a keyed digest set, not the secrets, crosses from step to step.
 *
 * Each step of a job is its own process. The run step knows `secret-env` and the
 * git token; collect, which builds the check run, the summary and the artifact,
 * does not. Two designs were weighed:
 *  - the run step redacts the evidence itself before collect reads it: but the
 *    evidence is still in the workspace when run ends (collect downloads it, and a
 *    caller may run more commands in between), and collect's other texts (summary,
 *    check run, outputs) would still go unredacted;
 *  - every step that gets a secret adds a keyed digest of each of its forms to one
 *    store per job, and collect redacts everything it publishes against the store.
 * The second is used. The store never holds a secret, only, per form, its length,
 * 16 bits of a keyed rolling hash of its first 8 bytes (a fast
 * filter that tells next to nothing), the 32-bit keyed rolling hash of the whole form (a second filter, so
 * random evidence does not cost an HMAC every few thousand bytes; it tells no more than the HMAC does) and its
 * HMAC-SHA256 under a random per-job key, which confirms a match. The file is 0600 in `$RUNNER_TEMP/run-task`, outside the
 * evidence, and is removed when the job's workspaces are cleaned up (the
 * provision post step, or the end of a flow or CLI chain). Someone who reads the
 * file can test guesses, as with any digest; a secret worth protecting is not
 * guessable.
 */

interface Digest {
  readonly length: number
  /** 16 bits of a keyed rolling hash of the first `min(length, 8)` bytes: a fast filter. */
  readonly prefix: number
  /** The keyed rolling hash of all `length` bytes, checked before the HMAC (absent in a store an older step wrote). */
  readonly whole?: number
  readonly hmac: string
}

interface StoreFile {
  readonly version: 1
  readonly key: string
  readonly base: number
  readonly digests: Digest[]
}

/** The filter window: a candidate is any position whose next WINDOW bytes hash like a form's first ones. */
const WINDOW = 8
const FILE_NAME = 'secret-digests.json'
const CHUNK_BYTES = 8 * 1024 * 1024

/** The job's secret store: steps add secrets, collect redacts with it. */
export class SecretStore {
  readonly file: string

  constructor(baseDir: string) {
    this.file = path.join(baseDir, FILE_NAME)
  }

  /** Adds the digests of every form of each value; empty values are ignored. */
  add(values: Iterable<string>): void {
    const forms = [...values].filter((v) => v.trim()).flatMap(secretForms)
    if (forms.length === 0) return
    const store = this.read() ?? {
      version: 1 as const,
      key: randomBytes(32).toString('hex'),
      base: randomBytes(4).readInt32LE() | 1,
      digests: [],
    }
    const known = new Set(store.digests.map((d) => d.hmac))
    const digests = [...store.digests]
    for (const form of forms) {
      const bytes = Buffer.from(form, 'utf8')
      const hmac = hmacOf(store.key, bytes)
      if (known.has(hmac)) continue
      known.add(hmac)
      const window = Math.min(WINDOW, bytes.length)
      digests.push({
        length: bytes.length,
        prefix: fold(rollingHash(bytes, 0, window, store.base)),
        whole: rollingHash(bytes, 0, bytes.length, store.base),
        hmac,
      })
    }
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
    writeFileSync(`${this.file}.tmp`, JSON.stringify({ ...store, digests }), { mode: 0o600 })
    renameSync(`${this.file}.tmp`, this.file)
  }

  /** A redactor for everything added so far (one that changes nothing when the store is empty). */
  redactor(): DigestRedactor {
    return new DigestRedactor(this.read())
  }

  remove(): void {
    rmSync(this.file, { force: true })
  }

  private read(): StoreFile | undefined {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as StoreFile) : undefined
  }
}

/**
 * Finds secrets by their digests in one pass per filter window (one in practice):
 * a keyed rolling hash of the next bytes picks candidates, the HMAC of the whole
 * candidate confirms them.
 */
export class DigestRedactor implements TextRedactor {
  private readonly byWindow = new Map<number, { filter: Uint8Array; candidates: Map<number, Digest[]> }>()
  private readonly key: string
  private readonly base: number
  /** The longest form, in bytes; a chunked scan overlaps chunks by this much. */
  readonly longest: number
  private readBuffer: Buffer | undefined

  constructor(store: StoreFile | undefined) {
    this.key = store?.key ?? ''
    this.base = store?.base ?? 1
    for (const d of store?.digests ?? []) {
      const window = Math.min(WINDOW, d.length)
      let entry = this.byWindow.get(window)
      if (!entry) {
        entry = { filter: new Uint8Array(1 << 16), candidates: new Map() }
        this.byWindow.set(window, entry)
      }
      entry.filter[d.prefix] = 1
      entry.candidates.set(d.prefix, [...(entry.candidates.get(d.prefix) ?? []), d])
    }
    this.longest = Math.max(0, ...(store?.digests ?? []).map((d) => d.length))
  }

  get empty(): boolean {
    return this.byWindow.size === 0
  }

  /** Where secrets occur in bytes, as merged byte ranges. */
  ranges(buffer: Buffer): Ranges {
    const found: Ranges = []
    // A plain Uint8Array view keeps the hot loop monomorphic.
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
    for (const [window, { filter, candidates }] of this.byWindow) {
      if (window > bytes.length) continue
      for (const start of filterHits(bytes, window, this.base, filter))
        for (const d of candidates.get(fold(rollingHash(buffer, start, window, this.base))) ?? [])
          if (this.confirmed(d, buffer, start)) found.push([start, start + d.length])
    }
    return mergeRanges(found)
  }

  redactBytes(bytes: Buffer): Buffer {
    return this.applyBytes(bytes, this.ranges(bytes))
  }

  redact(text: string): string {
    if (this.empty || text.length === 0) return text
    const bytes = Buffer.from(text, 'utf8')
    const redacted = this.redactBytes(bytes)
    return redacted === bytes ? text : redacted.toString('utf8')
  }

  /**
   * Redacts a file in place, in chunks that overlap by the longest form, so a
   * large file never sits in memory whole. Returns whether anything was masked.
   * A first pass only looks; a file with no secret (nearly every one) is never
   * written. One read buffer serves every file, so 2,000 small files cost no more
   * memory than one.
   */
  redactFile(file: string): boolean {
    if (this.empty) return false
    const clean = this.eachWindow(file, (_window, kept) => kept.length === 0)
    if (clean) return false
    const out = openSync(`${file}.redacted`, 'w')
    try {
      this.eachWindow(file, (window, kept) => {
        writeSync(out, this.applyBytes(window, kept))
        return true
      })
    } finally {
      closeSync(out)
    }
    renameSync(`${file}.redacted`, file)
    return true
  }

  /**
   * Calls `visit` with each stretch of the file that no secret can still reach
   * into, and the secrets in it; stops early (returning false) when visit says so.
   */
  private eachWindow(file: string, visit: (window: Buffer, kept: Ranges) => boolean): boolean {
    this.readBuffer ??= Buffer.allocUnsafe(CHUNK_BYTES)
    const chunk = this.readBuffer
    const fd = openSync(file, 'r')
    let carry = Buffer.alloc(0)
    try {
      for (;;) {
        const read = readSync(fd, chunk, 0, chunk.length, null)
        const window = carry.length ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read)
        const ranges = this.ranges(window)
        // Emit what no secret can still reach into; a secret that crosses the cut moves it.
        let cut = read === 0 ? window.length : Math.max(0, window.length - (this.longest - 1))
        for (const [start, end] of ranges) if (start < cut && end > cut) cut = end
        if (
          !visit(
            window.subarray(0, cut),
            ranges.filter(([start]) => start < cut),
          )
        )
          return false
        carry = Buffer.from(window.subarray(cut))
        if (read === 0) return true
      }
    } finally {
      closeSync(fd)
    }
  }

  private applyBytes(bytes: Buffer, ranges: Ranges): Buffer {
    if (ranges.length === 0) return bytes
    const parts: Buffer[] = []
    let at = 0
    for (const [start, end] of ranges) {
      parts.push(bytes.subarray(at, start), Buffer.from(MASK))
      at = end
    }
    parts.push(bytes.subarray(at))
    return Buffer.concat(parts)
  }

  private confirmed(digest: Digest, bytes: Buffer, start: number): boolean {
    if (start + digest.length > bytes.length) return false
    if (digest.whole !== undefined && rollingHash(bytes, start, digest.length, this.base) !== digest.whole) return false
    const actual = createHmac('sha256', this.key)
      .update(bytes.subarray(start, start + digest.length))
      .digest()
    return timingSafeEqual(Buffer.from(digest.hmac, 'hex'), actual)
  }
}

function hmacOf(key: string, bytes: Buffer): string {
  return createHmac('sha256', key).update(bytes).digest('hex')
}

/** A polynomial hash modulo 2^32 (as an int32): sum of byte[i] * base^(length-1-i). */
function rollingHash(bytes: Buffer, start: number, length: number, base: number): number {
  let hash = 0
  for (let i = start; i < start + length; i++) hash = (Math.imul(hash, base) + (bytes[i] as number)) | 0
  return hash
}

/**
 * The positions whose next `window` bytes hash into the filter: the only ones worth an HMAC. The hot loop of the
 * evidence scan, kept in a function of its own with only integer locals: inside the class method it ran four
 * times slower (8 against 1.9 ns a byte).
 */
function filterHits(bytes: Uint8Array, window: number, base: number, filter: Uint8Array): number[] {
  const hits: number[] = []
  const leaving = power(base, window)
  let hash = 0
  for (let i = 0; i < window; i++) hash = (Math.imul(hash, base) + (bytes[i] as number)) | 0
  for (let start = 0; ; start++) {
    if (filter[(hash ^ (hash >>> 16)) & 0xffff] === 1) hits.push(start)
    const next = start + window
    if (next >= bytes.length) return hits
    hash = (Math.imul(hash, base) - Math.imul(bytes[start] as number, leaving) + (bytes[next] as number)) | 0
  }
}

function fold(hash: number): number {
  return (hash ^ (hash >>> 16)) & 0xffff
}

function power(base: number, exponent: number): number {
  let result = 1
  for (let i = 0; i < exponent; i++) result = Math.imul(result, base) | 0
  return result
}
