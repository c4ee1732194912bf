'use strict'

// Signing in through the public API (docs/behaviour.md §10): both flows end to end against
// a loopback Identity Center (support/identity-center.js) where the test plays the
// browser; the files laid out as the AWS CLI writes them; a registration reused in both
// directions; a provider of this process seeing the new token; the sign-out.

const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const test = require('node:test')
const { makeHome, sessionConfig, sha1, uniqueName, assertFailure } = require('./support/home.js')
const { startIdentityCenter, playBrowser, get } = require('./support/identity-center.js')

const ROOT = require('node:path').join(__dirname, '..')
const { login, logout, SSOTokenProvider } = require(ROOT)
const { run } = require('../lib/login.js')

const START_URL = 'https://d-1234567890.awsapps.com/start'
const CLI_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
// The token file's keys, in the order the CLI writes them.
const TOKEN_KEYS = [
  'startUrl',
  'region',
  'accessToken',
  'expiresAt',
  'clientId',
  'clientSecret',
  'registrationExpiresAt',
  'refreshToken',
]

/**
 * A home with profile `dev` on a session of its own (or `config`), and an Identity Center
 * both endpoint variables point at.
 */
async function scenario({ config, hooks, interval } = {}) {
  const session = uniqueName('login')
  const home = makeHome({ config: config || sessionConfig({ profile: 'dev', session, startUrl: START_URL }) })
  const ic = await startIdentityCenter({ hooks, interval })
  home.use({ AWS_ENDPOINT_URL_SSO_OIDC: ic.url, AWS_ENDPOINT_URL_SSO: ic.url })
  return {
    home,
    ic,
    session,
    tokenPath: home.cachePath(session),
    async done() {
      await ic.close()
      home.cleanup()
    },
  }
}

/** The text Python's json.dumps writes for `obj` (ASCII values): the CLI's cache files. */
function pythonDumps(obj) {
  const value = (v) =>
    Array.isArray(v) ? `[${v.map((i) => JSON.stringify(i)).join(', ')}]` : JSON.stringify(v)
  return `{${Object.entries(obj)
    .map(([k, v]) => `${JSON.stringify(k)}: ${value(v)}`)
    .join(', ')}}`
}

/** The CLI's registration key (BaseSSOTokenFetcher._registration_cache_key). */
function registrationKey({ startUrl, region, scopes = null, session = null }) {
  const text = pythonDumps({ region, scopes, session_name: session, startUrl, tool: 'botocore' })
  return sha1(text)
}

const mode = (file) => fs.statSync(file).mode & 0o777

test('login() with the code flow: the browser comes back, the files are the CLI’s, a provider sees the token', async (t) => {
  const s = await scenario()
  try {
    const prompts = []
    const started = Date.now()
    const result = await login({
      profile: 'dev',
      openBrowser: false,
      async onPrompt(prompt) {
        prompts.push(prompt)
        const back = await playBrowser(prompt.authorizeUrl)
        assert.equal(back.status, 200)
        assert.match(back.body, /Signed in/)
        assert.equal(back.headers['cache-control'], 'no-store')
        assert.equal(back.headers['referrer-policy'], 'no-referrer')
      },
    })
    t.diagnostic(`code flow end to end: ${Date.now() - started} ms`)
    assert.deepEqual(Object.keys(result), ['expiration'])
    assert.ok(result.expiration instanceof Date)
    assert.equal(prompts.length, 1)
    const [prompt] = prompts
    assert.equal(prompt.flow, 'authorization_code')
    assert.equal(prompt.userCode, null)
    assert.equal(prompt.verificationUri, prompt.authorizeUrl)
    assert.equal(prompt.openingBrowser, false)
    const url = new URL(prompt.authorizeUrl)
    assert.equal(url.origin + url.pathname, `${s.ic.url}/authorize`)
    assert.deepEqual(
      [...url.searchParams.keys()],
      [
        'response_type',
        'client_id',
        'redirect_uri',
        'state',
        'code_challenge_method',
        'scopes',
        'code_challenge',
      ],
    )
    assert.match(url.searchParams.get('redirect_uri'), /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/)
    assert.match(
      url.searchParams.get('state'),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    assert.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)

    const [register] = s.ic.calls('POST /client/register')
    assert.deepEqual(register.json, {
      clientName: `botocore-client-${s.session}`,
      clientType: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1/oauth/callback'],
      issuerUrl: START_URL,
      scopes: ['sso:account:access'],
    })
    const [create] = s.ic.calls('POST /token')
    assert.equal(create.json.grantType, 'authorization_code')
    assert.equal(create.json.redirectUri, url.searchParams.get('redirect_uri'))
    assert.equal(
      crypto.createHash('sha256').update(create.json.codeVerifier).digest('base64url'),
      url.searchParams.get('code_challenge'),
    )

    // The token file: the CLI's keys in the CLI's order, one json.dumps line, 0600.
    const text = fs.readFileSync(s.tokenPath, 'utf8')
    const doc = JSON.parse(text)
    assert.deepEqual(Object.keys(doc), TOKEN_KEYS)
    assert.equal(text, pythonDumps(doc))
    assert.equal(doc.startUrl, START_URL)
    assert.equal(doc.region, 'us-east-1')
    assert.match(doc.expiresAt, CLI_TIME)
    assert.equal(doc.expiresAt, result.expiration.toISOString().replace('.000Z', 'Z'))
    assert.ok(s.ic.tokens.has(doc.accessToken))
    if (process.platform !== 'win32') assert.equal(mode(s.tokenPath), 0o600)

    // The registration file, under the CLI's key for this session.
    const regPath = `${s.home.cacheDir}/${registrationKey({ startUrl: START_URL, region: 'us-east-1', session: s.session })}.json`
    const regText = fs.readFileSync(regPath, 'utf8')
    const reg = JSON.parse(regText)
    assert.deepEqual(Object.keys(reg), ['clientId', 'clientSecret', 'expiresAt', 'scopes', 'grantTypes'])
    assert.equal(regText, pythonDumps(reg))
    assert.equal(reg.clientId, doc.clientId)
    assert.equal(reg.expiresAt, doc.registrationExpiresAt)
    assert.deepEqual(reg.grantTypes, ['authorization_code', 'refresh_token'])
    assert.deepEqual(
      fs.readdirSync(s.home.cacheDir).sort(),
      [regPath.split('/').pop(), s.tokenPath.split('/').pop()].sort(),
    )

    const provider = new SSOTokenProvider({ profile: 'dev' })
    await provider.getPromise()
    assert.equal(provider.token, doc.accessToken)
    assert.equal(+provider.expireTime, +result.expiration)
  } finally {
    await s.done()
  }
})

