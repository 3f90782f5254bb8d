import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redactor, redactingStream, secretForms, StreamRedactor } from '../../src/shared/redact.js'
import { DigestRedactor, SecretStore } from '../../src/shared/secret-store.js'

describe('redaction', () => {
  it('masks every secret and every line of a multi-line secret', () => {
    const r = new Redactor()
    r.add('s3cr3t-token')
    r.add('line-one\nline-two')
    assert.equal(r.redact('a s3cr3t-token b line-two c'), 'a *** b *** c')
  })

  it('masks a secret split across chunks and across a pause', async () => {
    const r = new Redactor()
    r.add('s3cr3t-token')
    let out = ''
    const stream = redactingStream(r, (t) => (out += t.toString()), 20)
    stream.write('value: s3cr')
    await delay(50)
    stream.write('3t-tok')
    stream.write('en done\n')
    stream.write('tail s3cr3t-token')
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.equal(out, 'value: *** done\ntail ***')
  })

  it('passes multi-byte characters split between chunks through unchanged', async () => {
    const out: Buffer[] = []
    const stream = redactingStream(new Redactor(), (t) => void out.push(t))
    const bytes = Buffer.from('héllo ✓\n')
    stream.write(bytes.subarray(0, 2))
    stream.write(bytes.subarray(2))
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.deepEqual(Buffer.concat(out), bytes)
  })

  it('on a pause, masks a whole secret and holds back the start of the next one', async () => {
    const r = new Redactor()
    r.add('alpha-secret-1')
    r.add('bravo-secret-2')
    let out = ''
    const stream = redactingStream(r, (t) => (out += t.toString()), 20)
    stream.write('x alpha-secret-1 y bravo-se')
    await delay(60)
    assert.equal(out, 'x *** y ', 'the start of the second secret is held back across the pause')
    stream.write('cret-2 z\n')
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.equal(out, 'x *** y *** z\n')
  })

  it('on a pause, emits a partial line that cannot be the start of a secret', async () => {
    const r = new Redactor()
    r.add('alpha-secret-1')
    let out = ''
    const stream = redactingStream(r, (t) => (out += t.toString()), 20)
    stream.write('Password: ')
    await delay(60)
    assert.equal(out, 'Password: ')
    await new Promise<void>((resolve) => stream.end(resolve))
  })

  it('masks the base64 (at any byte offset), URL-encoded, JSON- and XML-escaped forms', () => {
    const secret = 'p/ss+w0rd="quoted" & <more>'
    const r = new Redactor()
    r.add(secret)
    const embedded = (prefix: string): string => Buffer.from(`${prefix}${secret}\n`).toString('base64')
    for (const text of [
      Buffer.from(secret).toString('base64'),
      embedded('k'),
      embedded('ke'),
      embedded('key='),
      Buffer.from(secret).toString('base64url'),
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%20/g, '+'),
      JSON.stringify({ secret }),
      '<x a="p/ss+w0rd=&quot;quoted&quot; &amp; &lt;more&gt;"/>',
    ]) {
      const redacted = r.redact(`before ${text} after`)
      assert.match(redacted, /\*\*\*/, text)
      assert.ok(!redacted.includes('cXVvdGVk') && !redacted.includes('quoted'), `${text} -> ${redacted}`)
    }
  })
})

