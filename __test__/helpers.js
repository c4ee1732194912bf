'use strict'

// Shared helpers for the JS test-suite. Everything here works on real files in a
// temporary HOME and real loopback HTTP servers: nothing of our code is mocked.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const http = require('node:http')
const { assertFailure, isoIn, makeHome, sessionConfig, sha1, tempDir, useEnv } = require('./support/home.js')

/** Points HOME at `home` and removes every AWS / home related variable. */
function useHome(home) {
  useEnv({ HOME: home })
}

// Never let anything read the real ~/.aws: from the moment the helpers are loaded,
// HOME is an empty temporary folder.
useHome(tempDir('sso-token-sandbox-'))

/** A token that is valid far beyond the refresh window. */
function freshToken(overrides = {}) {
  return {
    accessToken: 'access-' + crypto.randomBytes(6).toString('hex'),
    expiresAt: isoIn(3600),
    ...overrides,
  }
}

let v2
/** The real AWS SDK for JavaScript v2. */
function loadV2() {
  if (!v2) v2 = require('aws-sdk')
  return v2
}

let ours
/** Our package (../index.js). */
function loadOurs() {
  if (!ours) {
    // SSO_TEST_AGAINST_V2=1 runs the suite against v2 itself: a way to check the tests
    // (every [compat] assertion must pass there) before our addon exists.
    if (process.env.SSO_TEST_AGAINST_V2 === '1') {
      const AWS = loadV2()
      ours = {
        SSOTokenProvider: AWS.SSOTokenProvider,
        fromSso: () => {
          throw new Error('fromSso does not exist in v2')
        },
      }
    } else {
      ours = require('..')
    }
  }
  return ours
}

const againstV2 = process.env.SSO_TEST_AGAINST_V2 === '1'

function outcome(provider, error) {
  return {
    provider,
    token: provider ? provider.token : undefined,
    expireTime: provider ? provider.expireTime : undefined,
    error: error || null,
  }
}

/**
 * Constructs the real v2 AWS.SSOTokenProvider and resolves { token, expireTime, error }.
 * v2 throws most errors synchronously from its constructor; those are caught here.
 */
function v2Load(profile) {
  const AWS = loadV2()
  AWS.util.iniLoader.clearCachedFiles()
  return new Promise((resolve) => {
    let provider
    try {
      provider = new AWS.SSOTokenProvider({
        profile,
        callback(err) {
          process.nextTick(() => resolve(outcome(provider, err)))
        },
      })
    } catch (error) {
      resolve(outcome(undefined, error))
    }
  })
}

/** Same as v2Load, for our SSOTokenProvider. */
function oursLoad(profile) {
  const { SSOTokenProvider } = loadOurs()
  return new Promise((resolve) => {
    let provider
    try {
      provider = new SSOTokenProvider({
        profile,
        callback(err) {
          process.nextTick(() => resolve(outcome(provider, err)))
        },
      })
    } catch (error) {
      // The contract says this never happens; surface it as a load outcome so the
      // assertion that follows shows it.
      resolve({ ...outcome(undefined, error), constructorThrew: true })
    }
  })
}

function describeOutcome(o) {
  return {
    token: o.token,
    expireTime: o.expireTime instanceof Date ? o.expireTime.toISOString() : o.expireTime,
    error: o.error ? `${o.error.code}: ${o.error.message}` : null,
  }
}

/**
 * Asserts that two load outcomes agree: both succeeded with the same token and
 * expireTime, or both failed with the same code and a message that starts with v2's word
 * for word (ours may add where and what to do after it, docs/behaviour.md §7).
 */
function assertSameOutcome(v2Result, oursResult) {
  const a = describeOutcome(v2Result)
  const b = describeOutcome(oursResult)
  if (a.error && b.error && b.error.startsWith(a.error)) return
  if (a.error || b.error) {
    assert.deepEqual({ error: b.error }, { error: a.error }, 'ours (actual) vs v2 (expected)')
  } else {
    assert.deepEqual(b, a, 'ours (actual) vs v2 (expected)')
  }
}

