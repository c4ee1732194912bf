'use strict'

// Security properties (docs/behaviour.md §5, §6, §7): secret values never reach a message, the provider's
// printable state or the sso-token output; the files we create are private and keep the
// user's mode; the refresh token and client secret never travel over plain http off
// loopback. Every secret-looking value below contains the marker SEKRIT, so a partial
// echo (a cut secret) is caught too.

const { test, describe } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const util = require('node:util')
const {
  ROOT,
  REFRESH_FAILED,
  setup,
  makeHome,
  uniqueName,
  tokenDoc,
  isoIn,
  useHome,
  childEnv,
  sendJson,
  createTokenOk,
  startConnectProxy,
  freePort,
  delay,
  construct,
  assertFailure,
  runNode,
  fileState,
  listDir,
} = require('./oidc-server.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_NO_MODES =
  process.platform === 'win32' && 'POSIX file modes and inodes: Windows has none (README, Platforms)'

const CLI = path.join(ROOT, 'bin', 'sso-token.js')
const MARKER = 'SEKRIT'

function secretValues(extra = {}) {
  const tag = crypto.randomBytes(5).toString('hex')
  return {
    accessToken: `AT-${MARKER}-${tag}-access`,
    refreshToken: `RT-${MARKER}-${tag}-refresh`,
    clientSecret: `CS-${MARKER}-${tag}-client`,
    ...extra,
  }
}

function assertClean(text, secrets, where) {
  for (const value of Object.values(secrets)) {
    assert.equal(text.includes(value), false, `${where} contains the secret ${value}:\n${text}`)
  }
  assert.equal(text.includes(MARKER), false, `${where} contains part of a secret:\n${text}`)
}

/** Everything printable about a failed load. */
function errorTexts(err, provider) {
  const texts = {
    message: err.message,
    stack: String(err.stack),
    'util.inspect(err)': util.inspect(err, { depth: 10, showHidden: true }),
    'JSON.stringify(err)': JSON.stringify(err),
    'String(err)': String(err),
  }
  if (provider) {
    texts['util.inspect(provider)'] = util.inspect(provider, { depth: 10 })
    texts['JSON.stringify(provider)'] = JSON.stringify(provider)
  }
  return texts
}

async function cli(args, env) {
  const r = await runNode([CLI, ...args], { env }).done
  return { ...r, all: r.stdout + r.stderr }
}

// ------------------------------------------------------------------ error paths

const echo = (s) => `${s.clientSecret} ${s.refreshToken} ${s.clientId}`

// Each: cache-file overrides and expiry, a server reply, extra env, and the message shape.
const ERROR_PATHS = [
  {
    name: 'expired, clientId missing',
    overrides: { clientId: undefined },
    message:
      /^Key "clientId" not present in SSO Token, and the token has expired; log in again with "aws sso login --profile [^"]+"$/,
  },
  {
    name: 'expired, client registration expired',
    overrides: { registrationExpiresAt: isoIn(-60) },
    message:
      /^SSO Token refresh failed\. Please log in using "aws sso login" \(client registration expired\)$/,
  },
  {
    name: '400 echoing the secrets in error and error_description',
    reply: (req, res, r) =>
      sendJson(res, 400, {
        error: `invalid_grant ${r.json.clientSecret}`,
        error_description: `bad: ${echo(r.json)}`,
      }),
    message:
      /^SSO Token refresh failed\. Please log in using "aws sso login" \(invalid_grant \*\*\*, HTTP 400: /,
  },
  {
    name: '403 echoing the secrets in the x-amzn-ErrorType header only',
    reply: (req, res, r) => {
      res.writeHead(403, { 'x-amzn-ErrorType': `Denied${r.json.clientSecret}:${r.json.refreshToken}` })
      res.end()
    },
    message: /HTTP 403/,
  },
  {
    name: '400 AWS-style __type/message echo',
    reply: (req, res, r) =>
      sendJson(res, 400, {
        __type: `com.amazonaws.ssooidc#${r.json.refreshToken}`,
        message: `no ${echo(r.json)}`,
      }),
    message: /HTTP 400/,
  },
  {
    name: '500 echo, three times',
    reply: (req, res, r) =>
      sendJson(res, 500, { error: 'InternalServerException', error_description: echo(r.json) }),
    message: /HTTP 500/,
  },
  {
    name: '400 echo placed across the 200-character cut',
    reply: (req, res, r) =>
      sendJson(res, 400, {
        error: 'invalid_grant',
        error_description: `${'x'.repeat(185)}${r.json.clientSecret}${r.json.refreshToken}${'y'.repeat(50)}`,
      }),
    message:
      /^SSO Token refresh failed\. Please log in using "aws sso login" \(invalid_grant, HTTP 400: x{100}/,
  },
  {
    name: '200 whose body is not JSON and echoes the secrets',
    reply: (req, res, r) => sendJson(res, 200, `oops ${echo(r.json)}`),
    message: /invalid CreateToken response/,
  },
  {
    name: '200 with bad fields carrying the secrets',
    reply: (req, res, r) =>
      sendJson(res, 200, { accessToken: '', expiresIn: r.json.refreshToken, error: r.json.clientSecret }),
    message: /invalid CreateToken response/,
  },
  {
    name: '307 whose Location carries the secrets',
    reply: (req, res, r) => {
      res.writeHead(307, { location: `http://127.0.0.1:1/${r.json.clientSecret}?rt=${r.json.refreshToken}` })
      res.end(echo(r.json))
    },
    message: /HTTP 307/,
  },
  {
    name: 'reset mid-body after echoing the secrets',
    reply: (req, res, r) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      res.write(`{"accessToken": "${r.json.clientSecret}", "refreshToken": "${r.json.refreshToken}`)
      setTimeout(() => res.socket && res.socket.destroy(), 10)
    },
    message: /connection to 127\.0\.0\.1:\d+ failed/,
  },
  {
    name: 'connection refused',
    env: async () => ({ AWS_ENDPOINT_URL_SSO_OIDC: `http://127.0.0.1:${await freePort()}` }),
    message: /refused/,
  },
  {
    name: 'plain http to a non-loopback host',
    env: async () => ({ AWS_ENDPOINT_URL_SSO_OIDC: 'http://sso.example.invalid' }),
    message: /plain http/,
  },
  {
    name: 'endpoint URL with a password in it',
    env: async (extra) => ({ AWS_ENDPOINT_URL_SSO_OIDC: `http://user:${extra.password}@127.0.0.1:1` }),
    extra: { password: `PW-${MARKER}-endpoint` },
    message: /user information in the URL is not allowed/,
  },
  {
    name: 'https through a proxy with credentials that refuses',
    env: async (extra) => ({
      AWS_ENDPOINT_URL_SSO_OIDC: undefined,
      HTTPS_PROXY: `http://proxyuser:${extra.password}@127.0.0.1:${extra.proxy.port}`,
    }),
    extra: { password: `PW-${MARKER}-proxy` },
    proxy: true,
    message: /via proxy 127\.0\.0\.1:\d+/,
  },
  {
    name: 'expiresAt holding the access token (invalid date)',
    overrides: (s) => ({ expiresAt: s.accessToken }),
    message: /^Cached token file ".+" has an invalid "expiresAt" value$/,
  },
  {
    name: 'invalid JSON around the secrets',
    raw: (s) =>
      `{"accessToken": "${s.accessToken}", "refreshToken": "${s.refreshToken}", ` +
      `"clientSecret": "${s.clientSecret}" "expiresAt": "${isoIn(-60)}"}`,
    message: /^Cached token file ".+" is not valid JSON: .+ at line 1 column \d+$/,
  },
]

describe('no error path carries a secret into its message, its error object or sso-token output', () => {
  for (const p of ERROR_PATHS) {
    test(p.name, async (t) => {
      const secrets = secretValues()
      const extra = { ...p.extra }
      const proxy = p.proxy ? await startConnectProxy({ refuse: true }) : null
      if (proxy) extra.proxy = proxy
      const overrides = typeof p.overrides === 'function' ? p.overrides(secrets) : p.overrides
      const s = await setup({ expiresIn: -60, overrides: { ...secrets, ...overrides }, handler: p.reply })
      try {
        if (p.raw) s.home.writeToken(s.session, p.raw(secrets))
        const env = p.env ? await p.env(extra) : {}
        useHome(s.home.home, { AWS_ENDPOINT_URL_SSO_OIDC: s.server.url, ...env })
        const all = { ...secrets, ...(extra.password ? { password: extra.password } : {}) }
        const { provider, err, ms } = await construct(s.profile)
        assertFailure(err, p.message)
        for (const [where, text] of Object.entries(errorTexts(err, provider))) assertClean(text, all, where)
        // The command, in a fresh process, on the same files and endpoint.
        const r = await cli(['--profile', s.profile, '--json'], { ...process.env })
        assert.equal(r.code, 1, r.all)
        assert.equal(JSON.parse(r.stdout).error.message, err.message)
        assertClean(r.all, all, 'sso-token --json output')
        t.diagnostic(`${ms} ms: ${err.message.slice(0, 160)}`)
      } finally {
        if (proxy) await proxy.close()
        await s.done()
      }
    })
  }

  test('a throttled retry after an echoing 400 stays clean', async () => {
    const secrets = secretValues()
    const s = await setup({
      expiresIn: -60,
      overrides: secrets,
      profiles: [uniqueName('a'), uniqueName('b')],
      handler: ERROR_PATHS[2].reply,
    })
    try {
      const first = await construct(s.profiles[0])
      assertFailure(first.err)
      const second = await construct(s.profiles[1])
      assertFailure(second.err, /^SSO Token refresh failed\. Please log in using "aws sso login" \(/)
      assert.equal(s.server.requests.length, 1)
      for (const { err, provider } of [first, second]) {
        for (const [where, text] of Object.entries(errorTexts(err, provider)))
          assertClean(text, secrets, where)
      }
    } finally {
      await s.done()
    }
  })

  test('legacy profile, expired token full of secrets', async () => {
    const secrets = secretValues()
    const home = makeHome()
    const profile = uniqueName('legacy')
    const startUrl = `https://${uniqueName('d')}.awsapps.com/start`
    fs.writeFileSync(
      home.configPath,
      `[profile ${profile}]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\n`,
    )
    home.writeToken(startUrl, tokenDoc(-60, secrets))
    useHome(home.home)
    try {
      const { provider, err } = await construct(profile)
      assertFailure(
        err,
        `SSO Token for profile "${profile}" has expired. Please log in using "aws sso login" for profile "${profile}".`,
      )
      for (const [where, text] of Object.entries(errorTexts(err, provider))) assertClean(text, secrets, where)
    } finally {
      home.cleanup()
    }
  })
})

// ------------------------------------------------------------------ provider state

describe('the provider never shows its token or the refresh material', () => {
  test('after a refresh: util.inspect, JSON.stringify, Object.keys, for..in, String()', async () => {
    const secrets = secretValues()
    const fresh = { accessToken: `NEW-AT-${MARKER}-x`, refreshToken: `NEW-RT-${MARKER}-x` }
    const s = await setup({
      expiresIn: 120,
      overrides: secrets,
      handler: (req, res) => createTokenOk(res, fresh),
    })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, fresh.accessToken, 'the token is readable as a property')
      assert.equal(Object.getOwnPropertyDescriptor(provider, 'token').enumerable, false)
      const forIn = []
      for (const k in provider) forIn.push(k)
      const texts = {
        'util.inspect': util.inspect(provider, { depth: Infinity }),
        'util.inspect(getters)': util.inspect(provider, { depth: Infinity, getters: true }),
        'JSON.stringify': JSON.stringify(provider),
        'Object.keys': JSON.stringify(Object.keys(provider)),
        'Object.entries': JSON.stringify(Object.entries(provider)),
        'for..in': JSON.stringify(forIn),
        spread: JSON.stringify({ ...provider }),
        'String()': String(provider),
        'console.log format (%s %j)': util.format('%s %j', provider, provider),
      }
      // Not covered, by design and as in v2 (hideProperties): util.inspect with
      // showHidden: true, and so util.format('%o'), list non-enumerable properties.
      for (const [where, text] of Object.entries(texts)) assertClean(text, { ...secrets, ...fresh }, where)
    } finally {
      await s.done()
    }
  })
})

