'use strict'

// How a sign-in fails (docs/behaviour.md §10): every error path with its code, kind and
// exact message; hostile Identity Center answers; the requests the loopback listener
// refuses while the sign-in waits on; abort and timeout leaving no listener and no file.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const test = require('node:test')
const { makeHome, sessionConfig, uniqueName, assertFailure } = require('./support/home.js')
const {
  startIdentityCenter,
  playBrowser,
  get,
  listening,
  oidcError,
} = require('./support/identity-center.js')
const { sendJson } = require('./oidc-server.js')
const { messages } = require('./helpers.js')

const ROOT = require('node:path').join(__dirname, '..')
const { login, logout } = require(ROOT)

const START_URL = 'https://d-1234567890.awsapps.com/start'

async function scenario({ hooks, region, env } = {}) {
  const session = uniqueName('login')
  const home = makeHome({ config: sessionConfig({ profile: 'dev', session, startUrl: START_URL, region }) })
  const ic = await startIdentityCenter({ hooks })
  home.use({ AWS_ENDPOINT_URL_SSO_OIDC: ic.url, AWS_ENDPOINT_URL_SSO: ic.url, ...env })
  return {
    home,
    ic,
    session,
    /** The cache folder's files (none after a failed sign-in). */
    files: () => fs.readdirSync(home.cacheDir),
    async done() {
      await ic.close()
      home.cleanup()
    },
  }
}

/** The rejection of `promise`, asserted to be the provider's error of `kind` and `message`. */
async function failure(promise, kind, message) {
  const err = await promise.then(
    () => assert.fail('the sign-in succeeded'),
    (e) => e,
  )
  assertFailure(err, message)
  assert.equal(err.kind, kind)
  assert.equal(Object.keys(err).includes('kind'), false, 'kind is not enumerable')
  return err
}

const portOf = (authorizeUrl) => Number(new URL(new URL(authorizeUrl).searchParams.get('redirect_uri')).port)

/** A raw request to the listener of `authorizeUrl`: the status and body it answers. */
function ask(authorizeUrl, path, { host, method = 'GET' } = {}) {
  const port = portOf(authorizeUrl)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, headers: host ? { host } : {} },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

test('bad options are a TypeError at once, before anything starts', async () => {
  const s = await scenario()
  try {
    for (const [options, message] of [
      ['dev', 'The options of login() must be an object'],
      [{ profile: 7 }, 'The "profile" option must be a string'],
      [{ useDeviceCode: 'yes' }, 'The "useDeviceCode" option must be a boolean'],
      [{ openBrowser: 1 }, 'The "openBrowser" option must be a boolean'],
      [{ onPrompt: 'print' }, 'The "onPrompt" option must be a function'],
      [{ signal: {} }, 'The "signal" option must be an AbortSignal'],
      [{ timeoutMs: 0 }, 'The "timeoutMs" option must be a whole number of milliseconds from 1 to 86400000'],
      [
        { timeoutMs: 1.5 },
        'The "timeoutMs" option must be a whole number of milliseconds from 1 to 86400000',
      ],
      [
        { timeoutMs: '600000' },
        'The "timeoutMs" option must be a whole number of milliseconds from 1 to 86400000',
      ],
    ]) {
      assert.throws(() => login(options), { name: 'TypeError', message })
    }
    assert.throws(() => logout({ profile: '' }), {
      name: 'TypeError',
      message: 'The "profile" option must be a non-empty string',
    })
    assert.throws(() => logout(5), {
      name: 'TypeError',
      message: 'The options of logout() must be an object',
    })
    assert.equal(s.ic.requests.length, 0)
  } finally {
    await s.done()
  }
})

