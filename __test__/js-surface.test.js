'use strict'

// The JavaScript surface under odd use (docs/behaviour.md §1): windows that are not
// numbers of seconds, values that throw, callbacks that are not functions, frozen and
// sealed instances, proxies and the prototype. The process lives, no call is left
// hanging, and an odd setting is a clear error through the callback.

const assert = require('node:assert/strict')
const path = require('node:path')
const { assertFailure, freshToken, loadOurs, makeHome, sessionConfig, test, withToken } = require('./helpers')
const { lastJson, runNode } = require('./oidc-server.js')

const { SSOTokenProvider } = loadOurs()
const BAD_WINDOW = 'The "expiryWindow" setting must be a number of seconds from 0 to 315360000 (ten years)'

const settled = (promise) =>
  promise.then(
    () => null,
    (e) => e,
  )

test(
  'windows that aborted Node or overflowed are a clear error; the process lives',
  { timeout: 30_000 },
  async () => {
    const token = freshToken()
    const h = makeHome({
      config: sessionConfig({ profile: 'dev', session: 'my-sso' }),
      tokens: { 'my-sso': token },
    })
    try {
      const run = runNode([path.join(__dirname, 'workers', 'odd-windows.js')], { env: h.env() })
      const r = await run.done
      assert.equal(r.code, 0, `exit ${r.code} ${r.signal || ''}: ${r.stderr}`)
      const results = lastJson(r.stdout)
      const good = new Set(['600', "'600'", '0'])
      for (const { label, where, message } of results) {
        assert.equal(message, good.has(label) ? null : BAD_WINDOW, `${where} ${label}`)
      }
      assert.equal(results.length, 30)
    } finally {
      h.cleanup()
    }
  },
)

test('a window or profile that throws when read fails the load clearly and wedges nothing', async () => {
  await withToken(async (token) => {
    const odd = [
      (p) => (p.expiryWindow = 10n),
      (p) => (p.expiryWindow = Symbol('w')),
      (p) =>
        (p.expiryWindow = {
          valueOf: () => {
            throw new Error('boom')
          },
        }),
      (p) =>
        Object.defineProperty(p, 'expiryWindow', {
          configurable: true,
          get: () => {
            throw new Error('boom')
          },
        }),
    ]
    for (const spoil of odd) {
      const p = new SSOTokenProvider({ profile: 'dev' })
      await p.getPromise()
      spoil(p)
      const errors = await Promise.all([settled(p.refreshPromise()), settled(p.refreshPromise())])
      for (const err of errors) assertFailure(err, BAD_WINDOW)
      // Not wedged: with a good window again, the next load works.
      Object.defineProperty(p, 'expiryWindow', { value: 300, writable: true, configurable: true })
      await p.refreshPromise()
      assert.equal(p.token, token.accessToken)
    }
    const p = new SSOTokenProvider({ profile: 'dev' })
    await p.getPromise()
    Object.defineProperty(p, 'profile', {
      get: () => {
        throw new Error('boom')
      },
      configurable: true,
    })
    assertFailure(await settled(p.refreshPromise()), 'The "profile" option must be a string')
  })
})

test('a process.env that throws fails the load with a clear error, and the next load works', async () => {
  await withToken(async (token) => {
    const p = new SSOTokenProvider({ profile: 'dev' })
    await p.getPromise()
    const real = process.env
    const throwing = new Proxy(real, {
      get(target, name) {
        if (name === 'HOME') throw new Error('env is locked')
        return Reflect.get(target, name)
      },
    })
    Object.defineProperty(process, 'env', { value: throwing, configurable: true, writable: true })
    let err
    try {
      err = await settled(p.refreshPromise())
    } finally {
      Object.defineProperty(process, 'env', { value: real, configurable: true, writable: true })
    }
    assertFailure(err, 'The environment could not be read: env is locked')
    await p.refreshPromise()
    assert.equal(p.token, token.accessToken)
  })
})

