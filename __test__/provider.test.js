'use strict'

// docs/behaviour.md §1: the public JavaScript API of SSOTokenProvider and fromSso.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const util = require('node:util')

const {
  isoIn,
  makeHome,
  useHome,
  sessionConfig,
  freshToken,
  loadOurs,
  oursLoad,
  assertFailure,
  startServer,
  createTokenReply,
  delay,
  test,
  messages,
} = require('./helpers')

const { SSOTokenProvider, fromSso } = loadOurs()

const CONFIG = sessionConfig({ profile: 'dev', session: 'my-sso' }) + '[default]\nsso_session = my-sso\n'
const KEY = 'my-sso'

async function withHome(opts, fn) {
  const h = makeHome({ config: CONFIG, ...opts })
  try {
    useHome(h.home)
    return await fn(h)
  } finally {
    h.cleanup()
  }
}

/** Constructs a provider and resolves [provider, err] when its constructor callback fires. */
function construct(options = {}) {
  return new Promise((resolve) => {
    let p
    const calls = []
    p = new SSOTokenProvider({
      ...options,
      callback(...args) {
        calls.push(args)
        setImmediate(() => resolve({ p, err: args[0], args, calls }))
      },
    })
  })
}

async function waitFor(cond, ms = 5000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await delay(5)
  }
}

// ------------------------------------------------------------------ class

test('[compat] the class is named SSOTokenProvider', () => {
  assert.equal(typeof SSOTokenProvider, 'function')
  assert.equal(SSOTokenProvider.name, 'SSOTokenProvider')
})

test('[compat] instances have the v2 methods', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    const { p } = await construct({ profile: 'dev' })
    assert.ok(p instanceof SSOTokenProvider)
    assert.equal(p.constructor.name, 'SSOTokenProvider')
    for (const m of ['get', 'refresh', 'getPromise', 'refreshPromise', 'needsRefresh']) {
      assert.equal(typeof p[m], 'function', m)
    }
  })
})

// ------------------------------------------------------------------ eager load

test('[compat] the constructor loads eagerly; token is set when the callback fires, not before', async () => {
  const tok = freshToken()
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    let p
    const calls = []
    const done = new Promise((resolve) => {
      p = new SSOTokenProvider({
        profile: 'dev',
        callback(...args) {
          calls.push(args)
          resolve(args)
        },
      })
    })
    // Right after `new`: nothing loaded yet.
    assert.equal(calls.length, 0, 'the callback must not run inside the constructor')
    assert.notEqual(p.token, tok.accessToken)
    assert.equal(p.expireTime, null)
    assert.equal(p.expired, true)
    assert.equal(p.needsRefresh(), true)
    assert.equal(p.profile, 'dev')

    const args = await done
    assert.equal(args[0], null, 'success is reported as null')
    assert.equal(p.token, tok.accessToken)
    assert.ok(p.expireTime instanceof Date)
    assert.equal(p.expireTime.getTime(), Date.parse(tok.expiresAt))
    assert.equal(p.expired, false)
    assert.equal(p.needsRefresh(), false)

    await delay(50)
    assert.equal(calls.length, 1, 'the constructor callback fires exactly once')
  })
})

test('[compat] new SSOTokenProvider() with no options uses the default profile', async () => {
  const tok = freshToken()
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    const p = new SSOTokenProvider()
    assert.equal(p.profile, 'default')
    await p.getPromise()
    assert.equal(p.token, tok.accessToken)
  })
})

test('[compat] profile: options.profile, then AWS_PROFILE, then "default"; empty strings fall back', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    assert.equal(new SSOTokenProvider({ profile: 'dev' }).profile, 'dev')
    assert.equal(new SSOTokenProvider({}).profile, 'default')
    process.env.AWS_PROFILE = 'dev'
    assert.equal(new SSOTokenProvider({}).profile, 'dev')
    assert.equal(new SSOTokenProvider({ profile: '' }).profile, 'dev')
    assert.equal(new SSOTokenProvider({ profile: 'other' }).profile, 'other')
    process.env.AWS_PROFILE = ''
    assert.equal(new SSOTokenProvider({}).profile, 'default')
    delete process.env.AWS_PROFILE
    await delay(50) // let the eager loads of the throw-away instances finish
  })
})

