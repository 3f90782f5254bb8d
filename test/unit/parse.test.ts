import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InputError } from '../../src/shared/errors.js'
import {
  formatDuration,
  parseBoolean,
  parseDuration,
  parseEnum,
  parseEnvLines,
  parseInteger,
  parseSize,
} from '../../src/shared/parse.js'

describe('strict input parsing', () => {
  it('parses durations with units, alone or combined', () => {
    assert.equal(parseDuration('t', '90s'), 90_000)
    assert.equal(parseDuration('t', '15m'), 900_000)
    assert.equal(parseDuration('t', '2h'), 7_200_000)
    assert.equal(parseDuration('t', '1h30m'), 5_400_000)
    assert.equal(parseDuration('t', '250ms'), 250)
  })

  for (const bad of ['10x', '15', '', 'm', '1.5h', '15 m', '-5m', '0s', '15mm', '1h 30m']) {
    it(`rejects the duration ${JSON.stringify(bad)}, naming the input and the value`, () => {
      assert.throws(
        () => parseDuration('start-timeout', bad),
        (e: unknown) =>
          e instanceof InputError &&
          e.message.includes("Input 'start-timeout'") &&
          e.message.includes(JSON.stringify(bad)) &&
          /expected a duration/.test(e.message),
      )
    })
  }

  it('parses sizes in decimal and binary units', () => {
    assert.equal(parseSize('s', '500MiB'), 500 * 1024 ** 2)
    assert.equal(parseSize('s', '2GB'), 2e9)
    assert.equal(parseSize('s', '1024B'), 1024)
    for (const bad of ['500', '500mb', 'lots', '0B', '1TiB'])
      assert.throws(() => parseSize('max-evidence-size', bad), /Input 'max-evidence-size'/)
  })

  it('accepts only the listed enum values, case-sensitively', () => {
    assert.equal(parseEnum('provider', 'che', ['che']), 'che')
    assert.throws(
      () => parseEnum('provider', 'Che', ['che']),
      /Input 'provider' has the value "Che", but expected one of: che\./,
    )
  })

  it('accepts only YAML 1.2 booleans', () => {
    assert.equal(parseBoolean('b', 'True'), true)
    assert.equal(parseBoolean('b', 'FALSE'), false)
    for (const bad of ['yes', '1', 'on', ''])
      assert.throws(() => parseBoolean('keep-on-failure', bad), /expected a boolean/)
  })

  it('bounds whole numbers', () => {
    assert.equal(parseInteger('retention-days', '90', 1, 90), 90)
    assert.throws(() => parseInteger('retention-days', '91', 1, 90), /from 1 to 90/)
    assert.throws(() => parseInteger('retention-days', '7.5', 1, 90), /whole number/)
  })

  it('parses NAME=value lines, keeping = in values and skipping comments', () => {
    const env = parseEnvLines('env', 'A=1\n# comment\n\nB=x=y\nEMPTY=\n')
    assert.deepEqual(
      [...env],
      [
        ['A', '1'],
        ['B', 'x=y'],
        ['EMPTY', ''],
      ],
    )
  })

  it('rejects bad env lines without echoing a secret value', () => {
    assert.throws(
      () => parseEnvLines('secret-env', 'TOKEN s3cr3t-value'),
      (e: unknown) => e instanceof InputError && !e.message.includes('s3cr3t-value') && /line 1/.test(e.message),
    )
    assert.throws(() => parseEnvLines('env', '1BAD=x'), /shell identifier/)
    assert.throws(() => parseEnvLines('env', 'A=1\nA=2'), /at most once/)
  })

  it('formats durations as inputs are written', () => {
    assert.equal(formatDuration(450), '450ms')
    assert.equal(formatDuration(90_000), '1m30s')
    assert.equal(formatDuration(3_600_000), '1h')
  })
})
