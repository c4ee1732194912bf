'use strict'

// docs/behaviour.md §4, §5 and §6 end to end: the addon refreshes against a real loopback
// CreateToken server, with real config and cache files in a temporary HOME.

const { test, describe } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { messages } = require('./helpers')
const {
  REFRESH_FAILED,
  ROOT,
  setup,
  makeHome,
  uniqueName,
  tokenDoc,
  isoIn,
  fileState,
  listDir,
  startOidcServer,
  useHome,
  childEnv,
  sendJson,
  createTokenOk,
  scripted,
  delay,
  construct,
  assertFailure,
  runNode,
} = require('./oidc-server.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_LOCK_STAYS =
  process.platform === 'win32' &&
  'on Windows the empty lock file stays after a refresh (README, Platforms); this asserts it is unlinked'
const WIN_NO_MODES =
  process.platform === 'win32' && 'POSIX file modes and inodes: Windows has none (README, Platforms)'

const CLI = path.join(ROOT, 'bin', 'sso-token.js')

/** The cache file after a failed refresh: byte for byte, same inode, same mtime. */
function assertUnchanged(s) {
  assert.deepEqual(fileState(s.file), s.before, 'the cache file must be left alone')
  assert.deepEqual(listDir(s.home.cacheDir), [path.basename(s.file)], 'no temp or lock file left')
}

describe('a successful refresh', () => {
  test('sends exactly the CreateToken request and writes the token back atomically', async (t) => {
    if (WIN_NO_MODES) return t.skip(WIN_NO_MODES)
    const s = await setup({
      expiresIn: 120,
      handler: (req, res) =>
        createTokenOk(res, { accessToken: 'brand-new-access', refreshToken: 'rotated-RT' }),
    })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(s.server.requests.length, 1)
      const [r] = s.server.requests
      assert.equal(r.method, 'POST')
      assert.equal(r.url, '/token')
      assert.equal(r.headers['content-type'], 'application/json')
      assert.equal(r.headers.authorization, undefined, 'CreateToken is unsigned')
      assert.match(r.headers['user-agent'], /^sso-token-provider\//)
      const expected = {
        clientId: s.doc.clientId,
        clientSecret: s.doc.clientSecret,
        grantType: 'refresh_token',
        refreshToken: s.doc.refreshToken,
      }
      assert.deepEqual(r.json, expected)
      assert.equal(r.body, JSON.stringify(expected), 'same fields in the same order, nothing else')

      assert.equal(provider.token, 'brand-new-access')
      assert.equal(provider.expired, false)
      assert.ok(provider.expireTime instanceof Date)
      const want = r.at + 3600 * 1000
      assert.ok(
        Math.abs(+provider.expireTime - want) < 1000,
        `${provider.expireTime.toISOString()} vs ${want}`,
      )

      const after = fileState(s.file)
      const written = JSON.parse(after.bytes)
      assert.deepEqual(Object.keys(written), Object.keys(s.doc), 'every key kept, in the original order')
      for (const key of Object.keys(s.doc)) {
        if (['accessToken', 'expiresAt', 'refreshToken'].includes(key)) continue
        assert.deepEqual(written[key], s.doc[key], `key ${key} kept`)
      }
      assert.equal(written.accessToken, 'brand-new-access')
      assert.equal(written.refreshToken, 'rotated-RT')
      assert.match(written.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      assert.equal(Date.parse(written.expiresAt), +provider.expireTime)
      assert.equal(after.mode, 0o600)
      assert.notEqual(after.ino, s.before.ino, 'replaced by rename: a new inode')
      assert.deepEqual(listDir(s.home.cacheDir), [path.basename(s.file)], 'no temp or lock file left')
    } finally {
      await s.done()
    }
  })

  test('keeps the previous refresh token when the response carries none [fix]', async () => {
    const s = await setup({
      expiresIn: 60,
      handler: (req, res) => createTokenOk(res, { accessToken: 'no-rt-access' }),
    })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'no-rt-access')
      const written = JSON.parse(fs.readFileSync(s.file, 'utf8'))
      assert.equal(written.refreshToken, s.doc.refreshToken)
      assert.equal(written.accessToken, 'no-rt-access')
      assert.deepEqual(Object.keys(written), Object.keys(s.doc))
    } finally {
      await s.done()
    }
  })

  test('the new expireTime is the time of the request + expiresIn, not of the response', async () => {
    let answeredAt
    const s = await setup({
      expiresIn: 100,
      handler: async (req, res) => {
        await delay(2000)
        answeredAt = Date.now()
        createTokenOk(res, { expiresIn: 7200 })
      },
    })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      const sentAt = s.server.requests[0].at
      const got = +provider.expireTime
      assert.ok(Math.abs(got - (sentAt + 7200e3)) < 700, `expireTime ${got - sentAt} ms after the request`)
      assert.ok(got < answeredAt + 7200e3 - 1000, 'must not count from the response time')
    } finally {
      await s.done()
    }
  })

  test('an expired token with refresh material is refreshed', async () => {
    const s = await setup({ expiresIn: -600 })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'new-access-token')
      assert.equal(s.server.requests.length, 1)
      assert.equal(JSON.parse(fs.readFileSync(s.file, 'utf8')).accessToken, 'new-access-token')
    } finally {
      await s.done()
    }
  })

  test('a token valid beyond the window makes no request', async () => {
    const s = await setup({ expiresIn: 3600 })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
      await provider.refreshPromise()
      assert.equal(s.server.requests.length, 0)
      assertUnchanged(s)
    } finally {
      await s.done()
    }
  })

  for (const [name, first] of [
    [
      '500',
      (req, res) => sendJson(res, 500, { error: 'InternalServerException', error_description: 'boom' }),
    ],
    ['429', (req, res) => sendJson(res, 429, { error: 'SlowDownException', error_description: 'slow down' })],
  ]) {
    test(`a ${name} then a success is retried: two requests, new token`, async () => {
      const s = await setup({ expiresIn: 100, handler: scripted([first, (req, res) => createTokenOk(res)]) })
      try {
        const { provider, err } = await construct(s.profile)
        assert.equal(err, null)
        assert.equal(s.server.requests.length, 2)
        assert.equal(s.server.requests[1].body, s.server.requests[0].body)
        assert.equal(provider.token, 'new-access-token')
        assert.equal(JSON.parse(fs.readFileSync(s.file, 'utf8')).accessToken, 'new-access-token')
      } finally {
        await s.done()
      }
    })
  }
})