// ------------------------------------------------------------------ token visibility

test('[compat] token is not enumerable: Object.keys, JSON.stringify, util.inspect, spread', async () => {
  const tok = freshToken({ accessToken: 'VISIBLE-ONLY-AS-PROPERTY-42' })
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    const { p, err } = await construct({ profile: 'dev' })
    assert.equal(err, null)
    assert.equal(p.token, tok.accessToken, 'the token is readable')
    assert.equal(Object.keys(p).includes('token'), false)
    assert.equal(JSON.stringify(p).includes(tok.accessToken), false)
    assert.equal(util.inspect(p).includes(tok.accessToken), false)
    assert.equal(util.inspect(p, { depth: 5 }).includes(tok.accessToken), false)
    assert.equal(JSON.stringify({ ...p }).includes(tok.accessToken), false)
    const forIn = []
    for (const k in p) forIn.push(k)
    assert.equal(forIn.includes('token'), false)
  })
})

// ------------------------------------------------------------------ needsRefresh / get

test('[compat] needsRefresh: true before load, false when fresh, true inside the window', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async (h) => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    assert.equal(p.needsRefresh(), true)
    await p.getPromise()
    assert.equal(p.needsRefresh(), false)

    h.writeToken(KEY, { accessToken: 'soon', expiresAt: isoIn(100) })
    await p.refreshPromise()
    assert.equal(p.token, 'soon')
    assert.equal(p.needsRefresh(), true, 'inside the 300 s window')
  })
})

test('[compat] get() on a fresh token calls back synchronously with no argument', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    const { p } = await construct({ profile: 'dev' })
    let args = null
    p.get(function () {
      args = Array.from(arguments)
    })
    assert.deepEqual(args, [], 'called at once, with no argument')
  })
})

test('[compat] get() on a fresh, unchanged token calls back at once; a changed file is read again', async () => {
  const first = freshToken({ accessToken: 'first' })
  await withHome({ tokens: { [KEY]: first } }, async (h) => {
    const { p } = await construct({ profile: 'dev' })
    assert.equal(p.token, 'first')
    let now = false
    p.get(() => (now = true))
    assert.equal(now, true, 'v2 calls back before get() returns')
    // v2 would keep serving 'first' until the window; a change on disk is seen (§4.8).
    h.writeToken(KEY, freshToken({ accessToken: 'second', expiresAt: isoIn(7200) }))
    await delay(2)
    assert.equal(await p.getPromise(), undefined)
    assert.equal(p.token, 'second')
    h.writeToken(KEY, freshToken({ accessToken: 'third', expiresAt: isoIn(7200) }))
    assert.equal(await p.refreshPromise(), undefined)
    assert.equal(p.token, 'third')
    assert.ok(Math.abs(p.expireTime.getTime() - (Date.now() + 7200e3)) < 60e3)
  })
})

test('[compat] refresh() re-reads the config too (no in-memory config cache survives)', async () => {
  await withHome(
    { tokens: { [KEY]: freshToken({ accessToken: 'one' }), other: freshToken({ accessToken: 'two' }) } },
    async (h) => {
      const { p } = await construct({ profile: 'dev' })
      assert.equal(p.token, 'one')
      h.writeConfig(sessionConfig({ profile: 'dev', session: 'other' }))
      await p.refreshPromise()
      assert.equal(p.token, 'two')
    },
  )
})

test('[compat] get() that needs a load calls back on a later tick', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    let returned = false
    const err = await new Promise((resolve) => {
      p.get((e) => {
        assert.equal(returned, true, 'callback ran before get() returned')
        resolve(e)
      })
      returned = true
    })
    assert.ok(err === null || err === undefined)
    assert.equal(typeof p.token, 'string')
  })
})

test('[compat] refresh() callbacks run on a later tick, for success and failure', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async (h) => {
    const { p } = await construct({ profile: 'dev' })
    for (const setup of [() => {}, () => fs.rmSync(h.cachePath(KEY))]) {
      setup()
      let returned = false
      await new Promise((resolve) => {
        p.refresh(() => {
          assert.equal(returned, true, 'callback ran inside refresh()')
          resolve()
        })
        returned = true
      })
    }
  })
})

// ------------------------------------------------------------------ promises

