'use strict'

// "Internal error in sso-token-provider (...)" means a bug of ours, never bad input
// (docs/behaviour.md §7). The places that can produce it, and what keeps input out:
//
// 1. lib/native.js `bug()`: a binding call that throws or rejects. Its arguments are built
//    by `request()`: the profile is checked to be a string, every environment value is
//    read as a string (or is unset), windows are numbers, flags booleans. Below: every
//    odd profile, setting and environment value, and process.env replaced by plain objects.
// 2. The Rust panic guards (src/lib.rs, a refresh task's JoinError in core/src/engine.rs):
//    only a panic gets there; __test__/panic.test.js shows it costs one load.
// 3. core/src/engine.rs "a held file has no token", "a refresh was due with no endpoint",
//    "a refresh ended without a token": unreachable states (a held file is read before
//    it is decided on; decide() gives Cannot for a refresh without an endpoint; every
//    outcome sets the result). core/tests/fuzz.rs loads any config and any cache bytes,
//    and asserts that no load ends in Internal.
// 4. core/src/refresh.rs "the new expiry is out of range": `expiresIn` is refused above
//    ten years (core/src/oidc/wire.rs), far inside chrono's range; "a read of the cache
//    file did not run": only when the runtime shuts down, which it never does.

const assert = require('node:assert/strict')
const { assertFailure, loadOurs, makeHome, test, useHome, withToken } = require('./helpers')

const { SSOTokenProvider } = loadOurs()

const outcome = (promise) =>
  promise.then(
    () => null,
    (e) => e,
  )

function describe(value) {
  try {
    return typeof value === 'symbol' ? value.toString() : `${typeof value} ${`${value}`.slice(0, 20)}`
  } catch {
    return typeof value
  }
}

function assertNotInternal(err, label) {
  if (err) assert.doesNotMatch(err.message, /Internal error/, `${label}: ${err.message}`)
}

/** Runs `fn` with process.env replaced by `env` (a plain object, as tests do). */
async function withEnv(env, fn) {
  const real = process.env
  Object.defineProperty(process, 'env', { value: env, configurable: true, writable: true })
  try {
    return await fn()
  } finally {
    Object.defineProperty(process, 'env', { value: real, configurable: true, writable: true })
  }
}

test('environment values that are not strings are read as process.env would store them', async () => {
  await withToken(async (token, h) => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    await p.getPromise()
    const odd = {
      AWS_CA_BUNDLE: 5,
      HTTPS_PROXY: { toString: () => 'http://127.0.0.1:9' },
      NO_PROXY: ['a', 'b'],
      AWS_USE_FIPS_ENDPOINT: false,
      AWS_ENDPOINT_URL_SSO_OIDC: null,
      USERPROFILE: undefined,
    }
    const err = await withEnv({ ...process.env, HOME: { toString: () => h.home }, ...odd }, () =>
      outcome(p.refreshPromise()),
    )
    assert.equal(err, null)
    assert.equal(p.token, token.accessToken)
  })
})

test('an environment value with no string form is an error naming the variable; the next load works', async () => {
  await withToken(async (token) => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    await p.getPromise()
    const cases = [
      [
        { HOME: Symbol('home') },
        'The environment variable "HOME" cannot be read as a string: Cannot convert a Symbol value to a string',
      ],
      [
        {
          HTTPS_PROXY: {
            toString() {
              throw new Error('no string here')
            },
          },
        },
        'The environment variable "HTTPS_PROXY" cannot be read as a string: no string here',
      ],
      [
        { AWS_CONFIG_FILE: Object.create(null) },
        'The environment variable "AWS_CONFIG_FILE" cannot be read as a string: Cannot convert object to primitive value',
      ],
    ]
    for (const [values, message] of cases) {
      const err = await withEnv({ ...process.env, ...values }, () => outcome(p.refreshPromise()))
      assertFailure(err, message)
      assert.equal(err.kind, 'InvalidEnvironment')
    }
    await p.refreshPromise()
    assert.equal(p.token, token.accessToken)
  })
})

test('no profile, setting, environment value or file content reaches "Internal error"', async () => {
  await withToken(async (token, h) => {
    const values = [
      undefined,
      null,
      0,
      -1,
      NaN,
      Infinity,
      1e300,
      10n,
      true,
      '',
      ' ',
      '\0',
      '\uD800',
      'x'.repeat(100_000),
      '../../etc/passwd',
      Symbol('s'),
      {},
      [],
      () => 1,
      new Date(0),
      Object.create(null),
    ]
    let runs = 0
    for (const value of values) {
      for (const place of ['profile', 'expiryWindow', 'advisoryWindow']) {
        const p = new SSOTokenProvider({ profile: 'dev', callback() {} })
        try {
          p[place] = value
        } catch {
          continue
        }
        assertNotInternal(await outcome(p.refreshPromise()), `${place} = ${describe(value)}`)
        runs++
      }
      for (const name of [
        'HOME',
        'AWS_CONFIG_FILE',
        'AWS_ENDPOINT_URL_SSO_OIDC',
        'HTTPS_PROXY',
        'AWS_CA_BUNDLE',
      ]) {
        const err = await withEnv({ ...process.env, [name]: value }, () =>
          outcome(new SSOTokenProvider({ profile: 'dev', callback() {} }).refreshPromise()),
        )
        assertNotInternal(err, `${name} = ${describe(value)}`)
        runs++
      }
    }
    for (const bytes of [
      '',
      'null',
      '[]',
      '{',
      '{"accessToken": 1}',
      '\u0000\u0001',
      '{"expiresAt": "x", "accessToken": "a"}',
    ]) {
      h.writeToken('my-sso', bytes)
      assertNotInternal(
        await outcome(new SSOTokenProvider({ profile: 'dev' }).refreshPromise()),
        `cache ${bytes}`,
      )
      runs++
    }
    assert.ok(runs > 150, `${runs} loads`)
    h.writeToken('my-sso', token)
  })
})

test('a v3 chain goes on by the kind of failure, never its text', async () => {
  const h = makeHome({ config: '[profile plain]\nregion = us-east-1\n' })
  useHome(h.home)
  try {
    const { fromSso } = loadOurs()
    const err = await outcome(fromSso({ profile: 'plain' })())
    assertFailure(err, 'Profile "plain" is missing required property "sso_session".')
    assert.equal(err.kind, 'NotAnSsoProfile')
    assert.equal(err.tryNextLink, true)
    const other = await outcome(fromSso({ profile: 'missing' })())
    assert.equal(other.kind, 'ProfileNotFound')
    assert.equal(other.tryNextLink, false)
  } finally {
    h.cleanup()
  }
})
