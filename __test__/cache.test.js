'use strict'

// docs/behaviour.md §3 (cache file) and §4.1 / §4.2 (decisions that need no network).
// A loopback server stands in for SSO OIDC wherever a refresh must NOT happen, so a
// stray CreateToken call is seen.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const {
  sha1,
  isoIn,
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
  createTokenReply,
  againstV2,
  test,
  messages,
} = require('./helpers')

const CONFIG = sessionConfig({ profile: 'dev', session: 'my-sso' })
const KEY = 'my-sso'
const NOT_FOUND = 'Cached token not found. Please log in using "aws sso login" for profile "dev".'

/** Starts a CreateToken stand-in and points AWS_ENDPOINT_URL_SSO_OIDC at it. */
async function oidcTrap() {
  const server = await startServer((req, res) => createTokenReply(res, { accessToken: 'FROM-NETWORK' }))
  process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
  return server
}

async function withHome(opts, fn) {
  const h = makeHome(opts)
  let server
  try {
    useHome(h.home)
    server = await oidcTrap()
    return await fn(h, server)
  } finally {
    h.cleanup()
    if (server) await server.close()
  }
}

// ------------------------------------------------------------------ path

test('[compat] cache key hash: sha1("admin") vector', () => {
  assert.equal(sha1('admin'), 'd033e22ae348aeb5660fc2140aec35850c4da997')
})

test('[compat] the cache file is <home>/.aws/sso/cache/<sha1 of session name>.json', async () => {
  const tok = freshToken()
  await withHome({ config: sessionConfig({ profile: 'dev', session: 'admin' }) }, async (h, server) => {
    fs.writeFileSync(
      path.join(h.home, '.aws', 'sso', 'cache', 'd033e22ae348aeb5660fc2140aec35850c4da997.json'),
      JSON.stringify(tok),
    )
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, tok.accessToken)
    assert.equal(server.requests.length, 0)
  })
})

test('[compat] a non-ASCII session name is hashed as UTF-8', async () => {
  const tok = freshToken()
  const name = 'équipe 東京'
  await withHome(
    { config: sessionConfig({ profile: 'dev', session: name }), tokens: { [name]: tok } },
    async (h) => {
      assert.equal(fs.existsSync(h.cachePath(name)), true)
      const r = await oursLoad('dev')
      assert.equal(r.error, null, r.error && r.error.message)
      assert.equal(r.token, tok.accessToken)
    },
  )
})

// ------------------------------------------------------------------ expiresAt forms
// The RFC 3339 forms are folders under test-data/cache, run by fixtures.test.js.

test('[fix] expiresAt legacy form 2031-01-01T00:00:00UTC', async () => {
  const tok = { accessToken: 'tok-legacy-form', expiresAt: '2031-01-01T00:00:00UTC' }
  await withHome({ config: CONFIG, tokens: { [KEY]: tok } }, async (h, server) => {
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.ok(r.expireTime instanceof Date)
    assert.equal(r.expireTime.getTime(), Date.UTC(2031, 0, 1))
    assert.equal(r.token, 'tok-legacy-form')
    assert.equal(server.requests.length, 0)
  })
})

test('[fix] a UTF-8 BOM at the start of the cache file is ignored', async () => {
  const tok = freshToken()
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(tok))])
  await withHome({ config: CONFIG, tokens: { [KEY]: bytes } }, async () => {
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, tok.accessToken)
    assert.equal(r.expireTime.getTime(), Date.parse(tok.expiresAt))
    if (!againstV2) {
      const v2r = await v2Load('dev')
      assert.ok(v2r.error instanceof SyntaxError, 'v2 is expected to choke on the BOM')
    }
  })
})

test('[compat] unknown keys and optional keys in the cache file are accepted', async () => {
  const tok = freshToken({
    startUrl: 'https://d-1234567890.awsapps.com/start',
    region: 'us-east-1',
    somethingNew: { nested: [1, 2, 3] },
    flag: true,
  })
  const { ours } = await differential({ config: CONFIG, tokens: { [KEY]: tok }, profile: 'dev' })
  assert.equal(ours.token, tok.accessToken)
})

