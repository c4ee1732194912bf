'use strict'

// The sso-token command prints values it does not control: config values (start URL,
// region, session name), the profile name from argv, paths under HOME, text from the SSO
// OIDC server (in the refresh note and in error messages). A terminal obeys escape
// sequences in them: an OSC-8 hyperlink, a CR or an erase-line can forge lines, and bidi
// overrides or line separators reorder or split what is shown. Through the real command in
// a child process, with a temporary HOME whose files hold such values: nothing of the kind
// may reach stdout or stderr raw, and each must show in an escaped form.

const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { messages, test } = require('./helpers.js')
const { ROOT, makeHome, startOidcServer, sendJson, tokenDoc, uniqueName } = require('./oidc-server.js')

const CLI = path.join(ROOT, 'bin', 'sso-token.js')

const ESC = '\x1b'
const BEL = '\x07'
const HYPERLINK = `${ESC}]8;;https://evil${BEL}click here${ESC}]8;;${BEL}`
const START_URL = `https://d-1234567890.awsapps.com/start${HYPERLINK}\rregion:       eu-evil-1${ESC}[2K`
const REGION = 'us-east-1\u2028cache file:   /forged\u202etxt.exe'

// Raw in the output, each of these is a terminal control or reorders or splits a line.
// LF is left out: it ends the command's own lines.
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

function run(args, env) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env, encoding: 'utf8', timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }),
    )
  })
}

function assertNoRaw(r) {
  for (const stream of ['stdout', 'stderr']) {
    const m = RAW.exec(r[stream])
    const at = m && `U+${m[0].codePointAt(0).toString(16).padStart(4, '0')} at ${m.index}`
    assert.equal(m, null, `raw control character in ${stream} (${at}): ${JSON.stringify(r[stream])}`)
  }
}

/** A home whose session name, start URL and region carry control sequences; HOME too. */
function hostileHome(doc = tokenDoc(3600)) {
  const session = `${uniqueName()}${ESC}[2K\u2066`
  const config =
    `[profile dev]\nsso_session = ${session}\n\n` +
    `[sso-session ${session}]\nsso_start_url = ${START_URL}\nsso_region = ${REGION}\n`
  const h = makeHome({ config })
  // The cache file's path is printed too: a HOME whose name holds an escape sequence.
  const home = path.join(h.home, `home${ESC}]8;;x${BEL}\u202d`)
  fs.mkdirSync(path.join(home, '.aws', 'sso', 'cache'), { recursive: true })
  fs.renameSync(h.configPath, path.join(home, '.aws', 'config'))
  const cachePath = path.join(home, '.aws', 'sso', 'cache', path.basename(h.cachePath(session)))
  fs.writeFileSync(cachePath, JSON.stringify(doc, null, 2), { mode: 0o600 })
  return { h, home, session, cachePath, doc, env: (extra) => h.env({ HOME: home, ...extra }) }
}

test('text output: config values, session, cache path and token are escaped, one line per field', async (t) => {
  const doc = tokenDoc(3600, { accessToken: `tok${ESC}[8mhidden${BEL}` })
  const s = hostileHome(doc)
  t.after(() => s.h.cleanup())
  const r = await run(['--profile', 'dev', '--show-token'], s.env())
  assert.equal(r.code, 0, r.stderr)
  assertNoRaw(r)
  assert.equal(r.stderr, '')
  const lines = r.stdout.split('\n')
  assert.equal(lines.pop(), '')
  assert.deepEqual(
    lines.map((l) => l.slice(0, 14).trimEnd()),
    [
      'profile:',
      'session:',
      'start URL:',
      'region:',
      'cache file:',
      'expires:',
      'refreshed:',
      'changes seen:',
      'token:',
    ],
  )
  const field = (name) => lines.find((l) => l.startsWith(`${name}:`)).slice(14)
  assert.equal(
    field('start URL'),
    'https://d-1234567890.awsapps.com/start\\x1b]8;;https://evil\\x07click here\\x1b]8;;\\x07' +
      '\\rregion:       eu-evil-1\\x1b[2K',
  )
  assert.equal(field('region'), 'us-east-1\\u{2028}cache file:   /forged\\u{202e}txt.exe')
  assert.equal(field('session'), s.session.replace(`${ESC}[2K\u2066`, '\\x1b[2K\\u{2066}'))
  assert.equal(
    field('cache file'),
    s.cachePath.replace(`${ESC}]8;;x${BEL}\u202d`, '\\x1b]8;;x\\x07\\u{202d}'),
  )
  assert.equal(field('token'), 'tok\\x1b[8mhidden\\x07')
})

