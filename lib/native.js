'use strict'

// The one bridge to the Rust binding (binding.js -> src/lib.rs), shared by index.js and the
// sso-token command. A load is one call and one promise; this file turns its result into
// the v2 error shape and guarantees that every load ends in exactly one result.

const binding = require('../binding.js')

const { ERROR_CODE } = binding
const ENV_NAMES = binding.envVariables()
const REFRESH_THROTTLE_MS = binding.REFRESH_THROTTLE_SECONDS * 1000

// On Node's main thread `process.env` is the process environment, which Rust then reads
// itself (cheaper than reading each variable here). A worker thread, or a test runner's
// sandbox (jest), has a copy of its own, and a replaced `process.env` is not the
// environment either: then the values are passed. A variable written through process.env
// and read back by Rust tells which.
function isProcessEnvironment(env) {
  const name = `SSO_TOKEN_PROVIDER_PROBE_${process.pid}`
  const value = String(Math.random())
  try {
    env[name] = value
    return binding.processEnvHas(name, value)
  } catch {
    return false
  } finally {
    try {
      delete env[name]
    } catch {
      // a process.env that refuses deletes refuses the probe too
    }
  }
}
const processEnv = isProcessEnvironment(process.env) ? process.env : null

// `overrides` (fromSso's configFilepath) win over process.env for the names they hold.
function readEnv(overrides) {
  if (!overrides && process.env === processEnv) return null
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

// Where the local stage of a load runs (src/loader.rs): on the addon's loader threads,
// which pick up back-to-back loads without a thread wake-up, or on the libuv pool
// (SSO_TOKEN_PROVIDER_LOADER=pool, or when no loader thread could be started).
const waiting = new Map()
let nextId = 0
const LOADER_THREADS =
  process.env.SSO_TOKEN_PROVIDER_LOADER !== 'pool' &&
  binding.loaderOpen(({ id, result }) => {
    const onResult = waiting.get(id)
    waiting.delete(id)
    onResult(result)
  })

function submit(profile, values, expiryWindow, advisoryWindow, force, detail, onResult) {
  if (!LOADER_THREADS) {
    binding
      .load(profile, values, expiryWindow, advisoryWindow, force, detail)
      .then(onResult, (e) => onResult(bug(e)))
    return
  }
  const id = (nextId = (nextId + 1) % Number.MAX_SAFE_INTEGER)
  waiting.set(id, onResult)
  try {
    binding.loaderSubmit(id, profile, values, expiryWindow, advisoryWindow, force, detail)
  } catch (e) {
    waiting.delete(id)
    throw e
  }
}

const failed = (message) => ({ ok: false, message })
const bug = (e) => failed(binding.internalErrorMessage(String((e && e.message) || e)))

/**
 * One load of `profile`. `onResult` is called exactly once, on a later microtask, with the
 * binding's result object: `{ ok: true, token, expiresAt, cachePath, configPath, detail? }`
 * or `{ ok: false, message }`. Options: `expiryWindow` and `advisoryWindow` (seconds, as
 * the caller set them), `force` (refresh now through CreateToken), `detail` (what the
 * sso-token command prints), `env` (some environment variables replaced).
 */
function load(profile, options, onResult) {
  const { expiryWindow, advisoryWindow, force = false, detail = false, env } = options
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
  try {
    submit(profile, values, seconds(expiryWindow), seconds(advisoryWindow), force, detail, onResult)
  } catch (e) {
    queueMicrotask(() => onResult(bug(e)))
  }
}

/** `load` as a promise that never rejects. */
function loadPromise(profile, options) {
  return new Promise((resolve) => load(profile, options, resolve))
}

module.exports = { ERROR_CODE, REFRESH_THROTTLE_MS, failure, load, loadPromise, profileName, seconds }