// ------------------------------------------------------------------ sso-token output

describe('sso-token prints the token only with --show-token, and never the refresh material', () => {
  test('valid token: text and --json hide it; --show-token shows it (text and --json)', async () => {
    const secrets = secretValues()
    const s = await setup({ expiresIn: 3600, overrides: secrets })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const { accessToken, ...material } = secrets
      for (const args of [[], ['--json']]) {
        const r = await cli(['--profile', s.profile, ...args], env)
        assert.equal(r.code, 0, r.all)
        assertClean(r.all, secrets, `sso-token ${args.join(' ')}`)
        assert.match(r.stdout, /expires/)
      }
      const text = await cli(['--profile', s.profile, '--show-token'], env)
      assert.equal(text.code, 0, text.all)
      assert.match(text.stdout, new RegExp(`^token:\\s+${accessToken}$`, 'm'))
      assert.equal(text.all.split(accessToken).length - 1, 1, 'the token printed once, on its line')
      const json = await cli(['--profile', s.profile, '--json', '--show-token'], env)
      assert.equal(json.code, 0, json.all)
      assert.equal(JSON.parse(json.stdout).token, accessToken)
      for (const r of [text, json]) {
        for (const value of Object.values(material)) assert.equal(r.all.includes(value), false, r.all)
      }
      assert.equal(s.server.requests.length, 0)
    } finally {
      await s.done()
    }
  })

  test('--refresh with a rotated refresh token: text output hides the new token and all refresh material', async () => {
    const secrets = secretValues()
    let n = 0
    const s = await setup({
      expiresIn: 3600,
      overrides: secrets,
      handler: (req, res) => {
        n += 1
        createTokenOk(res, { accessToken: `NEW-AT-${MARKER}-${n}`, refreshToken: `NEW-RT-${MARKER}-${n}` })
      },
    })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const r = await cli(['--profile', s.profile, '--refresh'], env)
      assert.equal(r.code, 0, r.all)
      assert.match(r.stdout, /^refreshed:\s+yes/m)
      assertClean(r.all, secrets, 'sso-token --refresh')
      assert.equal(s.server.requests.length, 1)
      assert.equal(s.home.readToken(s.session).accessToken, `NEW-AT-${MARKER}-1`)
      const shown = await cli(['--profile', s.profile, '--refresh', '--show-token'], env)
      assert.equal(shown.code, 0, shown.all)
      assert.match(shown.stdout, new RegExp(`^token:\\s+NEW-AT-${MARKER}-2$`, 'm'))
      assert.equal(shown.all.includes(`NEW-RT-${MARKER}`), false, shown.all)
      assert.equal(shown.all.includes(secrets.clientSecret), false, shown.all)
    } finally {
      await s.done()
    }
  })

  test('a failed refresh in text mode: stderr names the cause without the echoed secrets', async () => {
    const secrets = secretValues()
    const s = await setup({ expiresIn: -60, overrides: secrets, handler: ERROR_PATHS[2].reply })
    try {
      const env = childEnv({ HOME: s.home.home, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url })
      const r = await cli(['--profile', s.profile], env)
      assert.equal(r.code, 1)
      assert.ok(r.stderr.includes(`${REFRESH_FAILED} (invalid_grant ***, HTTP 400: bad: *** ***`), r.stderr)
      assertClean(r.all, secrets, 'sso-token stderr')
    } finally {
      await s.done()
    }
  })
})