test('[compat] getPromise / refreshPromise resolve undefined and reject with the error', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async (h) => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    const g = p.getPromise()
    assert.ok(g instanceof Promise)
    assert.equal(await g, undefined)
    const r = p.refreshPromise()
    assert.ok(r instanceof Promise)
    assert.equal(await r, undefined)

    fs.rmSync(h.cachePath(KEY))
    await assert.rejects(p.refreshPromise(), (e) => {
      assertFailure(e, 'Cached token not found. Please log in using "aws sso login" for profile "dev".')
      return true
    })
  })
})

// ------------------------------------------------------------------ coalescing

test('[compat] 10 concurrent getPromise() on a fresh instance all resolve with one token', async () => {
  const tok = freshToken()
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    const results = await Promise.all(Array.from({ length: 10 }, () => p.getPromise()))
    assert.deepEqual(results, Array(10).fill(undefined))
    assert.equal(p.token, tok.accessToken)
  })
})

test('[compat] get/refresh while a load is pending share that load', async () => {
  // The eager load has to refresh over the network; the stand-in server holds the
  // request. Meanwhile the cache file is replaced by a different valid token. Calls made
  // during the pending load must wait for it and see its result: an independent load
  // would read the new file and finish at once.
  let release
  const held = new Promise((resolve) => (release = resolve))
  const server = await startServer(async (req, res) => {
    await held
    createTokenReply(res, { accessToken: 'FROM-SERVER', expiresIn: 3600 })
  })
  const tok = {
    accessToken: 'in-window',
    expiresAt: isoIn(120),
    refreshToken: 'rt',
    clientId: 'cid',
    clientSecret: 'cs',
    registrationExpiresAt: isoIn(86400),
  }
  try {
    await withHome({ tokens: { [KEY]: tok } }, async (h) => {
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
      const ctorCalls = []
      const p = new SSOTokenProvider({ profile: 'dev', callback: (e) => ctorCalls.push(e) })
      await waitFor(() => server.requests.length === 1)
      h.writeToken(KEY, freshToken({ accessToken: 'FROM-FILE', expiresAt: isoIn(7200) }))

      const settled = []
      const pending = [
        p.refreshPromise().then(() => settled.push('refreshPromise')),
        p.getPromise().then(() => settled.push('getPromise')),
        new Promise((resolve) => p.refresh((e) => (settled.push('refresh'), resolve(e)))),
        new Promise((resolve) => p.get((e) => (settled.push('get'), resolve(e)))),
      ]
      await delay(300)
      assert.deepEqual(settled, [], 'calls made during a pending load must wait for it')

      release()
      await Promise.all(pending)
      await delay(20)
      assert.equal(settled.length, 4)
      assert.equal(p.token, 'FROM-SERVER')
      assert.equal(server.requests.length, 1, 'one CreateToken call')
      assert.deepEqual(ctorCalls, [null])
    })
  } finally {
    release()
    await server.close()
  }
})

// ------------------------------------------------------------------ failures

test('[fix] a failed load never wedges the instance (refresh and get both retry)', async () => {
  await withHome({}, async (h) => {
    const { p, err } = await construct({ profile: 'dev' })
    assertFailure(err, 'Cached token not found. Please log in using "aws sso login" for profile "dev".')
    assert.equal(p.expired, true)
    assert.equal(p.needsRefresh(), true)

    // concurrent calls on a failing instance all get the error
    const errs = await Promise.all(Array.from({ length: 5 }, () => p.getPromise().catch((e) => e)))
    for (const e of errs) assertFailure(e, err.message)

    h.writeToken(KEY, freshToken({ accessToken: 'now-there' }))
    await p.refreshPromise()
    assert.equal(p.token, 'now-there')
    assert.equal(p.expired, false, 'a successful refresh() clears expired')

    const q = new SSOTokenProvider({ profile: 'nobody' })
    await assert.rejects(q.getPromise())
    h.writeConfig(CONFIG.replace('[profile dev]', '[profile nobody]'))
    await q.getPromise()
    assert.equal(q.token, 'now-there')
    assert.equal(q.expired, false)
  })
})

