'use strict'

// The v2-shaped JavaScript layer: callbacks, promises, coalescing, error fields. Every load
// runs in Rust on the libuv pool (binding.js -> src/lib.rs); this file only keeps the state
// v2 users read (`token`, `expireTime`, `expired`) and hands out callbacks on a later tick.

const { ERROR_CODE, failure, load, profileName } = require('./lib/native.js')

const noop = () => {}

function settle(callbacks, err) {
  // One tick per callback, so a callback that throws cannot keep the others from running.
  for (const cb of callbacks) process.nextTick(cb, err)
}

class SSOTokenProvider {
  #expiryWindow = undefined
  #callbacks = []

  constructor(options) {
    options = options || {}
    const callback = options.callback
    if (callback != null && typeof callback !== 'function') {
      throw new TypeError('The "callback" option must be a function')
    }
    // Like v2's hideProperties: the token never shows in console.log or JSON.stringify.
    Object.defineProperty(this, 'token', {
      value: undefined,
      writable: true,
      enumerable: false,
      configurable: true,
    })
    this.expired = true
    this.expireTime = null
    this.profile = profileName(options.profile)
    this.get(callback || noop)
  }

  get expiryWindow() {
    return this.#expiryWindow === undefined ? SSOTokenProvider.expiryWindow : this.#expiryWindow
  }

  set expiryWindow(seconds) {
    this.#expiryWindow = seconds
  }

  needsRefresh() {
    if (this.expireTime && Date.now() + this.expiryWindow * 1000 > +this.expireTime) return true
    return this.expired || !this.token
  }

  get(callback) {
    if (this.needsRefresh()) {
      this.refresh((err) => {
        if (!err) this.expired = false
        if (callback) callback(err)
      })
    } else if (callback) {
      callback()
    }
  }

  refresh(callback) {
    this.#coalesce(callback || noop)
  }

  getPromise() {
    // The warm path: a valid token in memory answers without touching Rust or the disk.
    if (!this.needsRefresh()) return Promise.resolve()
    return new Promise((resolve, reject) => this.get((err) => (err ? reject(err) : resolve())))
  }

  refreshPromise() {
    return new Promise((resolve, reject) => this.refresh((err) => (err ? reject(err) : resolve())))
  }

  // Concurrent get/refresh calls on one instance share the load already running.
  #coalesce(callback) {
    if (this.#callbacks.push(callback) > 1) return
    const done = (result) => {
      const callbacks = this.#callbacks
      this.#callbacks = []
      settle(callbacks, this.#apply(result))
    }
    load(this.profile, this.expiryWindow, false).then(done)
  }

  #apply(result) {
    if (!result.ok) return failure(result.message)
    this.token = result.token
    this.expireTime = new Date(result.expiresAt)
    this.expired = false
    return null
  }
}

// v2's documented five minutes; writable, and read at each load.
SSOTokenProvider.expiryWindow = 300

// The SDK v3 token-provider shape: `token` option of any v3 client.
function fromSso(init) {
  const profile = init && init.profile
  let provider
  return async function ssoTokenProvider() {
    if (!provider) provider = new SSOTokenProvider({ profile })
    await provider.getPromise()
    return { token: provider.token, expiration: provider.expireTime }
  }
}

module.exports = { SSOTokenProvider, fromSso, ERROR_CODE }
