import { Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

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
 * Replaces every secret, in each of its forms (see secretForms), with `***`.
 * Secrets that overlap are masked as one stretch, so no part of either shows.
 * One combined expression (longest forms first) finds them in a single pass,
 * which keeps output streaming fast.
 */
export class Redactor implements TextRedactor {
  private patterns: string[] = []
  private anyPattern: RegExp | undefined
  private firstChars = new Set<number>()

  add(value: string): void {
    this.patterns = [...new Set([...this.patterns, ...secretForms(value)])].sort((a, b) => b.length - a.length)
    this.firstChars = new Set(this.patterns.map((p) => p.charCodeAt(0)))
    this.anyPattern = this.patterns.length
      ? new RegExp(this.patterns.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : undefined
  }

  /** Where the secrets are in text: one pass of the combined expression, restarted one past each match so overlaps are found. */
  ranges(text: string): Ranges {
    const pattern = this.anyPattern
    if (!pattern) return []
    const found: Ranges = []
    pattern.lastIndex = 0
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      found.push([match.index, match.index + match[0].length])
      pattern.lastIndex = match.index + 1
    }
    return found.length ? mergeRanges(found) : found
  }

  redact(text: string): string {
    return applyRanges(text, this.ranges(text))
  }

  /**
   * How many characters at the end of text, after `from`, could be the start of
   * a secret: a stream must hold those back until it knows how they continue.
   * Only the last (longest form - 1) characters can be, and only where a form's first character is.
   */
  heldTail(text: string, from = 0): number {
    const longest = this.patterns[0]?.length ?? 0
    for (let at = Math.max(from, text.length - longest + 1, 0); at < text.length; at++) {
      if (!this.firstChars.has(text.charCodeAt(at))) continue
      const rest = text.slice(at)
      if (this.patterns.some((p) => p.startsWith(rest))) return text.length - at
    }
    return 0
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

/** What a redacting stream passes text to: it returns a promise when it wants the stream to wait (backpressure). */
export type TextSink = (text: string) => unknown

/** A partial line is held for a whole one only up to this size; longer output without newlines flows on. */
const MAX_HELD_LINE = 64 * 1024

/**
 * Redacts a stream of text in linear time. Each chunk is searched together with a
 * carry-over from the chunk before, and the carry-over is only the tail that could
 * still be the start of a secret form: never longer than the longest form.
 */
export class StreamRedactor {
  private carry = ''

  constructor(private readonly redactor: Redactor) {}

  /** How many characters are held back now. */
  get held(): number {
    return this.carry.length
  }

  /** Redacts `chunk` after the carry-over; returns what is safe to pass on, holding back a possible secret's start. */
  push(chunk: string): string {
    const text = this.carry + chunk
    const ranges = this.redactor.ranges(text)
    let cut = text.length - this.redactor.heldTail(text)
    // A secret that crosses the cut is held back whole, so it is searched again with what follows.
    for (let i = ranges.length - 1; i >= 0; i--) {
      const [start, end] = ranges[i] as [number, number]
      if (end <= cut) break
      if (start < cut) cut = start
    }
    this.carry = text.slice(cut)
    return applyRanges(text.slice(0, cut), cut === text.length ? ranges : ranges.filter(([, end]) => end <= cut))
  }

  /** The end of the stream: the carry-over, redacted. */
  end(): string {
    const rest = this.redactor.redact(this.carry)
    this.carry = ''
    return rest
  }
}

/**
 * A stream that redacts as it passes text on, with backpressure: a write completes
 * only once the sink has taken its text. It passes whole lines on and holds a
 * partial line back (up to 64 KiB) until a newline, the end, or a short pause;
 * what it holds is already redacted, except a tail that could be the start of a
 * secret, which no pause lets out. Memory stays bounded whatever the output's shape.
 */
export function redactingStream(redactor: Redactor, sink: TextSink, flushAfterMs = 200): Writable {
  const decoder = new StringDecoder('utf8')
  const stream = new StreamRedactor(redactor)
  let line = ''
  let timer: NodeJS.Timeout | undefined
  let pendingSink: Promise<unknown> | undefined
  const flushLine = (): void => {
    timer = undefined
    const text = line
    line = ''
    // A flush on a pause has no write to hold back; the next write waits for the sink instead.
    const result = text ? sink(text) : undefined
    if (result instanceof Promise) pendingSink = result
  }
  const settle = (result: unknown, callback: (error?: Error | null) => void): void => {
    const waits = [pendingSink, result].filter((p): p is Promise<unknown> => p instanceof Promise)
    pendingSink = undefined
    if (waits.length === 0) return callback()
    Promise.all(waits).then(() => callback(), callback)
  }
  return new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _encoding, callback) {
      const held = line.length
      line += stream.push(typeof chunk === 'string' ? chunk : decoder.write(chunk))
      let result: unknown
      // Only the new text is searched for a newline: the held part has none.
      const inNew = line.slice(held).lastIndexOf('\n')
      const lastNewline = inNew >= 0 ? held + inNew : line.length > MAX_HELD_LINE ? line.length - 1 : -1
      if (lastNewline >= 0) {
        result = sink(line.slice(0, lastNewline + 1))
        line = line.slice(lastNewline + 1)
      }
      // One timer, restarted by each write that leaves a partial line (refresh() allocates nothing).
      if (line && timer) timer.refresh()
      else if (line) {
        timer = setTimeout(flushLine, flushAfterMs)
        timer.unref()
      }
      settle(result, callback)
    },
    final(callback) {
      if (timer) clearTimeout(timer)
      timer = undefined
      const rest = line + stream.push(decoder.end()) + stream.end()
      line = ''
      settle(rest ? sink(rest) : undefined, callback)
    },
    destroy(error, callback) {
      if (timer) clearTimeout(timer)
      callback(error)
    },
  })
}
