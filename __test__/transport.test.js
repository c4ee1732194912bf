'use strict'

// docs/behaviour.md §5, the transport: bounded timeouts, body limit, refused connections,
// redirects, TLS with AWS_CA_BUNDLE, HTTPS_PROXY / NO_PROXY, the plain-http rule and the
// endpoint variables. Every server and proxy is a real one on 127.0.0.1.

const { test, describe, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const {
  REFRESH_FAILED,
  setup,
  tokenDoc,
  startOidcServer,
  startConnectProxy,
  makeTestCa,
  hasOpenssl,
  useHome,
  childEnv,
  createTokenOk,
  freePort,
  delay,
  construct,
  assertFailure,
  runNode,
  lastJson,
  fileState,
} = require('./oidc-server.js')

const WORKER = path.join(__dirname, 'workers', 'load.js')

// A server that never completes its answer costs a full attempt timeout (10 s) times
// three attempts. Those two scenarios run in child processes started right away, so they
// overlap with the rest of this file; their tests, at the end, await them.
const ATTEMPT_TIMEOUT_MS = 10000
const MAX_ATTEMPTS = 3

function startHangingScenario({ expiresIn, answer }) {
  return (async () => {
    const s = await setup({ expiresIn, handler: answer })
    const env = childEnv({
      HOME: s.home.home,
      AWS_ENDPOINT_URL_SSO_OIDC: s.server.url,
      SSO_TEST_PROFILE: s.profile,
    })
    const result = await runNode([WORKER], { env, timeoutMs: 60000 }).done
    const after = fileState(s.file)
    const requests = s.server.requests.length
    await s.done()
    return { s, result, after, requests }
  })()
}

const silent = startHangingScenario({ expiresIn: -60, answer: () => new Promise(() => {}) })
const neverEnding = startHangingScenario({
  expiresIn: 120,
  answer: (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' })
    res.write('{"accessToken": "never-finished", "expiresIn": 3600, "tokenType": "Be')
    return new Promise(() => {})
  },
})

describe('a 50 MB body fails fast at the 1 MiB limit', () => {
  function huge(req, res) {
    res.writeHead(200, { 'content-type': 'application/json' })
    const chunk = Buffer.alloc(1024 * 1024, 'a')
    chunk.write('{"accessToken":"')
    let left = 50
    let closed = false
    res.on('close', () => (closed = true))
    const pump = () => {
      while (!closed && left > 0) {
        left -= 1
        if (!res.write(chunk)) return res.once('drain', pump)
      }
      if (!closed) res.end('"}')
    }
    res.on('error', () => {})
    pump()
  }

  test('still-valid token: served, one request', async () => {
    const s = await setup({ expiresIn: 120, handler: huge })
    try {
      const { provider, err, ms } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
      assert.equal(s.server.requests.length, 1, 'not retried')
      assert.ok(ms < 5000, `took ${ms} ms`)
      assert.deepEqual(fileState(s.file), s.before)
    } finally {
      await s.done()
    }
  })

  test('expired token: error naming the limit', async () => {
    const s = await setup({ expiresIn: -60, handler: huge })
    try {
      const { err, ms } = await construct(s.profile)
      assertFailure(err, `${REFRESH_FAILED} (invalid CreateToken response: response body over 1 MiB)`)
      assert.equal(s.server.requests.length, 1)
      assert.ok(ms < 5000, `took ${ms} ms`)
      assert.deepEqual(fileState(s.file), s.before)
    } finally {
      await s.done()
    }
  })
})

describe('connection refused is retried three times, then the outcome of §4', () => {
  test('still-valid token: served', async () => {
    const s = await setup({ expiresIn: 120 })
    try {
      const port = await freePort()
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = `http://127.0.0.1:${port}`
      const { provider, err, ms } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
      assert.equal(+provider.expireTime, Date.parse(s.doc.expiresAt))
      assert.ok(ms < 5000, `took ${ms} ms`)
      assert.deepEqual(fileState(s.file), s.before)
      await provider.refreshPromise()
      assert.equal(provider.token, s.doc.accessToken)
    } finally {
      await s.done()
    }
  })

  test('expired token: error with the cause; a later call still works', async () => {
    const s = await setup({ expiresIn: -60 })
    try {
      const port = await freePort()
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = `http://127.0.0.1:${port}`
      const { provider, err, ms } = await construct(s.profile)
      assertFailure(
        err,
        `${REFRESH_FAILED} (connection to 127.0.0.1:${port} refused; gave up after 3 attempts)`,
      )
      assert.ok(ms >= 100, 'backoff between attempts')
      assert.ok(ms < 5000, `took ${ms} ms`)
      assert.deepEqual(fileState(s.file), s.before)
      s.home.writeToken(s.session, tokenDoc(3600, { accessToken: 'after-login' }))
      await provider.getPromise()
      assert.equal(provider.token, 'after-login')
    } finally {
      await s.done()
    }
  })
})

describe('redirects are not followed', () => {
  for (const [label, expiresIn] of [
    ['still-valid token: served', 120],
    ['expired token: error', -60],
  ]) {
    test(label, async () => {
      const elsewhere = await startOidcServer()
      const s = await setup({
        expiresIn,
        handler: (req, res) => {
          res.writeHead(307, { location: `${elsewhere.url}/token` })
          res.end()
        },
      })
      try {
        const { provider, err } = await construct(s.profile)
        if (expiresIn > 0) {
          assert.equal(err, null)
          assert.equal(provider.token, s.doc.accessToken)
        } else {
          assertFailure(err, `${REFRESH_FAILED} (HTTP 307: redirect not followed)`)
        }
        assert.equal(s.server.requests.length, 1)
        assert.equal(elsewhere.requests.length, 0, 'the secrets went nowhere else')
      } finally {
        await s.done()
        await elsewhere.close()
      }
    })
  }
})

describe('HTTPS with a test CA', { skip: !hasOpenssl() && 'no openssl command' }, () => {
  let ca
  const tlsServer = async () => {
    const server = await startOidcServer((req, res) => createTokenOk(res, { accessToken: 'tls-token' }), {
      tls: ca,
    })
    process.env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
    return server
  }
  const servers = []
  after(async () => {
    for (const s of servers) await s.close()
  })

  test('AWS_CA_BUNDLE makes the refresh succeed', async () => {
    ca = makeTestCa()
    const s = await setup({ expiresIn: 120 })
    try {
      const server = await tlsServer()
      servers.push(server)
      process.env.AWS_CA_BUNDLE = ca.caPath
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'tls-token')
      assert.equal(server.requests.length, 1)
      assert.equal(server.requests[0].url, '/token')
    } finally {
      await s.done()
    }
  })

  test('without AWS_CA_BUNDLE: a certificate failure; old token served while valid', async () => {
    const s = await setup({ expiresIn: 120 })
    try {
      const server = await tlsServer()
      servers.push(server)
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
      assert.equal(server.requests.length, 0, 'no request got through the handshake')
      assert.deepEqual(fileState(s.file), s.before)
    } finally {
      await s.done()
    }
  })

  test('without AWS_CA_BUNDLE: an expired token gives a TLS/certificate cause', async () => {
    const s = await setup({ expiresIn: -60 })
    try {
      const server = await tlsServer()
      servers.push(server)
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
      assert.match(
        err.message,
        /secure connection to 127\.0\.0\.1:\d+ failed: .*(certificate|UnknownIssuer)/i,
      )
      assert.equal(server.requests.length, 0)
    } finally {
      await s.done()
    }
  })

  for (const name of ['HTTPS_PROXY', 'https_proxy']) {
    test(`through a CONNECT proxy from ${name}`, async () => {
      const s = await setup({ expiresIn: 120 })
      const proxy = await startConnectProxy()
      try {
        const server = await tlsServer()
        servers.push(server)
        process.env.AWS_CA_BUNDLE = ca.caPath
        process.env[name] = proxy.url
        const { provider, err } = await construct(s.profile)
        assert.equal(err, null)
        assert.equal(provider.token, 'tls-token')
        assert.equal(server.requests.length, 1)
        assert.deepEqual(proxy.connects, [`127.0.0.1:${server.port}`])
      } finally {
        await proxy.close()
        await s.done()
      }
    })
  }

  test('NO_PROXY=127.0.0.1 bypasses the proxy', async () => {
    const s = await setup({ expiresIn: 120 })
    const proxy = await startConnectProxy()
    try {
      const server = await tlsServer()
      servers.push(server)
      process.env.AWS_CA_BUNDLE = ca.caPath
      process.env.HTTPS_PROXY = proxy.url
      process.env.NO_PROXY = '127.0.0.1'
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'tls-token')
      assert.equal(server.requests.length, 1)
      assert.deepEqual(proxy.connects, [])
    } finally {
      await proxy.close()
      await s.done()
    }
  })
})