test('configuration errors keep the provider’s messages and kinds', async () => {
  const s = await scenario({ region: 'evil.example/x' })
  try {
    const notFound = messages.profileNotFound('nope', s.home.configPath)
    await failure(login({ profile: 'nope', openBrowser: false }), 'ProfileNotFound', notFound)
    await failure(logout({ profile: 'nope' }), 'ProfileNotFound', notFound)
    // The region is checked before any connection (the endpoint variable aside).
    s.home.use({ AWS_ENDPOINT_URL_SSO_OIDC: undefined })
    await failure(
      login({ profile: 'dev', openBrowser: false }),
      'LoginFailed',
      `Sign-in failed (sso_region "evil.example/x" of sso-session "${s.session}" is not a valid region name)`,
    )
    // Plain http anywhere but loopback would send the client secret in clear text.
    s.home.use({ AWS_ENDPOINT_URL_SSO_OIDC: 'http://oidc.example.com' })
    await failure(
      login({ profile: 'dev', openBrowser: false }),
      'LoginFailed',
      'Sign-in failed (refusing to send the client secret over plain http to oidc.example.com; use https)',
    )
    assert.equal(s.ic.requests.length, 0)
    assert.deepEqual(s.files(), [])
  } finally {
    await s.done()
  }
})

test('an abort ends the sign-in: LoginAborted with the reason, the listener closed, nothing written', async () => {
  const s = await scenario()
  try {
    const controller = new AbortController()
    let url
    const pending = login({
      profile: 'dev',
      openBrowser: false,
      signal: controller.signal,
      onPrompt(p) {
        url = p.authorizeUrl
        setImmediate(() => controller.abort(new Error('user pressed cancel')))
      },
    })
    const err = await failure(pending, 'LoginAborted', 'Sign-in aborted')
    assert.equal(err.cause.message, 'user pressed cancel')
    assert.equal(await listening(portOf(url)), false, 'the listener is closed')
    assert.deepEqual(s.files(), [], 'not even the registration is written')

    // Already aborted: nothing is asked of the service.
    const before = s.ic.requests.length
    await failure(login({ profile: 'dev', signal: AbortSignal.abort() }), 'LoginAborted', 'Sign-in aborted')
    assert.equal(s.ic.requests.length, before)
  } finally {
    await s.done()
  }
})

test('a sign-in outlasting timeoutMs: LoginTimedOut, the listener closed, nothing written', async () => {
  const s = await scenario()
  try {
    let url
    await failure(
      login({ profile: 'dev', openBrowser: false, timeoutMs: 400, onPrompt: (p) => (url = p.authorizeUrl) }),
      'LoginTimedOut',
      'Sign-in timed out after 0.4 s without an authorization; sign in again',
    )
    assert.equal(await listening(portOf(url)), false)
    assert.deepEqual(s.files(), [])
  } finally {
    await s.done()
  }
})

test('an onPrompt that throws ends the sign-in with its error', async () => {
  const s = await scenario()
  try {
    let url
    const boom = new Error('no terminal')
    const err = await login({
      profile: 'dev',
      openBrowser: false,
      onPrompt(p) {
        url = p.authorizeUrl
        throw boom
      },
    }).catch((e) => e)
    assert.equal(err, boom)
    assert.equal(await listening(portOf(url)), false)
  } finally {
    await s.done()
  }
})

test('the listener refuses every request but the callback with its state, and keeps waiting', async () => {
  const s = await scenario()
  try {
    const answers = {}
    let url
    await login({
      profile: 'dev',
      openBrowser: false,
      async onPrompt(p) {
        url = p.authorizeUrl
        const state = new URL(url).searchParams.get('state')
        const port = portOf(url)
        answers.wrongState = await ask(
          url,
          '/oauth/callback?code=forged&state=00000000-0000-4000-8000-000000000000',
        )
        answers.noState = await ask(url, '/oauth/callback?code=forged')
        answers.otherPath = await ask(url, `/favicon.ico?code=forged&state=${state}`)
        answers.otherHost = await ask(url, `/oauth/callback?code=forged&state=${state}`, {
          host: `attacker.example:${port}`,
        })
        answers.post = await ask(url, `/oauth/callback?code=forged&state=${state}`, { method: 'POST' })
        answers.repeated = await ask(url, `/oauth/callback?code=forged&state=${state}&state=${state}`)
        answers.errorWithoutState = await ask(url, '/oauth/callback?error=access_denied')
        // The listener is on 127.0.0.1 alone: IPv6 loopback does not reach it.
        answers.v6 = await listening(port, '::1')
        answers.back = await playBrowser(url)
      },
    })
    const bad = (why) => ({ status: 400, body: `Bad request: ${why}\n` })
    assert.deepEqual(answers.wrongState, bad('the state does not match'))
    assert.deepEqual(answers.noState, bad('no state'))
    assert.deepEqual(answers.otherPath, bad('no such page'))
    assert.deepEqual(answers.otherHost, bad('unexpected Host'))
    assert.deepEqual(answers.post, bad('only GET is answered'))
    assert.deepEqual(answers.repeated, bad('a parameter is repeated'))
    assert.deepEqual(answers.errorWithoutState, bad('no state'))
    assert.equal(answers.v6, false)
    assert.equal(answers.back.status, 200)
    // The forged code never reached CreateToken; the real one did, once.
    const creates = s.ic.calls('POST /token')
    assert.equal(creates.length, 1)
    assert.notEqual(creates[0].json.code, 'forged')
    // One-shot: a second request finds no one listening.
    assert.equal(await listening(portOf(url)), false)
  } finally {
    await s.done()
  }
})