test('[fix] the constructor never throws for configuration or cache problems', async () => {
  const setups = [
    [
      'no config file',
      (h) => fs.rmSync(h.configPath),
      (h) => messages.profileNotFound('dev', h.configPath, { missing: true }),
    ],
    [
      'config is a directory',
      (h) => (fs.rmSync(h.configPath), fs.mkdirSync(h.configPath)),
      /^Config file ".*" could not be read: /,
    ],
    [
      'profile missing',
      (h) => h.writeConfig('[profile x]\na = b\n'),
      (h) => messages.profileNotFound('dev', h.configPath),
    ],
    [
      'session missing',
      (h) => h.writeConfig('[profile dev]\nsso_session = zz\n'),
      (h) => messages.sessionNotFound('zz', h.configPath),
    ],
    [
      'cache missing',
      () => {},
      'Cached token not found. Please log in using "aws sso login" for profile "dev".',
    ],
    ['cache is garbage', (h) => h.writeToken(KEY, '{{{{'), /is not valid JSON: /],
    ['cache is a directory', (h) => fs.mkdirSync(h.cachePath(KEY)), /could not be read: /],
  ]
  for (const [name, setup, message] of setups) {
    await withHome({}, async (h) => {
      setup(h)
      let result
      const done = new Promise((resolve) => (result = resolve))
      assert.doesNotThrow(() => new SSOTokenProvider({ profile: 'dev', callback: result }), name)
      const err = await done
      assertFailure(err, typeof message === 'function' ? message(h) : message)
      // and without a callback: no throw, no unhandled error
      assert.doesNotThrow(() => new SSOTokenProvider({ profile: 'dev' }), name)
      await delay(20)
    })
  }
})

test('[fix] a callback that is not a function is a TypeError', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    for (const callback of ['cb', 42, {}, true]) {
      assert.throws(() => new SSOTokenProvider({ profile: 'dev', callback }), TypeError, String(callback))
    }
    assert.doesNotThrow(() => new SSOTokenProvider({ profile: 'dev', callback: undefined }))
    await delay(20)
  })
})

test('[fix] a non-string profile is reported through the callback', async () => {
  await withHome({ tokens: { [KEY]: freshToken() } }, async () => {
    for (const profile of [42, { name: 'dev' }, ['dev'], true]) {
      let provider
      let result
      const done = new Promise((resolve) => (result = resolve))
      assert.doesNotThrow(() => {
        provider = new SSOTokenProvider({ profile, callback: result })
      })
      const err = await done
      assertFailure(err, 'The "profile" option must be a string')
      await assert.rejects(
        provider.getPromise(),
        (e) => e.message === 'The "profile" option must be a string',
      )
    }
  })
})

test('[compat] errors are Errors with code, name, message and time', async () => {
  await withHome({}, async (h) => {
    const before = Date.now()
    const { err } = await construct({ profile: 'nope' })
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'SSOTokenProviderFailure')
    assert.equal(err.name, 'SSOTokenProviderFailure')
    assert.equal(err.message, messages.profileNotFound('nope', h.configPath))
    assert.ok(err.time instanceof Date)
    assert.ok(err.time.getTime() >= before - 1000 && err.time.getTime() <= Date.now() + 1000)
    assert.equal(typeof err.stack, 'string')
  })
})

test('[compat] error messages never contain the token or secrets', async () => {
  const secrets = {
    accessToken: 'AT-secret-value-111',
    refreshToken: 'RT-secret-value-222',
    clientSecret: 'CS-secret-value-333',
  }
  // expired, refresh keys incomplete (clientId missing)
  await withHome({ tokens: { [KEY]: { ...secrets, expiresAt: isoIn(-10) } } }, async (h) => {
    const { p, err } = await construct({ profile: 'dev' })
    assertFailure(err, messages.expiredWithoutKey('clientId', 'dev'))
    // a good load, then a broken file: the old token must not leak into the error
    h.writeToken(KEY, freshToken({ accessToken: secrets.accessToken }))
    await p.refreshPromise()
    h.writeToken(KEY, '{"accessToken": "' + secrets.accessToken + '", "expiresAt": "never"}')
    const err2 = await p.refreshPromise().catch((e) => e)
    assertFailure(err2)
    for (const e of [err, err2]) {
      const text = [e.message, e.stack, util.inspect(e), JSON.stringify(e)].join('\n')
      for (const s of Object.values(secrets)) assert.equal(text.includes(s), false, `${s} leaked: ${text}`)
    }
  })
})