describe('plain http is allowed on loopback only', () => {
  test('http:// to a non-loopback host is refused: expired token -> clear error, fast', async () => {
    const s = await setup({ expiresIn: -60, env: { AWS_ENDPOINT_URL_SSO_OIDC: 'http://example.invalid' } })
    try {
      const { err, ms } = await construct(s.profile)
      assertFailure(err)
      assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
      assert.match(err.message, /refusing/)
      assert.match(err.message, /http/)
      assert.match(err.message, /example\.invalid/)
      assert.ok(ms < 1000, `took ${ms} ms`)
      assert.deepEqual(fileState(s.file), s.before)
    } finally {
      await s.done()
    }
  })

  test('http:// to a non-loopback host: a still-valid token is served', async () => {
    const s = await setup({ expiresIn: 120, env: { AWS_ENDPOINT_URL_SSO_OIDC: 'http://example.invalid' } })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, s.doc.accessToken)
    } finally {
      await s.done()
    }
  })

  test('http://0.0.0.0:PORT reaches our loopback server on Linux, yet no byte is sent', async () => {
    const s = await setup({ expiresIn: -60 })
    try {
      // Control: a plain connection to 0.0.0.0 does arrive at the 127.0.0.1 listener.
      const reachable = await new Promise((resolve) => {
        const sock = net.connect(s.server.port, '0.0.0.0', () => {
          sock.destroy()
          resolve(true)
        })
        sock.on('error', () => resolve(false))
      })
      process.env.AWS_ENDPOINT_URL_SSO_OIDC = `http://0.0.0.0:${s.server.port}`
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.match(err.message, /refusing to send the refresh token over plain http/)
      assert.equal(s.server.requests.length, 0)
      if (!reachable) return
      await delay(50)
      assert.equal(s.server.requests.length, 0)
    } finally {
      await s.done()
    }
  })

  test('an http:// loopback endpoint never goes through HTTPS_PROXY', async () => {
    const proxy = await startConnectProxy()
    const s = await setup({ expiresIn: 120, env: { HTTPS_PROXY: proxy.url } })
    try {
      const { provider, err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(provider.token, 'new-access-token')
      assert.deepEqual(proxy.connects, [])
    } finally {
      await proxy.close()
      await s.done()
    }
  })
})

