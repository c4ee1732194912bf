'use strict'

// A loopback stand-in for IAM Identity Center, for the sign-in tests: the SSO OIDC calls
// (botocore data/sso-oidc/2019-06-10/service-2.json: RegisterClient POST /client/register,
// StartDeviceAuthorization POST /device_authorization, CreateToken POST /token), the
// authorize page (GET /authorize, which sends the browser back to the redirect URI with a
// code and the state, 302), a device verification page (GET /device?user_code=…, which
// approves), the portal's Logout (data/sso/2019-06-10: POST /logout, the token in
// x-amz-sso_bearer_token), and a CodeCatalyst ListSpaces (POST /v1/spaces) that accepts
// only a live token, so that v2 and v3 clients show whether they got one.
//
// It checks what the real service checks: the client and its secret, the grant types and
// the loopback redirect of a code-flow client, the PKCE S256 challenge against the
// verifier, one use per code, the redirect URI sent again with CreateToken. Built on
// startOidcServer: every request is recorded. `hooks[route](req, res, record)` may answer a
// route instead (hostile or failing answers); one that returns false leaves it to the
// default.

const crypto = require('node:crypto')
const http = require('node:http')
const net = require('node:net')
const { startOidcServer, sendJson } = require('../oidc-server.js')

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

const random = (prefix) => `${prefix}-${crypto.randomBytes(9).toString('base64url')}`
const s256 = (verifier) => crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url')

/** An SSO OIDC error answer, as the service words them. */
function oidcError(res, error, type, description = null, status = 400) {
  sendJson(res, status, { error, error_description: description }, { 'x-amzn-ErrorType': type })
}

/**
 * Starts the stand-in. `interval` is StartDeviceAuthorization's, `expiresIn` CreateToken's;
 * `refreshToken: false` issues none. Returns the server of startOidcServer plus its state:
 * `clients`, `tokens` (access token -> { live }), `loggedOut` (tokens sent to Logout),
 * `calls(route)` (the recorded requests of one route), `approve(userCode)`, `deny(userCode)`.
 */
