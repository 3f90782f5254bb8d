import { Writable } from 'node:stream'

export const MASK = '***'
const MIN_SECRET_LENGTH = 3
/** A base64 fragment shorter than this (two 3-byte groups) matches too much innocent text. */
const MIN_BASE64_FRAGMENT = 8

/** Anything that masks secrets in text. */
export interface TextRedactor {
  redact(text: string): string
}

/**
 * The forms a secret takes when a command prints it: as is, each line of a
 * multi-line value (as the runner's masker does), JSON-escaped, URL-encoded
 * (percent and form encoding), XML-escaped, and base64 (standard and URL-safe).
 * A value base64-encoded inside a longer text is shifted by 0, 1 or 2 bytes
 * against the 3-byte groups; for each shift, the characters that only depend on
 * the secret's own bytes are a form, so an embedded copy is found too.
 */
export function secretForms(value: string): string[] {
  const parts = [value, ...value.split(/\r?\n/)].map((s) => s.trim()).filter((s) => s.length >= MIN_SECRET_LENGTH)
  const forms = new Set<string>()
  for (const part of new Set(parts)) {
    forms.add(part)
    forms.add(JSON.stringify(part).slice(1, -1))
    const uri = encodeURIComponent(part)
    forms.add(uri)
    forms.add(uri.replace(/%20/g, '+'))
    forms.add(uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()))
    forms.add(xmlEscape(part))
    const bytes = Buffer.from(part, 'utf8')
    for (const shift of [0, 1, 2]) {
      const whole = Math.floor((bytes.length - shift) / 3) * 3
      if (whole <= 0) continue
      const fragment = bytes.subarray(shift, shift + whole)
      const b64 = fragment.toString('base64')
      if (b64.length < MIN_BASE64_FRAGMENT) continue
      forms.add(b64)
      forms.add(fragment.toString('base64url'))
    }
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH)
}

function xmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  )
}

/** Where secrets occur in a text: sorted, merged [start, end) ranges. */
export type Ranges = Array<[number, number]>

/** Merges overlapping or touching ranges, so two overlapping secrets are masked as one. */
export function mergeRanges(ranges: Ranges): Ranges {
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1])
  const merged: Ranges = []
  for (const [start, end] of ranges) {
    const last = merged.at(-1)
    if (last && start <= last[1]) last[1] = Math.max(last[1], end)
    else merged.push([start, end])
  }
  return merged
}

/**
 * Finds a set of literal forms with one combined expression (longest forms first),
 * in a single pass, restarted one past each match so overlaps are found.
 */
class FormMatcher {
  private readonly forms: string[]
  private readonly any: RegExp | undefined
  private readonly firstChars: Set<number>

  constructor(forms: string[]) {
    this.forms = [...forms].sort((a, b) => b.length - a.length)
    this.firstChars = new Set(this.forms.map((f) => f.charCodeAt(0)))
    this.any = this.forms.length
      ? new RegExp(this.forms.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : undefined
  }

  ranges(text: string): Ranges {
    const pattern = this.any
    if (!pattern) return []
    const found: Ranges = []
    pattern.lastIndex = 0
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      found.push([match.index, match.index + match[0].length])
      pattern.lastIndex = match.index + 1
    }
    return found.length ? mergeRanges(found) : found
  }

  /** How many characters at the end of text, after `from`, could be the start of a form. */
  heldTail(text: string, from = 0): number {
    const longest = this.forms[0]?.length ?? 0
    for (let at = Math.max(from, text.length - longest + 1, 0); at < text.length; at++) {
      if (!this.firstChars.has(text.charCodeAt(at))) continue
      const rest = text.slice(at)
      if (this.forms.some((f) => f.startsWith(rest))) return text.length - at
    }
    return 0
  }
}

/**
 * Replaces every secret, in each of its forms (see secretForms), with `***`.
 * Secrets that overlap are masked as one stretch, so no part of either shows.
 * Text is searched as text; a byte stream is searched as its bytes (each form as
 * its UTF-8 bytes, seen through a latin1 view), so output is never decoded.
 */
export class Redactor implements TextRedactor {
  private forms: string[] = []
  private text = new FormMatcher([])
  private bytes = new FormMatcher([])

  add(value: string): void {
    this.forms = [...new Set([...this.forms, ...secretForms(value)])]
    this.text = new FormMatcher(this.forms)
    this.bytes = new FormMatcher(this.forms.map((f) => Buffer.from(f, 'utf8').toString('latin1')))
  }

  /** Where the secrets are in text. */
  ranges(text: string): Ranges {
    return this.text.ranges(text)
  }

  redact(text: string): string {
    return applyRanges(text, this.ranges(text))
  }

  /**
   * How many characters at the end of text, after `from`, could be the start of
   * a secret: a stream must hold those back until it knows how they continue.
   */
  heldTail(text: string, from = 0): number {
    return this.text.heldTail(text, from)
  }

  /** Where the secrets are in bytes, given as a latin1 view (one character per byte). */
  byteRanges(latin1: string): Ranges {
    return this.bytes.ranges(latin1)
  }

  /** heldTail for bytes, given as a latin1 view. */
  heldByteTail(latin1: string): number {
    return this.bytes.heldTail(latin1)
  }
}

function applyRanges(text: string, ranges: Ranges): string {
  if (ranges.length === 0) return text
  let out = ''
  let at = 0
  for (const [start, end] of ranges) {
    out += text.slice(at, start) + MASK
    at = end
  }
  return out + text.slice(at)
}

