#!/usr/bin/env node
'use strict'

// sso-token: shows the state of a profile's SSO token; refreshes it with --refresh.
// Exit codes: 0 token available, 1 no usable token (log in again) or another failure,
// 2 usage error.

const path = require('node:path')
const { changeDetection: detect, loadPromise, profileFromEnv, profileName } = require('../lib/native.js')
const { SSOTokenProvider } = require('../index.js')

const USAGE = `Usage: sso-token [--profile NAME] [--refresh] [--json] [--show-token]

Shows the cached AWS SSO token of a profile: session, start URL, expiry, seconds left.
  --profile NAME  profile to read (default: $AWS_PROFILE, else "default")
  --refresh       refresh the token through SSO OIDC now, even if it is still valid
  --json          print one JSON object instead of text
  --show-token    include the access token itself (hidden by default)
  --help          show this text

Exit codes: 0 token available, 1 no usable token or another failure, 2 usage error.`

// What a terminal would act on or show out of place if printed raw: C0 (LF too: only our
// own line ends may start a line), DEL, C1, the bidi embeddings, overrides and isolates,
// and the Unicode line and paragraph separators. The values come from files, argv, HOME
// and the SSO OIDC server, so an OSC-8 link, a CR or an erase-line in one of them could
// forge the lines around it.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const SHORT = { '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** `value` for a text line: each unsafe character as `\x1b`, `\r`, `\u{202e}`. */
function printable(value) {
  return String(value).replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0)
    if (SHORT[c]) return SHORT[c]
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
}

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

function parseArgs(argv) {
  const opts = { profile: undefined, refresh: false, json: false, showToken: false, help: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--profile' && i + 1 < argv.length) opts.profile = argv[++i]
    else if (arg.startsWith('--profile=')) opts.profile = arg.slice('--profile='.length)
    else if (arg === '--refresh') opts.refresh = true
    else if (arg === '--json') opts.json = true
    else if (arg === '--show-token') opts.showToken = true
    else if (arg === '--help' || arg === '-h') opts.help = true
    else return { error: `unknown or incomplete argument: ${arg}` }
  }
  return opts
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.error) {
    process.stderr.write(`sso-token: ${printable(opts.error)}\n\n${USAGE}\n`)
    return 2
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
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
