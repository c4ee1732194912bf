'use strict'

// Signing in and out without the AWS CLI (docs/behaviour.md §10). The exchange runs in Rust
// (src/login.rs -> core/src/login) as one task on the addon's network thread; this file
// checks the options (a bad one is a TypeError at once), chooses the flow, shows the
// prompt (the caller's onPrompt, else stderr), opens the browser with the platform's
// opener started from an argument array (never a shell), turns results into the
// provider's v2-shaped errors, and carries an AbortSignal to the task.

const { spawn } = require('node:child_process')
const binding = require('../binding.js')
const native = require('./native.js')
const { printable } = require('./printable.js')

const DEFAULT_TIMEOUT_MS = 600_000
// Twin of MAX_TIMEOUT in core/src/login/plan.rs.
const MAX_TIMEOUT_MS = 86_400_000

const bug = native.internalError

function optionsObject(options, fn) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw new TypeError(`The options of ${fn}() must be an object`)
  return options
}

function checkType(value, name, type) {
  if (value !== undefined && typeof value !== type)
    throw new TypeError(`The "${name}" option must be a ${type}`)
}

function checkSignal(signal) {
  if (signal === undefined) return
  const ok =
    signal !== null &&
    typeof signal === 'object' &&
    typeof signal.aborted === 'boolean' &&
    typeof signal.addEventListener === 'function' &&
    typeof signal.removeEventListener === 'function'
  if (!ok) throw new TypeError('The "signal" option must be an AbortSignal')
}

/**
 * Whether a browser can be opened here: on Linux and the other Unix systems only with a
 * display (DISPLAY or WAYLAND_DISPLAY); a terminal over SSH or a container has none, and
 * the authorization-code flow's redirect to 127.0.0.1 could not come back from another
 * machine's browser.
 */
function canOpenBrowser() {
  if (process.platform === 'darwin' || process.platform === 'win32') return true
  return !!(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)
}

/** The platform's opener for `url`, as a command and its argument array. */
function opener(url) {
  if (process.platform === 'darwin') return ['open', [url]]
  if (process.platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]]
  return ['xdg-open', [url]]
}

/**
 * Starts the opener; `onError(err)` hears a failure to start it. The URL was checked in
 * Rust (https, or http to loopback; plain URL characters only), and no shell ever sees it.
 */
function openBrowser(url, onError) {
  const [command, args] = opener(url)
  let child
  try {
    child = spawn(command, args, { stdio: 'ignore', detached: true, shell: false, windowsHide: true })
  } catch (e) {
    onError(e)
    return
  }
  child.on('error', onError)
  child.unref()
}

/**
 * The prompt as the AWS CLI words it (awscli/customizations/sso/utils.py: OpenBrowserHandler
 * and PrintOnlyHandler), every value through printable().
 */
function promptText(prompt) {
  const p = (v) => printable(v)
  if (!prompt.userCode) {
    return prompt.openingBrowser
      ? 'Attempting to open your default browser. If the browser does not open, open the following URL.\n' +
          "If you are unable to open the URL on this device, run this command again with the '--use-device-code' option.\n" +
          `\n${p(prompt.authorizeUrl)}\n\n`
      : `Browser will not be automatically opened.\nPlease visit the following URL:\n\n${p(prompt.authorizeUrl)}\n\n`
  }
  const code = `\nThen enter the code:\n\n${p(prompt.userCode)}\n`
  return prompt.openingBrowser
    ? 'Attempting to open your default browser.\nIf the browser does not open or you wish to use a different ' +
        `device to authorize this request, open the following URL:\n\n${p(prompt.verificationUri)}\n${code}`
    : `Browser will not be automatically opened.\nPlease visit the following URL:\n\n${p(prompt.verificationUri)}\n${code}` +
        '\nAlternatively, you may visit the following URL which will autofill the code upon loading:\n' +
        `${p(prompt.verificationUriComplete)}\n`
}

