#!/usr/bin/env node
'use strict'

// sso-token: shows the state of a profile's SSO token; refreshes it with --refresh;
// `sso-token login` and `sso-token logout` sign in and out (docs/behaviour.md §10).
// Exit codes: 0 token available (signed in, signed out), 1 no usable token (log in again)
// or another failure, 2 usage error, 130 a sign-in interrupted by Ctrl-C.

const path = require('node:path')
const { changeDetection: detect, loadPromise, profileFromEnv, profileName } = require('../lib/native.js')
const { SSOTokenProvider } = require('../index.js')
const { printable } = require('../lib/printable.js')
const { run: login, logout, promptText } = require('../lib/login.js')

const USAGE = `Usage: sso-token [--profile NAME] [--refresh] [--json] [--show-token]
       sso-token login [--profile NAME] [--use-device-code] [--no-browser] [--timeout SECONDS]
       sso-token logout [--profile NAME]

Shows the cached AWS SSO token of a profile: session, start URL, expiry, seconds left.
  --profile NAME  profile to read (default: $AWS_PROFILE, else "default")
  --refresh       refresh the token through SSO OIDC now, even if it is still valid
  --json          print one JSON object instead of text
  --show-token    include the access token itself (hidden by default)
  --help          show this text

login signs the profile in without the AWS CLI, caching the token where and as the CLI does:
  --use-device-code  sign in with a code entered on any device, not this machine's browser
  --no-browser       print the URL instead of opening the browser
  --timeout SECONDS  how long to wait for the sign-in (default 600)
logout signs out as "aws sso logout" does: every cached SSO token, or with --profile only
that profile's (no $AWS_PROFILE default here).

Exit codes: 0 token available, 1 no usable token or another failure, 2 usage error;
login and logout: 0 done, 1 failed, 2 usage error, 130 sign-in interrupted (Ctrl-C).`

// JSON.stringify escapes C0 but leaves DEL, C1, bidi controls and U+2028/U+2029 raw, and
// many log viewers and terminals act on those. Outside strings JSON text is ASCII, so every
// match is inside a string, where `\uXXXX` is the same character to any JSON reader.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function toJson(value, indent) {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** `watch`, or `none (<why>)` for the first of the token's two folders that cannot be watched. */
function changeDetection(result) {
  for (const file of [result.cachePath, result.configPath]) {
    const seen = detect(path.dirname(file))
    if (seen !== 'watch') return seen
  }
  return 'watch'
}

// Each command's options: a flag (true), or the name of the option its value sets.
const OPTIONS = {
  status: { '--profile': 'profile', '--refresh': true, '--json': true, '--show-token': true },
  login: { '--profile': 'profile', '--use-device-code': true, '--no-browser': true, '--timeout': 'timeout' },
  logout: { '--profile': 'profile' },
}

const camel = (flag) => flag.slice(2).replace(/-(.)/g, (_, c) => c.toUpperCase())

function parseArgs(argv) {
  let command = 'status'
  if (argv[0] === 'login' || argv[0] === 'logout') [command, ...argv] = argv
  const allowed = OPTIONS[command]
  const opts = { command, help: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      opts.help = true
      continue
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = eq > 0 ? arg.slice(0, eq) : arg
    const kind = Object.hasOwn(allowed, name) ? allowed[name] : undefined
    if (kind === true && eq < 0) opts[camel(name)] = true
    else if (typeof kind === 'string' && eq > 0) opts[kind] = arg.slice(eq + 1)
    else if (typeof kind === 'string' && i + 1 < argv.length) opts[kind] = argv[++i]
    else return { error: `unknown or incomplete argument: ${arg}` }
  }
  return opts
}

function usageError(message) {
  process.stderr.write(`sso-token: ${printable(message)}\n\n${USAGE}\n`)
  return 2
}

/** `--timeout SECONDS` in milliseconds; undefined when not given, NaN when not usable. */
function timeoutMs(text) {
  if (text === undefined) return undefined
  const seconds = text.trim() === '' ? NaN : Number(text)
  const ms = Math.round(seconds * 1000)
  return ms >= 1 && ms <= 86_400_000 ? ms : NaN
}

