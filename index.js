'use strict'

// The v2-shaped JavaScript layer: callbacks, promises, per-instance coalescing, the state
// v2 users read (`token`, `expireTime`, `expired`). Every load runs in Rust
// (lib/native.js -> src/lib.rs); this file only keeps that state and hands out results
// on a later tick.

const { inspect } = require('node:util')
const {
  ERROR_CODE,
  REFRESH_THROTTLE_MS,
  failure,
  load,
  loadPromise,
  profileName,
  seconds,
} = require('./lib/native.js')
const watch = require('./lib/watch.js')

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
// is refreshed in the background).
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
      // The cache and config files whose token this is, and what lib/watch.js saw of them:
      // `changes` counts change events, `stale` says the next get() must reload.
      files: [],
      heldPaths: [],
      watched: false,
      changes: 0,
      stale: false,
      // When a refresh ahead of need was last asked for.
      aheadAt: 0,
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
    this.get(callback || noop)
  }

  // v2's needsRefresh. Its twin, the load's decision, is `Window::band` in
  // core/src/decide.rs: there "valid" is strictly more than the window left, so at the
  // exact edge v2's two rules disagree by a millisecond, as they do in v2. A window that
  // is not a number of seconds needs a load, which reports it.
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
    // A file that changed on disk (a new login, a logout, another tool's refresh) is read
    // again before its token is used: a logout must not be answered from memory.
    if (this.needsRefresh() || state.stale) {
      this.refresh((err) => {
        if (!err) this.expired = false
        if (callback) callback(err)
      })
    } else {
      refreshAheadIfDue(this, state)
      if (callback) callback()
    }
  }

  refresh(callback) {
    const state = stateOf(this, 'refresh')
    checkCallback(callback, 'refresh')
    const cb = callback || noop
    // One tick per callback, so a callback that throws cannot keep the others from running.
    join(this, state, (err) => process.nextTick(cb, err))
  }

  getPromise() {
    // The warm path: a valid token in memory answers without touching Rust or the disk.
    const state = stateOf(this, 'getPromise')
    if (!this.needsRefresh() && !state.stale) {
      refreshAheadIfDue(this, state)
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => this.get((err) => (err ? reject(err) : resolve())))
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

// Inside the advisory window and beyond the mandatory one, a call is answered with the
// token in memory and one background load is asked for: the engine refreshes the file
// (one refresh per file per process, throttled, under the cross-process lock) and hands
// the new token to every instance holding it (lib/watch.js). Its twin is
// `Band::Advisory` of `Window::band` in core/src/decide.rs. Asked for at most once per
// throttle period per instance, so a failing refresh is not asked for on every call.
function refreshAheadIfDue(provider, state) {
  // A throwing setting reads as NaN, which asks for nothing: the next load reports it.
  const advisory = seconds(readOr(() => provider.advisoryWindow, NaN))
  const now = Date.now()
  if (!(advisory > 0) || !state.expireTime || now + advisory * 1000 < +state.expireTime) return
  if (now - state.aheadAt < REFRESH_THROTTLE_MS) return
  state.aheadAt = now
  const profile = readOr(() => provider.profile, undefined)
  const expiryWindow = readOr(() => provider.expiryWindow, NaN)
  const changes = state.changes
  const done = (result) => {
    // A failure here reaches no caller: the token in memory is still valid.
    if (result.ok) apply(state, result, changes)
    else watch.log('refresh ahead of %s failed: %s', profile, result.message)
  }
  load(profile, { expiryWindow, advisoryWindow: advisory, env: state.env }, done)
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

// Adds a waiter to the instance's load, starting one if none is under way. Nothing thrown
// while starting it escapes: every waiter hears back exactly once.
function join(provider, state, waiter) {
  if (state.waiters.push(waiter) > 1) return
  // A throwing getter reads as unusable: the load then says which setting is wrong.
  const profile = readOr(() => provider.profile, undefined)
  const expiryWindow = readOr(() => provider.expiryWindow, NaN)
  const advisoryWindow = readOr(() => provider.advisoryWindow, NaN)
  const changes = state.changes
  const done = (result) => {
    const waiters = state.waiters
    state.waiters = []
    const err = apply(state, result, changes)
    for (const w of waiters) w(err)
  }
  load(profile, { expiryWindow, advisoryWindow, env: state.env }, done)
}

function readOr(read, fallback) {
  try {
    return read()
  } catch {
    return fallback
  }
}

// Takes a load's result into `state`. `changes` is the count of change events when the
// load started: an event after that may be one the load's read did not see, so the state
// stays stale and the next get() reads again.
function apply(state, result, changes) {
  if (!result.ok) return failure(result.message)
  state.token = result.token
  state.expireTime = new Date(result.expiresAt)
  state.expired = false
  if (state.changes === changes) state.stale = false
  watch.hold(state, result.cachePath, result.configPath)
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
      const result = await loadPromise(profile, {
        expiryWindow: SSOTokenProvider.expiryWindow,
        advisoryWindow: SSOTokenProvider.advisoryWindow,
        env,
      })
      if (!result.ok) throw v3Failure(failure(result.message), profile)
      return { token: result.token, expiration: new Date(result.expiresAt) }
    }
    let provider = providers.get(profile)
    if (!provider) {
      provider = new SSOTokenProvider({ profile, callback: noop, [kEnv]: env })
      providers.set(profile, provider)
    }
    try {
      await provider.getPromise()
    } catch (err) {
      throw v3Failure(err, profile)
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
function v3Failure(err, profile) {
  err.tryNextLink = err.message === `Profile "${profile}" is missing required property "sso_session".`
  return err
}

module.exports = { SSOTokenProvider, fromSso, ERROR_CODE }
