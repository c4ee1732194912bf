'use strict'

// The one bridge to the Rust binding, shared by index.js and the sso-token command.

const { loadToken, refreshToken, envVariables, ERROR_CODE } = require('../binding.js')

const ENV_NAMES = envVariables()

// Passed to Rust rather than read there: `process.env` differs per worker thread.
function readEnv() {
  const values = new Array(ENV_NAMES.length)
  for (let i = 0; i < ENV_NAMES.length; i++) values[i] = process.env[ENV_NAMES[i]]
  return values
}

// v2's rule: the given name, else AWS_PROFILE, else 'default' (empty strings fall through).
function profileName(given) {
  return given || process.env.AWS_PROFILE || 'default'
}

// The shape of v2's `AWS.util.error(new Error(message), { code })`, with `name` set too.
function failure(message) {
  const err = new Error(message)
  err.code = ERROR_CODE
  Object.defineProperty(err, 'name', {
    value: ERROR_CODE,
    writable: true,
    enumerable: false,
    configurable: true,
  })
  err.time = new Date()
  return err
}

// Refreshes under way in this JS realm, by cache file and options: loads of one file share
// one call (Rust shares one CreateToken across realms too).
const refreshing = new Map()

function sharedRefresh(cachePath, profile, env, windowMs, force) {
  const key = `${cachePath}\0${windowMs}\0${force}`
  let pending = refreshing.get(key)
  if (!pending) {
    pending = refreshToken(profile, env, windowMs, force)
    refreshing.set(key, pending)
    const forget = () => refreshing.delete(key)
    pending.then(forget, forget)
  }
  return pending
}

function internalError(e) {
  return { ok: false, message: `Internal error in sso-token-provider (${e && e.message}); please report it` }
}

/**
 * One load. The local part (config, cache file, decision) runs on the libuv pool; a due
 * refresh goes on on a thread of its own, so network waits never hold a pool thread.
 * Resolves to the binding's result object; never rejects (a failed load is
 * `{ ok: false, message }`).
 */
function load(profile, expiryWindowSeconds, force) {
  if (typeof profile !== 'string') {
    return Promise.resolve({ ok: false, message: 'The "profile" option must be a string' })
  }
  const env = readEnv()
  const windowMs = expiryWindowSeconds * 1000
  return loadToken(profile, env, windowMs, force)
    .then((result) =>
      result.needsNetwork ? sharedRefresh(result.cachePath, profile, env, windowMs, force) : result,
    )
    .catch(internalError)
}

module.exports = { ERROR_CODE, failure, load, profileName }