test('login({ useDeviceCode: true }): the user code is shown, polling honours the interval, the token is written', async (t) => {
  const s = await scenario({ interval: 1 })
  try {
    let prompt
    const started = Date.now()
    await login({
      profile: 'dev',
      useDeviceCode: true,
      openBrowser: false,
      onPrompt(p) {
        prompt = p
        setTimeout(() => get(p.verificationUriComplete), 200)
      },
    })
    t.diagnostic(`device flow end to end: ${Date.now() - started} ms`)
    assert.equal(prompt.flow, 'device_code')
    assert.match(prompt.userCode, /^[0-9A-F]{8}$/)
    assert.equal(prompt.verificationUri, `${s.ic.url}/device`)
    assert.equal(prompt.verificationUriComplete, `${s.ic.url}/device?user_code=${prompt.userCode}`)
    assert.equal(prompt.authorizeUrl, null)
    const [start] = s.ic.calls('POST /device_authorization')
    assert.equal(start.json.startUrl, START_URL)
    const polls = s.ic.calls('POST /token')
    assert.equal(polls.length, 2, 'one attempt before the prompt, one after the interval')
    assert.ok(polls[1].at - polls[0].at >= 950, `polled after ${polls[1].at - polls[0].at} ms`)
    for (const p of polls) assert.equal(p.json.grantType, 'urn:ietf:params:oauth:grant-type:device_code')
    const [register] = s.ic.calls('POST /client/register')
    assert.deepEqual(register.json, { clientName: `botocore-client-${s.session}`, clientType: 'public' })
    const doc = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8'))
    assert.ok(s.ic.tokens.has(doc.accessToken))
    // The device registration: no grantTypes, no scopes when none were registered.
    const regPath = `${s.home.cacheDir}/${registrationKey({ startUrl: START_URL, region: 'us-east-1', session: s.session })}.json`
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(regPath, 'utf8'))), [
      'clientId',
      'clientSecret',
      'expiresAt',
    ])
  } finally {
    await s.done()
  }
})

test('a legacy profile (sso_start_url in the profile) signs in with the device flow under sha1(start URL)', async () => {
  const config = `[profile old]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`
  const s = await scenario({ config })
  try {
    const result = await run({
      profile: 'old',
      openBrowser: false,
      onPrompt: (p) => get(p.verificationUriComplete),
    })
    assert.equal(result.flow, 'device_code')
    const tokenPath = s.home.cachePath(START_URL)
    assert.equal(result.cachePath, tokenPath)
    const doc = JSON.parse(fs.readFileSync(tokenPath, 'utf8'))
    // No scopes were registered, so the service issued no refresh token, and none is written.
    assert.equal(doc.refreshToken, undefined)
    assert.deepEqual(Object.keys(doc), TOKEN_KEYS.slice(0, -1))
    const [register] = s.ic.calls('POST /client/register')
    assert.match(register.json.clientName, /^botocore-client-\d+$/)
    const regPath = `${s.home.cacheDir}/${registrationKey({ startUrl: START_URL, region: 'us-east-1' })}.json`
    assert.ok(fs.existsSync(regPath))
    const provider = new SSOTokenProvider({ profile: 'old' })
    await provider.getPromise()
    assert.equal(provider.token, doc.accessToken)
  } finally {
    await s.done()
  }
})

