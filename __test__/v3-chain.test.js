'use strict'

/** Resolves once `check()` resolves true, trying every 20 ms for up to 1 s. */
async function eventually(check) {
  for (const start = Date.now(); Date.now() - start < 1000;) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('not within 1 s')
}

// fromSso() as SDK v3 uses token providers: inside chain() of @smithy/property-provider,
// which goes on to the next provider only when the error carries `tryNextLink: true`, and
// as the `token` of a real v3 client. Every case is run against v3's own fromSso
// (@aws-sdk/token-providers 3.693.0, the family of the installed client) on the same files,
// so the table below is checked against v3 itself, not against our reading of its source.
// Real files in a temporary HOME, real loopback servers; nothing of ours is mocked.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { typeCheck, sdkCompilerOptions } = require('./support/tsc.js')

const { chain } = require('@smithy/property-provider')
const v3 = require('@aws-sdk/token-providers')
const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')

const { messages, test } = require('./helpers.js')
const {
  REFRESH_FAILED,
  ROOT,
  assertFailure,
  createTokenOk,
  isoIn,
  makeHome,
  sendJson,
  startOidcServer,
  tokenDoc,
  uniqueName,
  useHome,
} = require('./oidc-server.js')
const sandbox = require('./samples/sandbox.js')

const { SSOTokenProvider, fromSso } = require(ROOT)

const START_URL = 'https://d-1234567890.awsapps.com/start'

const sessionSection = (session, lines = `sso_start_url = ${START_URL}\nsso_region = us-east-1\n`) =>
  `[sso-session ${session}]\n${lines}`
const sessionConfig = (session) => `[profile dev]\nsso_session = ${session}\n\n${sessionSection(session)}`

const refusing = (req, res) =>
  sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token provided' })

