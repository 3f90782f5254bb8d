import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Redactor, redactingStream } from '../../src/shared/redact.js'

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
})
