'use strict'

// Differential tests of the refresh against the real aws-sdk v2 (2.1693.0). Each scenario
// builds two identical homes, one per implementation, each with its own loopback
// CreateToken server. v2 runs in a child process of its own (its 30 s refresh throttle is
// process-wide), pointed at its server with AWS.config.ssooidc = { endpoint }; ours runs
// here. [compat] parts must agree; the [fix] parts are asserted as explicit differences.

const { test, describe, before } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const {
  REFRESH_FAILED,
  setup,
  tokenDoc,
  childEnv,
  sendJson,
  createTokenOk,
  construct,
  runNode,
  lastJson,
  fileState,
} = require('./oidc-server.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_NO_MODES =
  process.platform === 'win32' && 'POSIX file modes and inodes: Windows has none (README, Platforms)'

const V2_WORKER = path.join(__dirname, 'workers', 'v2-load.js')
const MS_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

function v2Env(s) {
  return childEnv({
    HOME: s.home.home,
    SSO_TEST_PROFILE: s.profile,
    SSO_TEST_OIDC_ENDPOINT: s.server.url,
    // CreateToken is unsigned, but never let v2 go looking for credentials.
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
  })
}

/**
 * Runs one scenario with both implementations on identical copies of `doc`.
 * Resolves { v2: { out, s, file }, ours: { provider, err, s, file } }.
 */
async function both({ doc, handler }) {
  const v2s = await setup({ doc, handler })
  const oursS = await setup({ doc, handler }) // leaves process.env pointing at ours
  try {
    const [v2Run, mine] = await Promise.all([
      runNode([V2_WORKER], { env: v2Env(v2s), timeoutMs: 30000 }).done,
      construct(oursS.profile),
    ])
    assert.equal(v2Run.code, 0, v2Run.stderr)
    return {
      v2: { out: lastJson(v2Run.stdout), s: v2s, after: fileState(v2s.file) },
      ours: { ...mine, s: oursS, after: fileState(oursS.file) },
    }
  } finally {
    await v2s.done()
    await oursS.done()
  }
}

function withoutExpiry(obj) {
  const copy = { ...obj }
  delete copy.expiresAt
  return copy
}

describe('[compat] a successful refresh agrees with v2', () => {
  const doc = tokenDoc(120, {
    unicode: 'café ☃ \u2028 𝄞',
    numbers: { half: 1.5, negative: -3, zero: 0 },
    empties: { list: [], object: {}, nothing: null },
  })
  const reply = (req, res) =>
    createTokenOk(res, { accessToken: 'v2-compat-access', refreshToken: 'v2-compat-rt' })
  let result
  before(async () => {
    result = await both({ doc, handler: reply })
  })

  test('both send the same CreateToken request', () => {
    const [a] = result.v2.s.server.requests
    const [b] = result.ours.s.server.requests
    assert.equal(result.v2.s.server.requests.length, 1)
    assert.equal(result.ours.s.server.requests.length, 1)
    assert.equal(b.method, a.method)
    assert.equal(b.url, a.url)
    assert.equal(b.headers['content-type'], a.headers['content-type'])
    assert.equal(a.headers.authorization, undefined)
    assert.equal(b.headers.authorization, undefined)
    // Same fields and values (v2 orders refreshToken before grantType; JSON objects are
    // unordered, and ours follows the order docs/behaviour.md §5 lists).
    assert.deepEqual(b.json, a.json)
    assert.deepEqual(Object.keys(b.json).sort(), ['clientId', 'clientSecret', 'grantType', 'refreshToken'])
  })

  test('both end with the same token and an expireTime within a second', () => {
    const { v2, ours } = result
    assert.equal(ours.err, null)
    assert.equal(v2.out.error, null)
    assert.equal(v2.out.token, 'v2-compat-access')
    assert.equal(ours.provider.token, v2.out.token)
    const v2Sent = v2.s.server.requests[0].at
    const oursSent = ours.s.server.requests[0].at
    // Measured from each one's own request, which ran concurrently.
    assert.ok(
      Math.abs(+ours.provider.expireTime - oursSent - (v2.out.expireTime - v2Sent)) < 1000,
      `ours ${+ours.provider.expireTime - oursSent} ms vs v2 ${v2.out.expireTime - v2Sent} ms after the request`,
    )
  })

  test('both write the same cache file: keys, order, values, ms-precision expiresAt', () => {
    const { v2, ours } = result
    const a = JSON.parse(v2.after.bytes)
    const b = JSON.parse(ours.after.bytes)
    assert.deepEqual(Object.keys(b), Object.keys(a))
    assert.deepEqual(withoutExpiry(b), withoutExpiry(a))
    assert.equal(b.accessToken, 'v2-compat-access')
    assert.equal(b.refreshToken, 'v2-compat-rt')
    assert.match(a.expiresAt, MS_ISO)
    assert.match(b.expiresAt, MS_ISO)
    // Each measured from its own request: the two ran side by side, not at the same instant.
    const after = (iso, impl) => Date.parse(iso) - result[impl].s.server.requests[0].at
    assert.ok(Math.abs(after(b.expiresAt, 'ours') - after(a.expiresAt, 'v2')) < 1000)
    // Even the text: two-space indentation, same escaping, only the timestamps differ.
    const norm = (text) => text.replace(/"expiresAt": "[^"]*"/, '"expiresAt": "X"')
    assert.equal(norm(ours.after.bytes), norm(v2.after.bytes))
  })

  test('[fix] ours replaces the file (new inode, 0600); v2 rewrites it in place', (t) => {
    if (WIN_NO_MODES) return t.skip(WIN_NO_MODES)
    const { v2, ours } = result
    assert.equal(v2.after.ino, v2.s.before.ino)
    assert.notEqual(ours.after.ino, ours.s.before.ino)
    assert.equal(ours.after.mode, 0o600)
  })
})

describe('[fix] a response without refreshToken', () => {
  test('v2 deletes refreshToken from the file; ours keeps the previous one', async () => {
    const doc = tokenDoc(100)
    const { v2, ours } = await both({
      doc,
      handler: (req, res) => createTokenOk(res, { accessToken: 'no-rt' }),
    })
    const a = JSON.parse(v2.after.bytes)
    const b = JSON.parse(ours.after.bytes)
    assert.equal(v2.out.token, 'no-rt')
    assert.equal(ours.provider.token, 'no-rt')
    assert.equal('refreshToken' in a, false, 'v2 drops it')
    assert.equal(b.refreshToken, doc.refreshToken, 'ours keeps it')
    // Everything else is the same.
    const rest = (o) => {
      const c = withoutExpiry(o)
      delete c.refreshToken
      return c
    }
    assert.deepEqual(rest(b), rest(a))
    assert.deepEqual(
      Object.keys(b).filter((k) => k !== 'refreshToken'),
      Object.keys(a),
    )
  })
})

describe('[compat] when to refresh', () => {
  test('an expired token is refreshed by both', async () => {
    const { v2, ours } = await both({ doc: tokenDoc(-600), handler: (req, res) => createTokenOk(res) })
    assert.equal(v2.out.error, null)
    assert.equal(ours.err, null)
    assert.equal(ours.provider.token, v2.out.token)
    assert.equal(ours.provider.token, 'new-access-token')
    assert.equal(v2.s.server.requests.length, 1)
    assert.equal(ours.s.server.requests.length, 1)
    assert.deepEqual(ours.s.server.requests[0].json, v2.s.server.requests[0].json)
  })

  test('a token valid beyond the window: no request from either', async () => {
    const doc = tokenDoc(3600)
    const { v2, ours } = await both({ doc, handler: (req, res) => createTokenOk(res) })
    assert.equal(v2.out.token, doc.accessToken)
    assert.equal(ours.provider.token, doc.accessToken)
    assert.equal(+ours.provider.expireTime, v2.out.expireTime)
    assert.equal(v2.s.server.requests.length, 0)
    assert.equal(ours.s.server.requests.length, 0)
    assert.deepEqual(ours.after, ours.s.before)
  })
})

describe('[fix] a failed refresh, where v2 is wrong', () => {
  const invalidGrant = (req, res) =>
    sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token provided' })

  test('still-valid token: v2 reports success with no token; ours serves the old token', async () => {
    const doc = tokenDoc(120)
    const { v2, ours } = await both({ doc, handler: invalidGrant })
    assert.equal(v2.out.error, null)
    assert.equal(v2.out.token, null, 'v2 leaves token undefined')
    assert.equal(ours.err, null)
    assert.equal(ours.provider.token, doc.accessToken)
    assert.equal(+ours.provider.expireTime, Date.parse(doc.expiresAt))
    assert.deepEqual(ours.s.server.requests[0].json, v2.s.server.requests[0].json)
  })

  test('expired token: v2 throws an uncaught exception without the cause; ours reports it', async () => {
    const { v2, ours } = await both({ doc: tokenDoc(-60), handler: invalidGrant })
    assert.equal(v2.out.uncaught, REFRESH_FAILED)
    assert.ok(ours.err instanceof Error)
    assert.equal(ours.err.code, 'SSOTokenProviderFailure')
    assert.equal(
      ours.err.message,
      `${REFRESH_FAILED} (invalid_grant, HTTP 400: Invalid refresh token provided)`,
    )
    assert.ok(ours.err.message.startsWith(v2.out.uncaught))
    assert.deepEqual(ours.after, ours.s.before)
    assert.deepEqual(v2.after, v2.s.before)
  })
})