// Every way CreateToken can fail, with the docs/behaviour.md §4 outcome while the old token is
// still valid (served, no error) and once it has expired (the v2 message plus the cause).
const FAILURES = [
  {
    name: '400 invalid_grant',
    reply: (req, res) =>
      sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token provided' }),
    requests: 1,
    cause: '(invalid_grant, HTTP 400: Invalid refresh token provided)',
  },
  {
    name: '400 with only the x-amzn-ErrorType header',
    reply: (req, res) => {
      res.writeHead(400, { 'x-amzn-ErrorType': 'InvalidGrantException:http://internal.amazon.com/' })
      res.end()
    },
    requests: 1,
    cause: '(InvalidGrantException, HTTP 400)',
  },
  {
    name: '401',
    reply: (req, res) =>
      sendJson(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' }),
    requests: 1,
    cause: '(invalid_client, HTTP 401: Client authentication failed)',
  },
  {
    name: '500 three times',
    reply: (req, res) => sendJson(res, 500, { error: 'InternalServerException', error_description: 'boom' }),
    requests: 3,
    cause: '(InternalServerException, HTTP 500: boom)',
  },
  {
    name: '429 three times',
    reply: (req, res) => sendJson(res, 429, { error: 'SlowDownException', error_description: 'slow down' }),
    requests: 3,
    cause: '(SlowDownException, HTTP 429: slow down)',
  },
  {
    name: 'malformed JSON',
    reply: (req, res) => sendJson(res, 200, '{"accessToken": "half-taken", "expiresIn": 36'),
    requests: 1,
    cause: '(invalid CreateToken response: body is not JSON)',
  },
  {
    name: 'expiresIn missing',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', expiresIn: undefined }),
    requests: 1,
    cause: '(invalid CreateToken response: expiresIn missing or not a positive whole number)',
  },
  {
    name: 'expiresIn 0',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', expiresIn: 0 }),
    requests: 1,
    cause: '(invalid CreateToken response: expiresIn missing or not a positive whole number)',
  },
  {
    name: 'expiresIn not a whole number',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', expiresIn: 1.5 }),
    requests: 1,
    cause: '(invalid CreateToken response: expiresIn missing or not a positive whole number)',
  },
  {
    name: 'expiresIn a string',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', expiresIn: '3600' }),
    requests: 1,
    cause: '(invalid CreateToken response: expiresIn missing or not a positive whole number)',
  },
  {
    name: 'expiresIn too large for a date',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', expiresIn: 1e14 }),
    requests: 1,
    cause: '(invalid CreateToken response: expiresIn is over 10 years)',
  },
  {
    name: 'refreshToken not a string',
    reply: (req, res) => createTokenOk(res, { accessToken: 'half-taken', refreshToken: 42 }),
    requests: 1,
    cause: '(invalid CreateToken response: refreshToken is not a string)',
  },
  {
    name: 'body not UTF-8',
    reply: (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))
    },
    requests: 1,
    cause: '(invalid CreateToken response: body is not UTF-8)',
  },
  {
    name: 'body a JSON array',
    reply: (req, res) => sendJson(res, 200, '[{"accessToken":"half-taken","expiresIn":3600}]'),
    requests: 1,
    cause: '(invalid CreateToken response: body is not a JSON object)',
  },
  {
    name: 'accessToken missing',
    reply: (req, res) => createTokenOk(res, { accessToken: undefined }),
    requests: 1,
    cause: '(invalid CreateToken response: accessToken missing or not a non-empty string)',
  },
]

