'use strict'

// Our provider where v2 takes a token provider (docs/behaviour.md §1, last bullets), and the
// event loop staying free while many loads run on worker threads.

const assert = require('node:assert/strict')

const {
  isoIn,
  makeHome,
  useHome,
  sessionConfig,
  freshToken,
  loadV2,
  loadOurs,
  assertFailure,
  startServer,
  test,
} = require('./helpers')

const AWS = loadV2()
const { SSOTokenProvider } = loadOurs()
const V2_SSO_TOKEN_PROVIDER = AWS.SSOTokenProvider

const CONFIG = sessionConfig({ profile: 'dev', session: 'my-sso' }) + '[default]\nsso_session = my-sso\n'
const KEY = 'my-sso'

async function withHome(opts, fn) {
  const h = makeHome({ config: CONFIG, ...opts })
  try {
    useHome(h.home)
    return await fn(h)
  } finally {
    h.cleanup()
  }
}

function jsonServer(bodyFor = () => ({ items: [] })) {
  return startServer((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(bodyFor(req, body)))
  })
}

test('[compat] new AWS.CodeCatalyst({ token: ours }) sends our token as a Bearer token', async () => {
  const tok = freshToken()
  const server = await jsonServer()
  try {
    await withHome({ tokens: { [KEY]: tok } }, async () => {
      const ours = new SSOTokenProvider({ profile: 'dev' })
      const client = new AWS.CodeCatalyst({
        token: ours,
        endpoint: server.url,
        region: 'us-west-2',
        maxRetries: 0,
      })
      const data = await client.listSpaces({}).promise()
      assert.deepEqual(data.items, [])
      assert.equal(server.requests.length, 1)
      const [req] = server.requests
      assert.equal(req.method, 'POST')
      assert.equal(req.url, '/v1/spaces')
      assert.equal(req.headers.authorization, `Bearer ${tok.accessToken}`)

      // a second call reuses the loaded token
      await client.listSpaces({}).promise()
      assert.equal(server.requests[1].headers.authorization, `Bearer ${tok.accessToken}`)
    })
  } finally {
    await server.close()
  }
})

test('[compat] a failing provider gives v2\'s "Could not load token from SSOTokenProvider"', async () => {
  const server = await jsonServer()
  try {
    await withHome({}, async () => {
      const ours = new SSOTokenProvider({ profile: 'dev' })
      const client = new AWS.CodeCatalyst({
        token: ours,
        endpoint: server.url,
        region: 'us-west-2',
        maxRetries: 0,
      })
      await assert.rejects(client.listSpaces({}).promise(), (err) => {
        assert.equal(err.code, 'TokenError')
        assert.equal(err.message, 'Could not load token from SSOTokenProvider')
        return true
      })
      assert.equal(server.requests.length, 0)
    })
  } finally {
    await server.close()
  }
})

test('[compat] new AWS.TokenProviderChain([() => ours]).resolvePromise() gives our provider', async () => {
  const tok = freshToken()
  await withHome({ tokens: { [KEY]: tok } }, async () => {
    const ours = new SSOTokenProvider({ profile: 'dev' })
    const chain = new AWS.TokenProviderChain([() => ours])
    const resolved = await chain.resolvePromise()
    assert.equal(resolved, ours)
    assert.equal(resolved.token, tok.accessToken)
  })
})

test('[compat] a failing provider lets TokenProviderChain move on to the next one', async () => {
  await withHome({}, async () => {
    const ours = new SSOTokenProvider({ profile: 'dev' })
    const fallback = { token: 'static', get: (cb) => cb() }
    const chain = new AWS.TokenProviderChain([() => ours, () => fallback])
    const resolved = await chain.resolvePromise()
    assert.equal(resolved, fallback)

    const onlyOurs = new AWS.TokenProviderChain([() => ours])
    await assert.rejects(onlyOurs.resolvePromise(), (err) => {
      assertFailure(err, 'Cached token not found. Please log in using "aws sso login" for profile "dev".')
      return true
    })
  })
})