test('[compat] 4.1 a token valid beyond the window is used with no network call', async () => {
  const tok = freshToken({
    refreshToken: 'r',
    clientId: 'c',
    clientSecret: 's',
    registrationExpiresAt: isoIn(86400),
  })
  await withHome({ config: CONFIG, tokens: { [KEY]: tok } }, async (h, server) => {
    const before = fs.readFileSync(h.cachePath(KEY))
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, tok.accessToken)
    assert.equal(r.provider.expired, false)
    assert.equal(server.requests.length, 0)
    assert.deepEqual(fs.readFileSync(h.cachePath(KEY)), before)
  })
})

// ------------------------------------------------------------------ bad input

// The bad cache files of fixed content are folders under test-data/cache, run by
// fixtures.test.js; these are made at run time.
const BAD = [
  {
    name: '10 MB file',
    content: Buffer.concat([
      Buffer.from('{"accessToken":"x","expiresAt":"2099-01-01T00:00:00Z"}'),
      Buffer.alloc(10 * 1024 * 1024, 0x20),
    ]),
    message: (p) => `Cached token file "${p}" is too large (over 1 MiB)`,
  },
  {
    name: '1 MiB + 1 byte',
    content: (() => {
      const json = Buffer.from('{"accessToken":"x","expiresAt":"2099-01-01T00:00:00Z"}')
      return Buffer.concat([json, Buffer.alloc(1024 * 1024 + 1 - json.length, 0x20)])
    })(),
    message: (p) => `Cached token file "${p}" is too large (over 1 MiB)`,
  },
  {
    name: 'a directory in place of the file',
    content: 'DIRECTORY',
    message: (p) => new RegExp('^' + escapeRegExp(`Cached token file "${p}" could not be read: `) + '.'),
  },
  {
    name: 'mode 000',
    content: JSON.stringify(freshToken()),
    chmod: 0o000,
    skip:
      (process.platform === 'win32' && 'POSIX file modes: Windows has no mode 000') ||
      (typeof process.getuid === 'function' && process.getuid() === 0
        ? 'running as root: mode 000 does not stop reads'
        : false),
    message: (p) => new RegExp('^' + escapeRegExp(`Cached token file "${p}" could not be read: `) + '.'),
  },
]

for (const c of BAD) {
  test(`${c.compat ? '[compat]' : '[fix]'} bad cache file: ${c.name}`, { skip: c.skip }, async () => {
    await withHome({ config: CONFIG }, async (h, server) => {
      const file = h.cachePath(KEY)
      if (c.content === 'DIRECTORY') fs.mkdirSync(file)
      else if (c.content !== undefined) fs.writeFileSync(file, c.content)
      if (c.chmod !== undefined) fs.chmodSync(file, c.chmod)
      const before = c.content === undefined || c.content === 'DIRECTORY' ? null : fs.readFileSync(file)
      const expected = typeof c.message === 'function' ? c.message(file) : c.message

      const r = await oursLoad('dev')
      assertFailure(r.error, expected)
      assert.equal(r.provider.expired, true)
      assert.equal(server.requests.length, 0)
      if (before) {
        if (c.chmod !== undefined) fs.chmodSync(file, 0o600)
        assert.deepEqual(fs.readFileSync(file), before, 'the cache file must be left untouched')
      } else if (c.content === undefined) {
        assert.equal(fs.existsSync(file), false, 'no cache file may be created')
      }

      if (c.compat && !againstV2) {
        const v2r = await v2Load('dev')
        assert.equal(v2r.error && v2r.error.message, r.error.message, 'v2 gives the same message')
      }

      // The process is alive and the provider is not wedged: a good file now loads.
      if (c.content === 'DIRECTORY') fs.rmdirSync(file)
      const good = freshToken()
      h.writeToken(KEY, good)
      await r.provider.refreshPromise()
      assert.equal(r.provider.token, good.accessToken)
    })
  })
}

test('[fix] a cache file of exactly 1 MiB is accepted', async () => {
  const tok = freshToken()
  const json = Buffer.from(JSON.stringify(tok))
  const bytes = Buffer.concat([json, Buffer.alloc(1024 * 1024 - json.length, 0x20)])
  assert.equal(bytes.length, 1024 * 1024)
  await withHome({ config: CONFIG, tokens: { [KEY]: bytes } }, async () => {
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, tok.accessToken)
  })
})