describe('a failed refresh while the old token is still valid serves the old token [fix]', () => {
  for (const f of FAILURES) {
    test(f.name, { skip: WIN_LOCK_STAYS }, async () => {
      const s = await setup({ expiresIn: 120, handler: f.reply })
      try {
        const { provider, err, threw } = await construct(s.profile)
        assert.equal(threw, undefined)
        assert.equal(err, null)
        assert.equal(provider.token, s.doc.accessToken)
        assert.equal(provider.token === 'half-taken', false)
        assert.equal(+provider.expireTime, Date.parse(s.doc.expiresAt))
        assert.equal(provider.expired, false)
        assert.equal(s.server.requests.length, f.requests)
        assertUnchanged(s)
        // Not wedged: a later refresh settles (throttled: no new request) with the old token.
        await provider.refreshPromise()
        assert.equal(provider.token, s.doc.accessToken)
        assert.equal(s.server.requests.length, f.requests)
      } finally {
        await s.done()
      }
    })
  }
})

describe('a failed refresh of an expired token is an error naming the cause [fix]', () => {
  for (const f of FAILURES) {
    test(f.name, { skip: WIN_LOCK_STAYS }, async () => {
      const s = await setup({ expiresIn: -60, handler: f.reply })
      try {
        const { provider, err, threw } = await construct(s.profile)
        assert.equal(threw, undefined)
        assertFailure(err, `${REFRESH_FAILED} ${f.cause}`)
        assert.equal(provider.token, undefined)
        assert.equal(s.server.requests.length, f.requests)
        assertUnchanged(s)
        // Not wedged: after a new login the same instance loads the new token.
        s.home.writeToken(s.session, tokenDoc(3600, { accessToken: 'after-login' }))
        await provider.getPromise()
        assert.equal(provider.token, 'after-login')
        assert.equal(s.server.requests.length, f.requests)
      } finally {
        await s.done()
      }
    })
  }

  test('exact message for a 400 invalid_grant through refreshPromise', async () => {
    const s = await setup({ expiresIn: -1, handler: FAILURES[0].reply })
    try {
      const { err } = await construct(s.profile)
      assert.equal(
        err.message,
        'SSO Token refresh failed. Please log in using "aws sso login" (invalid_grant, HTTP 400: Invalid refresh token provided)',
      )
    } finally {
      await s.done()
    }
  })
})

