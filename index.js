'use strict'

// The v2-shaped JavaScript layer: callbacks, promises, per-instance coalescing, the state
// v2 users read (`token`, `expireTime`, `expired`). Every load runs in Rust
// (lib/native.js -> src/lib.rs); this file only keeps that state and hands out results
// on a later tick. The sign-in and sign-out, login() and logout(), are lib/login.js's.

const { inspect, debuglog } = require('node:util')
const native = require('./lib/native.js')
const holders = require('./lib/holders.js')

const { ERROR_CODE, profileFromEnv, profileName, seconds } = native
const log = debuglog('sso-token-provider')
const noop = () => {}

// fromSso's configFilepath reaches its provider's loads as AWS_CONFIG_FILE through this
// constructor option, which is not part of the v2 API.
const kEnv = Symbol('environment overrides')

// Each instance's state lives in one object reached through this non-enumerable key, not
// in #private fields: a frozen instance, a sealed subclass instance and a Proxy of an
// instance all keep working, as they do with v2's plain properties.
const kState = Symbol('SSOTokenProvider state')

function stateOf(provider, method) {
  const state = provider != null ? provider[kState] : undefined
  if (!state) {
    throw new TypeError(
      `SSOTokenProvider.prototype.${method} called on an object that is not an SSOTokenProvider`,
    )
  }
  return state
}

function checkCallback(callback, method) {
  if (callback != null && typeof callback !== 'function') {
    throw new TypeError(`The callback of ${method}() must be a function`)
  }
}

// The class-wide window settings, in seconds: `SSOTokenProvider.<name>` and
// `SSOTokenProvider.prototype.<name>` read and write these; an instance assignment
// shadows them for that instance only. expiryWindow is v2's (a load inside it waits for
// the refresh); advisoryWindow is ours (inside it a call is answered at once and the token
// is refreshed in the background). The core applies them; see Window in core/src/decide.rs.
const defaults = { expiryWindow: 300, advisoryWindow: 900 }

function windowSetting(name) {
  return {
    get() {
      const state = this != null ? this[kState] : undefined
      return state && state[name] !== undefined ? state[name] : defaults[name]
    },
    set(value) {
      const state = this != null ? this[kState] : undefined
      if (state) state[name] = value
      else defaults[name] = value
    },
    enumerable: false,
    configurable: true,
  }
}

class SSOTokenProvider {
  constructor(options) {
    options = options || {}
    const callback = options.callback
    if (callback != null && typeof callback !== 'function') {
      throw new TypeError('The "callback" option must be a function')
    }
    const state = {
      token: undefined,
      expireTime: null,
      expired: true,
      expiryWindow: undefined,
      advisoryWindow: undefined,
      env: options[kEnv],
      // Callers waiting on the load under way; v2 coalesces per instance.
      waiters: [],
      // What the core said of the token: its version, and the times at which a call must
      // ask again (`timing`, for the windows it was asked with); null when unknown.
      version: -1,
      timing: null,
      // A refresh ahead of need was asked for since the last answer.
      askedAhead: false,
      // What the core finds this instance's profile and environment by, and the request
      // that named it: while neither changes, a lookup sends only numbers.
      key: undefined,
      keyRequest: null,
      // The cache file whose token this is (lib/holders.js).
      path: null,
    }
    state.ref = new WeakRef(state)
    Object.defineProperty(this, kState, { value: state })
    // Accessors over the state, so storing a token cannot fail on a frozen instance. Like
    // v2's hideProperties, the token never shows in console.log or JSON.stringify.
    Object.defineProperties(this, {
      token: accessor(state, 'token', false),
      expired: accessor(state, 'expired', true),
      expireTime: accessor(state, 'expireTime', true),
    })
    this.profile = profileName(options.profile)
    // The name v2's rule took from AWS_PROFILE, if it did: a "not found" says so.
    state.envProfile = profileFromEnv(options.profile) ? this.profile : undefined
    this.get(callback || noop)
  }

  // v2's needsRefresh, kept for the API: the provider's own calls decide from the times
  // the core gave them (Snapshot in core/src/engine.rs), whose mandatory edge is this.
  needsRefresh() {
    stateOf(this, 'needsRefresh')
    const windowSeconds = seconds(this.expiryWindow)
    if (!(windowSeconds >= 0)) return true
    if (this.expireTime && Date.now() + windowSeconds * 1000 > +this.expireTime) return true
    return this.expired || !this.token
  }

  get(callback) {
    const state = stateOf(this, 'get')
    checkCallback(callback, 'get')
    if (warm(this, state)) {
      if (callback) callback()
      return
    }
    this.refresh((err) => {
      if (!err) this.expired = false
      if (callback) callback(err)
      // v2 drops a failure nobody asked to hear; say it where a developer looks.
      else if (err) log('get() without a callback failed: %s', err.message)
    })
  }

