'use strict'

// A throwaway AWS home and loopback servers, shared by ecosystem/examples/packaging tests and
// by the jest and ava samples: ~/.aws/config with a profile pointing to an sso-session, the
// cached token file `aws sso login` would have written
// (<home>/.aws/sso/cache/<sha1(session)>.json), and an HTTP server on 127.0.0.1 that records
// every request and stands in for SSO OIDC, CodeCatalyst and the SSO portal. Nothing of the
// package is mocked.

const http = require('node:http')
const { isoIn, makeHome, uniqueName } = require('../support/home.js')

const START_URL = 'https://d-0000000000.awsapps.com/start'

/** A token `aws sso login` would have cached, valid for `seconds`; refreshable if asked. */
function tokenDoc(seconds, { refreshable = false, accessToken } = {}) {
  const tag = uniqueName('t')
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
function makeSandbox({ profile = 'dev', session = uniqueName(), token, profileLines = '' } = {}) {
  const config =
    `[profile ${profile}]\nsso_session = ${session}\n${profileLines}\n` +
    `[sso-session ${session}]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`
  const h = makeHome({ config, prefix: 'sso-sandbox-' })
  const sandbox = {
    home: h.home,
    profile,
    session,
    configPath: h.configPath,
    cachePath: h.cachePath(session),
    writeToken(doc) {
      h.writeToken(session, doc)
      return doc
    },
    readToken: () => h.readToken(session),
    /** process.env for a child process: no AWS or proxy variables, HOME = the sandbox. */
    env: h.env,
    /** Points this process (or worker thread) at the sandbox, as env() does for a child. */
    use: h.use,
    cleanup: h.cleanup,
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
  START_URL,
  isoIn,
  tokenDoc,
  makeSandbox,
  startServer,
}