describe('text from the server', () => {
  function echoing(req, res, record) {
    const b = record.json
    sendJson(res, 400, {
      error: `invalid_grant ${b.clientSecret}`,
      error_description: `bad secret ${b.clientSecret} for ${b.refreshToken} of ${b.clientId}`,
    })
  }

  test('never carries the client secret or refresh token we sent into the message', async () => {
    const s = await setup({ expiresIn: -60, handler: echoing })
    try {
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
      assert.ok(err.message.endsWith(')'), err.message)
      assert.ok(err.message.includes('HTTP 400'), err.message)
      for (const secret of [s.doc.clientSecret, s.doc.refreshToken]) {
        assert.equal(err.message.includes(secret), false, err.message)
        assert.equal(JSON.stringify(err).includes(secret), false)
        assert.equal(String(err.stack).includes(secret), false)
      }
    } finally {
      await s.done()
    }
  })

  test('nor through the x-amzn-ErrorType header', async () => {
    const s = await setup({
      expiresIn: -60,
      handler: (req, res, record) => {
        res.writeHead(400, {
          'x-amzn-ErrorType': `Bad${record.json.clientSecret}:${record.json.refreshToken}`,
        })
        res.end()
      },
    })
    try {
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
      assert.ok(err.message.includes('HTTP 400'), err.message)
      assert.equal(err.message.includes(s.doc.clientSecret), false, err.message)
      assert.equal(err.message.includes(s.doc.refreshToken), false, err.message)
    } finally {
      await s.done()
    }
  })

  test('never shows the secrets in the sso-token output either', async () => {
    const s = await setup({ expiresIn: 120, handler: echoing })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const r = await runNode([CLI, '--refresh', '--profile', s.profile, '--json'], { env }).done
      assert.equal(r.code, 0, r.stderr)
      assert.equal(s.server.requests.length, 1)
      const out = JSON.parse(r.stdout)
      assert.equal(out.refreshed, false)
      assert.match(out.refreshNote, /HTTP 400/)
      for (const secret of [s.doc.clientSecret, s.doc.refreshToken]) {
        assert.equal((r.stdout + r.stderr).includes(secret), false)
      }
    } finally {
      await s.done()
    }
  })

  test('a very long error_description is cut to a sane length', async () => {
    const s = await setup({
      expiresIn: -60,
      handler: (req, res) =>
        sendJson(res, 400, { error: 'invalid_grant', error_description: 'x'.repeat(100000) }),
    })
    try {
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.ok(
        err.message.startsWith(`${REFRESH_FAILED} (invalid_grant, HTTP 400: xxx`),
        err.message.slice(0, 120),
      )
      assert.ok(err.message.length < 1000, `message of ${err.message.length} characters`)
    } finally {
      await s.done()
    }
  })
})

describe('a token that cannot be refreshed [fix]', () => {
  for (const key of ['clientId', 'clientSecret', 'refreshToken']) {
    test(`without ${key}: served with no request while valid, the v2 message once expired`, async () => {
      const s = await setup({ expiresIn: 120, overrides: { [key]: undefined } })
      try {
        const valid = await construct(s.profile)
        assert.equal(valid.err, null)
        assert.equal(valid.provider.token, s.doc.accessToken)
        assert.equal(s.server.requests.length, 0)
        s.home.writeToken(s.session, tokenDoc(-10, { [key]: undefined }))
        const expired = await construct(s.profile)
        assertFailure(expired.err, messages.expiredWithoutKey(key, s.profile))
        assert.equal(s.server.requests.length, 0)
      } finally {
        await s.done()
      }
    })
  }

  test('a legacy sso_start_url profile is never refreshed, even with refresh keys', async () => {
    const home = makeHome()
    const profile = uniqueName('legacy')
    const startUrl = `https://${uniqueName('d')}.awsapps.com/start`
    fs.appendFileSync(
      home.configPath,
      `[profile ${profile}]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\n`,
    )
    const server = await startOidcServer()
    useHome(home.home, { AWS_ENDPOINT_URL_SSO_OIDC: server.url })
    try {
      const doc = tokenDoc(120)
      home.writeToken(startUrl, doc)
      const valid = await construct(profile)
      assert.equal(valid.err, null)
      assert.equal(valid.provider.token, doc.accessToken)
      home.writeToken(startUrl, tokenDoc(-10))
      const expired = await construct(profile)
      assertFailure(
        expired.err,
        `SSO Token for profile "${profile}" has expired. Please log in using "aws sso login" for profile "${profile}".`,
      )
      assert.equal(server.requests.length, 0)
    } finally {
      await server.close()
      home.cleanup()
    }
  })
})