test('[fix] no error message carries the token or secrets from a broken file', async () => {
  const secret = 'SECRET-VALUE-0123456789'
  const contents = [
    `{"accessToken": "${secret}", "expiresAt": "${secret}"}`,
    `{"accessToken": "${secret}", "refreshToken": "${secret}", "clientSecret": "${secret}", "expiresAt": 1`,
    `{"accessToken": "${secret}`,
    `${secret}`,
  ]
  for (const content of contents) {
    await withHome({ config: CONFIG, tokens: { [KEY]: content } }, async () => {
      const r = await oursLoad('dev')
      assert.ok(r.error, 'expected a failure for ' + content)
      assert.equal(r.error.message.includes(secret), false, r.error.message)
      assert.equal(String(r.error.stack).includes(secret), false)
      assert.equal(require('node:util').inspect(r.error).includes(secret), false)
    })
  }
})

// ------------------------------------------------------------------ 4.2 without network

test('[fix] 4.2 inside the window, not expired, not refreshable: served with no network call', async () => {
  const tok = { accessToken: 'in-window', expiresAt: isoIn(120) }
  await withHome({ config: CONFIG, tokens: { [KEY]: tok } }, async (h, server) => {
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, 'in-window')
    assert.equal(r.expireTime.getTime(), Date.parse(tok.expiresAt))
    assert.equal(r.provider.needsRefresh(), true, 'still inside the window')
    assert.equal(server.requests.length, 0)
    if (!againstV2) {
      const v2r = await v2Load('dev')
      assert.equal(
        v2r.error && v2r.error.message,
        'Key "clientId" not present in SSO Token',
        'v2 failed here',
      )
    }
  })
})

test('[fix] 4.2 inside the window with an expired registration: served with no network call', async () => {
  const tok = {
    accessToken: 'in-window-2',
    expiresAt: isoIn(120),
    refreshToken: 'r',
    clientId: 'c',
    clientSecret: 's',
    registrationExpiresAt: isoIn(-3600),
  }
  await withHome({ config: CONFIG, tokens: { [KEY]: tok } }, async (h, server) => {
    const r = await oursLoad('dev')
    assert.equal(r.error, null, r.error && r.error.message)
    assert.equal(r.token, 'in-window-2')
    assert.equal(server.requests.length, 0)
  })
})

test('[fix] 4.2 expired with an expired registration: failure, no network call', async () => {
  const tok = {
    accessToken: 'gone',
    expiresAt: isoIn(-60),
    refreshToken: 'r',
    clientId: 'c',
    clientSecret: 's',
    registrationExpiresAt: isoIn(-3600),
  }
  await withHome({ config: CONFIG, tokens: { [KEY]: tok } }, async (h, server) => {
    const r = await oursLoad('dev')
    assertFailure(r.error)
    assert.equal(r.error.message.includes('gone'), false)
    assert.equal(server.requests.length, 0)
  })
})

const MISSING = [
  [{}, 'clientId'],
  [{ clientId: 'c' }, 'clientSecret'],
  [{ clientId: 'c', clientSecret: 's' }, 'refreshToken'],
  [{ clientSecret: 's', refreshToken: 'r' }, 'clientId'],
  [{ clientId: 'c', refreshToken: 'r' }, 'clientSecret'],
]
for (const [extra, key] of MISSING) {
  test(`[compat] 4.2 expired and missing refresh keys ${JSON.stringify(Object.keys(extra))}: Key "${key}" not present`, async () => {
    const tok = { accessToken: 'expired', expiresAt: isoIn(-60), ...extra }
    const h = makeHome({ config: CONFIG, tokens: { [KEY]: tok } })
    let server
    try {
      useHome(h.home)
      server = await oidcTrap()
      const before = fs.readFileSync(h.cachePath(KEY))
      const r = await oursLoad('dev')
      assertFailure(r.error, messages.expiredWithoutKey(key, 'dev'))
      assert.equal(r.provider.expired, true)
      assert.equal(server.requests.length, 0)
      assert.deepEqual(fs.readFileSync(h.cachePath(KEY)), before)
      if (!againstV2) {
        const v2r = await v2Load('dev')
        // v2's text, word for word, then ours goes on.
        assert.ok(r.error.message.startsWith(v2r.error.message), v2r.error.message)
      }
    } finally {
      h.cleanup()
      if (server) await server.close()
    }
  })
}