describe('endpoint variables', () => {
  // The default endpoint is reached only through a refusing proxy on 127.0.0.1, which
  // records the CONNECT target and answers 502: nothing leaves this machine.
  for (const [region, host] of [
    ['us-east-1', 'oidc.us-east-1.amazonaws.com:443'],
    ['cn-north-1', 'oidc.cn-north-1.amazonaws.com.cn:443'],
  ]) {
    test(`AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores AWS_ENDPOINT_URL_SSO_OIDC (${region})`, async () => {
      const proxy = await startConnectProxy({ refuse: true })
      const s = await setup({
        expiresIn: -60,
        region,
        env: { AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', HTTPS_PROXY: proxy.url },
      })
      try {
        const { err, ms } = await construct(s.profile)
        assertFailure(err)
        assert.ok(err.message.startsWith(`${REFRESH_FAILED} (`), err.message)
        assert.equal(s.server.requests.length, 0, 'the configured endpoint got no request')
        assert.ok(proxy.connects.length >= 1)
        assert.ok(
          proxy.connects.every((c) => c === host),
          JSON.stringify(proxy.connects),
        )
        assert.ok(ms < 5000, `took ${ms} ms`)
      } finally {
        await proxy.close()
        await s.done()
      }
    })
  }

  test('without the ignore flag, AWS_ENDPOINT_URL_SSO_OIDC is used (control)', async () => {
    const proxy = await startConnectProxy({ refuse: true })
    const s = await setup({ expiresIn: -60, env: { HTTPS_PROXY: proxy.url } })
    try {
      const { err } = await construct(s.profile)
      assert.equal(err, null)
      assert.equal(s.server.requests.length, 1)
      assert.deepEqual(proxy.connects, [])
    } finally {
      await proxy.close()
      await s.done()
    }
  })

  test('the global AWS_ENDPOINT_URL is not used for CreateToken', async () => {
    const proxy = await startConnectProxy({ refuse: true })
    const s = await setup({ expiresIn: -60 })
    try {
      useHome(s.home.home, { AWS_ENDPOINT_URL: s.server.url, HTTPS_PROXY: proxy.url })
      const { err } = await construct(s.profile)
      assertFailure(err)
      assert.equal(s.server.requests.length, 0, 'the secrets must not follow AWS_ENDPOINT_URL')
      assert.ok(proxy.connects.length >= 1)
      assert.ok(proxy.connects.every((c) => c === 'oidc.us-east-1.amazonaws.com:443'))
    } finally {
      await proxy.close()
      await s.done()
    }
  })
})

describe('a server that never completes its answer is bounded by the attempt timeout', () => {
  const low = MAX_ATTEMPTS * ATTEMPT_TIMEOUT_MS - 1000
  const high = MAX_ATTEMPTS * ATTEMPT_TIMEOUT_MS + 6000

  test('silent server, expired token: error after three 10 s attempts', async () => {
    const { s, result, after, requests } = await silent
    assert.equal(result.code, 0, result.stderr)
    const out = lastJson(result.stdout)
    assert.ok(out.error, JSON.stringify(out))
    assert.equal(out.error.code, 'SSOTokenProviderFailure')
    assert.ok(out.error.message.startsWith(`${REFRESH_FAILED} (`), out.error.message)
    assert.match(
      out.error.message,
      /no complete answer from 127\.0\.0\.1:\d+ within 10\.0 s; gave up after 3 attempts\)$/,
    )
    assert.equal(requests, MAX_ATTEMPTS)
    assert.ok(out.ms >= low && out.ms <= high, `load took ${out.ms} ms`)
    assert.deepEqual(after, s.before)
  })

  test('a body that never ends, still-valid token: the old token after the same bound', async () => {
    const { s, result, after, requests } = await neverEnding
    assert.equal(result.code, 0, result.stderr)
    const out = lastJson(result.stdout)
    assert.equal(out.error, null)
    assert.equal(out.token, s.doc.accessToken)
    assert.equal(out.expireTime, Date.parse(s.doc.expiresAt))
    assert.equal(requests, MAX_ATTEMPTS)
    assert.ok(out.ms >= low && out.ms <= high, `load took ${out.ms} ms`)
    assert.deepEqual(after, s.before)
  })
})
