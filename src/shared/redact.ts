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

  add(value: string): void {
    this.patterns = [...new Set([...this.patterns, ...secretForms(value)])].sort((a, b) => b.length - a.length)
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
   */
  heldTail(text: string, from = 0): number {
    let held = 0
    for (const pattern of this.patterns) {
      const first = pattern.charCodeAt(0)
      const earliest = Math.max(from, text.length - pattern.length + 1, 0)
      for (let at = earliest; at < text.length - held; at++) {
        if (text.charCodeAt(at) === first && pattern.startsWith(text.slice(at))) {
          held = text.length - at
          break
        }
      }
    }
    return held
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

/**
 * A stream that redacts as it passes text on. It emits whole lines, and holds a
 * partial line back until a newline, the end, or a short pause. On a pause it
 * emits the partial line redacted, except a tail that could be the start of a
 * secret, so a secret split across two chunks with a pause between is still masked.
 */
export function redactingStream(redactor: Redactor, sink: (text: string) => void, flushAfterMs = 200): Writable {
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let timer: NodeJS.Timeout | undefined
  const flushPartial = (): void => {
    timer = undefined
    const ranges = redactor.ranges(pending)
    const cut = pending.length - redactor.heldTail(pending, ranges.at(-1)?.[1] ?? 0)
    if (cut === 0) return
    sink(applyRanges(pending.slice(0, cut), ranges))
    pending = pending.slice(cut)
  }
  return new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _encoding, callback) {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk)
      const lastNewline = pending.lastIndexOf('\n')
      if (lastNewline >= 0) {
        sink(redactor.redact(pending.slice(0, lastNewline + 1)))
        pending = pending.slice(lastNewline + 1)
      }
      if (timer) clearTimeout(timer)
      timer = pending ? setTimeout(flushPartial, flushAfterMs) : undefined
      callback()
    },
    final(callback) {
      if (timer) clearTimeout(timer)
      pending += decoder.end()
      if (pending) sink(redactor.redact(pending))
      pending = ''
      callback()
    },
  })
}