test('--json: U+2028, U+2029, bidi controls, DEL and C1 are \\u escapes too; the values parse back', async (t) => {
  const doc = tokenDoc(3600, { accessToken: `tok\u2029\u0085\u007f\u009b31m` })
  const s = hostileHome(doc)
  t.after(() => s.h.cleanup())
  const r = await run(['--profile', 'dev', '--json', '--show-token'], s.env())
  assert.equal(r.code, 0, r.stderr)
  assertNoRaw(r)
  for (const escaped of [
    '\\u001b]8;;https://evil\\u0007',
    '\\r',
    '\\u2028',
    '\\u202e',
    '\\u2066',
    '\\u202d',
  ]) {
    assert.ok(r.stdout.includes(escaped), `${escaped} missing from ${r.stdout}`)
  }
  assert.ok(r.stdout.includes('"token": "tok\\u2029\\u0085\\u007f\\u009b31m"'), r.stdout)
  const out = JSON.parse(r.stdout)
  assert.equal(out.startUrl, START_URL)
  assert.equal(out.region, REGION)
  assert.equal(out.session, s.session)
  assert.equal(out.cachePath, s.cachePath)
  assert.equal(out.token, doc.accessToken)
})

test('errors: the profile name and paths in the stderr line and in --json are escaped', async (t) => {
  const s = hostileHome()
  t.after(() => s.h.cleanup())
  const profile = `evil${HYPERLINK}\r\u202e`
  const text = await run(['--profile', profile], s.env())
  assert.equal(text.code, 1)
  assertNoRaw(text)
  assert.equal(text.stdout, '')
  const configFile = path.join(s.home, '.aws', 'config')
  const shownConfig = configFile.replace(`${ESC}]8;;x${BEL}\u202d`, '\\x1b]8;;x\\x07\\u{202d}')
  assert.equal(
    text.stderr,
    'sso-token: Profile "evil\\x1b]8;;https://evil\\x07click here\\x1b]8;;\\x07\\r\\u{202e}" not found' +
      ` in config file "${shownConfig}"\n`,
  )

  const json = await run(['--profile', profile, '--json'], s.env())
  assert.equal(json.code, 1)
  assertNoRaw(json)
  assert.ok(json.stdout.includes('\\u202e'), json.stdout)
  assert.deepEqual(JSON.parse(json.stdout), {
    profile,
    error: { code: 'SSOTokenProviderFailure', message: messages.profileNotFound(profile, configFile) },
  })
  assert.equal(json.stderr, text.stderr)

  // A message naming a path under the hostile HOME.
  fs.rmSync(s.cachePath)
  fs.mkdirSync(s.cachePath)
  const unreadable = await run(['--profile', 'dev'], s.env())
  assert.equal(unreadable.code, 1)
  assertNoRaw(unreadable)
  const shown = s.cachePath.replace(`${ESC}]8;;x${BEL}\u202d`, '\\x1b]8;;x\\x07\\u{202d}')
  assert.equal(
    unreadable.stderr,
    `sso-token: Cached token file "${shown}" could not be read: not a regular file\n`,
  )
})

test('usage errors: the bad argument is escaped', async (t) => {
  const s = hostileHome()
  t.after(() => s.h.cleanup())
  const r = await run([`--bogus${ESC}[2K\r\u2028`], s.env())
  assert.equal(r.code, 2)
  assertNoRaw(r)
  assert.match(
    r.stderr,
    /^sso-token: unknown or incomplete argument: --bogus\\x1b\[2K\\r\\u\{2028\}\n\nUsage: /,
  )
})

test('refresh note: text from the SSO OIDC server is escaped in text and --json output', async (t) => {
  const s = hostileHome(tokenDoc(3600))
  const oidc = await startOidcServer((req, res) =>
    sendJson(res, 400, { error: 'invalid_grant', error_description: `no\u202e way\u2029${HYPERLINK}` }),
  )
  t.after(async () => {
    await oidc.close()
    s.h.cleanup()
  })
  const env = s.env({ AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
  const text = await run(['--profile', 'dev', '--refresh'], env)
  assert.equal(text.code, 0, text.stderr)
  assertNoRaw(text)
  // The core cleans server text before any message holds it: bidi controls dropped,
  // separators and control characters made spaces (the CLI's escaping is the second line).
  const cleaned = '(invalid_grant, HTTP 400: no way  ]8;;https://evil click here ]8;;)'
  const note = text.stdout.split('\n').find((l) => l.startsWith('refresh note:'))
  assert.equal(note, `refresh note: ${cleaned}`)

  const json = await run(['--profile', 'dev', '--refresh', '--json'], env)
  assert.equal(json.code, 0, json.stderr)
  assertNoRaw(json)
  assert.equal(JSON.parse(json.stdout).refreshNote, cleaned)
  assert.equal(oidc.requests.length, 2)
})