// ------------------------------------------------------------------ file modes

describe('files we create are private; the user’s mode is kept', { skip: WIN_NO_MODES }, () => {
  for (const [mode, umask] of [
    [0o600, 0o000],
    [0o640, 0o077],
  ]) {
    test(`a cache file of mode 0${mode.toString(8)} keeps it across a refresh (umask 0${umask.toString(8)}), new inode`, async () => {
      const s = await setup({ expiresIn: 120, mode })
      const old = process.umask(umask)
      try {
        assert.equal(s.before.mode, mode)
        const { provider, err } = await construct(s.profile)
        assert.equal(err, null)
        assert.equal(provider.token, 'new-access-token')
        const after = fileState(s.file)
        assert.equal(JSON.parse(after.bytes).accessToken, 'new-access-token', 'the file was rewritten')
        assert.equal(after.mode, mode, `mode 0${after.mode.toString(8)}`)
        assert.notEqual(after.ino, s.before.ino, 'replaced by rename')
        assert.deepEqual(listDir(s.home.cacheDir), [path.basename(s.file)])
      } finally {
        process.umask(old)
        await s.done()
      }
    })
  }

  test('the lock file is 0600 while the refresh runs (umask 0), and removed afterwards', async () => {
    let seen = null
    let file
    const s = await setup({
      expiresIn: 120,
      handler: async (req, res) => {
        try {
          const st = fs.lstatSync(`${file}.lock`)
          seen = { mode: st.mode & 0o777, file: st.isFile(), uid: st.uid }
        } catch (e) {
          seen = { error: e.code }
        }
        await delay(300)
        createTokenOk(res)
      },
    })
    file = s.file
    const old = process.umask(0)
    try {
      const { err } = await construct(s.profile)
      assert.equal(err, null)
      assert.deepEqual(seen, { mode: 0o600, file: true, uid: process.getuid() })
      assert.equal(fs.existsSync(`${s.file}.lock`), false)
    } finally {
      process.umask(old)
      await s.done()
    }
  })
})

