'use strict'

// The one bridge to the Rust binding (binding.js -> src/lib.rs), shared by index.js and the
// sso-token command. The core owns every token, every timing rule and the change
// detection; this file builds requests, turns results into v2-shaped errors, and carries
// the one channel back: every refresh's outcome reaches the instances holding that file's
// token (lib/holders.js) and the calls waiting for it. Nothing here starts at require.

const binding = require('../binding.js')
const holders = require('./holders.js')

const { ERROR_CODE } = binding
const ENV_NAMES = binding.envVariables()

// The kinds of failure found here, before the core is asked; the core's own kinds come
// with its results (`Error::kind` in core/src/error.rs).
const KIND_BAD_ARGUMENT = 'InvalidSetting'
const KIND_ENVIRONMENT = 'InvalidEnvironment'

/**
 * One environment variable as Node's own process.env would hold it: a string. A replaced
 * `process.env` (a plain object, common in tests) may hold anything; a number or an object
 * reads as an assignment to the real process.env would store it (JavaScript's ToString).
 * `undefined` and `null` read as unset. A value that has no string form (a Symbol, a
 * throwing toString) is an error naming the variable.
 */
function envValue(env, name) {
  const value = env[name]
  if (value === undefined || value === null) return null
  if (typeof value === 'string') return value
  try {
    return `${value}`
  } catch (e) {
    throw failure(
      `The environment variable "${name}" cannot be read as a string: ${String((e && e.message) || e)}`,
      KIND_ENVIRONMENT,
    )
  }
}

/** The values of ENV_NAMES as this realm's process.env holds them; `overrides` win. */
function readEnv(overrides) {
  const values = new Array(ENV_NAMES.length)
  let env
  for (let i = 0; i < ENV_NAMES.length; i++) {
    const name = ENV_NAMES[i]
    if (overrides && Object.hasOwn(overrides, name)) {
      values[i] = overrides[name]
      continue
    }
    try {
      env = env || process.env
      values[i] = envValue(env, name)
    } catch (e) {
      if (e && e.code === ERROR_CODE) throw e
      throw failure(`The environment could not be read: ${String((e && e.message) || e)}`, KIND_ENVIRONMENT)
    }
  }
  return values
}

// v2's rule: the given name, else AWS_PROFILE, else 'default' (empty strings fall through).
function profileName(given) {
  return given || process.env.AWS_PROFILE || 'default'
}