test('a registration the AWS CLI wrote is reused (no RegisterClient); one of the other flow is replaced', async () => {
  const s = await scenario()
  try {
    // A client the service knows, cached as the CLI caches it (its one-line format).
    const cli = { clientId: 'cli-client', clientSecret: 'cli-secret' }
    s.ic.clients.set(cli.clientId, {
      id: cli.clientId,
      secret: cli.clientSecret,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1/oauth/callback'],
      scopes: ['sso:account:access'],
    })
    const regPath = `${s.home.cacheDir}/${registrationKey({ startUrl: START_URL, region: 'us-east-1', session: s.session })}.json`
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z')
    const cliReg = pythonDumps({
      ...cli,
      expiresAt,
      scopes: ['sso:account:access'],
      grantTypes: ['authorization_code', 'refresh_token'],
    })
    fs.writeFileSync(regPath, cliReg)
    const result = await run({
      profile: 'dev',
      openBrowser: false,
      onPrompt: (p) => playBrowser(p.authorizeUrl),
    })
    assert.equal(result.registered, false)
    assert.equal(s.ic.calls('POST /client/register').length, 0)
    assert.equal(fs.readFileSync(regPath, 'utf8'), cliReg, 'the cached registration is left as it is')
    const doc = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8'))
    assert.equal(doc.clientId, 'cli-client')
    assert.equal(doc.registrationExpiresAt, expiresAt, 'copied verbatim, as the CLI copies it')

    // A device registration (no grantTypes) does not serve the code flow: registered again.
    fs.writeFileSync(regPath, pythonDumps({ ...cli, expiresAt }))
    const again = await run({
      profile: 'dev',
      openBrowser: false,
      onPrompt: (p) => playBrowser(p.authorizeUrl),
    })
    assert.equal(again.registered, true)
    assert.equal(s.ic.calls('POST /client/register').length, 1)
    assert.deepEqual(JSON.parse(fs.readFileSync(regPath, 'utf8')).grantTypes, [
      'authorization_code',
      'refresh_token',
    ])

    // One with less than 15 minutes left is not used either.
    const soon = JSON.parse(fs.readFileSync(regPath, 'utf8'))
    soon.expiresAt = new Date(Date.now() + 14 * 60e3).toISOString().replace(/\.\d+Z$/, 'Z')
    fs.writeFileSync(regPath, pythonDumps(soon))
    await run({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) })
    assert.equal(s.ic.calls('POST /client/register').length, 2)
  } finally {
    await s.done()
  }
})

/** python3 with botocore, if this machine has them. */
function python() {
  try {
    execFileSync('python3', ['-c', 'import botocore.tokens'], { stdio: 'pipe' })
    return 'python3'
  } catch {
    return null
  }
}