describe('streaming redaction without newlines', () => {
  const secret = 'p/ss+w0rd="quoted" & <more>'
  const forms = secretForms(secret)
  const longest = Math.max(...forms.map((f) => f.length))
  const filler = (n: number): string => 'ab c/+='.repeat(Math.ceil(n / 7)).slice(0, n)
  // Every form, each in a stretch of output with no newline.
  const text = forms.map((f, i) => `${filler(37 + i)}${f}`).join('') + filler(50)

  it('masks every form at every chunk boundary, as redacting the whole text does', () => {
    const r = new Redactor()
    r.add(secret)
    const whole = r.redact(text)
    assert.ok(!forms.some((f) => whole.includes(f)))
    for (let size = 1; size <= longest + 2; size++) {
      const stream = new StreamRedactor(r)
      let out = ''
      for (let at = 0; at < text.length; at += size) {
        out += stream.push(Buffer.from(text.slice(at, at + size))).toString()
        assert.ok(stream.held < longest + size, `held ${stream.held} bytes with chunks of ${size}`)
      }
      out += stream.end().toString()
      assert.equal(out, whole, `chunks of ${size}`)
    }
  })

  it('masks a multi-byte secret split inside a character, and passes other characters through byte for byte', () => {
    const r = new Redactor()
    const unicode = 'pässwörd-✓-ключ'
    r.add(unicode)
    const bytes = Buffer.from(`ü ${unicode} 漢字 ${encodeURIComponent(unicode)} ✓\n`)
    const expected = Buffer.from(`ü *** 漢字 *** ✓\n`)
    for (let size = 1; size <= 7; size++) {
      const stream = new StreamRedactor(r)
      const out: Buffer[] = []
      for (let at = 0; at < bytes.length; at += size) out.push(stream.push(bytes.subarray(at, at + size)))
      out.push(stream.end())
      assert.deepEqual(Buffer.concat(out), expected, `chunks of ${size} bytes`)
    }
  })

  it('holds back no more than the longest form, however long the line', () => {
    const r = new Redactor()
    r.add(secret)
    const stream = new StreamRedactor(r)
    let passed = 0
    for (let i = 0; i < 2_000; i++) {
      passed += stream.push(Buffer.from(`${'x'.repeat(4096)}${forms[i % forms.length]?.slice(0, 5)}`)).length
      assert.ok(stream.held < longest, `held ${stream.held}`)
    }
    assert.ok(passed > 2_000 * 4096)
  })

  it('passes a long line on in bounded pieces and masks a secret split across a pause', async () => {
    const r = new Redactor()
    r.add(secret)
    const pieces: Buffer[] = []
    const stream = redactingStream(r, (t) => void pieces.push(t), 20)
    for (let i = 0; i < 64; i++) stream.write(Buffer.from('y'.repeat(16 * 1024)))
    stream.write(`z ${secret.slice(0, 9)}`)
    await delay(60)
    stream.write(`${secret.slice(9)} z`)
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.ok(Math.max(...pieces.map((p) => p.length)) <= 64 * 1024 + 16 * 1024)
    assert.equal(Buffer.concat(pieces).toString(), `${'y'.repeat(64 * 16 * 1024)}z *** z`)
  })

  it('waits for a slow sink before it takes the next write', async () => {
    let release: () => void = () => undefined
    let sunk = 0
    const stream = redactingStream(new Redactor(), (t) => {
      sunk += t.length
      return new Promise<void>((resolve) => (release = resolve))
    })
    let accepted = 0
    const write = (): boolean => stream.write('line\n', () => (accepted += 1))
    write()
    await delay(10)
    assert.equal(accepted, 0, 'the first write is not done while the sink holds it')
    let writes = 1
    while (write() && writes < 100_000) writes += 1
    assert.ok(writes < 100_000 && stream.writableNeedDrain, 'the stream tells its source to stop')
    release()
    await delay(10)
    assert.ok(accepted >= 1 && sunk >= 5)
    release()
    stream.destroy()
  })
})

describe('secret store (keyed digests between steps)', () => {
  it('stores no secret, and a later reader masks every form of it, in text and across chunks of a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'secret-store-'))
    try {
      const secret = 'ghp_Zx9-secret/value+1'
      new SecretStore(dir).add([secret, '', 'line-one-of-key\nline-two-of-key'])
      const stored = readFileSync(path.join(dir, 'secret-digests.json'), 'utf8')
      assert.ok(!stored.includes(secret) && !stored.includes('line-one'))
      const redactor = new SecretStore(dir).redactor()
      assert.equal(redactor.redact(`a ${secret} b line-two-of-key c`), 'a *** b *** c')
      assert.equal(redactor.redact(`x ${encodeURIComponent(secret)} y`), 'x *** y')
      assert.equal(redactor.redact('nothing here'), 'nothing here')
      // A secret across the 8 MiB chunk boundary of a large file.
      const file = path.join(dir, 'big.log')
      const at = 8 * 1024 * 1024 - 5
      writeFileSync(file, Buffer.concat([Buffer.alloc(at, 'a'), Buffer.from(secret), Buffer.alloc(1000, 'b')]))
      assert.equal(redactor.redactFile(file), true)
      const after = readFileSync(file)
      assert.equal(after.length, at + 3 + 1000)
      assert.equal(after.subarray(at, at + 3).toString(), '***')
      assert.equal(redactor.redactFile(file), false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('finds a secret at every offset of random bytes, short secrets included, and reads a store without whole-form hashes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'secret-store-'))
    try {
      const secrets = ['tok-2f9c81aa0e5d47b1', 'k3y', 'pw_12345']
      new SecretStore(dir).add(secrets)
      const noise = randomBytes(4096)
      for (const redactor of [new SecretStore(dir).redactor(), olderStoreRedactor(dir)])
        for (const secret of secrets)
          for (const at of [0, 1, 7, 8, 2048, noise.length - 1, noise.length]) {
            const bytes = Buffer.concat([noise.subarray(0, at), Buffer.from(secret), noise.subarray(at)])
            assert.deepEqual(
              redactor.ranges(bytes).filter(([start]) => start === at),
              [[at, at + secret.length]],
              `${secret} at ${at}`,
            )
          }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** A redactor over the store as a step before the whole-form hash would have written it. */
function olderStoreRedactor(dir: string): DigestRedactor {
  const file = path.join(dir, 'secret-digests.json')
  const store = JSON.parse(readFileSync(file, 'utf8')) as { digests: Array<Record<string, unknown>> }
  for (const digest of store.digests) delete digest.whole
  return new DigestRedactor(store as unknown as ConstructorParameters<typeof DigestRedactor>[0])
}