test('a callback that is not a function is a TypeError at once; queued callbacks still run', async () => {
  await withToken(async () => {
    const calls = []
    const p = new SSOTokenProvider({ profile: 'dev', callback: (err) => calls.push(['ctor', err]) })
    p.refresh((err) => calls.push(['first', err]))
    for (const bad of [1, 'x', {}, true]) {
      assert.throws(() => p.get(bad), {
        name: 'TypeError',
        message: 'The callback of get() must be a function',
      })
      assert.throws(() => p.refresh(bad), {
        name: 'TypeError',
        message: 'The callback of refresh() must be a function',
      })
    }
    p.refresh((err) => calls.push(['last', err]))
    await p.refreshPromise()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(calls, [
      ['ctor', null],
      ['first', null],
      ['last', null],
    ])
  })
})

test('a frozen instance, and a sealed or frozen subclass instance, store their token', async () => {
  await withToken(async (token) => {
    const frozen = await new Promise((resolve, reject) => {
      const p = Object.freeze(
        new SSOTokenProvider({ profile: 'dev', callback: (err) => (err ? reject(err) : resolve(p)) }),
      )
    })
    assert.equal(frozen.token, token.accessToken)
    assert.equal(frozen.expired, false)
    assert.equal(+frozen.expireTime, Date.parse(token.expiresAt))
    assert.equal(frozen.needsRefresh(), false)
    class Sealed extends SSOTokenProvider {
      constructor(options) {
        super(options)
        Object.seal(this)
      }
    }
    class Frozen extends SSOTokenProvider {
      constructor(options) {
        super(options)
        Object.freeze(this)
      }
    }
    for (const Kind of [Sealed, Frozen]) {
      const p = new Kind({ profile: 'dev' })
      await p.refreshPromise()
      assert.equal(p.token, token.accessToken, Kind.name)
    }
  })
})

test('the prototype expiryWindow reads and writes the class default; a Proxy of an instance works', async () => {
  await withToken(async (token) => {
    assert.equal(SSOTokenProvider.prototype.expiryWindow, 300)
    SSOTokenProvider.prototype.expiryWindow = 600
    try {
      assert.equal(SSOTokenProvider.expiryWindow, 600)
      const p = new SSOTokenProvider({ profile: 'dev' })
      assert.equal(p.expiryWindow, 600)
      p.expiryWindow = 30
      assert.equal(p.expiryWindow, 30)
      assert.equal(SSOTokenProvider.prototype.expiryWindow, 600)
    } finally {
      SSOTokenProvider.prototype.expiryWindow = 300
    }
    const proxy = new Proxy(new SSOTokenProvider({ profile: 'dev' }), {})
    await proxy.getPromise()
    await proxy.refreshPromise()
    await new Promise((resolve, reject) => proxy.get((err) => (err ? reject(err) : resolve())))
    assert.equal(proxy.token, token.accessToken)
    assert.equal(proxy.needsRefresh(), false)
    proxy.expiryWindow = 7200
    assert.equal(proxy.needsRefresh(), true)
  })
})

test('a method called on something that is not a provider is a TypeError', () => {
  for (const method of ['get', 'refresh', 'refreshPromise', 'needsRefresh']) {
    assert.throws(() => SSOTokenProvider.prototype[method].call({}), {
      name: 'TypeError',
      message: `SSOTokenProvider.prototype.${method} called on an object that is not an SSOTokenProvider`,
    })
  }
})

test('get() without a callback drops a failure as v2 does, and says it under NODE_DEBUG', async () => {
  const h = makeHome({ config: sessionConfig({ profile: 'dev', session: 'my-sso' }) })
  try {
    const code = `
      const { SSOTokenProvider } = require(${JSON.stringify(path.join(__dirname, '..'))})
      const p = new SSOTokenProvider({ profile: 'nope', callback() { p.get() } })
      setTimeout(() => {}, 200)`
    for (const debug of ['sso-token-provider', '']) {
      const r = await runNode(['-e', code], { env: { ...h.env(), NODE_DEBUG: debug } }).done
      assert.equal(r.code, 0, r.stderr)
      const said =
        /SSO-TOKEN-PROVIDER \d+: get\(\) without a callback failed: Profile "nope" not found in config file /.test(
          r.stderr,
        )
      assert.equal(said, debug !== '', r.stderr)
    }
  } finally {
    h.cleanup()
  }
})