/** A hook for GET /authorize that sends the browser back with `params` and the state. */
const redirectWith = (params) => (req, res) => {
  const q = new URL(req.url, 'http://x').searchParams
  const back = new URL(q.get('redirect_uri'))
  for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v)
  back.searchParams.set('state', q.get('state'))
  res.writeHead(302, { location: back.toString() })
  res.end()
}

test('the authorization server’s error ends the sign-in: access_denied is LoginDenied', async () => {
  for (const [params, kind, message, page] of [
    [
      { error: 'access_denied', error_description: 'User said no' },
      'LoginDenied',
      'Sign-in denied by the authorization server (access_denied: User said no)',
      /Not signed in/,
    ],
    [
      { error: 'server_error', error_description: 'Try\r\nlater\u202e' },
      'LoginFailed',
      'Sign-in failed: the authorization server answered "server_error": Try  later',
      /Not signed in/,
    ],
  ]) {
    const s = await scenario({ hooks: { 'GET /authorize': redirectWith(params) } })
    try {
      let back
      await failure(
        login({
          profile: 'dev',
          openBrowser: false,
          onPrompt: async (p) => (back = await playBrowser(p.authorizeUrl)),
        }),
        kind,
        message,
      )
      assert.equal(back.status, 400)
      assert.match(back.body, page)
      assert.equal(s.ic.calls('POST /token').length, 0)
      assert.deepEqual(s.files(), [])
    } finally {
      await s.done()
    }
  }
})

test('the device flow: denied, expired and an unknown error each end it with their message', async () => {
  for (const [reply, kind, message] of [
    [
      (res) => oidcError(res, 'access_denied', 'AccessDeniedException', 'Access denied'),
      'LoginDenied',
      'Sign-in denied (access_denied, HTTP 400: Access denied)',
    ],
    [
      (res) => oidcError(res, 'expired_token', 'ExpiredTokenException'),
      'LoginTimedOut',
      'The pending authorization to retrieve an SSO token has expired. The login flow to retrieve an SSO token must be restarted.',
    ],
    [
      (res) => oidcError(res, 'invalid_client', 'InvalidClientException', 'Client gone'),
      'LoginFailed',
      'Sign-in failed: CreateToken (invalid_client, HTTP 400: Client gone)',
    ],
  ]) {
    let polls = 0
    const hooks = {
      'POST /token': (req, res) => {
        polls += 1
        // Pending first, then the reply under test.
        if (polls === 1) return oidcError(res, 'authorization_pending', 'AuthorizationPendingException')
        return reply(res)
      },
    }
    const s = await scenario({ hooks })
    try {
      let prompted = 0
      await failure(
        login({ profile: 'dev', useDeviceCode: true, openBrowser: false, onPrompt: () => (prompted += 1) }),
        kind,
        message,
      )
      assert.equal(prompted, 1)
      assert.equal(polls, 2)
      assert.deepEqual(s.files(), [])
    } finally {
      await s.done()
    }
  }
})