describe('registrationExpiresAt in the past: no request [fix]', () => {
  test('a still-valid token is served', async () => {
    const s = await setup({ expiresIn: 120, overrides: { registrationExpiresAt: isoIn(-10) } })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
      assert.equal(s.server.requests.length, 0)
      assertUnchanged(s)
    } finally {
      await s.done()
    }
  })

  test('an expired token is a refresh failure', async () => {
    const s = await setup({ expiresIn: -120, overrides: { registrationExpiresAt: isoIn(-10) } })
    try {
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.ok(err.message.startsWith(REFRESH_FAILED), err.message)
      assert.equal(s.server.requests.length, 0)
      assertUnchanged(s)
    } finally {
      await s.done()
    }
  })

  test('a future registrationExpiresAt does refresh (control)', async () => {
    const s = await setup({ expiresIn: 120, overrides: { registrationExpiresAt: isoIn(60) } })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'new-access-token')
      assert.equal(s.server.requests.length, 1)
    } finally {
      await s.done()
    }
  })
})

describe('throttle: one attempt per 30 s per cache file [fix]', () => {
  const invalidGrant = FAILURES[0].reply

  test('a second provider on the same session makes no new request; a valid token is still served', async () => {
    const s = await setup({
      expiresIn: 120,
      profiles: [uniqueName('a'), uniqueName('b')],
      handler: invalidGrant,
    })
    try {
      const first = await construct(s.profiles[0])
      assert.equal(first.err, null)
      assert.equal(s.server.requests.length, 1)
      const second = await construct(s.profiles[1])
      assert.equal(second.err, null)
      assert.equal(second.provider.token, s.doc.accessToken)
      assert.equal(+second.provider.expireTime, Date.parse(s.doc.expiresAt))
      assert.equal(s.server.requests.length, 1, 'throttled: no second CreateToken')
      assert.ok(second.ms < 2000, `throttled load took ${second.ms} ms`)
    } finally {
      await s.done()
    }
  })

  test('an expired token whose refresh is throttled is an error, without a request', async () => {
    const s = await setup({
      expiresIn: -30,
      profiles: [uniqueName('a'), uniqueName('b')],
      handler: invalidGrant,
    })
    try {
      const first = await construct(s.profiles[0])
      assertFailure(first.err, `${REFRESH_FAILED} ${FAILURES[0].cause}`)
      const second = await construct(s.profiles[1])
      assertFailure(second.err)
      assert.ok(second.err.message.startsWith(REFRESH_FAILED), second.err.message)
      assert.equal(s.server.requests.length, 1)
    } finally {
      await s.done()
    }
  })

  test('another session is neither throttled nor delayed by a slow refresh', async () => {
    const home = makeHome()
    const slow = uniqueName('slow')
    const other = uniqueName('other')
    const [slowProfile] = home.addSession({ session: slow })
    const [otherProfile] = home.addSession({ session: other })
    const slowDoc = tokenDoc(120)
    const otherDoc = tokenDoc(120)
    home.writeToken(slow, slowDoc)
    home.writeToken(other, otherDoc)
    const server = await startOidcServer(async (req, res, record) => {
      if (record.json.refreshToken === slowDoc.refreshToken) {
        await delay(2500)
        return invalidGrant(req, res)
      }
      createTokenOk(res, { accessToken: 'other-new' })
    })
    useHome(home.home, { AWS_ENDPOINT_URL_SSO_OIDC: server.url })
    try {
      const slowLoad = construct(slowProfile)
      while (server.requests.length === 0) await delay(10)
      const start = Date.now()
      const o = await construct(otherProfile)
      const otherMs = Date.now() - start
      assert.equal(o.err, null)
      assert.equal(o.provider.token, 'other-new')
      assert.ok(otherMs < 1500, `the other session waited ${otherMs} ms`)
      const sl = await slowLoad
      assert.equal(sl.err, null)
      assert.equal(sl.provider.token, slowDoc.accessToken)
      assert.ok(sl.ms >= 2400)
      assert.equal(server.requests.length, 2)
    } finally {
      await server.close()
      home.cleanup()
    }
  })

  // docs/behaviour.md §4.5: "a refresh of one session never delays another session's". Loads of one
  // session queue behind its single refresh; enough of them (more than libuv's 4 pool
  // threads) must still not hold up a different session.
  test('many instances waiting on one slow refresh do not delay another session', async () => {
    const home = makeHome()
    const slow = uniqueName('slow')
    const other = uniqueName('other')
    const slowProfiles = home.addSession({
      session: slow,
      profiles: Array.from({ length: 6 }, (_, i) => uniqueName(`slow${i}`)),
    })
    const [otherProfile] = home.addSession({ session: other })
    const slowDoc = tokenDoc(120)
    home.writeToken(slow, slowDoc)
    home.writeToken(other, tokenDoc(120))
    const server = await startOidcServer(async (req, res, record) => {
      if (record.json.refreshToken === slowDoc.refreshToken) {
        await delay(3000)
        return createTokenOk(res, { accessToken: 'slow-new' })
      }
      createTokenOk(res, { accessToken: 'other-new' })
    })
    useHome(home.home, { AWS_ENDPOINT_URL_SSO_OIDC: server.url })
    try {
      const slowLoads = slowProfiles.map((p) => construct(p))
      while (server.requests.length === 0) await delay(10)
      await delay(50)
      const o = await construct(otherProfile)
      const slowResults = await Promise.all(slowLoads)
      for (const r of slowResults) assert.equal(r.provider.token, 'slow-new')
      assert.equal(o.err, null)
      assert.equal(o.provider.token, 'other-new')
      assert.equal(server.requests.length, 2)
      assert.ok(o.ms < 1500, `the other session's refresh waited ${o.ms} ms behind the slow one`)
    } finally {
      await server.close()
      home.cleanup()
    }
  })
})