// One row per message of ours. `ours` is our tryNextLink; `v3` what v3's own fromSso does on
// the same files: its tryNextLink, or 'resolves' where it does not fail at all. Where the two
// differ, `why` says why.
const CASES = [
  {
    name: 'profile not found',
    arrange: (h) => h.writeConfig('[profile other]\nregion = us-east-1\n'),
    message: (h) => messages.profileNotFound('dev', h.configPath),
    ours: false,
    v3: false,
  },
  {
    name: 'profile only in the credentials file',
    arrange: (h) => fs.writeFileSync(path.join(h.awsDir, 'credentials'), '[dev]\naws_access_key_id = AKID\n'),
    message: (h) => messages.profileNotFound('dev', h.configPath, { missing: true }),
    ours: false,
    v3: true,
    why: 'v3 merges ~/.aws/credentials into the profiles; we read only the config file, as v2 does',
  },
  {
    name: 'not an SSO profile (no sso_session)',
    arrange: (h) => h.writeConfig('[profile dev]\nregion = us-west-2\ncredential_process = /bin/false\n'),
    message: () => 'Profile "dev" is missing required property "sso_session".',
    ours: true,
    v3: true,
  },
  {
    name: 'sso-session not found',
    arrange: (h, s) => h.writeConfig(`[profile dev]\nsso_session = ${s}\n`),
    message: (h, s) => messages.sessionNotFound(s, h.configPath),
    ours: false,
    v3: false,
  },
  {
    name: 'sso-session without sso_start_url',
    arrange: (h, s) =>
      h.writeConfig(`[profile dev]\nsso_session = ${s}\n${sessionSection(s, 'sso_region = us-east-1\n')}`),
    message: (h, s) => `Sso session "${s}" is missing required property "sso_start_url".`,
    ours: false,
    v3: false,
  },
  {
    name: 'sso-session without sso_region',
    arrange: (h, s) =>
      h.writeConfig(
        `[profile dev]\nsso_session = ${s}\n${sessionSection(s, `sso_start_url = ${START_URL}\n`)}`,
      ),
    message: (h, s) => `Sso session "${s}" is missing required property "sso_region".`,
    ours: false,
    v3: false,
  },
  {
    name: 'legacy profile without sso_region',
    arrange: (h) => h.writeConfig(`[profile dev]\nsso_start_url = ${START_URL}\n`),
    message: () => 'Profile "dev" is missing required property "sso_region".',
    ours: false,
    v3: true,
    why: 'v3 does not know legacy profiles (its error is the missing sso_session); for us it is an SSO profile to fix',
  },
  {
    name: 'config file not a regular file',
    arrange: (h) => fs.mkdirSync(path.join(h.home, 'config-dir')),
    env: (h) => ({ AWS_CONFIG_FILE: path.join(h.home, 'config-dir') }),
    message: (h) => `Config file "${path.join(h.home, 'config-dir')}" could not be read: not a regular file`,
    ours: false,
    v3: false, // v3 swallows the read error and then finds no profile
  },
  {
    name: 'cached token not found',
    arrange: (h, s) => h.writeConfig(sessionConfig(s)),
    message: () => 'Cached token not found. Please log in using "aws sso login" for profile "dev".',
    ours: false,
    v3: false,
  },
  {
    name: 'cache file not JSON',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      h.writeToken(s, '{"accessToken": ')
    },
    message: (h, s) =>
      `Cached token file "${h.cachePath(s)}" is not valid JSON: EOF while parsing a value at line 1 column 16`,
    ours: false,
    v3: false,
  },
  {
    name: 'cache file not a regular file',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      fs.mkdirSync(h.cachePath(s))
    },
    message: (h, s) => `Cached token file "${h.cachePath(s)}" could not be read: not a regular file`,
    ours: false,
    v3: false,
  },
  {
    name: 'accessToken missing',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      h.writeToken(s, { expiresAt: isoIn(3600) })
    },
    message: (h, s) => messages.incompleteFile('accessToken', h.cachePath(s), 'dev'),
    ours: false,
    v3: false,
  },
  {
    name: 'invalid expiresAt',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      // With refresh keys, so that v3 gets past its key checks whether or not its
      // process-wide 30 s refresh throttle is on.
      h.writeToken(s, tokenDoc(0, { expiresAt: 'tomorrow' }))
    },
    message: (h, s) => `Cached token file "${h.cachePath(s)}" has an invalid "expiresAt" value`,
    ours: false,
    v3: 'resolves',
    why: 'v3 hands out the token with an Invalid Date; the file needs a new login',
  },
  {
    name: 'expired, no refresh keys',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      h.writeToken(s, { accessToken: 'a', expiresAt: isoIn(-60) })
    },
    message: () => messages.expiredWithoutKey('clientId', 'dev'),
    ours: false,
    v3: false,
  },
  {
    name: 'expired, CreateToken refuses the refresh',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      h.writeToken(s, tokenDoc(-60))
    },
    message: () => `${REFRESH_FAILED} (invalid_grant, HTTP 400: Invalid refresh token provided)`,
    ours: false,
    v3: false,
  },
  {
    name: 'expired, client registration expired',
    arrange: (h, s) => {
      h.writeConfig(sessionConfig(s))
      h.writeToken(s, tokenDoc(-60, { registrationExpiresAt: isoIn(-10) }))
    },
    message: () => `${REFRESH_FAILED} (client registration expired)`,
    ours: false,
    v3: false,
  },
  {
    name: 'legacy profile, token expired',
    arrange: (h) => {
      h.writeConfig(`[profile dev]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`)
      h.writeToken(START_URL, { accessToken: 'a', expiresAt: isoIn(-60) })
    },
    message: () =>
      'SSO Token for profile "dev" has expired. Please log in using "aws sso login" for profile "dev".',
    ours: false,
    v3: true,
    why: 'v3 does not know legacy profiles (its error is the missing sso_session); for us the user must log in',
  },
  {
    name: 'profile option not a string',
    profile: 5,
    arrange: () => {},
    message: () => 'The "profile" option must be a string',
    ours: false,
    v3: false, // v3 looks up profile "5" and does not find it
  },
]

/** Builds one case's home and points this process at it: { h, session, oidc, done }. */
async function arrange(c) {
  const h = makeHome()
  const session = uniqueName()
  c.arrange(h, session)
  const oidc = await startOidcServer(refusing)
  useHome(h.home, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url, ...(c.env ? c.env(h) : {}) })
  return {
    h,
    session,
    oidc,
    async done() {
      await oidc.close()
      h.cleanup()
    },
  }
}

async function rejection(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected a rejection')
}

