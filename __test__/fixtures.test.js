'use strict'

// The cases of test-data/ (see its README), through the public API: each home copied to a
// temporary folder, a loopback CreateToken trap that must see no request, and for `compat`
// cases the real aws-sdk v2 on the same home, which must agree.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const {
  assertFailure,
  assertSameOutcome,
  againstV2,
  createTokenReply,
  freshToken,
  makeHome,
  oursLoad,
  startServer,
  test,
  useHome,
  v2Load,
} = require('./helpers')

const DATA = path.join(__dirname, '..', 'test-data')

function cases() {
  const out = []
  for (const group of fs.readdirSync(DATA).sort()) {
    const dir = path.join(DATA, group)
    if (!fs.statSync(dir).isDirectory()) continue
    for (const name of fs.readdirSync(dir).sort()) {
      const caseDir = path.join(dir, name)
      out.push({ dir: caseDir, ...JSON.parse(fs.readFileSync(path.join(caseDir, 'expect.json'), 'utf8')) })
    }
  }
  return out
}

function snapshot(dir) {
  const out = {}
  for (const entry of fs.readdirSync(dir, { recursive: true })) {
    const file = path.join(dir, entry)
    if (fs.statSync(file).isFile()) out[entry] = fs.readFileSync(file).toString('base64')
  }
  return out
}

for (const c of cases()) {
  test(`[${c.tag}] ${c.name}`, async () => {
    const h = makeHome()
    fs.cpSync(path.join(c.dir, 'home'), h.home, { recursive: true })
    const trap = await startServer((req, res) => createTokenReply(res, { accessToken: 'FROM-NETWORK' }))
    try {
      useHome(h.home)
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = trap.url
      Object.assign(process.env, c.env || {})
      const before = snapshot(h.home)
      const ours = await oursLoad(c.profile)
      if (c.tag === 'compat' && !againstV2) assertSameOutcome(await v2Load(c.profile), ours)
      if (c.error !== undefined) {
        const cacheFiles = fs.readdirSync(h.cacheDir)
        const cacheFile = cacheFiles.length === 1 ? path.join(h.cacheDir, cacheFiles[0]) : ''
        const configFile = process.env.AWS_CONFIG_FILE || path.join(h.home, '.aws', 'config')
        assertFailure(
          ours.error,
          c.error.replace('{cacheFile}', cacheFile).replace('{configFile}', configFile),
        )
        assert.equal(ours.provider.expired, true)
      } else {
        assert.equal(ours.error, null, ours.error && ours.error.message)
        assert.equal(ours.token, c.token)
        assert.ok(ours.expireTime instanceof Date)
        assert.equal(ours.expireTime.getTime(), Date.parse(c.expiresAt))
      }
      assert.equal(trap.requests.length, 0, 'no network call')
      assert.deepEqual(snapshot(h.home), before, 'no file changed')
      if (c.recover) {
        // The process is alive and the provider is not wedged: a good file now loads.
        const good = freshToken()
        h.writeToken(c.recover, good)
        await ours.provider.refreshPromise()
        assert.equal(ours.provider.token, good.accessToken)
      }
    } finally {
      await trap.close()
      h.cleanup()
    }
  })
}
