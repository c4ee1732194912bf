'use strict'

// Beside the AWS CLI, botocore and SDK v3 on one cache (docs/behaviour.md §3, §4.6): a
// cache file rewritten in place (truncate, then write) is read again rather than failing a
// load, and after a refresh that lost to another tool (a server that rotates refresh
// tokens answers invalid_grant) the other tool's token is used.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { test } = require('./helpers')
const { assertFailure, construct, isoIn, runNode, setup, tokenDoc } = require('./oidc-server.js')

test(
  'loads beside a writer rewriting the cache file in place in a tight loop: none fails',
  { timeout: 60_000 },
  async (t) => {
    const s = await setup({ expiresIn: 3600 })
    try {
      const docs = [
        tokenDoc(3600, { accessToken: 'token-one' }),
        tokenDoc(3600, { accessToken: 'token-two' }),
      ]
      const run = runNode([path.join(__dirname, 'workers', 'rewrite-in-place.js')], {
        env: s.home.env({
          SSO_TEST_FILE: s.file,
          SSO_TEST_DOCS: JSON.stringify(docs),
          SSO_TEST_FOR_MS: '4000',
        }),
        timeoutMs: 30_000,
      })
      await new Promise((resolve) => run.child.stdout.once('data', resolve))
      const { SSOTokenProvider } = require('..')
      const providers = Array.from(
        { length: 50 },
        () => new SSOTokenProvider({ profile: s.profile, callback() {} }),
      )
      let loads = 0
      const failures = []
      const until = Date.now() + 3000
      while (Date.now() < until) {
        const results = await Promise.allSettled(providers.map((p) => p.refreshPromise()))
        for (const r of results) {
          loads += 1
          if (r.status === 'rejected') failures.push(r.reason.message)
        }
      }
      const rewrites = Number((await run.done).stdout.trim().split('\n').pop())
      t.diagnostic(`${loads} loads beside ${rewrites} rewrites in place: ${failures.length} failed`)
      assert.ok(rewrites > 1000, `only ${rewrites} rewrites`)
      assert.deepEqual(failures.slice(0, 3), [])
      for (const p of providers) assert.ok(['token-one', 'token-two'].includes(p.token))
    } finally {
      await s.done()
    }
  },
)

test('a cache file that stays empty is still the clear error, after a short re-read', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    fs.writeFileSync(s.file, '')
    const start = Date.now()
    const r = await construct(s.profile)
    assertFailure(
      r.err,
      `Cached token file "${s.file}" is not valid JSON: EOF while parsing a value at line 1 column 0`,
    )
    const ms = Date.now() - start
    assert.ok(ms >= 100 && ms < 2000, `${ms} ms`)
  } finally {
    await s.done()
  }
})

test('a cache file caught cut short while a valid token is in memory: that token is served', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const first = await construct(s.profile)
    assert.equal(first.err, null)
    const text = fs.readFileSync(s.file, 'utf8')
    fs.writeFileSync(s.file, text.slice(0, text.length / 2))
    await first.provider.refreshPromise()
    assert.equal(first.provider.token, s.doc.accessToken)
    // Another profile of the same session, in the same process: the same memory.
    const again = await construct(s.profile)
    assert.equal(again.err, null, again.err && again.err.message)
    assert.equal(again.provider.token, s.doc.accessToken)
  } finally {
    await s.done()
  }
})

/**
 * A CreateToken server that rotates refresh tokens: each valid one is good once and yields
 * a new one; a used one gets 400 invalid_grant. Answers a success after `delayMs`.
 */
async function rotatingServer(firstRefreshToken, delayMs) {
  const valid = new Set([firstRefreshToken])
  const log = []
  let n = 0
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const { refreshToken } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      res.setHeader('content-type', 'application/json')
      if (!valid.delete(refreshToken)) {
        log.push(`${refreshToken}: invalid_grant`)
        res.statusCode = 400
        res.end(
          JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid refresh token provided' }),
        )
        return
      }
      n += 1
      const next = `rotated-${n}`
      valid.add(next)
      log.push(`${refreshToken}: ok -> ${next}`)
      setTimeout(
        () => res.end(JSON.stringify({ accessToken: `access-${n}`, expiresIn: 3600, refreshToken: next })),
        delayMs,
      )
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    log,
    close: () => new Promise((r) => server.close(r)),
  }
}

/** What the AWS CLI does on its own refresh: CreateToken, then rewrite the file in place. */
async function rivalRefresh(url, file, writeAfterMs) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  const body = JSON.stringify({
    clientId: doc.clientId,
    clientSecret: doc.clientSecret,
    grantType: 'refresh_token',
    refreshToken: doc.refreshToken,
  })
  const answer = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })
  const got = await answer.json()
  await new Promise((resolve) => setTimeout(resolve, writeAfterMs))
  const next = {
    ...doc,
    accessToken: got.accessToken,
    expiresAt: isoIn(got.expiresIn).replace(/\.\d+Z$/, 'Z'),
  }
  if (got.refreshToken) next.refreshToken = got.refreshToken
  fs.writeFileSync(file, JSON.stringify(next))
  return next
}

for (const [label, expiresIn] of [
  ['an expired token', -30],
  ['a token inside the window', 120],
]) {
  test(
    `${label}, a rival refresh and a rotating server: the rival's token is used, 5 of 5 rounds`,
    { timeout: 60_000 },
    async (t) => {
      const outcomes = []
      for (let round = 0; round < 5; round++) {
        const s = await setup({ expiresIn })
        const server = await rotatingServer(s.doc.refreshToken, 150)
        process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
        try {
          const rival = rivalRefresh(server.url, s.file, 50)
          while (server.log.length === 0) await new Promise((resolve) => setTimeout(resolve, 2))
          const ours = await construct(s.profile)
          const theirs = await rival
          outcomes.push(
            ours.err ? ours.err.message : ours.provider.token === theirs.accessToken ? 'theirs' : 'other',
          )
          assert.deepEqual(server.log, [
            `${s.doc.refreshToken}: ok -> rotated-1`,
            `${s.doc.refreshToken}: invalid_grant`,
          ])
        } finally {
          await server.close()
          await s.done()
        }
      }
      t.diagnostic(outcomes.join(', '))
      assert.deepEqual(outcomes, ['theirs', 'theirs', 'theirs', 'theirs', 'theirs'])
    },
  )
}