for (const c of CASES) {
  const profile = c.profile === undefined ? 'dev' : c.profile

  test(`fromSso error "${c.name}": code, exact message, tryNextLink ${c.ours}`, async () => {
    const s = await arrange(c)
    try {
      const err = await rejection(fromSso({ profile })())
      assertFailure(err, c.message(s.h, s.session))
      assert.equal(err.tryNextLink, c.ours)
    } finally {
      await s.done()
    }
  })

  test(`chain(fromSso, next) on "${c.name}": next ${c.ours ? 'is' : 'is not'} reached`, async () => {
    const s = await arrange(c)
    try {
      let reached = 0
      const next = async () => {
        reached += 1
        return { token: 'from-the-next-provider' }
      }
      const provider = chain(fromSso({ profile }), next)
      if (c.ours) {
        assert.deepEqual(await provider(), { token: 'from-the-next-provider' })
        assert.equal(reached, 1)
      } else {
        const err = await rejection(provider())
        assertFailure(err, c.message(s.h, s.session))
        assert.equal(err.tryNextLink, false)
        assert.equal(reached, 0, 'the chain went past an error the user must act on')
      }
    } finally {
      await s.done()
    }
  })

  test(`v3's own fromSso on "${c.name}": ${c.v3 === 'resolves' ? 'resolves' : `tryNextLink ${c.v3}`}`, async () => {
    const s = await arrange(c)
    try {
      // ignoreCache: v3 keeps every config file it has read, per path, for the process.
      const outcome = v3.fromSso({ profile, ignoreCache: true })()
      if (c.v3 === 'resolves') {
        await outcome
      } else {
        const err = await rejection(outcome)
        assert.equal(err.name, 'TokenProviderError', err.stack)
        assert.equal(err.tryNextLink, c.v3, err.message)
      }
      if (c.v3 !== c.ours) assert.ok(c.why, 'a difference from v3 must say why')
    } finally {
      await s.done()
    }
  })
}

test('fromSso errors keep the v2 shape and add tryNextLink as an own enumerable property', async () => {
  const s = await arrange(CASES.find((c) => c.name === 'not an SSO profile (no sso_session)'))
  try {
    const err = await rejection(fromSso({ profile: 'dev' })())
    assert.ok(err instanceof Error)
    assert.deepEqual(Object.keys(err), ['code', 'time', 'tryNextLink'])
    assert.equal(err.tryNextLink, true)
    // The class keeps v2's errors: v2 has no chain that reads the field.
    const p = new SSOTokenProvider({ profile: 'dev' })
    const classErr = await rejection(p.getPromise())
    assertFailure(classErr, 'Profile "dev" is missing required property "sso_session".')
    assert.equal('tryNextLink' in classErr, false)
  } finally {
    await s.done()
  }
})

// ---------------------------------------------------------------------------------------
// A real v3 client whose token is chain(fromSso, next)

