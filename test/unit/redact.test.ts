import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redactor, redactingStream } from '../../src/shared/redact.js'
import { SecretStore } from '../../src/shared/secret-store.js'

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
    const stream = redactingStream(r, (t) => (out += t), 20)
    stream.write('value: s3cr')
    await delay(50)
    stream.write('3t-tok')
    stream.write('en done\n')
    stream.write('tail s3cr3t-token')
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.equal(out, 'value: *** done\ntail ***')
  })

  it('does not split multi-byte characters between chunks', async () => {
    let out = ''
    const stream = redactingStream(new Redactor(), (t) => (out += t))
    const bytes = Buffer.from('héllo ✓\n')
    stream.write(bytes.subarray(0, 2))
    stream.write(bytes.subarray(2))
    await new Promise<void>((resolve) => stream.end(resolve))
    assert.equal(out, 'héllo ✓\n')
  })

  it('on a pause, masks a whole secret and holds back the start of the next one', async () => {
    const r = new Redactor()
    r.add('alpha-secret-1')
    r.add('bravo-secret-2')
    let out = ''
    const stream = redactingStream(r, (t) => (out += t), 20)
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
    const stream = redactingStream(r, (t) => (out += t), 20)
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
})