  refresh(callback) {
    const state = stateOf(this, 'refresh')
    checkCallback(callback, 'refresh')
    const cb = callback || noop
    // One tick per callback, so a callback that throws cannot keep the others from running.
    join(this, state, (err) => process.nextTick(cb, err))
  }

  getPromise() {
    const state = stateOf(this, 'getPromise')
    // The warm path: a valid token in memory answers without a load.
    if (warm(this, state)) return Promise.resolve()
    return new Promise((resolve, reject) =>
      this.refresh((err) => {
        if (err) return reject(err)
        this.expired = false
        resolve()
      }),
    )
  }

  refreshPromise() {
    const state = stateOf(this, 'refreshPromise')
    return new Promise((resolve, reject) => join(this, state, (err) => (err ? reject(err) : resolve())))
  }

  // What console.log shows: v2's visible fields, never the token.
  [inspect.custom](depth, options, inspectFn) {
    const shown = { expired: this.expired, expireTime: this.expireTime, profile: this.profile }
    return `${this.constructor.name} ${(inspectFn || inspect)(shown, options)}`
  }
}

// v2's documented five minutes, as a static (v2's docs) and on the prototype (v2's code);
// the advisory fifteen minutes (botocore's advisory refresh) the same way.
for (const name of ['expiryWindow', 'advisoryWindow']) {
  Object.defineProperty(SSOTokenProvider.prototype, name, windowSetting(name))
  Object.defineProperty(SSOTokenProvider, name, { ...windowSetting(name), enumerable: true })
}

function accessor(state, key, enumerable) {
  return {
    get: () => state[key],
    set: (value) => {
      state[key] = value
    },
    enumerable,
    configurable: true,
  }
}

function readOr(read, fallback) {
  try {
    return read()
  } catch {
    return fallback
  }
}

/** The load request of `provider` now, or a thrown failure (a bad profile or environment). */
function requestOf(provider, state) {
  // A throwing getter reads as unusable: the load then says which setting is wrong.
  const profile = readOr(() => provider.profile, undefined)
  return native.request(profile, {
    profileFromEnv: profile !== undefined && profile === state.envProfile,
    expiryWindow: readOr(() => provider.expiryWindow, NaN),
    advisoryWindow: readOr(() => provider.advisoryWindow, NaN),
    env: state.env,
    version: state.version,
  })
}

/**
 * Whether a call can be answered from memory now: a token whose times, as the core gave
 * them for this instance's windows, say it need not wait, and (where changes on disk are
 * seen) no change since. Unknown times or a change are asked of the core on this thread,
 * which answers from memory unless a file changed. Inside the advisory band it asks once
 * for a refresh ahead of need.
 */
function warm(provider, state) {
  if (state.expired || !state.token || state.waiters.length > 0) return false
  let timing = state.timing
  const stale =
    !timing ||
    (timing.watched && native.changes() !== timing.changes) ||
    readOr(() => provider.expiryWindow, NaN) !== timing.expiryWindow ||
    readOr(() => provider.advisoryWindow, NaN) !== timing.advisoryWindow
  if (stale) {
    if (!state.path || !ask(provider, state)) return false
    timing = state.timing
    if (!timing) return false
  }
  const now = Date.now()
  if (now >= timing.mustRefreshAt) return false
  if (now >= timing.refreshAt && !state.askedAhead) {
    state.askedAhead = true
    ahead(provider, state)
  }
  return true
}

/** The request of `provider` now, or null when it cannot be built (the next load says why). */
function requestOrNull(provider, state) {
  try {
    return requestOf(provider, state)
  } catch {
    return null
  }
}

/** Asks the core about `state`'s token, synchronously; whether it answered with one. */
function ask(provider, state) {
  const req = requestOrNull(provider, state)
  if (!req) return false
  let answer = null
  const answered = native.lookup(req, (result) => (answer = result), state.keyRequest, state.key)
  // A pending answer is waited for by whoever asked; this call goes the slow way.
  if (!answered || !answer || !answer.ok) return false
  apply(state, answer, req)
  return true
}

/**
 * A refresh ahead of need: the core starts it (one per file, throttled) and its outcome
 * reaches every holder of the file through the channel. Nobody waits for it; a failure is
 * only logged, as the token in memory is still valid.
 */
function ahead(provider, state) {
  const req = requestOrNull(provider, state)
  if (!req) return
  const done = (result) => {
    if (result.ok) apply(state, result, req)
    else log('refresh ahead of %s failed: %s', req.profile, result.error.message)
  }
  send(state, req, done)
}

/**
 * `req` answered from the core's memory when nothing changed on disk, else read off the
 * JS thread. An answer from memory is handed over in the event loop's next check phase,
 * not at once: a caller reloading in a loop still lets timers and I/O run between its
 * reloads, as when every reload was a read. A read's result is counted from before it
 * began: a change after that is one the read may not have seen.
 */
