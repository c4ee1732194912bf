'use strict'

// docs/behaviour.md §2: configuration lookup, through the public API only.
// [compat] cases run the same home through the real v2 SSOTokenProvider and ours and
// require the same token / expireTime / error message; each also states the expected
// outcome, so a case where both were wrong would still fail.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const {
  makeHome,
  useHome,
  sessionConfig,
  freshToken,
  differential,
  oursLoad,
  v2Load,
  assertFailure,
  escapeRegExp,
  startServer,
  isoIn,
  againstV2,
  test,
  messages,
} = require('./helpers')

const START_URL = 'https://d-1234567890.awsapps.com/start'
const SESSION = (name, region = 'us-east-1', url = START_URL) =>
  `[sso-session ${name}]\nsso_start_url = ${url}\nsso_region = ${region}\n`

/**
 * One [compat] case. Expect either `token` (the accessToken of tokens[key]) or `error`
 * (the exact message).
 */
function compat(name, { config, tokens, profile, env, expectKey, expectError, skip }) {
  test(`[compat] ${name}`, { skip }, async () => {
    await differential({
      config,
      tokens,
      profile,
      env,
      check({ ours }) {
        if (expectError !== undefined) {
          assertFailure(ours.error, expectError)
        } else {
          assert.equal(ours.error, null, ours.error && ours.error.message)
          const want = tokens[expectKey]
          assert.equal(ours.token, want.accessToken)
          assert.ok(ours.expireTime instanceof Date)
          assert.equal(ours.expireTime.getTime(), Date.parse(want.expiresAt))
        }
      },
    })
  })
}

const tokA = freshToken({ accessToken: 'token-A' })
const tokB = freshToken({ accessToken: 'token-B', expiresAt: isoIn(7200) })

// The table-like cases are folders under test-data/config, run by fixtures.test.js (and
// by cargo test). These two depend on the home's own path.

compat('an empty HOME falls back to USERPROFILE (config and cache)', {
  config: sessionConfig({ profile: 'dev', session: 'a' }),
  tokens: { a: tokA },
  profile: 'dev',
  env: (h) => ({ HOME: '', USERPROFILE: h.home }),
  expectKey: 'a',
})

compat('HOME and USERPROFILE unset/empty: HOMEDRIVE + HOMEPATH', {
  config: sessionConfig({ profile: 'dev', session: 'a' }),
  tokens: { a: tokA },
  profile: 'dev',
  env: (h) => ({ HOME: '', USERPROFILE: '', HOMEDRIVE: '/', HOMEPATH: h.home.slice(1) }),
  expectKey: 'a',
  skip: process.platform === 'win32' && 'splits a POSIX path into HOMEDRIVE / and HOMEPATH',
})

// ---------------------------------------------------------------- [fix] / [beyond]

test('[fix] [default] and [profile default] both present: [profile default] is used whole', async (t) => {
  const cases = [
    // [profile default] wins, whichever comes first
    ['[default]\nsso_session = a\n[profile default]\nsso_session = b\n', null],
    ['[profile default]\nsso_session = b\n[default]\nsso_session = a\n', null],
    // not merged: keys of [default] do not fill in [profile default]
    [
      '[default]\nsso_session = a\n[profile default]\nregion = us-west-2\n',
      'Profile "default" is missing required property "sso_session".',
    ],
  ]
  for (const [profiles, error] of cases) {
    const h = makeHome({ config: profiles + SESSION('a') + SESSION('b'), tokens: { a: tokA, b: tokB } })
    try {
      useHome(h.home)
      const r = await oursLoad(undefined)
      if (error) {
        assertFailure(r.error, error)
      } else {
        assert.equal(r.error, null, r.error && r.error.message)
        assert.equal(r.token, 'token-B')
      }
      if (!againstV2) {
        // Documents the v2 bug this fixes: v2 crashed with a TypeError.
        const v2r = await v2Load(undefined)
        assert.ok(v2r.error instanceof TypeError, 'v2 is expected to crash here')
      }
    } finally {
      h.cleanup()
    }
  }
})

test('[fix] AWS_CONFIG_FILE is honoured (and ~/.aws/config is then not read)', async () => {
  const h = makeHome({
    config: sessionConfig({ profile: 'dev', session: 'a' }),
    tokens: { a: tokA, b: tokB },
  })
  try {
    useHome(h.home)
    const other = path.join(h.home, 'elsewhere.ini')
    fs.writeFileSync(other, sessionConfig({ profile: 'dev', session: 'b' }))
    process.env.AWS_CONFIG_FILE = other
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, 'token-B')

    process.env.AWS_CONFIG_FILE = path.join(h.home, 'missing.ini')
    const missing = await oursLoad('dev')
    assertFailure(
      missing.error,
      messages.profileNotFound('dev', process.env.AWS_CONFIG_FILE, { missing: true }),
    )
  } finally {
    h.cleanup()
  }
})

