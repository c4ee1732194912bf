'use strict'

// Every file in examples/ (but demo.js, run by `npm run demo`) runs here as a child process,
// exactly as a user would run it, against a sandbox: a temporary HOME, and one loopback server
// standing in for SSO OIDC (AWS_ENDPOINT_URL_SSO_OIDC), CodeCatalyst and the SSO portal
// (EXAMPLE_ENDPOINT). The output is checked line by line, so no example can go stale.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { makeSandbox, startServer, tokenDoc } = require('./samples/sandbox.js')

const EXAMPLES = path.join(__dirname, '..', 'examples')
const PROFILE_LINES = 'sso_account_id = 111122223333\nsso_role_name = Developer\n'

/** Runs examples/<name> against `sandbox` and `server`: { code, stdout, stderr }. */
function runExample(name, sandbox, server, extraEnv = {}) {
  const env = sandbox.env({
    AWS_PROFILE: sandbox.profile,
    AWS_ENDPOINT_URL_SSO_OIDC: server.url,
    EXAMPLE_ENDPOINT: server.url,
    ...extraEnv,
  })
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(EXAMPLES, name)],
      { env, encoding: 'utf8', timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr })
      },
    )
  })
}

async function scenario(tokenOpts, fn) {
  const sandbox = makeSandbox({ profileLines: PROFILE_LINES })
  const doc = tokenOpts ? sandbox.writeToken(tokenDoc(...tokenOpts)) : undefined
  const server = await startServer()
  try {
    await fn({ sandbox, server, doc })
  } finally {
    await server.close()
    sandbox.cleanup()
  }
}

test('every example has a test here', () => {
  const files = fs
    .readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.js') && f !== 'demo.js')
    .sort()
  assert.deepEqual(files, ['callback.js', 'promise.js', 'replace-v2.js', 'v2-client.js', 'v3-client.js'])
})

test('examples/callback.js prints the expiry of the cached token', async () => {
  await scenario([3600], async ({ sandbox, server, doc }) => {
    const r = await runExample('callback.js', sandbox, server)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `profile dev: token expires at ${doc.expiresAt}\nneeds refresh: false\n`)
    assert.equal(r.stderr, '')
    assert.equal(server.requests.length, 0)
  })
})

test('examples/callback.js reports a missing login with exit code 1', async () => {
  await scenario(null, async ({ sandbox, server }) => {
    const r = await runExample('callback.js', sandbox, server)
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.equal(
      r.stderr,
      'SSOTokenProviderFailure: Cached token not found. Please log in using "aws sso login" for profile "dev".\n',
    )
  })
})

test('examples/promise.js refreshes a token inside the window and re-reads the new file', async () => {
  await scenario([60, { refreshable: true }], async ({ sandbox, server, doc }) => {
    const r = await runExample('promise.js', sandbox, server)
    assert.equal(r.code, 0, r.stderr)
    const written = sandbox.readToken()
    assert.equal(written.accessToken, 'refreshed-token')
    assert.equal(
      r.stdout,
      `profile dev: token valid for 60 more minutes\nre-read from disk, expires at ${written.expiresAt}\n`,
    )
    const refreshes = server.to('POST /token')
    assert.equal(refreshes.length, 1)
    assert.equal(refreshes[0].json.refreshToken, doc.refreshToken)
  })
})

test('examples/v2-client.js lists spaces with our token as Bearer (SDK v2)', async () => {
  await scenario([3600], async ({ sandbox, server, doc }) => {
    const r = await runExample('v2-client.js', sandbox, server)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'spaces: space-a\n')
    const calls = server.to('POST /v1/spaces')
    assert.equal(calls.length, 1)
    assert.equal(calls[0].headers.authorization, `Bearer ${doc.accessToken}`)
  })
})

test('examples/v3-client.js lists spaces with our token as Bearer (SDK v3)', async () => {
  await scenario([3600], async ({ sandbox, server, doc }) => {
    const r = await runExample('v3-client.js', sandbox, server)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'spaces: space-a\n')
    const calls = server.to('POST /v1/spaces')
    assert.equal(calls.length, 1)
    assert.equal(calls[0].headers.authorization, `Bearer ${doc.accessToken}`)
    assert.match(calls[0].headers['user-agent'], /aws-sdk-js\/3\./)
  })
})

test('examples/replace-v2.js: v2 default token chain and SsoCredentials use ours', async () => {
  // A token inside the window: only our class refreshes it through AWS_ENDPOINT_URL_SSO_OIDC
  // (v2's own ignores that variable), so "refreshed-token" on the wire proves the swap.
  await scenario([60, { refreshable: true }], async ({ sandbox, server }) => {
    const r = await runExample('replace-v2.js', sandbox, server, { AWS_SDK_LOAD_CONFIG: '1' })
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.split('\n')
    assert.equal(lines[0], 'spaces: space-a')
    assert.match(lines[1], /^role credentials: AKIDSANDBOX, expire at \d{4}-\d\d-\d\dT[\d:.]+Z$/)
    assert.equal(server.to('POST /token').length, 1, 'one refresh for both uses (one cache file)')
    assert.equal(server.to('POST /v1/spaces')[0].headers.authorization, 'Bearer refreshed-token')
    const portal = server.to('GET /federation/credentials')
    assert.equal(portal.length, 1)
    assert.equal(portal[0].headers['x-amz-sso_bearer_token'], 'refreshed-token')
    assert.match(portal[0].url, /account_id=111122223333/)
    assert.match(portal[0].url, /role_name=Developer/)
  })
})

test('npm run demo shows that the refresh changed the token, without showing a token', async () => {
  const r = await new Promise((resolve) => {
    execFile(process.execPath, [path.join(EXAMPLES, 'demo.js')], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    )
  })
  assert.equal(r.code, 0, r.stderr)
  const fingerprints = (label) => {
    const section = r.stdout.slice(r.stdout.indexOf(label))
    return /"accessToken": "\*\*\* \(\d+ chars, sha-256 ([0-9a-f]{8})\)"/.exec(section)[1]
  }
  assert.notEqual(fingerprints('cache file before'), fingerprints('cache file after'))
  for (const secret of [
    'demo-old-access-token',
    'demo-new-access-token',
    'demo-refresh-token-2',
    'demo-client-secret',
  ]) {
    assert.ok(!r.stdout.includes(secret), `${secret} shown`)
  }
})
