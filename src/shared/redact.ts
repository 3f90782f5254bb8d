import { Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

const MASK = '***'

/**
 * Replaces every secret value in text. Longer secrets are replaced first, so a
 * secret that contains another is masked whole. Each line of a multi-line secret
 * is a secret of its own, as the runner's masker does.
 */
export class Redactor {
  private secrets: string[] = []

  add(value: string): void {
    const parts = [value, ...value.split(/\r?\n/)].map((s) => s.trim()).filter((s) => s.length >= 3)
    this.secrets = [...new Set([...this.secrets, ...parts])].sort((a, b) => b.length - a.length)
  }

  /** The longest secret's length; a stream must hold back this many bytes minus one. */
  get longest(): number {
    return this.secrets[0]?.length ?? 0
  }

  redact(text: string): string {
    let result = text
    for (const secret of this.secrets) result = result.split(secret).join(MASK)
    return result
  }
}

/**
 * A stream that redacts as it passes text on. It emits whole lines, and holds a
 * partial line back until a newline, the end, or a short pause, so a secret split
 * across two chunks is still masked.
 */
export function redactingStream(redactor: Redactor, sink: (text: string) => void, flushAfterMs = 200): Writable {
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let timer: NodeJS.Timeout | undefined
  const flushPartial = (): void => {
    timer = undefined
    // Keep the tail that could be the start of a secret.
    const keep = Math.max(0, redactor.longest - 1)
    if (pending.length <= keep) return
    const cut = pending.length - keep
    const safe = redactor.redact(pending)
    if (safe !== pending) {
      sink(safe)
      pending = ''
      return
    }
    sink(pending.slice(0, cut))
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
      if (pending) timer = setTimeout(flushPartial, flushAfterMs)
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