test('[fix] a missing config file is an empty config: Profile "<p>" not found', async () => {
  const h = makeHome({ tokens: { a: tokA } })
  try {
    useHome(h.home)
    assert.equal(fs.existsSync(h.configPath), false)
    const r = await oursLoad('dev')
    assertFailure(r.error, messages.profileNotFound('dev', h.configPath, { missing: true }))
    const d = await oursLoad(undefined)
    assertFailure(d.error, messages.profileNotFound('default', h.configPath, { missing: true }))
  } finally {
    h.cleanup()
  }
})

test('[fix] a config path that is a directory: Config file "<path>" could not be read', async () => {
  const h = makeHome({ tokens: { a: tokA } })
  try {
    useHome(h.home)
    fs.mkdirSync(h.configPath)
    const r = await oursLoad('dev')
    assertFailure(
      r.error,
      new RegExp('^' + escapeRegExp(`Config file "${h.configPath}" could not be read: `) + '.'),
    )
  } finally {
    h.cleanup()
  }
})

test('[fix] sso-session missing sso_start_url / sso_region names the session', async () => {
  const cases = [
    [
      '[profile dev]\nsso_session = s1\n[sso-session s1]\nsso_region = us-east-1\n',
      'Sso session "s1" is missing required property "sso_start_url".',
    ],
    [
      `[profile dev]\nsso_session = s1\n[sso-session s1]\nsso_start_url = ${START_URL}\n`,
      'Sso session "s1" is missing required property "sso_region".',
    ],
  ]
  for (const [config, message] of cases) {
    const h = makeHome({ config, tokens: { s1: tokA } })
    try {
      useHome(h.home)
      const r = await oursLoad('dev')
      assertFailure(r.error, message)
      if (!againstV2) {
        // v2 printed the profile name instead of the session name.
        const v2r = await v2Load('dev')
        assert.equal(v2r.error.message, message.replace('"s1"', '"dev"'))
      }
    } finally {
      h.cleanup()
    }
  }
})

test('[beyond] legacy profile (sso_start_url, no sso_session) is served from the start-URL cache file', async () => {
  const url = 'https://d-legacy.awsapps.com/start/?x=1#frag'
  const h = makeHome({
    config: `[profile old]\nsso_start_url = ${url}\nsso_region = us-east-2\nsso_account_id = 1\n`,
    tokens: { [url]: tokA, 'https://d-legacy.awsapps.com/start': tokB },
  })
  try {
    useHome(h.home)
    const r = await oursLoad('old')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, 'token-A')
    assert.equal(r.expireTime.getTime(), Date.parse(tokA.expiresAt))
  } finally {
    h.cleanup()
  }
})

test('[beyond] legacy start URL is used exactly as written (trailing slash matters)', async () => {
  const h = makeHome({
    config: `[profile old]\nsso_start_url = ${START_URL}/\nsso_region = us-east-1\n`,
    tokens: { [START_URL]: tokA },
  })
  try {
    useHome(h.home)
    const r = await oursLoad('old')
    assertFailure(r.error, 'Cached token not found. Please log in using "aws sso login" for profile "old".')
    h.writeToken(START_URL + '/', tokB)
    await r.provider.refreshPromise()
    assert.equal(r.provider.token, 'token-B')
  } finally {
    h.cleanup()
  }
})

test('[beyond] legacy profile without sso_region', async () => {
  const h = makeHome({
    config: `[profile old]\nsso_start_url = ${START_URL}\n`,
    tokens: { [START_URL]: tokA },
  })
  try {
    useHome(h.home)
    const r = await oursLoad('old')
    assertFailure(r.error, 'Profile "old" is missing required property "sso_region".')
  } finally {
    h.cleanup()
  }
})

test('[beyond] expired legacy token is never refreshed, even with refresh keys', async () => {
  const server = await startServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ accessToken: 'SHOULD-NOT-BE-USED', expiresIn: 3600, tokenType: 'Bearer' }))
  })
  const expired = {
    accessToken: 'old-access',
    expiresAt: isoIn(-60),
    refreshToken: 'r',
    clientId: 'c',
    clientSecret: 's',
    registrationExpiresAt: isoIn(86400),
  }
  const h = makeHome({
    config: `[profile old]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
    tokens: { [START_URL]: expired },
  })
  try {
    useHome(h.home)
    process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
    const before = fs.readFileSync(h.cachePath(START_URL))
    const r = await oursLoad('old')
    assertFailure(
      r.error,
      'SSO Token for profile "old" has expired. Please log in using "aws sso login" for profile "old".',
    )
    assert.equal(server.requests.length, 0)
    assert.deepEqual(fs.readFileSync(h.cachePath(START_URL)), before)
  } finally {
    h.cleanup()
    await server.close()
  }
})
