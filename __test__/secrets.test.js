'use strict'

// Disguised echoes (docs/behaviour.md §4.4, §7): a CreateToken error answer that quotes the
// client secret or the refresh token back altered (percent-encoded, base64, re-cased, with
// invisible or line-breaking characters inside, cut in two across fields, cut short) gets
// none of it into err.message, the refresh note or the `sso-token --json` output, and no
// character that hides text or breaks a line either. Real loopback server, real files.

const { test, describe } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const path = require('node:path')
const {
  ROOT,
  REFRESH_FAILED,
  setup,
  sendJson,
  construct,
  assertFailure,
  runNode,
} = require('./oidc-server.js')

const CLI = path.join(ROOT, 'bin', 'sso-token.js')

/** 39 characters: base64 of 27 random bytes (with + and /, which URL encoding changes). */
function secretValues() {
  const value = (prefix) => `${prefix}${crypto.randomBytes(27).toString('base64')}`
  return { clientSecret: value('cs-'), refreshToken: value('rt-') }
}

const percentAll = (s) =>
  [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')
const base64 = (s) => Buffer.from(s).toString('base64')
const base64url = (s) => Buffer.from(s).toString('base64url')

/** Base64 of `lead` + `s`, and the part of it that depends on `s` alone. */
function unaligned(s, lead, encode) {
  const encoded = encode(lead + s)
  const skip = [0, 2, 3][lead.length]
  const full = Math.floor(((lead.length + s.length) * 8) / 6)
  return { encoded, skip, full, core: encoded.slice(skip, full) }
}

/** Every 12-character run of `s`. */
function runs(s) {
  const out = []
  for (let i = 0; i + 12 <= s.length; i++) out.push(s.slice(i, i + 12))
  return out
}

/** No form of any secret in `text`, in any case, and nothing that hides text or breaks lines. */
function assertNoTrace(text, secrets, where) {
  const lower = text.toLowerCase()
  for (const secret of Object.values(secrets)) {
    const whole = [
      secret,
      secret.toLowerCase(),
      secret.toUpperCase(),
      base64(secret),
      base64(secret).replace(/=+$/, ''),
      base64url(secret),
      encodeURIComponent(secret),
      percentAll(secret),
    ]
    for (const form of whole) assert.ok(!text.includes(form), `${where} holds ${form}:\n${text}`)
    const pieces = [
      ...runs(secret),
      ...runs(unaligned(secret, '', base64).core),
      ...runs(unaligned(secret, 'k', base64url).core),
    ]
    for (const run of pieces) {
      assert.ok(!lower.includes(run.toLowerCase()), `${where} holds ${run} of ${secret}:\n${text}`)
    }
  }
  for (const c of ['\u202E', '\u2028', '\u2029', '\u200B', '\u00AD']) {
    const code = `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`
    assert.ok(!text.includes(c), `${where} holds ${code}:\n${JSON.stringify(text)}`)
  }
}

const answer400 = (error, description) => (req, res) =>
  sendJson(res, 400, { error, error_description: description })

// Each: the server's reply to the request it got, and the cause it must come out as.
const DISGUISES = [
  {
    name: 'percent-encoded, whole and in part',
    reply: (r) =>
      answer400(
        'invalid_grant',
        `bad ${percentAll(r.clientSecret)} and ${encodeURIComponent(r.refreshToken)}.`,
      ),
    cause: () => '(invalid_grant, HTTP 400: bad *** and ***.)',
  },
  {
    name: 'base64, standard and URL-safe, aligned and not',
    reply: (r) =>
      answer400(
        'invalid_grant',
        `${base64(r.clientSecret)} | ${unaligned(r.refreshToken, 'k', base64url).encoded}`,
      ),
    cause: (s) => {
      const { encoded, skip, full } = unaligned(s.refreshToken, 'k', base64url)
      return `(invalid_grant, HTTP 400: *** | ${encoded.slice(0, skip)}***${encoded.slice(full)})`
    },
  },
  {
    name: 'upper- and lower-cased',
    reply: (r) =>
      answer400('invalid_grant', `${r.clientSecret.toUpperCase()} | ${r.refreshToken.toLowerCase()}`),
    cause: () => '(invalid_grant, HTTP 400: *** | ***)',
  },
  {
    name: 'zero-width, soft hyphen, bidi override and line separator inside',
    reply: (r) => {
      const [cs, rt] = [r.clientSecret, r.refreshToken]
      return answer400(
        'invalid\u202E_grant\u2029',
        `${cs.slice(0, 10)}\u200B${cs.slice(10, 20)}\u00AD${cs.slice(20)} | ` +
          `${rt.slice(0, 15)}\u202E${rt.slice(15, 25)}\u2028${rt.slice(25)}`,
      )
    },
    cause: () => '(invalid_grant, HTTP 400: *** | ***)',
  },
  {
    name: 'a newline inside',
    reply: (r) => answer400('invalid_grant', `${r.clientSecret.slice(0, 19)}\n${r.clientSecret.slice(19)}`),
    cause: () => '(invalid_grant, HTTP 400: ***)',
  },
  {
    name: 'split across error and error_description',
    reply: (r) =>
      answer400(`invalid_grant ${r.clientSecret.slice(0, 7)}`, `${r.clientSecret.slice(7)} rejected`),
    cause: () => '(invalid_grant ***, HTTP 400: *** rejected)',
  },
  {
    name: 'a 24-character prefix and a 12-character run',
    reply: (r) =>
      answer400('invalid_grant', `[${r.clientSecret.slice(0, 24)}] [${r.refreshToken.slice(10, 22)}]`),
    cause: () => '(invalid_grant, HTTP 400: [***] [***])',
  },
  {
    name: 'upper-cased in the x-amzn-ErrorType header',
    reply: (r) => (req, res) => {
      res.writeHead(400, { 'x-amzn-ErrorType': `Denied${r.clientSecret.toUpperCase()}:${r.refreshToken}` })
      res.end()
    },
    cause: () => '(Denied***, HTTP 400)',
  },
]

async function cli(args) {
  const r = await runNode([CLI, ...args], { env: { ...process.env } }).done
  return { ...r, all: r.stdout + r.stderr }
}

describe('a secret echoed back in disguise reaches no message', () => {
  for (const d of DISGUISES) {
    test(d.name, async () => {
      const secrets = secretValues()
      const handler = (req, res, record) => d.reply(record.json)(req, res)
      const s = await setup({ expiresIn: -60, overrides: secrets, handler })
      try {
        const { err } = await construct(s.profile)
        assertFailure(err, `${REFRESH_FAILED} ${d.cause(secrets)}`)
        assertNoTrace(err.message, secrets, 'err.message')
        // The command, in a fresh process (no throttle), against the same server.
        const r = await cli(['--profile', s.profile, '--json'])
        assert.equal(r.code, 1, r.all)
        assert.equal(JSON.parse(r.stdout).error.message, err.message)
        assertNoTrace(r.all, secrets, 'sso-token --json output')
        assert.equal(s.server.requests.length, 2)
      } finally {
        await s.done()
      }
    })
  }

  test('the refresh note of a token still valid is as clean', async () => {
    const secrets = secretValues()
    const handler = (req, res, record) => DISGUISES[0].reply(record.json)(req, res)
    // Inside the 300 s window: refreshed, the failure served as a note with the old token.
    const s = await setup({ expiresIn: 120, overrides: secrets, handler })
    try {
      const r = await cli(['--profile', s.profile, '--json'])
      assert.equal(r.code, 0, r.all)
      const report = JSON.parse(r.stdout)
      assert.equal(report.refreshNote, DISGUISES[0].cause(secrets))
      assert.equal(report.refreshed, false)
      assertNoTrace(r.all, secrets, 'sso-token --json output')
      assert.equal(s.server.requests.length, 1)
    } finally {
      await s.done()
    }
  })
})
