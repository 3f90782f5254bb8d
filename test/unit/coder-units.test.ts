import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InputError, PermissionError, ProviderRequestError, ProviderUnavailableError } from '../../src/shared/errors.js'
import {
  accessError,
  accessRequest,
  missingAccess,
  neededAccess,
} from '../../src/shared/providers/coder/coder-access.js'
import {
  CoderHttpError,
  isRetryableCoderError,
  normalizeCoderError,
} from '../../src/shared/providers/coder/coder-errors.js'
import { checkParameters, parseParameters } from '../../src/shared/providers/coder/coder-parameters.js'
import type { TemplateVersionParameter } from '../../src/shared/providers/coder/coder-types.js'
import { getCoderSettings } from '../../src/shared/settings/coder-inputs.js'

const p = (name: string, extra: Partial<TemplateVersionParameter> = {}): TemplateVersionParameter => ({
  name,
  type: 'string',
  mutable: true,
  default_value: '',
  required: false,
  options: [],
  ...extra,
})

describe('normalizeCoderError', () => {
  it('shows message, detail and validations with the status', () => {
    const error = normalizeCoderError(
      new CoderHttpError(
        409,
        {
          message: 'Workspace "x" already exists.',
          validations: [{ field: 'name', detail: 'This value is already in use and should be unique.' }],
        },
        undefined,
      ),
      'creating workspace x',
      'https://c',
    )
    assert.ok(error instanceof ProviderRequestError)
    assert.equal(
      error.message,
      'creating workspace x: Workspace "x" already exists. (name: This value is already in use and should be unique.) (HTTP 409)',
    )
  })
  it('treats 429 and 5xx as unavailable and retryable, 4xx as final', () => {
    assert.ok(
      normalizeCoderError(
        new CoderHttpError(503, { message: 'down', detail: 'restarting' }, undefined),
        'x',
        'u',
      ) instanceof ProviderUnavailableError,
    )
    assert.equal(isRetryableCoderError(new CoderHttpError(429, undefined, 60_000)), true)
    assert.equal(isRetryableCoderError(new CoderHttpError(400, undefined, undefined)), false)
  })
})

describe('rich parameters', () => {
  const declared = [
    p('region', {
      options: [
        { name: 'eu', value: 'eu' },
        { name: 'us', value: 'us' },
      ],
    }),
    p('cpu', { type: 'number', validation_min: 1, validation_max: 8 }),
    p('repo', { required: true }),
    p('debug', { type: 'bool' }),
    p('tag', { validation_regex: '^v[0-9]+$', validation_error: 'must look like v1' }),
    p('dirs', { type: 'list(string)' }),
  ]

  it('parses a YAML map, lists as JSON', () => {
    assert.deepEqual(
      [...parseParameters('cpu: 4\ndebug: true\ndirs: [a, b]\n')],
      [
        ['cpu', '4'],
        ['debug', 'true'],
        ['dirs', '["a","b"]'],
      ],
    )
    assert.throws(() => parseParameters('- a\n- b'), /Input 'parameters'/)
  })

  it('accepts good values and reports every problem in one error', () => {
    assert.deepEqual(
      checkParameters(
        't',
        new Map([
          ['repo', 'r'],
          ['cpu', '8'],
        ]),
        declared,
      ),
      [
        { name: 'repo', value: 'r' },
        { name: 'cpu', value: '8' },
      ],
    )
    assert.throws(
      () =>
        checkParameters(
          't',
          new Map([
            ['region', 'mars'],
            ['cpu', 'x'],
            ['debug', 'yes'],
            ['tag', '1'],
            ['dirs', 'a'],
            ['other', '1'],
          ]),
          declared,
        ),
      (e: unknown) =>
        e instanceof InputError &&
        [
          /unknown parameter 'other'/,
          /required parameter 'repo' is missing/,
          /'region' = "mars": expected one of eu, us/,
          /'cpu' = "x": expected a number/,
          /'debug' = "yes": expected true or false/,
          /'tag' = "1": must look like v1/,
          /'dirs' = "a": expected a list/,
        ].every((r) => r.test(e.message)),
    )
  })
})

describe('Coder inputs', () => {
  const read = (values: Record<string, string>) => (name: string) =>
    ({ 'coder-url': 'https://coder.example.com/', 'coder-token': 't', template: 'ci', ...values })[name] ?? ''
  it('fills defaults', () => {
    const s = getCoderSettings(read({}))
    assert.deepEqual(
      [s.url, s.organization, s.ttlMs, s.sshTunnelCommand, s.sshUser],
      ['https://coder.example.com', 'default', 7_200_000, 'coder ssh --stdio --disable-autostart {workspace}', 'coder'],
    )
  })
  it('rejects a bad URL, a missing token or template, and a ttl outside 1m..30d', () => {
    assert.throws(() => getCoderSettings(read({ 'coder-url': 'coder.example.com' })), /Input 'coder-url'/)
    assert.throws(() => getCoderSettings(read({ 'coder-token': '' })), /Input 'coder-token'/)
    assert.throws(() => getCoderSettings(read({ template: '' })), /Input 'template'/)
    assert.throws(() => getCoderSettings(read({ ttl: '30s' })), /Input 'ttl' .*1m to 30 days/)
    assert.throws(() => getCoderSettings(read({ ttl: '31d' })), /Input 'ttl'/)
    assert.throws(() => getCoderSettings(read({ ttl: 'soon' })), /Input 'ttl'/)
  })
})

describe('Coder access preflight', () => {
  const target = {
    me: { id: 'u-1', username: 'ci-bot', organization_ids: ['o-1'], roles: [] },
    organization: { id: 'o-1', name: 'coder' },
    template: { id: 't-1', name: 'ci-docker', organization_id: 'o-1', active_version_id: 'v-1' },
  }

  it("asks for workspace create in the template's organization and for use of that one template, by id", () => {
    assert.deepEqual(accessRequest(neededAccess(target)), {
      checks: {
        create_workspace: {
          object: { resource_type: 'workspace', owner_id: 'u-1', organization_id: 'o-1' },
          action: 'create',
        },
        use_template: {
          object: { resource_type: 'template', resource_id: 't-1', organization_id: 'o-1' },
          action: 'use',
        },
      },
    })
  })

  it('lists exactly what is missing; a key coderd left out counts as denied', () => {
    const needed = neededAccess(target)
    assert.deepEqual(missingAccess(needed, { create_workspace: true, use_template: true }), [])
    assert.deepEqual(
      missingAccess(needed, { create_workspace: true }).map((n) => n.key),
      ['use_template'],
    )
    const error = accessError(target.me, missingAccess(needed, { create_workspace: false, use_template: true }))
    assert.ok(error instanceof PermissionError)
    assert.equal(error.kind, 'permission')
    assert.match(
      error.message,
      /^Coder user "ci-bot" lacks permissions: may not create workspaces in organization "coder"\. /,
    )
  })
})