function checkLoginOptions(options) {
  options = optionsObject(options, 'login')
  const { profile, useDeviceCode, openBrowser: open, onPrompt, signal, timeoutMs } = options
  checkType(profile, 'profile', 'string')
  checkType(useDeviceCode, 'useDeviceCode', 'boolean')
  checkType(open, 'openBrowser', 'boolean')
  checkType(onPrompt, 'onPrompt', 'function')
  checkSignal(signal)
  if (
    timeoutMs !== undefined &&
    !(Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)
  ) {
    throw new TypeError(
      `The "timeoutMs" option must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
    )
  }
  return options
}

/**
 * Signs a profile in; resolves with what the sso-token command reports
 * ({ expiration, startUrl, cachePath, flow, registered, warnings }), never with a token.
 * Throws a TypeError at once for a bad option; everything else rejects with the provider's
 * error shape and a `kind` (LoginTimedOut, LoginAborted, LoginDenied, LoginFailed, or the
 * configuration's own, such as ProfileNotFound).
 */
function run(options) {
  options = checkLoginOptions(options)
  const { signal, onPrompt } = options
  const profile = native.profileName(options.profile)
  const browser = options.openBrowser !== false && canOpenBrowser()
  // Without a browser here the device flow, unless the caller chose a flow: openBrowser:
  // false (--no-browser) keeps the code flow, as the CLI's --no-browser does.
  const useDeviceCode =
    options.useDeviceCode === true ||
    (options.useDeviceCode === undefined && options.openBrowser !== false && !browser)
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(aborted(signal))
      return
    }
    let env
    try {
      env = native.readEnv()
    } catch (e) {
      reject(e)
      return
    }
    const id = binding.newLoginId()
    const onAbort = () => binding.cancelLogin(id)
    let failedPrompt = null
    const onEvent = (event) => {
      // Nothing thrown here may reach the addon's callback: it would end the process.
      try {
        const prompt = {
          flow: event.flow,
          verificationUri: event.verificationUri,
          verificationUriComplete: event.verificationUriComplete,
          userCode: event.userCode ?? null,
          authorizeUrl: event.authorizeUrl ?? null,
          openingBrowser: browser,
        }
        if (browser) {
          const url = prompt.authorizeUrl || prompt.verificationUriComplete
          openBrowser(url, (e) => {
            if (!onPrompt) {
              process.stderr.write(
                `The browser could not be opened (${printable(e.message)}); open the URL above.\n`,
              )
            }
          })
        }
        if (onPrompt) onPrompt(prompt)
        else process.stderr.write(promptText(prompt))
      } catch (e) {
        failedPrompt = e
        binding.cancelLogin(id)
      }
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true })
    let started
    try {
      started = binding.login(
        { id, profile, env, useDeviceCode, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
        onEvent,
      )
    } catch (e) {
      if (signal) signal.removeEventListener('abort', onAbort)
      reject(bug(e))
      return
    }
    started.then(
      (r) => {
        if (signal) signal.removeEventListener('abort', onAbort)
        if (failedPrompt) return reject(failedPrompt)
        if (!r.ok)
          return reject(
            r.kind === 'LoginAborted' && signal ? aborted(signal) : native.failure(r.message, r.kind),
          )
        resolve({
          expiration: new Date(r.expiresAt),
          startUrl: r.startUrl,
          cachePath: r.cachePath,
          flow: r.flow,
          registered: r.registered,
          warnings: r.warnings,
        })
      },
      (e) => reject(bug(e)),
    )
  })
}

function aborted(signal) {
  const err = native.failure('Sign-in aborted', 'LoginAborted')
  if (signal.reason !== undefined) err.cause = signal.reason
  return err
}

/** The public login(): `{ expiration }` alone (a bad option still throws at once). */
function login(options) {
  return run(options).then(({ expiration }) => ({ expiration }))
}

function checkLogoutOptions(options) {
  options = optionsObject(options, 'logout')
  const { profile } = options
  if (profile !== undefined && (typeof profile !== 'string' || profile === '')) {
    throw new TypeError('The "profile" option must be a non-empty string')
  }
  return options
}

/**
 * Signs out: every token file in the SSO cache folder (the AWS CLI's `aws sso logout`), or
 * only `profile`'s; resolves with { removed, warnings }.
 */
function logout(options) {
  options = checkLogoutOptions(options)
  return new Promise((resolve, reject) => {
    let started
    try {
      started = binding.logout({ profile: options.profile, env: native.readEnv() })
    } catch (e) {
      reject(e && e.code === native.ERROR_CODE ? e : bug(e))
      return
    }
    started.then(
      (r) =>
        r.ok
          ? resolve({ removed: r.removed, warnings: r.warnings })
          : reject(native.failure(r.message, r.kind)),
      (e) => reject(bug(e)),
    )
  })
}

module.exports = { login, logout, run, promptText }