test('[compat] AWS.SSOTokenProvider = ours: the default token chain of a v2 client uses it', async () => {
  const tok = freshToken()
  const server = await jsonServer()
  try {
    await withHome({ tokens: { [KEY]: tok } }, async () => {
      AWS.SSOTokenProvider = SSOTokenProvider
      process.env.AWS_PROFILE = 'dev'
      const resolved = await new AWS.TokenProviderChain().resolvePromise()
      assert.ok(resolved instanceof SSOTokenProvider)
      assert.equal(resolved.token, tok.accessToken)

      const client = new AWS.CodeCatalyst({ endpoint: server.url, region: 'us-west-2', maxRetries: 0 })
      await client.listSpaces({}).promise()
      assert.equal(server.requests[0].headers.authorization, `Bearer ${tok.accessToken}`)
    })
  } finally {
    AWS.SSOTokenProvider = V2_SSO_TOKEN_PROVIDER
    await server.close()
  }
})

test('[compat] AWS.SSOTokenProvider = ours: v2 SsoCredentials gets role credentials with our token', async () => {
  const tok = freshToken()
  const expiration = Date.now() + 3600e3
  const server = await jsonServer(() => ({
    roleCredentials: {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'session',
      expiration,
    },
  }))
  try {
    await withHome(
      {
        config:
          '[profile dev]\nsso_session = my-sso\nsso_account_id = 123456789012\nsso_role_name = Dev\n' +
          '[sso-session my-sso]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\n',
        tokens: { [KEY]: tok },
      },
      async () => {
        AWS.SSOTokenProvider = SSOTokenProvider
        process.env.AWS_SDK_LOAD_CONFIG = '1'
        AWS.util.iniLoader.clearCachedFiles()
        const creds = new AWS.SsoCredentials({
          profile: 'dev',
          ssoClient: new AWS.SSO({ region: 'us-east-1', endpoint: server.url, maxRetries: 0 }),
        })
        await creds.getPromise()
        assert.equal(creds.accessKeyId, 'AKIDEXAMPLE')
        assert.equal(server.requests.length, 1)
        assert.equal(server.requests[0].headers['x-amz-sso_bearer_token'], tok.accessToken)
        assert.match(server.requests[0].url, /^\/federation\/credentials\?/)
      },
    )
  } finally {
    AWS.SSOTokenProvider = V2_SSO_TOKEN_PROVIDER
    delete process.env.AWS_SDK_LOAD_CONFIG
    AWS.util.iniLoader.clearCachedFiles()
    await server.close()
  }
})

test('[beyond] 200 loads over a 5,000-profile config leave the event loop free', async (t) => {
  const PROFILES = 5000
  const LOADS = 200
  let config = ''
  for (let i = 0; i < PROFILES; i++) config += `[profile p${i}]\nsso_session = s${i}\nregion = us-east-1\n\n`
  for (let i = 0; i < PROFILES; i++) {
    config += `[sso-session s${i}]\nsso_start_url = https://d-${i}.awsapps.com/start\nsso_region = us-east-1\n\n`
  }
  const used = Array.from({ length: LOADS }, (_, i) => i * Math.floor(PROFILES / LOADS))
  const tokens = {}
  for (const i of used) tokens[`s${i}`] = { accessToken: `tok-${i}`, expiresAt: isoIn(3600) }

  await withHome({ config, tokens }, async () => {
    let ticks = 0
    let last = Date.now()
    let maxGap = 0
    const timer = setInterval(() => {
      ticks++
      const now = Date.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
    }, 1)
    timer.unref()
    const started = Date.now()
    try {
      const providers = []
      const loads = used.map(
        (i) =>
          new Promise((resolve) => {
            const p = new SSOTokenProvider({ profile: `p${i}`, callback: (err) => resolve([p, i, err]) })
            providers.push(p)
          }),
      )
      const results = await Promise.all(loads)
      const elapsed = Date.now() - started
      t.diagnostic(
        `${LOADS} loads in ${elapsed} ms; setInterval(1 ms) fired ${ticks} times; longest gap ${maxGap} ms`,
      )
      for (const [p, i, err] of results) {
        assert.equal(err, null, err && err.message)
        assert.equal(p.token, `tok-${i}`)
      }
      assert.ok(ticks >= 1, `the interval never fired during the loads (${elapsed} ms)`)

      // and a second wave through refreshPromise(): answered from memory (the files are
      // unchanged), so it is over before a timer would fire, or lets the timer through.
      const ticksBefore = ticks
      const waveStart = Date.now()
      await Promise.all(providers.map((p) => p.refreshPromise()))
      const waveMs = Date.now() - waveStart
      t.diagnostic(`refresh wave: ${waveMs} ms, ${ticks - ticksBefore} ticks`)
      assert.ok(waveMs < 50 || ticks - ticksBefore >= 1, `the refresh wave held the loop for ${waveMs} ms`)
    } finally {
      clearInterval(timer)
    }
  })
})