async function startIdentityCenter({ hooks = {}, interval = 1, expiresIn = 3600, refreshToken = true } = {}) {
  const clients = new Map()
  const codes = new Map()
  const devices = new Map()
  const tokens = new Map()
  const loggedOut = []
  let server

  const client = (body) => {
    const c = body && clients.get(body.clientId)
    return c && c.secret === body.clientSecret ? c : null
  }
  const issue = (res, scopes) => {
    const accessToken = random('access')
    tokens.set(accessToken, { live: true })
    const answer = { accessToken, tokenType: 'Bearer', expiresIn }
    if (refreshToken && scopes && scopes.includes('sso:account:access'))
      answer.refreshToken = random('refresh')
    sendJson(res, 200, answer)
  }

  const routes = {
    'POST /client/register'(req, res, { json: b }) {
      if (!b || typeof b.clientName !== 'string' || b.clientType !== 'public') {
        return oidcError(
          res,
          'invalid_request',
          'InvalidRequestException',
          'clientName and clientType are required',
        )
      }
      const code = (b.grantTypes || []).includes('authorization_code')
      if (
        code &&
        !(Array.isArray(b.redirectUris) && b.redirectUris.length && typeof b.issuerUrl === 'string')
      ) {
        return oidcError(res, 'invalid_redirect_uri', 'InvalidRedirectUriException', 'redirectUris required')
      }
      const c = {
        id: random('client'),
        secret: random('secret'),
        grantTypes: b.grantTypes || [DEVICE_GRANT, 'refresh_token'],
        redirectUris: b.redirectUris || [],
        scopes: b.scopes || [],
        name: b.clientName,
      }
      clients.set(c.id, c)
      const now = Math.floor(Date.now() / 1000)
      sendJson(res, 200, {
        clientId: c.id,
        clientSecret: c.secret,
        clientIdIssuedAt: now,
        clientSecretExpiresAt: now + 90 * 24 * 3600,
      })
    },
    'POST /device_authorization'(req, res, { json: b }) {
      const c = client(b)
      if (!c) return oidcError(res, 'invalid_client', 'InvalidClientException', 'Invalid client')
      if (typeof b.startUrl !== 'string') return oidcError(res, 'invalid_request', 'InvalidRequestException')
      const userCode = crypto.randomBytes(4).toString('hex').toUpperCase()
      const deviceCode = random('device')
      devices.set(deviceCode, { client: c, userCode, state: 'pending' })
      sendJson(res, 200, {
        deviceCode,
        userCode,
        verificationUri: `${server.url}/device`,
        verificationUriComplete: `${server.url}/device?user_code=${userCode}`,
        expiresIn: 600,
        interval,
      })
    },
    'GET /device'(req, res, { url }) {
      const userCode = new URL(url, server.url).searchParams.get('user_code')
      const found = [...devices.values()].find((d) => d.userCode === userCode)
      if (!found) return sendJson(res, 404, { error: 'no such code' })
      found.state = 'approved'
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<p>Approved</p>')
    },
    'GET /authorize'(req, res, { url }) {
      const q = new URL(url, server.url).searchParams
      const c = clients.get(q.get('client_id'))
      const redirect = q.get('redirect_uri') || ''
      let target
      try {
        target = new URL(redirect)
      } catch {
        return sendJson(res, 400, { error: 'invalid redirect_uri' })
      }
      // RFC 8252 §7.3: a loopback redirect URI matches whatever its port.
      const registered =
        c &&
        c.redirectUris.some((r) => {
          const u = new URL(r)
          return (
            u.protocol === target.protocol && u.hostname === target.hostname && u.pathname === target.pathname
          )
        })
      if (!c || !c.grantTypes.includes('authorization_code') || !registered) {
        return sendJson(res, 400, { error: 'unauthorized_client' })
      }
      if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('state')) {
        return sendJson(res, 400, { error: 'invalid_request' })
      }
      const code = random('code')
      codes.set(code, {
        client: c,
        redirect,
        challenge: q.get('code_challenge'),
        scopes: (q.get('scopes') || '').split(' '),
        used: false,
      })
      target.searchParams.set('code', code)
      target.searchParams.set('state', q.get('state'))
      res.writeHead(302, { location: target.toString() })
      res.end()
    },
    'POST /token'(req, res, { json: b }) {
      const c = client(b)
      if (!c) return oidcError(res, 'invalid_client', 'InvalidClientException', 'Invalid client')
      if (b.grantType === 'authorization_code') {
        const grant = codes.get(b.code)
        if (!grant || grant.used || grant.client !== c) {
          return oidcError(res, 'invalid_grant', 'InvalidGrantException', 'Invalid authorization code')
        }
        grant.used = true
        if (
          b.redirectUri !== grant.redirect ||
          typeof b.codeVerifier !== 'string' ||
          s256(b.codeVerifier) !== grant.challenge
        ) {
          return oidcError(res, 'invalid_grant', 'InvalidGrantException', 'PKCE verification failed')
        }
        return issue(res, grant.scopes)
      }
      if (b.grantType === DEVICE_GRANT) {
        const d = devices.get(b.deviceCode)
        if (!d || d.client !== c) return oidcError(res, 'invalid_grant', 'InvalidGrantException')
        if (d.state === 'denied')
          return oidcError(res, 'access_denied', 'AccessDeniedException', 'Access denied')
        if (d.state === 'pending')
          return oidcError(res, 'authorization_pending', 'AuthorizationPendingException')
        if (d.state === 'used') return oidcError(res, 'invalid_grant', 'InvalidGrantException')
        d.state = 'used'
        return issue(res, c.scopes)
      }
      if (b.grantType === 'refresh_token') return issue(res, ['sso:account:access'])
      oidcError(res, 'unsupported_grant_type', 'UnsupportedGrantTypeException')
    },
    'POST /logout'(req, res) {
      const token = req.headers['x-amz-sso_bearer_token']
      const known = tokens.get(token)
      if (!known) return sendJson(res, 401, { message: 'Session token not found or invalid' })
      known.live = false
      loggedOut.push(token)
      res.writeHead(200)
      res.end()
    },
    'POST /v1/spaces'(req, res) {
      const auth = req.headers.authorization || ''
      const known = tokens.get(auth.replace(/^Bearer /, ''))
      if (!known || !known.live) return sendJson(res, 401, { message: 'Unauthorized' })
      sendJson(res, 200, { items: [] })
    },
  }

  server = await startOidcServer(async (req, res, record) => {
    const route = `${req.method} ${new URL(req.url, 'http://x').pathname}`
    const hook = hooks[route]
    if (hook && (await hook(req, res, record)) !== false) return
    const handle = routes[route]
    if (!handle) return sendJson(res, 404, { error: `no route ${route}` })
    return handle(req, res, record)
  })
  return Object.assign(server, {
    clients,
    tokens,
    loggedOut,
    calls: (route) =>
      server.requests.filter((r) => `${r.method} ${new URL(r.url, 'http://x').pathname}` === route),
    approve(userCode) {
      for (const d of devices.values()) if (d.userCode === userCode) d.state = 'approved'
    },
    deny(userCode) {
      for (const d of devices.values()) if (d.userCode === userCode) d.state = 'denied'
    },
  })
}

/** One GET, no redirect followed: { status, headers, body }. */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    })
    req.on('error', reject)
  })
}

/**
 * Plays the browser of the code flow: opens the authorize URL and follows its redirect to
 * the listener; resolves with the listener's answer ({ status, body }) and the redirect.
 */
async function playBrowser(authorizeUrl) {
  const page = await get(authorizeUrl)
  if (page.status !== 302) return { status: page.status, body: page.body, location: null }
  const answer = await get(page.headers.location)
  return { ...answer, location: page.headers.location }
}

/** Whether something accepts connections on `host`:`port`. */
function listening(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect(port, host)
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

module.exports = { startIdentityCenter, playBrowser, get, listening, s256, oidcError }