/**
 * Differential run of one [compat] case: builds a home, loads `profile` with v2 and with
 * ours, asserts equality and returns both outcomes. `env` is applied after useHome
 * (values of undefined delete a variable) and may be a function of the home object.
 */
async function differential({ config, tokens, profile, env, check }) {
  const h = makeHome({ config, tokens })
  try {
    useHome(h.home)
    const extra = typeof env === 'function' ? env(h) : env
    for (const [k, v] of Object.entries(extra || {})) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    const v2Result = await v2Load(profile)
    const oursResult = await oursLoad(profile)
    if (!againstV2) assert.equal(oursResult.constructorThrew, undefined, 'our constructor must not throw')
    assertSameOutcome(v2Result, oursResult)
    if (check) await check({ v2: v2Result, ours: oursResult, home: h })
    return { v2: v2Result, ours: oursResult }
  } finally {
    h.cleanup()
  }
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Starts a real HTTP server on 127.0.0.1:0. Every request is recorded as
 * { method, url, headers, body } (body a UTF-8 string). `handler(req, res, body)` may
 * be async; without it the server answers 200 `{}`.
 */
async function startServer(handler) {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const record = { method: req.method, url: req.url, headers: req.headers, body }
      requests.push(record)
      try {
        if (handler) {
          await handler(req, res, body, record)
        } else {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end('{}')
        }
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'test_handler_error', error_description: String(err) }))
      }
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  // A test that times out must not keep its file's process alive through this server.
  server.unref()
  const { port } = server.address()
  const close = () =>
    new Promise((resolve) => {
      if (typeof server.closeAllConnections === 'function') server.closeAllConnections()
      server.close(() => resolve())
    })
  return { url: `http://127.0.0.1:${port}`, port, server, requests, close }
}

/** Replies like SSO OIDC CreateToken. */
function createTokenReply(res, body = {}) {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ accessToken: 'refreshed-access', expiresIn: 3600, tokenType: 'Bearer', ...body }))
}

/**
 * node:test's test() with a default timeout, so a wedged provider (a callback that never
 * fires) fails its test instead of hanging the run.
 */
const nodeTest = require('node:test')
function test(name, options, fn) {
  if (typeof options === 'function') {
    fn = options
    options = {}
  }
  return nodeTest(name, { timeout: 5_000, ...options }, fn)
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs `fn(token, home)` in a home whose profile `dev` has session `my-sso` with a fresh
 * cached token, then removes the home.
 */
function withToken(fn) {
  const token = freshToken()
  const h = makeHome({
    config: sessionConfig({ profile: 'dev', session: 'my-sso' }),
    tokens: { 'my-sso': token },
  })
  useHome(h.home)
  return Promise.resolve(fn(token, h)).finally(() => h.cleanup())
}

// Our messages where they extend v2's (core/src/error.rs, docs/behaviour.md §7): v2's text
// first, word for word, then where it was looked for and what to do.
const messages = {
  profileNotFound: (profile, configFile, { missing = false, fromEnv = false } = {}) =>
    `Profile "${profile}" not found in config file "${configFile}"` +
    (missing ? ' (the file does not exist)' : '') +
    (fromEnv ? '; the profile name came from AWS_PROFILE' : ''),
  sessionNotFound: (session, configFile) =>
    `Sso session "${session}" not found in config file "${configFile}"`,
  expiredWithoutKey: (key, profile) =>
    `Key "${key}" not present in SSO Token, and the token has expired; log in again with "aws sso login --profile ${profile}"`,
  incompleteFile: (key, cacheFile, profile) =>
    `Key "${key}" not present in SSO Token: the cache file "${cacheFile}" is incomplete; log in again with "aws sso login --profile ${profile}"`,
}

module.exports = {
  messages,
  withToken,
  test,
  sha1,
  isoIn,
  makeHome,
  useHome,
  sessionConfig,
  freshToken,
  loadV2,
  loadOurs,
  v2Load,
  oursLoad,
  assertSameOutcome,
  differential,
  assertFailure,
  escapeRegExp,
  startServer,
  createTokenReply,
  delay,
  againstV2,
}
