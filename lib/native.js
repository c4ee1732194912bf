'use strict'

// The one bridge to the Rust binding (binding.js -> src/lib.rs), shared by index.js and the
// sso-token command. A load is one call and one promise; this file turns its result into
// the v2 error shape and guarantees that every load ends in exactly one result.

const binding = require('../binding.js')

const { ERROR_CODE } = binding
const ENV_NAMES = binding.envVariables()
const REFRESH_THROTTLE_MS = binding.REFRESH_THROTTLE_SECONDS * 1000

// Passed to Rust rather than read there: `process.env` differs per worker thread.
// `overrides` (fromSso's configFilepath) win over process.env for the names they hold.
function readEnv(overrides) {
  const values = new Array(ENV_NAMES.length)
  for (let i = 0; i < ENV_NAMES.length; i++) {
    const name = ENV_NAMES[i]
    values[i] = overrides && Object.hasOwn(overrides, name) ? overrides[name] : process.env[name]
  }
  return values
}

// v2's rule: the given name, else AWS_PROFILE, else 'default' (empty strings fall through).
function profileName(given) {
  return given || process.env.AWS_PROFILE || 'default'
}

// A window setting as v2's arithmetic reads it (`expiryWindow * 1000`): numbers, numeric
// strings, Number objects. What cannot be read as a number (a BigInt, a Symbol, a throwing
// valueOf) is NaN, which Rust refuses with the message naming the setting.
function seconds(value) {
  try {
    return +value
  } catch {
    return NaN
  }
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

const failed = (message) => ({ ok: false, message })
const bug = (e) => failed(binding.internalErrorMessage(String((e && e.message) || e)))

/**
 * One load of `profile`. `onResult` is called exactly once, on a later microtask, with the
 * binding's result object: `{ ok: true, token, expiresAt, cachePath, detail? }` or
 * `{ ok: false, message }`. `detail` asks for what the sso-token command prints. `env`
 * optionally replaces some of the environment variables the load reads.
 */
function load(profile, expiryWindow, advisoryWindow, force, detail, onResult, env) {
  if (typeof profile !== 'string') {
    queueMicrotask(() => onResult(failed('The "profile" option must be a string')))
    return
  }
  let values
  try {
    values = readEnv(env)
  } catch (e) {
    queueMicrotask(() =>
      onResult(failed(`The environment could not be read: ${String((e && e.message) || e)}`)),
    )
    return
  }
  let pending
  try {
    pending = binding.load(profile, values, seconds(expiryWindow), seconds(advisoryWindow), force, detail)
  } catch (e) {
    queueMicrotask(() => onResult(bug(e)))
    return
  }
  pending.then(onResult, (e) => onResult(bug(e)))
}

/** `load` as a promise that never rejects. */
function loadPromise(profile, expiryWindow, advisoryWindow, force, detail, env) {
  return new Promise((resolve) => load(profile, expiryWindow, advisoryWindow, force, detail, resolve, env))
}

module.exports = { ERROR_CODE, REFRESH_THROTTLE_MS, failure, load, loadPromise, profileName, seconds }