function send(state, req, done) {
  if (native.lookup(req, (result) => setImmediate(done, result), state.keyRequest, state.key)) return
  const changes = native.changes(true)
  native.load(req, (result) => done(result.ok ? { ...result, changes } : result))
}

// Adds a waiter to the instance's load, starting one if none is under way. Nothing thrown
// while starting it escapes: every waiter hears back exactly once.
function join(provider, state, waiter) {
  if (state.waiters.push(waiter) > 1) return
  let req
  try {
    req = requestOf(provider, state)
  } catch (err) {
    finish(state, err)
    return
  }
  send(state, req, (result) => finish(state, apply(state, result, req)))
}

function finish(state, err) {
  const waiters = state.waiters
  state.waiters = []
  for (const w of waiters) w(err)
}

// Takes a load's result into `state`: the token (left out when the instance holds that
// version already), its expiry, the times the core computed for the windows of `req`, and
// the change count they hold for.
function apply(state, result, req) {
  if (!result.ok) return result.error
  if (result.token !== undefined) state.token = result.token
  if (result.version !== state.version || !state.expireTime) {
    state.expireTime = new Date(result.expiresAt)
  }
  state.version = result.version
  state.expired = false
  state.askedAhead = false
  state.timing = result.timing && {
    ...result.timing,
    expiryWindow: req.expiryWindow,
    advisoryWindow: req.advisoryWindow,
    changes: result.changes,
  }
  if (result.key !== undefined) {
    state.key = result.key
    state.keyRequest = req
  }
  if (result.cachePath !== undefined) holders.hold(state, result.cachePath)
  return null
}

// The SDK v3 token-provider shape: `token` option of any v3 client, alone or in a v3
// `chain()`. The init keys are those of v3's own fromSso (@aws-sdk/token-providers); the
// README says what each one does here. Tokens come from one SSOTokenProvider per profile
// name, so the freshness rule and the refresh are the class's.
function fromSso(init) {
  init = init || {}
  const { configFilepath, ignoreCache, logger } = init
  if (configFilepath !== undefined && (typeof configFilepath !== 'string' || configFilepath === '')) {
    // An empty path would read as "unset" in Rust and fall back to AWS_CONFIG_FILE or ~/.aws/config.
    throw new TypeError('The "configFilepath" option must be a non-empty string')
  }
  // v3's configFilepath is the config file, which we read as AWS_CONFIG_FILE; v3's
  // `filepath` is the credentials file, which we never read.
  const env = configFilepath === undefined ? undefined : { AWS_CONFIG_FILE: configFilepath }
  const providers = new Map()
  return async function ssoTokenProvider() {
    // v3's fromSso logs this one line per call and nothing else; we do the same.
    if (logger && typeof logger.debug === 'function') logger.debug('sso-token-provider - fromSso')
    // Per call, as v3's getProfileName: a changed AWS_PROFILE is seen by the next call.
    const profile = profileName(init.profile)
    if (ignoreCache) {
      // Read the files now, sharing no load that began before this call.
      const result = await native.loadPromise(profile, {
        expiryWindow: SSOTokenProvider.expiryWindow,
        advisoryWindow: SSOTokenProvider.advisoryWindow,
        env,
        profileFromEnv: profileFromEnv(init.profile),
      })
      if (!result.ok) throw v3Failure(result.error)
      return { token: result.token, expiration: new Date(result.expiresAt) }
    }
    let provider = providers.get(profile)
    if (!provider) {
      // The given name as given, so that the provider knows when AWS_PROFILE chose it.
      provider = new SSOTokenProvider({ profile: init.profile || undefined, callback: noop, [kEnv]: env })
      providers.set(profile, provider)
    }
    try {
      await provider.getPromise()
    } catch (err) {
      throw v3Failure(err)
    }
    return { token: provider.token, expiration: provider.expireTime }
  }
}

// v3's chain() goes on to the next provider only when an error says `tryNextLink: true`.
// v3's own fromSso says so for one case alone: a profile without `sso_session`, i.e. not an
// SSO profile at all. Everything else (no such profile, a broken session, no or a bad
// cached token, a failed refresh) needs the user to act, and hiding it behind another
// provider's token would be worse than stopping. Each case is checked against v3 itself in
// __test__/v3-chain.test.js.
function v3Failure(err) {
  err.tryNextLink = err.kind === 'NotAnSsoProfile'
  return err
}

// Loaded on first use: a process that only reads tokens never pays for the sign-in's
// modules (child_process among them) at require.
const login = (options) => require('./lib/login.js').login(options)
const logout = (options) => require('./lib/login.js').logout(options)

module.exports = { SSOTokenProvider, fromSso, login, logout, ERROR_CODE }