test('single flight: 50 concurrent calls over 10 instances of one session make one request [beyond]', async () => {
  const profiles = Array.from({ length: 10 }, (_, i) => uniqueName(`p${i}`))
  const s = await setup({
    expiresIn: 200,
    profiles,
    handler: async (req, res) => {
      await delay(300)
      createTokenOk(res, { accessToken: 'single-flight-token', refreshToken: 'sf-rt' })
    },
  })
  try {
    const { SSOTokenProvider } = require(ROOT)
    const providers = profiles.map((profile) => new SSOTokenProvider({ profile }))
    const calls = []
    for (const p of providers) {
      for (let i = 0; i < 5; i++) calls.push(i % 2 ? p.refreshPromise() : p.getPromise())
    }
    assert.equal(calls.length, 50)
    const results = await Promise.allSettled(calls)
    assert.deepEqual(
      results.filter((r) => r.status !== 'fulfilled'),
      [],
    )
    assert.equal(s.server.requests.length, 1, 'exactly one CreateToken')
    for (const p of providers) assert.equal(p.token, 'single-flight-token')
    const written = JSON.parse(fs.readFileSync(s.file, 'utf8'))
    assert.equal(written.accessToken, 'single-flight-token')
    assert.equal(written.refreshToken, 'sf-rt')
  } finally {
    await s.done()
  }
})

