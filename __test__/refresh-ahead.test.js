'use strict'

// Refresh ahead of need (docs/behaviour.md §4.7): inside the advisory window (900 s) and
// beyond the mandatory one (expiryWindow, 300 s), every call is answered at once with the
// token in memory while one refresh per cache file runs in the background; inside the
// mandatory window a call waits, as in v2.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('./helpers')
const {
  assertFailure,
  construct,
  createTokenOk,
  delay,
  invalidGrantReply,
  listDir,
  runNode,
  setup,
} = require('./oidc-server.js')

const BAD_ADVISORY =
  'The "advisoryWindow" setting must be a number of seconds from 0 to 315360000 (ten years)'

test('the advisory window is 900 s, on the class, the prototype and per instance', () => {
  const { SSOTokenProvider } = require('..')
  assert.equal(SSOTokenProvider.advisoryWindow, 900)
  assert.equal(SSOTokenProvider.prototype.advisoryWindow, 900)
  const p = new SSOTokenProvider({ profile: 'none', callback() {} })
  assert.equal(p.advisoryWindow, 900)
  p.advisoryWindow = 60
  assert.equal(p.advisoryWindow, 60)
  assert.equal(SSOTokenProvider.advisoryWindow, 900)
})

test('inside the advisory band: every call answers at once, one CreateToken, every instance gets the new token', async () => {
  const profiles = Array.from({ length: 5 }, (_, i) => `ahead-${process.pid}-${i}`)
  const s = await setup({
    expiresIn: 600,
    profiles,
    handler: async (req, res) => {
      await delay(300)
      createTokenOk(res, { accessToken: 'ahead-token', refreshToken: 'ahead-rt' })
    },
  })
  try {
    const { SSOTokenProvider } = require('..')
    const providers = []
    for (const profile of profiles) {
      for (let i = 0; i < 4; i++) providers.push(new SSOTokenProvider({ profile }))
    }
    const start = Date.now()
    await Promise.all(providers.flatMap((p) => [p.getPromise(), p.getPromise(), p.getPromise()]))
    const answeredMs = Date.now() - start
    for (const p of providers) assert.equal(p.token, s.doc.accessToken, 'answered with the token in memory')
    assert.ok(answeredMs < 250, `the calls waited ${answeredMs} ms`)
    // Warm calls meanwhile answer at once as well.
    for (let i = 0; i < 1000; i++) await providers[i % providers.length].getPromise()
    const deadline = Date.now() + 5000
    while (providers.some((p) => p.token !== 'ahead-token') && Date.now() < deadline) await delay(20)
    for (const p of providers) assert.equal(p.token, 'ahead-token', 'the new token reached every instance')
    assert.equal(s.server.requests.length, 1, 'exactly one CreateToken')
    const written = s.home.readToken(s.session)
    assert.equal(written.accessToken, 'ahead-token')
    assert.equal(written.refreshToken, 'ahead-rt')
  } finally {
    await s.done()
  }
})

test('a failing refresh ahead of need reaches no caller while the token is valid', async () => {
  const s = await setup({ expiresIn: 600, handler: invalidGrantReply })
  try {
    const { SSOTokenProvider } = require('..')
    const p = new SSOTokenProvider({ profile: s.profile })
    for (let i = 0; i < 200; i++) await p.getPromise()
    await delay(100)
    for (let i = 0; i < 200; i++) await p.getPromise()
    await new Promise((resolve, reject) => p.get((err) => (err ? reject(err) : resolve())))
    assert.equal(p.token, s.doc.accessToken)
    assert.equal(s.server.requests.length, 1, 'one attempt; the throttle holds the others')
    assert.equal(fs.readFileSync(s.file, 'utf8'), s.before.bytes)
  } finally {
    await s.done()
  }
})

test('inside the mandatory window a call waits for the refresh, as in v2', async () => {
  const s = await setup({
    expiresIn: 100,
    handler: async (req, res) => {
      await delay(300)
      createTokenOk(res, { accessToken: 'waited-token' })
    },
  })
  try {
    const r = await construct(s.profile)
    assert.equal(r.err, null)
    assert.equal(r.provider.token, 'waited-token')
    assert.ok(r.ms >= 290, `answered after ${r.ms} ms`)
  } finally {
    await s.done()
  }
})

test('a process with a refresh ahead of need pending ends at once and leaves the file whole', async () => {
  const s = await setup({ expiresIn: 600, handler: () => new Promise(() => {}) })
  try {
    const r = await runNode([path.join(__dirname, 'workers', 'ahead-and-exit.js')], {
      env: s.home.env({ SSO_TEST_PROFILE: s.profile, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url }),
      timeoutMs: 20_000,
    }).done
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.ms < 3000, `the process took ${r.ms} ms to end`)
    const out = JSON.parse(r.stdout.trim())
    assert.equal(out.token, s.doc.accessToken)
    assert.equal(s.server.requests.length, 1, 'the refresh had started')
    assert.equal(fs.readFileSync(s.file, 'utf8'), s.before.bytes)
    // No temp file; the lock file of the killed refresh stays, and the kernel has dropped
    // its lock, so the next refresh takes it over at once.
    const left = listDir(s.home.cacheDir).filter((name) => name !== `${path.basename(s.file)}.lock`)
    assert.deepEqual(left, [path.basename(s.file)])
  } finally {
    await s.done()
  }
})

for (const loader of ['threads', 'pool']) {
  test(`a process lives until the load it started calls back (loader: ${loader})`, async () => {
    const s = await setup({
      expiresIn: 100,
      handler: async (req, res) => {
        await delay(500)
        createTokenOk(res, { accessToken: 'late-token' })
      },
    })
    try {
      const r = await runNode([path.join(__dirname, 'workers', 'callback-then-exit.js')], {
        env: s.home.env({
          SSO_TEST_PROFILE: s.profile,
          AWS_ENDPOINT_URL_SSO_OIDC: s.server.url,
          SSO_TOKEN_PROVIDER_LOADER: loader,
        }),
      }).done
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout.trim()), { error: null })
      assert.ok(r.ms >= 500, `ended after ${r.ms} ms`)
      assert.equal(s.home.readToken(s.session).accessToken, 'late-token')
    } finally {
      await s.done()
    }
  })
}

test('an advisory window that is not a number of seconds fails the load clearly', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const { SSOTokenProvider } = require('..')
    for (const bad of [-1, 'abc', 1e300, 10n]) {
      const p = new SSOTokenProvider({ profile: s.profile })
      await p.getPromise()
      p.advisoryWindow = bad
      assertFailure(
        await p.refreshPromise().then(
          () => null,
          (e) => e,
        ),
        BAD_ADVISORY,
      )
    }
    const p = new SSOTokenProvider({ profile: s.profile })
    p.advisoryWindow = 0 // no refresh ahead of need: a valid setting
    await p.refreshPromise()
    assert.equal(p.token, s.doc.accessToken)
  } finally {
    await s.done()
  }
})
