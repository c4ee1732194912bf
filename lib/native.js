'use strict'

// The one bridge to the Rust binding, shared by index.js and the sso-token command.

const { loadToken, envVariables, ERROR_CODE } = require('../binding.js')

const ENV_NAMES = envVariables()

// Passed to Rust rather than read there: `process.env` differs per worker thread.
function readEnv() {
  const values = new Array(ENV_NAMES.length)
  for (let i = 0; i < ENV_NAMES.length; i++) values[i] = process.env[ENV_NAMES[i]]
  return values
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

/**
 * One load on the libuv pool. Resolves to the binding's result object; never rejects
 * (a failed load is `{ ok: false, message }`).
 */
function load(profile, expiryWindowSeconds, force) {
  if (typeof profile !== 'string') {
    return Promise.resolve({ ok: false, message: 'The "profile" option must be a string' })
  }
  return loadToken(profile, readEnv(), expiryWindowSeconds * 1000, force).catch((e) => ({
    ok: false,
    message: `Internal error in sso-token-provider (${e && e.message}); please report it`,
  }))
}

module.exports = { ERROR_CODE, failure, load }