test('what login() wrote is what the AWS CLI’s rules read: the registration key, reuse and botocore’s token loader', async (t) => {
  const py = python()
  if (!py) return t.skip('python3 with botocore is not installed')
  const s = await scenario()
  try {
    s.home.writeConfig(
      `[profile dev]\nsso_session = ${s.session}\n\n[sso-session ${s.session}]\nsso_start_url = ${START_URL}\n` +
        'sso_region = us-east-1\nsso_registration_scopes = sso:account:access, codecatalyst:read_write\n',
    )
    await login({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) })
    // The CLI's own code (awscli/botocore/utils.py, 2.36.7): the key, _is_expired, the
    // flow check; then botocore's SSOTokenProvider loading the token for the profile.
    const script = `
import datetime, hashlib, json, os, sys
from dateutil.parser import parse
from dateutil.tz import tzutc
import botocore.session
from botocore.tokens import SSOTokenProvider
cache = os.path.expanduser(os.path.join('~', '.aws', 'sso', 'cache'))
args = {'tool': 'botocore', 'startUrl': sys.argv[1], 'region': 'us-east-1',
        'scopes': ['sso:account:access', 'codecatalyst:read_write'], 'session_name': sys.argv[2]}
key = hashlib.sha1(json.dumps(args, sort_keys=True).encode('utf-8')).hexdigest()
reg = json.load(open(os.path.join(cache, key + '.json')))
left = (parse(reg['expiresAt']) - datetime.datetime.now(tzutc())).total_seconds()
auth = 'grantTypes' in reg and 'authorization_code' in reg['grantTypes']
raw = open(os.path.join(cache, key + '.json')).read()
def ser(o):
    return o.strftime('%Y-%m-%dT%H:%M:%SZ') if isinstance(o, datetime.datetime) else o
tok_path = os.path.join(cache, hashlib.sha1(sys.argv[2].encode('utf-8')).hexdigest() + '.json')
tok_raw = open(tok_path).read()
same = json.dumps(json.loads(raw), default=ser) == raw and json.dumps(json.loads(tok_raw), default=ser) == tok_raw
session = botocore.session.Session(profile='dev')
token = SSOTokenProvider(session).load_token().get_frozen_token().token
print(json.dumps({'reusable': left >= 15 * 60 and auth, 'sameBytes': same, 'token': token, 'scopes': reg['scopes']}))
`
    const out = JSON.parse(
      execFileSync(py, ['-c', script, START_URL, s.session], {
        env: s.home.env({ AWS_ENDPOINT_URL_SSO_OIDC: s.ic.url }),
        encoding: 'utf8',
      }),
    )
    const doc = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8'))
    assert.deepEqual(out, {
      reusable: true,
      sameBytes: true,
      token: doc.accessToken,
      scopes: ['sso:account:access', 'codecatalyst:read_write'],
    })
    const [register] = s.ic.calls('POST /client/register')
    assert.deepEqual(register.json.scopes, ['sso:account:access', 'codecatalyst:read_write'])
  } finally {
    await s.done()
  }
})

test('a provider holding the old token sees the new login through change detection, and logout makes it say "log in"', async () => {
  const s = await scenario()
  try {
    const old = {
      startUrl: START_URL,
      region: 'us-east-1',
      accessToken: 'old-token',
      expiresAt: new Date(Date.now() + 3600e3).toISOString(),
    }
    s.home.writeToken(s.session, old)
    const provider = new SSOTokenProvider({ profile: 'dev' })
    await provider.getPromise()
    assert.equal(provider.token, 'old-token')
    await login({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) })
    const fresh = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8')).accessToken
    await new Promise((resolve) => setTimeout(resolve, 5))
    await provider.getPromise()
    assert.equal(provider.token, fresh, 'the warm get() saw the new file')

    const out = await logout({ profile: 'dev' })
    assert.deepEqual(out, { removed: [s.tokenPath], warnings: [] })
    assert.deepEqual(s.ic.loggedOut, [fresh])
    await new Promise((resolve) => setTimeout(resolve, 5))
    await assert.rejects(provider.getPromise(), (err) => {
      assertFailure(err, 'Cached token not found. Please log in using "aws sso login" for profile "dev".')
      return true
    })
  } finally {
    await s.done()
  }
})

test('logout() without a profile signs out every token file as aws sso logout, and keeps registrations', async () => {
  const s = await scenario()
  try {
    await login({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) })
    const ours = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8')).accessToken
    // Another tool's token without a region: removed with no Logout call.
    s.home.writeToken('other', {
      accessToken: 'other-token',
      expiresAt: new Date(Date.now() + 3600e3).toISOString(),
    })
    fs.writeFileSync(`${s.home.cacheDir}/notes.txt`, 'not JSON')
    const credsDir = `${s.home.awsDir}/cli/cache`
    fs.mkdirSync(credsDir, { recursive: true })
    fs.writeFileSync(`${credsDir}/a.json`, JSON.stringify({ ProviderType: 'sso', Credentials: {} }))
    fs.writeFileSync(`${credsDir}/b.json`, JSON.stringify({ ProviderType: 'assume-role' }))
    const before = fs.readdirSync(s.home.cacheDir)
    const out = await logout()
    assert.deepEqual(out.warnings, [])
    assert.deepEqual(
      out.removed,
      [s.home.cachePath('other'), s.tokenPath].sort().concat(`${credsDir}/a.json`),
    )
    assert.deepEqual(s.ic.loggedOut, [ours])
    const [call] = s.ic.calls('POST /logout')
    assert.equal(call.headers['x-amz-sso_bearer_token'], ours)
    assert.equal(call.body, '')
    const left = fs.readdirSync(s.home.cacheDir).sort()
    assert.deepEqual(
      left,
      before.filter((f) => ![sha1('other'), sha1(s.session)].some((h) => f.startsWith(h))).sort(),
    )
    assert.equal(left.length, 2, 'the registration file and notes.txt stay')
    assert.deepEqual(fs.readdirSync(credsDir), ['b.json'])
  } finally {
    await s.done()
  }
})
