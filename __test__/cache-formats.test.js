'use strict'

// docs/behaviour.md §3 and §6 against the cache files other tools write. The AWS CLI and
// botocore write one line (Python's json.dumps: ", " and ": " separators) with `expiresAt`
// in whole seconds (`2026-12-01T10:20:14Z`; old botocore `2026-12-01T10:20:14UTC`) and keys
// we do not use; SDK v3 writes two-space JSON with milliseconds. Each must load as it is,
// and a refresh must keep every other key in its place with its value, writing back what v2
// writes: two-space JSON, `expiresAt` with milliseconds and `Z`. Real files in a temporary
// HOME, a real loopback CreateToken server.

const assert = require('node:assert/strict')
const fs = require('node:fs')

const { test } = require('./helpers.js')
const { fromSso } = require('..')
const { createTokenOk, makeHome, startOidcServer, uniqueName, useHome } = require('./oidc-server.js')

const START_URL = 'https://d-1234567890.awsapps.com/start'

/** Python's `json.dumps(obj)` for the ASCII documents here: one line, ", " and ": ". */
function pythonJsonDumps(doc) {
  return `{${Object.entries(doc)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')}}`
}

/** `seconds` from now as botocore's strftime('%Y-%m-%dT%H:%M:%SZ') writes it. */
function wholeSeconds(seconds, suffix = 'Z') {
  const t = new Date(Math.floor(Date.now() / 1000 + seconds) * 1000)
  return t.toISOString().replace('.000Z', suffix)
}

/** What `aws sso login` (CLI v2, botocore's SSOTokenFetcher) caches, in its key order. */
function cliDoc(expiresIn, suffix = 'Z') {
  const tag = uniqueName('cli')
  return {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken: `cli-access-${tag}`,
    expiresAt: wholeSeconds(expiresIn, suffix),
    clientId: `cli-client-${tag}`,
    clientSecret: `cli-secret-${tag}`,
    registrationExpiresAt: wholeSeconds(90 * 24 * 3600, suffix),
    refreshToken: `cli-refresh-${tag}`,
  }
}

/** What SDK v3's fromSso writes after its own refresh: `{ ...old, accessToken, expiresAt }`. */
function v3Doc(expiresIn) {
  const tag = uniqueName('v3')
  return {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken: `v3-access-${tag}`,
    expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
    clientId: `v3-client-${tag}`,
    clientSecret: `v3-secret-${tag}`,
    registrationExpiresAt: new Date(Date.now() + 90 * 24 * 3600e3).toISOString(),
    refreshToken: `v3-refresh-${tag}`,
  }
}

const FORMATS = [
  { name: 'AWS CLI / botocore (one line, whole seconds, Z)', doc: (s) => cliDoc(s), bytes: pythonJsonDumps },
  {
    name: 'old botocore (one line, whole seconds, UTC)',
    doc: (s) => cliDoc(s, 'UTC'),
    bytes: pythonJsonDumps,
  },
  {
    name: 'SDK v3 (two-space JSON, milliseconds)',
    doc: (s) => v3Doc(s),
    bytes: (d) => JSON.stringify(d, null, 2),
  },
]