const MASK_BYTES = Buffer.from(MASK)

function applyByteRanges(bytes: Buffer, ranges: Ranges): Buffer {
  if (ranges.length === 0) return bytes
  const pieces: Buffer[] = []
  let at = 0
  for (const [start, end] of ranges) {
    pieces.push(bytes.subarray(at, start), MASK_BYTES)
    at = end
  }
  pieces.push(bytes.subarray(at))
  return Buffer.concat(pieces)
}

const EMPTY = Buffer.alloc(0)

/**
 * Redacts a stream of bytes in linear time, without decoding it. Each chunk is
 * searched together with a carry-over from the chunk before, and the carry-over is
 * only the tail that could still be the start of a secret form: never longer than
 * the longest form. Multi-byte characters pass through as they came.
 */
export class StreamRedactor {
  private carry = EMPTY

  constructor(private readonly redactor: Redactor) {}

  /** How many bytes are held back now. */
  get held(): number {
    return this.carry.length
  }

  /** Redacts `chunk` after the carry-over; returns what is safe to pass on, holding back a possible secret's start. */
  push(chunk: Buffer): Buffer {
    const bytes = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk
    const view = bytes.toString('latin1')
    const ranges = this.redactor.byteRanges(view)
    let cut = bytes.length - this.redactor.heldByteTail(view)
    // A secret that crosses the cut is held back whole, so it is searched again with what follows.
    for (let i = ranges.length - 1; i >= 0; i--) {
      const [start, end] = ranges[i] as [number, number]
      if (end <= cut) break
      if (start < cut) cut = start
    }
    // A copy, so a small carry-over does not keep a whole chunk alive.
    this.carry = cut === bytes.length ? EMPTY : Buffer.from(bytes.subarray(cut))
    return applyByteRanges(
      bytes.subarray(0, cut),
      cut === bytes.length ? ranges : ranges.filter(([, end]) => end <= cut),
    )
  }

  /** The end of the stream: the carry-over, redacted. */
  end(): Buffer {
    const rest = this.carry
    this.carry = EMPTY
    return applyByteRanges(rest, this.redactor.byteRanges(rest.toString('latin1')))
  }
}

/** What a redacting stream passes bytes to: it returns a promise when it wants the stream to wait (backpressure). */
export type ByteSink = (bytes: Buffer) => unknown

/** A partial line is held for a whole one only up to this size; longer output without newlines flows on. */
const MAX_HELD_LINE = 64 * 1024
const NEWLINE = 0x0a

/**
 * A stream that redacts as it passes bytes on, with backpressure: a write completes
 * only once the sink has taken its bytes. It passes whole lines on and holds a
 * partial line back (up to 64 KiB) until a newline, the end, or a short pause;
 * what it holds is already redacted, except a tail that could be the start of a
 * secret, which no pause lets out. Output is never decoded or copied unless a
 * secret is masked or a partial line is joined, so memory stays bounded and flat
 * whatever the output's size and shape.
 */
export function redactingStream(redactor: Redactor, sink: ByteSink, flushAfterMs = 200): Writable {
  const stream = new StreamRedactor(redactor)
  let line: Buffer[] = []
  let lineBytes = 0
  let timer: NodeJS.Timeout | undefined
  let pendingSink: Promise<unknown> | undefined
  // The held pieces go to the sink one by one, in one go: nothing can come between them, and nothing is copied.
  const sinkLine = (): unknown => {
    const pieces = line
    line = []
    lineBytes = 0
    const waits = pieces.map((piece) => sink(piece)).filter((r) => r instanceof Promise)
    return waits.length ? Promise.all(waits) : undefined
  }
  const hold = (bytes: Buffer): void => {
    if (bytes.length === 0) return
    line.push(bytes)
    lineBytes += bytes.length
  }
  const flushLine = (): void => {
    timer = undefined
    // A flush on a pause has no write to hold back; the next write waits for the sink instead.
    const result = sinkLine()
    if (result instanceof Promise) pendingSink = result
  }
  const settle = (result: unknown, callback: (error?: Error | null) => void): void => {
    const waits = [pendingSink, result].filter((p): p is Promise<unknown> => p instanceof Promise)
    pendingSink = undefined
    if (waits.length === 0) return callback()
    Promise.all(waits).then(() => callback(), callback)
  }
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const clean = stream.push(chunk)
      let result: unknown
      // Only the new bytes are searched for a newline: the held part has none.
      const newline = clean.lastIndexOf(NEWLINE)
      if (newline >= 0) {
        hold(clean.subarray(0, newline + 1))
        result = sinkLine()
        hold(clean.subarray(newline + 1))
      } else {
        hold(clean)
        if (lineBytes > MAX_HELD_LINE) result = sinkLine()
      }
      // One timer, restarted by each write that leaves a partial line (refresh() allocates nothing).
      if (lineBytes && timer) timer.refresh()
      else if (lineBytes) {
        timer = setTimeout(flushLine, flushAfterMs)
        timer.unref()
      }
      settle(result, callback)
    },
    final(callback) {
      if (timer) clearTimeout(timer)
      timer = undefined
      hold(stream.end())
      settle(sinkLine(), callback)
    },
    destroy(error, callback) {
      if (timer) clearTimeout(timer)
      callback(error)
    },
  })
}