// ------------------------------------------------------------------ plain http

describe('plain http: refused off loopback before any connection, allowed on loopback', () => {
  for (const endpoint of [
    'http://example.invalid',
    'http://10.0.0.1:1',
    'http://[::ffff:10.0.0.1]:1',
    'http://localhost.evil.example:1',
    'http://127.0.0.1.nip.io:1',
  ]) {
    test(`${endpoint}: expired token -> refused in < 500 ms, secrets not sent`, async (t) => {
      const secrets = secretValues()
      const s = await setup({
        expiresIn: -60,
        overrides: secrets,
        env: { AWS_ENDPOINT_URL_SSO_OIDC: endpoint },
      })
      try {
        const { err, ms } = await construct(s.profile)
        assertFailure(err)
        assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
        assert.match(err.message, /refusing to send the refresh token over plain http to .+; use https\)$/)
        assert.ok(ms < 500, `took ${ms} ms`)
        assertClean(err.message, secrets, 'message')
        assert.deepEqual(fileState(s.file), s.before)
        t.diagnostic(`${ms} ms: ${err.message}`)
      } finally {
        await s.done()
      }
    })
  }

  async function serverOn(host) {
    const requests = []
    const server = http.createServer((req, res) => {
      requests.push(req.url)
      req.resume()
      req.on('end', () => createTokenOk(res, { accessToken: `via-${host}` }))
    })
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, resolve)
    })
    return {
      port: server.address().port,
      requests,
      close: () => new Promise((resolve) => server.close(resolve)),
    }
  }

  for (const [host, url] of [
    ['127.0.0.1', (port) => `http://127.0.0.1:${port}`],
    ['127.0.0.1', (port) => `http://localhost:${port}`],
    ['127.0.0.2', (port) => `http://127.0.0.2:${port}`],
    ['::1', (port) => `http://[::1]:${port}`],
  ]) {
    test(`loopback ${url('PORT')} is allowed`, async (t) => {
      let srv
      try {
        srv = await serverOn(host)
      } catch (e) {
        t.skip(`cannot listen on ${host}: ${e.code}`)
        return
      }
      const s = await setup({ expiresIn: -60, env: { AWS_ENDPOINT_URL_SSO_OIDC: url(srv.port) } })
      try {
        const { provider, err } = await construct(s.profile)
        assert.equal(err, null)
        assert.equal(provider.token, `via-${host}`)
        assert.deepEqual(srv.requests, ['/token'])
      } finally {
        await srv.close()
        await s.done()
      }
    })
  }
})