function home(doc, bytes) {
  const session = uniqueName()
  const h = makeHome({
    config: `[profile dev]\nsso_session = ${session}\n\n[sso-session ${session}]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
  })
  const file = h.writeToken(session, bytes(doc))
  return { h, session, file }
}

/** `expiresAt` as we read it: whole seconds, and `UTC` standing for `Z`. */
const instant = (text) => Date.parse(text.replace(/UTC$/, 'Z'))

for (const format of FORMATS) {
  test(`${format.name}: a valid token loads as it is and the file is not rewritten`, async () => {
    const doc = format.doc(3600)
    const s = home(doc, format.bytes)
    try {
      useHome(s.h.home)
      const before = fs.readFileSync(s.file, 'utf8')
      assert.equal(before.includes('\n'), format.bytes !== pythonJsonDumps)
      const identity = await fromSso({ profile: 'dev' })()
      assert.equal(identity.token, doc.accessToken)
      assert.equal(identity.expiration.getTime(), instant(doc.expiresAt))
      assert.equal(fs.readFileSync(s.file, 'utf8'), before, 'a load without a refresh never writes')
    } finally {
      s.h.cleanup()
    }
  })

  test(`${format.name}: after a refresh every other key keeps its place and value; written as v2 writes`, async () => {
    const doc = format.doc(60) // inside the 300 s window: due for a refresh
    const s = home(doc, format.bytes)
    const oidc = await startOidcServer((req, res) =>
      createTokenOk(res, {
        accessToken: 'refreshed-access',
        refreshToken: 'rotated-refresh',
        expiresIn: 3600,
      }),
    )
    try {
      useHome(s.h.home, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
      const start = Date.now()
      const identity = await fromSso({ profile: 'dev' })()
      const end = Date.now()
      assert.equal(identity.token, 'refreshed-access')
      assert.equal(oidc.requests.length, 1)
      assert.deepEqual(oidc.requests[0].json, {
        clientId: doc.clientId,
        clientSecret: doc.clientSecret,
        grantType: 'refresh_token',
        refreshToken: doc.refreshToken,
      })

      const text = fs.readFileSync(s.file, 'utf8')
      const written = JSON.parse(text)
      assert.deepEqual(Object.keys(written), Object.keys(doc), 'the keys, in their order')
      for (const key of Object.keys(doc)) {
        if (!['accessToken', 'expiresAt', 'refreshToken'].includes(key)) {
          assert.equal(written[key], doc[key], `${key} is kept as it was written`)
        }
      }
      assert.equal(written.accessToken, 'refreshed-access')
      assert.equal(written.refreshToken, 'rotated-refresh')
      // v2's toISOString: UTC, milliseconds, Z, whatever form the file had before.
      assert.match(written.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      const at = Date.parse(written.expiresAt)
      assert.ok(
        at >= start + 3600e3 && at <= end + 3600e3,
        `${written.expiresAt} is an hour after the request`,
      )
      assert.equal(identity.expiration.getTime(), at)
      // Two-space JSON, no trailing newline: JSON.stringify(doc, null, 2), as v2 writes it.
      assert.equal(text, JSON.stringify(written, null, 2))
    } finally {
      await oidc.close()
      s.h.cleanup()
    }
  })
}

test('after a refresh without a new refreshToken, a CLI file keeps its own', async () => {
  const doc = cliDoc(-60)
  const s = home(doc, pythonJsonDumps)
  const oidc = await startOidcServer((req, res) =>
    createTokenOk(res, { accessToken: 'refreshed-no-rotation' }),
  )
  try {
    useHome(s.h.home, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
    assert.equal((await fromSso({ profile: 'dev' })()).token, 'refreshed-no-rotation')
    const written = JSON.parse(fs.readFileSync(s.file, 'utf8'))
    assert.deepEqual(Object.keys(written), Object.keys(doc))
    assert.equal(written.refreshToken, doc.refreshToken)
    assert.equal(written.registrationExpiresAt, doc.registrationExpiresAt)
  } finally {
    await oidc.close()
    s.h.cleanup()
  }
})

test('keys we do not know keep their JSON values through a refresh, numbers to the digit', async () => {
  // Python's json.dumps escapes non-ASCII (ensure_ascii) and may hold any JSON value.
  const bytes =
    `{"startUrl": "${START_URL}", "region": "us-east-1", "accessToken": "old", ` +
    `"expiresAt": "${wholeSeconds(-60)}", "clientId": "id", "clientSecret": "secret", ` +
    `"futureKey": {"list": [1.50, 1e2, 12345678901234567890, true, null], "name": "caf\\u00e9 \\/ \\ud83d\\ude00"}, ` +
    `"refreshToken": "rt", "zLast": ""}`
  const session = uniqueName()
  const h = makeHome({
    config: `[profile dev]\nsso_session = ${session}\n\n[sso-session ${session}]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
  })
  const file = h.writeToken(session, bytes)
  const oidc = await startOidcServer((req, res) => createTokenOk(res, { accessToken: 'new' }))
  try {
    useHome(h.home, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
    assert.equal((await fromSso({ profile: 'dev' })()).token, 'new')
    const text = fs.readFileSync(file, 'utf8')
    const before = JSON.parse(bytes)
    const after = JSON.parse(text)
    assert.deepEqual(Object.keys(after), Object.keys(before))
    assert.deepEqual(after.futureKey, before.futureKey)
    assert.equal(after.futureKey.name, 'café / 😀')
    assert.equal(after.zLast, '')
    // Numbers are not read through a double: 1.50 keeps its digits, and so does an integer
    // beyond 2^53 (JSON.parse above cannot tell); 1e2 comes back as 1e+2, the same number.
    assert.match(text, /\[\n\s+1\.50,\n\s+1e\+2,\n\s+12345678901234567890,\n\s+true,\n\s+null\n\s+\]/)
  } finally {
    await oidc.close()
    h.cleanup()
  }
})
