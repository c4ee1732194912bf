'use strict'

// A throwaway AWS home and loopback servers, shared by ecosystem/examples/packaging tests and
// by the jest and ava samples: ~/.aws/config with a profile pointing to an sso-session, the
// cached token file `aws sso login` would have written
// (<home>/.aws/sso/cache/<sha1(session)>.json), and an HTTP server on 127.0.0.1 that records
// every request and stands in for SSO OIDC, CodeCatalyst and the SSO portal. Nothing of the
// package is mocked.

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const START_URL = 'https://d-0000000000.awsapps.com/start'

// Variables that would make a load read outside the sandbox, pick another endpoint, trust
// store or proxy, or another profile.
const AWS_ENV = [
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SDK_LOAD_CONFIG',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'USERPROFILE',
  'HOMEPATH',
  'HOMEDRIVE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_SSO_OIDC',
  'AWS_ENDPOINT_URL_SSO',
  'AWS_ENDPOINT_URL_CODECATALYST',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_CA_BUNDLE',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'EXAMPLE_ENDPOINT',
]

function isoIn(seconds) {
  return new Date(Date.now() + seconds * 1000).toISOString()
}

function cacheFileName(session) {
  return `${crypto.createHash('sha1').update(session, 'utf8').digest('hex')}.json`
}

/** A session name no other test uses: the provider throttles refreshes per cache file. */
function uniqueSession(prefix = 'sess') {
  return `${prefix}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
}

/** A token `aws sso login` would have cached, valid for `seconds`; refreshable if asked. */
function tokenDoc(seconds, { refreshable = false, accessToken } = {}) {
  const tag = crypto.randomBytes(4).toString('hex')
  const doc = {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken: accessToken || `access-${tag}`,
    expiresAt: isoIn(seconds),
  }
  if (refreshable) {
    doc.clientId = `client-${tag}`
    doc.clientSecret = `secret-${tag}`
    doc.refreshToken = `refresh-${tag}`
    doc.registrationExpiresAt = isoIn(90 * 24 * 3600)
  }
  return doc
}

/**
 * A temporary HOME with `[profile <profile>]` -> `[sso-session <session>]` and, when `token`
 * is given, its cache file. `profileLines` are added to the profile section.
 */
function makeSandbox({ profile = 'dev', session = uniqueSession(), token, profileLines = '' } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-sandbox-'))
  const cacheDir = path.join(home, '.aws', 'sso', 'cache')
  fs.mkdirSync(cacheDir, { recursive: true })
  const configPath = path.join(home, '.aws', 'config')
  fs.writeFileSync(
    configPath,
    `[profile ${profile}]\nsso_session = ${session}\n${profileLines}\n` +
      `[sso-session ${session}]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
  )
  const cachePath = path.join(cacheDir, cacheFileName(session))
  const sandbox = {
    home,
    profile,
    session,
    configPath,
    cachePath,
    writeToken(doc) {
      fs.writeFileSync(cachePath, JSON.stringify(doc, null, 2), { mode: 0o600 })
      return doc
    },
    readToken() {
      return JSON.parse(fs.readFileSync(cachePath, 'utf8'))
    },
    /** process.env for a child process: no AWS or proxy variables, HOME = the sandbox. */
    env(extra = {}) {
      const env = { ...process.env }
      for (const name of AWS_ENV) delete env[name]
      env.HOME = home
      env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
      for (const [k, v] of Object.entries(extra)) {
        if (v === undefined) delete env[k]
        else env[k] = v
      }
      return env
    },
    /** Points this process (or worker thread) at the sandbox, as env() does for a child. */
    use(extra = {}) {
      for (const name of AWS_ENV) delete process.env[name]
      Object.assign(process.env, sandbox.env(extra))
    },
    cleanup() {
      fs.rmSync(home, { recursive: true, force: true })
    },
  }
  if (token) sandbox.writeToken(token)
  return sandbox
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

// What the fake AWS endpoints answer, keyed by "METHOD /path" (query string left off).
const DEFAULT_ROUTES = {
  // SSO OIDC CreateToken
  'POST /token': () => [200, { accessToken: 'refreshed-token', expiresIn: 3600, tokenType: 'Bearer' }],
  // CodeCatalyst ListSpaces
  'POST /v1/spaces': () => [200, { items: [{ name: 'space-a', regionName: 'us-west-2', displayName: 'A' }] }],
  // SSO portal GetRoleCredentials
  'GET /federation/credentials': () => [
    200,
    {
      roleCredentials: {
        accessKeyId: 'AKIDSANDBOX',
        secretAccessKey: 'sandbox-secret',
        sessionToken: 'sandbox-session',
        expiration: Date.now() + 3600e3,
      },
    },
  ],
}

/**
 * An HTTP server on 127.0.0.1 answering `routes` (merged over DEFAULT_ROUTES; a route returns
 * [status, body]). Every request is recorded as { method, path, url, headers, body, json }.
 */
async function startServer(routes = {}) {
  const all = { ...DEFAULT_ROUTES, ...routes }
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const record = {
        method: req.method,
        path: req.url.split('?')[0],
        url: req.url,
        headers: req.headers,
        body,
        json,
      }
      requests.push(record)
      const route = all[`${record.method} ${record.path}`]
      if (!route) return sendJson(res, 404, { message: `no route for ${record.method} ${record.path}` })
      const [status, reply] = route(record)
      sendJson(res, status, reply)
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    /** The recorded requests to one "METHOD /path". */
    to(route) {
      return requests.filter((r) => `${r.method} ${r.path}` === route)
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

module.exports = {
  AWS_ENV,
  START_URL,
  isoIn,
  cacheFileName,
  uniqueSession,
  tokenDoc,
  makeSandbox,
  startServer,
}