async function loginMain(opts) {
  const timeout = timeoutMs(opts.timeout)
  if (Number.isNaN(timeout)) return usageError('--timeout takes a number of seconds from 0.001 to 86400')
  // Ctrl-C ends the sign-in cleanly (the listener closed, nothing written); a second one
  // gets Node's default and ends the process at once.
  const controller = new AbortController()
  const interrupt = () => controller.abort()
  process.once('SIGINT', interrupt)
  try {
    const done = await login({
      profile: opts.profile,
      useDeviceCode: opts.useDeviceCode ? true : undefined,
      openBrowser: opts.noBrowser ? false : undefined,
      timeoutMs: timeout,
      signal: controller.signal,
      onPrompt: (prompt) => process.stdout.write(promptText(prompt)),
    })
    for (const w of done.warnings) process.stderr.write(`sso-token: warning: ${printable(w)}\n`)
    process.stdout.write(`Successfully logged into Start URL: ${printable(done.startUrl)}\n`)
    return 0
  } catch (err) {
    process.stderr.write(`sso-token: ${printable(err && err.message)}\n`)
    return err && err.kind === 'LoginAborted' ? 130 : 1
  } finally {
    process.removeListener('SIGINT', interrupt)
  }
}

async function logoutMain(opts) {
  try {
    const done = await logout({ profile: opts.profile })
    for (const w of done.warnings) process.stderr.write(`sso-token: warning: ${printable(w)}\n`)
    const n = done.removed.length
    process.stdout.write(
      n === 0 && opts.profile !== undefined
        ? `No cached SSO token for profile "${printable(opts.profile)}"; nothing to remove.\n`
        : `Signed out: ${n} cached file${n === 1 ? '' : 's'} removed.\n`,
    )
    return 0
  } catch (err) {
    process.stderr.write(`sso-token: ${printable(err && err.message)}\n`)
    return 1
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.error) return usageError(opts.error)
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (opts.command === 'login') return loginMain(opts)
  if (opts.command === 'logout') return logoutMain(opts)
  const profile = profileName(opts.profile)
  // No refresh ahead of need: this process ends at once, and would cut a background one short.
  const result = await loadPromise(profile, {
    expiryWindow: SSOTokenProvider.expiryWindow,
    advisoryWindow: 0,
    force: opts.refresh,
    detail: true,
    profileFromEnv: profileFromEnv(opts.profile),
  })
  if (!result.ok) {
    const err = result.error
    if (opts.json) {
      process.stdout.write(`${toJson({ profile, error: { code: err.code, message: err.message } })}\n`)
    }
    process.stderr.write(`sso-token: ${printable(err.message)}\n`)
    return 1
  }
  const expiresAt = new Date(result.expiresAt)
  const { detail } = result
  const report = {
    profile,
    session: detail.session ?? null,
    startUrl: detail.startUrl,
    region: detail.region,
    cachePath: result.cachePath,
    expiresAt: expiresAt.toISOString(),
    secondsLeft: Math.floor((result.expiresAt - Date.now()) / 1000),
    refreshed: detail.refreshed,
    refreshNote: detail.refreshNote ?? null,
    writeError: detail.writeError ?? null,
    // Whether a running provider would see this file change (a new login, a logout).
    changeDetection: changeDetection(result),
  }
  if (opts.showToken) report.token = result.token
  if (opts.json) {
    process.stdout.write(`${toJson(report, 2)}\n`)
    return 0
  }
  const lines = [
    ['profile', report.profile],
    ['session', report.session ?? '(legacy profile: sso_start_url in the profile)'],
    ['start URL', report.startUrl],
    ['region', report.region],
    ['cache file', report.cachePath],
    ['expires', `${report.expiresAt} (${report.secondsLeft} s left)`],
    ['refreshed', report.refreshed ? 'yes, just now' : 'no'],
  ]
  if (report.refreshNote) lines.push(['refresh note', report.refreshNote])
  if (report.writeError) lines.push(['write error', `${report.writeError} (token kept in memory only)`])
  lines.push(['changes seen', report.changeDetection])
  if (opts.showToken) lines.push(['token', report.token])
  for (const [k, v] of lines) process.stdout.write(`${`${k}:`.padEnd(14)}${printable(v)}\n`)
  return 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`sso-token: ${printable(e && e.message)}\n`)
    process.exitCode = 1
  },
)