async function clientScenario(t, { config, token, oidcHandler }) {
  const h = makeHome()
  const session = uniqueName()
  h.writeConfig(config(session))
  if (token) h.writeToken(session, token)
  const oidc = await startOidcServer(oidcHandler)
  const service = await sandbox.startServer()
  useHome(h.home, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
  const next = { calls: 0 }
  const client = new CodeCatalystClient({
    region: 'us-west-2',
    endpoint: service.url,
    maxAttempts: 1,
    token: chain(fromSso({ profile: 'dev' }), async () => {
      next.calls += 1
      return { token: 'next-provider-token' }
    }),
  })
  t.after(async () => {
    client.destroy()
    await oidc.close()
    await service.close()
    h.cleanup()
  })
  return { h, session, oidc, service, next, client }
}

test('v3 client: a profile that is not an SSO profile falls through to the next provider', async (t) => {
  const s = await clientScenario(t, { config: () => '[profile dev]\nregion = us-west-2\n' })
  const out = await s.client.send(new ListSpacesCommand({}))
  assert.deepEqual(
    out.items.map((x) => x.name),
    ['space-a'],
  )
  assert.equal(s.next.calls, 1)
  assert.equal(s.service.to('POST /v1/spaces')[0].headers.authorization, 'Bearer next-provider-token')
})

test('v3 client: no cached token stops the chain with our error, before any request', async (t) => {
  const s = await clientScenario(t, { config: sessionConfig })
  const err = await rejection(s.client.send(new ListSpacesCommand({})))
  assertFailure(err, 'Cached token not found. Please log in using "aws sso login" for profile "dev".')
  assert.equal(err.tryNextLink, false)
  assert.equal(s.next.calls, 0)
  assert.equal(s.service.requests.length, 0)
})

test('v3 client: a refused refresh of an expired token stops the chain', async (t) => {
  const s = await clientScenario(t, { config: sessionConfig, token: tokenDoc(-60), oidcHandler: refusing })
  const err = await rejection(s.client.send(new ListSpacesCommand({})))
  assertFailure(err, `${REFRESH_FAILED} (invalid_grant, HTTP 400: Invalid refresh token provided)`)
  assert.equal(err.tryNextLink, false)
  assert.equal(s.oidc.requests.length, 1)
  assert.equal(s.next.calls, 0)
  assert.equal(s.service.requests.length, 0)
})

test('v3 client: an expired token refreshed through CreateToken is sent; the next provider is not asked', async (t) => {
  const s = await clientScenario(t, {
    config: sessionConfig,
    token: tokenDoc(-60),
    oidcHandler: (req, res) => createTokenOk(res, { accessToken: 'refreshed-in-chain' }),
  })
  await s.client.send(new ListSpacesCommand({}))
  assert.equal(s.oidc.requests.length, 1)
  assert.equal(s.service.to('POST /v1/spaces')[0].headers.authorization, 'Bearer refreshed-in-chain')
  assert.equal(s.next.calls, 0)
  assert.equal(s.h.readToken(s.session).accessToken, 'refreshed-in-chain')
})

// ---------------------------------------------------------------------------------------
// v3's init keys

test('fromSso({ configFilepath }) reads that config file, as AWS_CONFIG_FILE would, over AWS_CONFIG_FILE', async () => {
  const session = uniqueName()
  const h = makeHome({ config: '[profile dev]\nregion = us-east-1\n' })
  const doc = tokenDoc(3600)
  h.writeToken(session, doc)
  const elsewhere = path.join(h.home, 'elsewhere.ini')
  fs.writeFileSync(elsewhere, sessionConfig(session))
  const envFile = path.join(h.home, 'env.ini')
  fs.writeFileSync(envFile, '[profile other]\nregion = us-east-1\n')
  try {
    useHome(h.home)
    const identity = await fromSso({ profile: 'dev', configFilepath: elsewhere })()
    assert.equal(identity.token, doc.accessToken)
    assert.equal(identity.expiration.toISOString(), doc.expiresAt)

    useHome(h.home, { AWS_CONFIG_FILE: envFile })
    const again = await fromSso({ profile: 'dev', configFilepath: elsewhere })()
    assert.equal(again.token, doc.accessToken, 'configFilepath wins over AWS_CONFIG_FILE')
    // The same setting is not a precedent for the class or other providers.
    assertFailure(await rejection(fromSso({ profile: 'dev' })()), messages.profileNotFound('dev', envFile))

    // Errors name the file that was read.
    const missing = path.join(h.home, 'missing-dir')
    fs.mkdirSync(missing)
    const err = await rejection(fromSso({ profile: 'dev', configFilepath: missing })())
    assertFailure(err, `Config file "${missing}" could not be read: not a regular file`)
    assert.equal(err.tryNextLink, false)
  } finally {
    h.cleanup()
  }
})

test('fromSso({ filepath }) is the credentials file in v3: accepted and not read', async () => {
  const session = uniqueName()
  const doc = tokenDoc(3600)
  const h = makeHome({ config: sessionConfig(session), tokens: { [session]: doc } })
  try {
    useHome(h.home)
    const credentials = path.join(h.home, 'credentials')
    fs.writeFileSync(credentials, '[dev]\nsso_session = nowhere\n')
    const identity = await fromSso({ profile: 'dev', filepath: credentials })()
    assert.equal(identity.token, doc.accessToken)
    const none = await fromSso({ profile: 'dev', filepath: path.join(h.home, 'no-such-file') })()
    assert.equal(none.token, doc.accessToken)
  } finally {
    h.cleanup()
  }
})

test('fromSso: a configFilepath that is not a non-empty string is a TypeError at once', () => {
  for (const configFilepath of ['', 5, {}, null]) {
    assert.throws(
      () => fromSso({ configFilepath }),
      (e) => e instanceof TypeError && e.message === 'The "configFilepath" option must be a non-empty string',
      `configFilepath ${JSON.stringify(configFilepath)}`,
    )
  }
})

test('fromSso({ ignoreCache: true }) re-reads the config and the cache file on every call', async () => {
  const session = uniqueName()
  const other = uniqueName()
  const first = tokenDoc(3600)
  const h = makeHome({ config: sessionConfig(session), tokens: { [session]: first } })
  try {
    useHome(h.home)
    const keeping = fromSso({ profile: 'dev' })
    const reloading = fromSso({ profile: 'dev', ignoreCache: true })
    assert.equal((await keeping()).token, first.accessToken)
    assert.equal((await reloading()).token, first.accessToken)

    // A new login writes a new token: the re-reading provider sees it on its next call; the
    // other one as soon as the change reaches it through its file watch.
    const second = tokenDoc(7200)
    h.writeToken(session, second)
    const seen = await reloading()
    assert.equal(seen.token, second.accessToken)
    assert.equal(seen.expiration.toISOString(), second.expiresAt)
    await eventually(async () => (await keeping()).token === second.accessToken)

    // So does an edit of the config file.
    const third = tokenDoc(5400)
    h.writeToken(other, third)
    h.writeConfig(sessionConfig(other))
    assert.equal((await reloading()).token, third.accessToken)
    await eventually(async () => (await keeping()).token === third.accessToken)

    // Concurrent calls each read the files; none waits on another's result.
    const all = await Promise.all([reloading(), reloading(), reloading()])
    assert.deepEqual(
      all.map((x) => x.token),
      [third.accessToken, third.accessToken, third.accessToken],
    )
  } finally {
    h.cleanup()
  }
})

test('fromSso({ logger }) logs one debug line per call, as v3 does; clientConfig is accepted and unused', async () => {
  const session = uniqueName()
  const doc = tokenDoc(3600)
  const h = makeHome({ config: sessionConfig(session), tokens: { [session]: doc } })
  try {
    useHome(h.home)
    const lines = []
    const logger = {
      debug: (...args) => lines.push(args),
      info: () => assert.fail('info'),
      warn: () => assert.fail('warn'),
      error: () => assert.fail('error'),
    }
    const provider = fromSso({
      profile: 'dev',
      logger,
      clientConfig: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' },
      parentClientConfig: { region: 'eu-west-1' },
    })
    assert.equal((await provider()).token, doc.accessToken)
    await provider()
    assert.deepEqual(lines, [['sso-token-provider - fromSso'], ['sso-token-provider - fromSso']])
    for (const without of [{}, { debug: undefined }]) {
      assert.equal((await fromSso({ profile: 'dev', logger: without })()).token, doc.accessToken)
    }
  } finally {
    h.cleanup()
  }
})

test('fromSso reads the profile at each call (init.profile, else AWS_PROFILE), as v3 does', async () => {
  const a = uniqueName()
  const docA = tokenDoc(3600)
  const b = uniqueName()
  const docB = tokenDoc(3600)
  const config =
    `[profile a]\nsso_session = ${a}\n[profile b]\nsso_session = ${b}\n` +
    `${sessionSection(a)}\n${sessionSection(b)}`
  const h = makeHome({ config, tokens: { [a]: docA, [b]: docB } })
  try {
    useHome(h.home, { AWS_PROFILE: 'a' })
    const provider = fromSso()
    assert.equal((await provider()).token, docA.accessToken)
    process.env.AWS_PROFILE = 'b'
    assert.equal((await provider()).token, docB.accessToken)
  } finally {
    h.cleanup()
  }
})

// ---------------------------------------------------------------------------------------
// Types: what index.d.ts promises must fit v3's own types

test(
  'index.d.ts: fromSso fits chain() and v3 types, FromSsoInit takes v3 init keys',
  { timeout: 60_000 },
  () => {
    const index = path.join(ROOT, 'index').replace(/\\/g, '/')
    const code = `
      import { fromSso, FromSsoInit, FromSsoFailure } from '${index}'
      import { chain } from '@smithy/property-provider'
      import type { TokenIdentityProvider } from '@aws-sdk/types'
      const init: FromSsoInit = {
        profile: 'dev',
        configFilepath: '/etc/aws.ini',
        filepath: '/etc/credentials.ini',
        ignoreCache: true,
        logger: { debug: (...content: unknown[]) => void content },
        clientConfig: { region: 'eu-west-1' },
      }
      const provider: TokenIdentityProvider = fromSso(init)
      const chained: TokenIdentityProvider = chain(fromSso(), provider)
      const isNext = (e: FromSsoFailure): boolean => e.tryNextLink && e.code === 'SSOTokenProviderFailure'
      // @ts-expect-error ignoreCache is a boolean
      fromSso({ ignoreCache: 'yes' })
      void chained
      void isNext
    `
    const res = typeCheck({ 'v3.ts': code }, sdkCompilerOptions())
    assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
  },
)