describe('a write-back that cannot happen still serves the new token [compat]', () => {
  test('cache file is a symlink: served from memory, the target and the link untouched', async (t) => {
    if (WIN_LOCK_STAYS) return t.skip(WIN_LOCK_STAYS)
    const s = await setup({ expiresIn: 120, profiles: [uniqueName('a'), uniqueName('b')] })
    try {
      const target = path.join(s.home.home, 'elsewhere-token.json')
      fs.renameSync(s.file, target)
      fs.symlinkSync(target, s.file)
      const targetBefore = fileState(target)
      const linkBefore = fileState(s.file)
      const { provider, err } = await construct(s.profiles[0])
      assert.equal(err, null)
      assert.equal(provider.token, 'new-access-token')
      assert.equal(s.server.requests.length, 1)
      assert.deepEqual(fileState(target), targetBefore, 'the symlink target is unchanged')
      assert.deepEqual(fileState(s.file), linkBefore, 'still the same symlink')
      assert.ok(fs.lstatSync(s.file).isSymbolicLink())
      assert.deepEqual(listDir(s.home.cacheDir), [path.basename(s.file)], 'no temp or lock file left')
      // Another instance in this process gets the refreshed token from memory.
      const second = await construct(s.profiles[1])
      assert.equal(second.err, null)
      assert.equal(second.provider.token, 'new-access-token')
      assert.equal(s.server.requests.length, 1)
    } finally {
      await s.done()
    }
  })

  test(
    'read-only cache folder: served from memory, file unchanged',
    { skip: WIN_NO_MODES || (process.getuid() === 0 && 'root ignores folder permissions') },
    async () => {
      const s = await setup({ expiresIn: 120 })
      try {
        fs.chmodSync(s.home.cacheDir, 0o555)
        const { provider, err } = await construct(s.profile)
        assert.equal(err, null)
        assert.equal(provider.token, 'new-access-token')
        assert.equal(s.server.requests.length, 1)
        assert.deepEqual(fileState(s.file), s.before)
      } finally {
        fs.chmodSync(s.home.cacheDir, 0o755)
        await s.done()
      }
    },
  )
})

describe('sso-token --refresh', () => {
  test('forces a refresh of a still-valid token; the token only with --show-token', async () => {
    let n = 0
    const s = await setup({
      expiresIn: 3600,
      handler: (req, res) => createTokenOk(res, { accessToken: `cli-token-${++n}` }),
    })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const r = await runNode([CLI, '--refresh', '--profile', s.profile, '--json'], { env }).done
      assert.equal(r.code, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      assert.equal(out.refreshed, true)
      assert.equal(out.profile, s.profile)
      assert.equal('token' in out, false)
      assert.equal(r.stdout.includes('cli-token-1'), false)
      assert.equal(s.server.requests.length, 1)
      assert.equal(JSON.parse(fs.readFileSync(s.file, 'utf8')).accessToken, 'cli-token-1')

      const shown = await runNode([CLI, '--refresh', '--profile', s.profile, '--json', '--show-token'], {
        env,
      }).done
      assert.equal(shown.code, 0, shown.stderr)
      const out2 = JSON.parse(shown.stdout)
      assert.equal(out2.refreshed, true)
      assert.equal(out2.token, 'cli-token-2')
      assert.equal(s.server.requests.length, 2)
    } finally {
      await s.done()
    }
  })

  test('exit code 1 and the message on stderr for an expired token and a 400', async (t) => {
    if (WIN_LOCK_STAYS) return t.skip(WIN_LOCK_STAYS)
    const s = await setup({ expiresIn: -60, handler: FAILURES[0].reply })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const r = await runNode([CLI, '--refresh', '--profile', s.profile, '--json'], { env }).done
      assert.equal(r.code, 1)
      assert.ok(r.stderr.includes(`${REFRESH_FAILED} ${FAILURES[0].cause}`), r.stderr)
      assert.equal(s.server.requests.length, 1)
      assertUnchanged(s)
    } finally {
      await s.done()
    }
  })
})