/** Whether v2's rule takes the profile name from AWS_PROFILE (a "not found" says so). */
function profileFromEnv(given) {
  return !given && !!process.env.AWS_PROFILE
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

// The shape of v2's `AWS.util.error(new Error(message), { code })`, with `name` set too, and
// the kind of failure the core named (what callers decide on, never the message).
function failure(message, kind) {
  const err = new Error(message)
  err.code = ERROR_CODE
  for (const [key, value] of [
    ['name', ERROR_CODE],
    ['kind', kind],
  ]) {
    Object.defineProperty(err, key, { value, writable: true, enumerable: false, configurable: true })
  }
  err.time = new Date()
  return err
}

/**
 * A request for `profile`, or a thrown failure. Options: `expiryWindow` and
 * `advisoryWindow` (as the caller set them), `force` (refresh now through CreateToken),
 * `detail` (what the sso-token command prints), `env` (some variables replaced),
 * `version` (the snapshot version the caller holds), `profileFromEnv` (the name came from
 * AWS_PROFILE).
 */
function request(profile, options) {
  if (typeof profile !== 'string') throw failure('The "profile" option must be a string', KIND_BAD_ARGUMENT)
  return {
    profile,
    env: readEnv(options.env),
    expiryWindow: seconds(options.expiryWindow),
    advisoryWindow: seconds(options.advisoryWindow),
    force: !!options.force,
    detail: !!options.detail,
    version: options.version === undefined ? -1 : options.version,
    profileFromEnv: !!options.profileFromEnv,
  }
}

// Results as index.js and sso-token read them:
//   { ok: true, key, token (undefined when the caller holds this version), version,
//     expiresAt, timing: { refreshAt, mustRefreshAt, retryAfter, watched } | null,
//     changes (lookups), cachePath, configPath, detail? }
//   { ok: false, error }
// `timing` is null when the result came through the channel: the caller asks again for
// the numbers of its own windows.
function fromBinding(r) {
  if (r.pending !== undefined && r.pending !== null) return r
  if (!r.ok) return { ok: false, error: failure(r.message, r.kind) }
  return {
    ok: true,
    key: r.key,
    token: r.token,
    version: r.version,
    expiresAt: r.expiresAt,
    timing: {
      refreshAt: r.refreshAt,
      mustRefreshAt: r.mustRefreshAt,
      retryAfter: r.retryAfter,
      watched: r.watched,
    },
    changes: r.changes,
    cachePath: r.cachePath,
    configPath: r.configPath,
    detail: r.detail,
  }
}

/** Whether two requests are for the same profile in the same environment. */
function sameSource(a, b) {
  if (!a || !b || a.profile !== b.profile) return false
  for (let i = 0; i < a.env.length; i++) if (a.env[i] !== b.env[i]) return false
  return true
}

/** The error of a bug of ours: a binding call that threw or rejected (Error::Internal's twin). */
function internalError(e) {
  return failure(
    `Internal error in sso-token-provider (${String((e && e.message) || e)}); please report it`,
    'Internal',
  )
}

const bug = (e) => ({ ok: false, error: internalError(e) })

/** Hands a binding result to `onResult`: at once, or once the refresh it names ends. */
function deliver(r, onResult) {
  const result = fromBinding(r)
  if (result.pending !== undefined) wait(result, onResult)
  else onResult(result)
}

// Calls waiting for a refresh, by its number; the event loop is held open while there are
// any (the channel itself never holds it: a refresh ahead of need must not keep Node alive).
const waiting = new Map()
let keepAlive = null
let channelOpen = false

function openChannel() {
  if (channelOpen) return
  binding.openChannel(settled)
  channelOpen = true
}

function settled(event) {
  holders.deliver(event)
  const waiters = waiting.get(event.flight)
  if (!waiters) return
  waiting.delete(event.flight)
  if (waiting.size === 0 && keepAlive) {
    clearInterval(keepAlive)
    keepAlive = null
  }
  const result = event.ok
    ? {
        ok: true,
        token: event.token,
        version: event.version,
        expiresAt: event.expiresAt,
        timing: null,
        cachePath: event.cachePath,
      }
    : { ok: false, error: failure(event.message, event.kind) }
  for (const [onResult, pending] of waiters) {
    if (result.ok && pending.detail) {
      result.configPath = pending.configPath
      result.detail = {
        ...pending.detail,
        refreshed: event.refreshed,
        refreshNote: event.refreshNote,
        writeError: event.writeError,
      }
    }
    onResult(result)
  }
}

function wait(pending, onResult) {
  let waiters = waiting.get(pending.pending)
  if (!waiters) waiting.set(pending.pending, (waiters = []))
  waiters.push([onResult, pending])
  if (!keepAlive) keepAlive = setInterval(() => {}, 3_600_000)
}

/**
 * The load of `req` answered from memory, on this thread: `onResult` is called (at once, or
 * when a pending refresh ends) and true returned, or false when the files must be read
 * (`load`). `last` is the request whose result named `key`: when `req` is for the same
 * profile in the same environment, only the key and numbers cross to the core.
 */
function lookup(req, onResult, last, key) {
  let r
  try {
    openChannel()
    r =
      key !== undefined && !req.force && !req.detail && sameSource(req, last)
        ? binding.lookupKey(key, req.version, req.expiryWindow, req.advisoryWindow)
        : binding.lookup(req)
  } catch (e) {
    onResult(bug(e))
    return true
  }
  if (r === null || r === undefined) return false
  deliver(r, onResult)
  return true
}

/** The load of `req`, reading the files off the JS thread; `onResult` is called once. */
function load(req, onResult) {
  try {
    openChannel()
    binding.load(req).then(
      (r) => deliver(r, onResult),
      (e) => onResult(bug(e)),
    )
  } catch (e) {
    queueMicrotask(() => onResult(bug(e)))
  }
}

/** `load` as a promise that never rejects; a request that cannot be built is a failed result. */
function loadPromise(profile, options) {
  return new Promise((resolve) => {
    let req
    try {
      req = request(profile, options)
    } catch (error) {
      resolve({ ok: false, error })
      return
    }
    load(req, resolve)
  })
}

// How many changes to files loads read the core has seen. Polled at most once per
// millisecond on the warm path: a get() sees every change that completed a millisecond
// before it, a refresh() every change that completed before it (it asks the core itself).
let polledAt = -1
let seen = 0
function changes(fresh) {
  const now = Date.now()
  if (fresh || now !== polledAt) {
    polledAt = now
    seen = binding.changes()
  }
  return seen
}

module.exports = {
  ERROR_CODE,
  changeDetection: (dir) => binding.changeDetection(dir),
  changes,
  failure,
  internalError,
  load,
  loadPromise,
  lookup,
  profileFromEnv,
  profileName,
  readEnv,
  request,
  seconds,
}