// ------------------------------------------------------------------ expiryWindow

test('[compat] expiryWindow is 300, static and on the instance', () => {
  assert.equal(SSOTokenProvider.expiryWindow, 300)
  const p = new SSOTokenProvider({ profile: 'nowhere', callback() {} })
  assert.equal(p.expiryWindow, 300)
})

test('[compat] an instance expiryWindow assignment changes needsRefresh and the load decision', async () => {
  const server = await startServer((req, res) =>
    createTokenReply(res, { accessToken: 'REFRESHED', expiresIn: 3600 }),
  )
  const tok = {
    accessToken: 'four-hundred',
    expiresAt: isoIn(400),
    refreshToken: 'rt',
    clientId: 'cid',
    clientSecret: 'cs',
    registrationExpiresAt: isoIn(86400),
  }
  try {
    await withHome({ tokens: { [KEY]: tok } }, async () => {
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
      const { p, err } = await construct({ profile: 'dev' })
      assert.equal(err, null)
      assert.equal(p.token, 'four-hundred')
      assert.equal(server.requests.length, 0, '400 s left is outside the 300 s window')
      assert.equal(p.needsRefresh(), false)

      p.expiryWindow = 500
      assert.equal(p.expiryWindow, 500)
      assert.equal(p.needsRefresh(), true)
      assert.equal(SSOTokenProvider.expiryWindow, 300, 'the static is untouched')

      await p.getPromise()
      assert.equal(server.requests.length, 1, 'inside the 500 s window: refreshed')
      assert.equal(p.token, 'REFRESHED')
      assert.equal(p.needsRefresh(), false)
    })
  } finally {
    await server.close()
  }
})

test('[compat] a static expiryWindow assignment takes effect for new instances', async () => {
  const server = await startServer((req, res) =>
    createTokenReply(res, { accessToken: 'REFRESHED', expiresIn: 3600 }),
  )
  const tok = {
    accessToken: 'four-hundred',
    expiresAt: isoIn(400),
    refreshToken: 'rt',
    clientId: 'cid',
    clientSecret: 'cs',
  }
  try {
    await withHome({ tokens: { [KEY]: tok } }, async () => {
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
      SSOTokenProvider.expiryWindow = 500
      assert.equal(SSOTokenProvider.expiryWindow, 500)
      const { p, err } = await construct({ profile: 'dev' })
      assert.equal(p.expiryWindow, 500)
      assert.equal(err, null)
      assert.equal(server.requests.length, 1, 'the load used the 500 s window')
      assert.equal(p.token, 'REFRESHED')

      SSOTokenProvider.expiryWindow = 300
      const q = await construct({ profile: 'dev' })
      assert.equal(q.p.expiryWindow, 300)
      assert.equal(q.p.needsRefresh(), false)
    })
  } finally {
    SSOTokenProvider.expiryWindow = 300
    await server.close()
  }
})

// ------------------------------------------------------------------ fromSso

test('[beyond] fromSso({ profile }) resolves { token, expiration }', async () => {
  const tok = freshToken()
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    const provider = fromSso({ profile: 'dev' })
    assert.equal(typeof provider, 'function')
    const result = provider()
    assert.ok(result instanceof Promise)
    const identity = await result
    assert.equal(identity.token, tok.accessToken)
    assert.ok(identity.expiration instanceof Date)
    assert.equal(identity.expiration.getTime(), Date.parse(tok.expiresAt))
    const again = await provider()
    assert.equal(again.token, tok.accessToken)
  })
})

test('[beyond] fromSso rejects with SSOTokenProviderFailure', async () => {
  await withHome({}, async (h) => {
    await assert.rejects(fromSso({ profile: 'nope' })(), (e) => {
      assertFailure(e, messages.profileNotFound('nope', h.configPath))
      return true
    })
  })
})

test('[compat] oursLoad helper sanity: an expired-token failure leaves the instance expired', async () => {
  await withHome({ tokens: { [KEY]: { accessToken: 'x', expiresAt: isoIn(-5) } } }, async () => {
    const r = await oursLoad('dev')
    assertFailure(r.error, messages.expiredWithoutKey('clientId', 'dev'))
    assert.equal(r.provider.expired, true)
    assert.equal(r.provider.needsRefresh(), true)
  })
})