test('hostile or broken answers fail the sign-in whole, never echo a secret, write nothing', async () => {
  const tokenOk = (body) => (req, res) => sendJson(res, 200, body)
  const cases = [
    {
      name: 'RegisterClient refused',
      hooks: {
        'POST /client/register': (req, res) =>
          oidcError(res, 'invalid_client_metadata', 'InvalidClientMetadataException', 'bad'),
      },
      message: 'Sign-in failed: RegisterClient (invalid_client_metadata, HTTP 400: bad)',
    },
    {
      name: 'RegisterClient answers HTML',
      hooks: { 'POST /client/register': (req, res) => (res.writeHead(200), res.end('<html>')) },
      message: 'Sign-in failed: RegisterClient (invalid response: body is not JSON)',
    },
    {
      name: 'RegisterClient without an expiry',
      hooks: { 'POST /client/register': tokenOk({ clientId: 'c', clientSecret: 's' }) },
      message:
        'Sign-in failed: RegisterClient (invalid response: clientSecretExpiresAt missing or not a time in epoch seconds)',
    },
    {
      name: 'a verification URL the opener must never get',
      device: true,
      hooks: {
        'POST /device_authorization': tokenOk({
          deviceCode: 'd',
          userCode: 'U',
          verificationUri: 'https://x.example/',
          verificationUriComplete: 'file:///etc/passwd',
        }),
      },
      message:
        'Sign-in failed: StartDeviceAuthorization (invalid response: verificationUriComplete is not an https URL)',
    },
    {
      name: 'CreateToken without a token',
      browser: true,
      hooks: { 'POST /token': tokenOk({ expiresIn: 60 }) },
      message:
        'Sign-in failed: CreateToken (invalid response: accessToken missing or not a non-empty string)',
    },
    {
      name: 'CreateToken redirected',
      browser: true,
      hooks: {
        'POST /token': (req, res) => (
          res.writeHead(302, { location: 'http://127.0.0.1:9/steal' }),
          res.end()
        ),
      },
      message: 'Sign-in failed: CreateToken (HTTP 302: redirect not followed)',
    },
    {
      name: 'CreateToken echoing what it was sent',
      browser: true,
      hooks: {
        'POST /token': (req, res, record) =>
          oidcError(
            res,
            'invalid_grant',
            'InvalidGrantException',
            `code ${record.json.code} verifier ${record.json.codeVerifier} secret ${record.json.clientSecret}`,
          ),
      },
      message: 'Sign-in failed: CreateToken (invalid_grant, HTTP 400: code *** verifier *** secret ***)',
    },
  ]
  for (const c of cases) {
    const s = await scenario({ hooks: c.hooks })
    try {
      await failure(
        login({
          profile: 'dev',
          useDeviceCode: !!c.device,
          openBrowser: false,
          onPrompt: (p) => (c.browser ? playBrowser(p.authorizeUrl) : undefined),
        }),
        'LoginFailed',
        c.message,
      )
      assert.deepEqual(s.files(), [], c.name)
    } finally {
      await s.done()
    }
  }
})

test('a token that cannot be saved fails the sign-in with the path, and leaves no temp file', async (t) => {
  if (process.platform === 'win32') return t.skip('a folder in place of the file is a POSIX rename error')
  const s = await scenario()
  try {
    const file = s.home.cachePath(s.session)
    fs.mkdirSync(file)
    const err = await failure(
      login({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) }),
      'LoginFailed',
      new RegExp(
        `^Signed in, but the token could not be saved to "${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": `,
      ),
    )
    assert.match(err.message, /directory/i)
    assert.equal(s.files().filter((f) => f.endsWith('.tmp')).length, 0)
  } finally {
    await s.done()
  }
})

test('logout: a Logout the portal refuses is a warning and the file still goes; a missing file is no error', async () => {
  const s = await scenario({
    hooks: { 'POST /logout': (req, res) => sendJson(res, 403, { message: 'nope' }) },
  })
  try {
    await login({ profile: 'dev', openBrowser: false, onPrompt: (p) => playBrowser(p.authorizeUrl) })
    const file = s.home.cachePath(s.session)
    const out = await logout({ profile: 'dev' })
    assert.deepEqual(out.removed, [file])
    assert.deepEqual(out.warnings, [
      `Logout of "${file}" failed (HTTP 403: nope); the file is removed anyway`,
    ])
    assert.equal(fs.existsSync(file), false)
    assert.deepEqual(await logout({ profile: 'dev' }), { removed: [], warnings: [] })
  } finally {
    await s.done()
  }
})
