'use strict'

// Many refreshes due at once in one process, against a slow loopback CreateToken server:
// SSO_TEST_SESSIONS sessions (one instance each), or one session loaded by
// SSO_TEST_WINDOWS instances that each have their own expiryWindow. The first
// SSO_TEST_HANG sessions get no answer at all (a black-holed endpoint); the others are
// answered after SSO_TEST_DELAY_MS. Samples the thread and fd counts of this process while
// the refreshes are pending and prints one JSON line once every answered session settled:
// { baseline: { threads, fds }, peak: { threads, fds }, ok, failed, calls, ms, settledIn }
// where `settledIn` counts the answered sessions settled within SSO_TEST_WITHIN_MS.

const fs = require('node:fs')
const http = require('node:http')
const { makeHome, tokenDoc, uniqueName } = require('../support/home.js')

const SESSIONS = Number(process.env.SSO_TEST_SESSIONS || 0)
const WINDOWS = Number(process.env.SSO_TEST_WINDOWS || 0)
const DELAY_MS = Number(process.env.SSO_TEST_DELAY_MS || 200)
const HANG = Number(process.env.SSO_TEST_HANG || 0)
const WITHIN_MS = Number(process.env.SSO_TEST_WITHIN_MS || Infinity)

function counts() {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  return {
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)[1]),
    fds: fs.readdirSync('/proc/self/fd').length,
  }
}

async function main() {
  let calls = 0
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      calls += 1
      // A hung session's request is read and never answered.
      if (JSON.parse(body).refreshToken.startsWith('hang-')) return
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ accessToken: `new-${calls}`, expiresIn: 3600 }))
      }, DELAY_MS)
    })
  })
  server.keepAliveTimeout = 1
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const home = makeHome()
  const profiles = []
  for (let i = 0; i < Math.max(SESSIONS, 1); i++) {
    const session = uniqueName('many')
    profiles.push(...home.addSession({ session }))
    home.writeToken(session, { ...tokenDoc(60), refreshToken: i < HANG ? `hang-${i}` : `rt-${i}` })
  }
  home.use({ AWS_ENDPOINT_URL_SSO_OIDC: `http://127.0.0.1:${server.address().port}` })
  const { SSOTokenProvider } = require('../..')
  // Warm the libuv pool first, so the baseline holds every thread that exists anyway.
  await Promise.all(Array.from({ length: 8 }, () => fs.promises.stat(__filename)))
  const baseline = counts()
  const providers =
    WINDOWS > 0
      ? Array.from({ length: WINDOWS }, (_, i) => {
          // The constructor's load reads the class window: each instance loads with its own.
          SSOTokenProvider.expiryWindow = 300 + i
          return new SSOTokenProvider({ profile: profiles[0], callback() {} })
        })
      : profiles.map((profile) => new SSOTokenProvider({ profile, callback() {} }))
  const peak = { ...baseline }
  const sampler = setInterval(() => {
    const now = counts()
    peak.threads = Math.max(peak.threads, now.threads)
    peak.fds = Math.max(peak.fds, now.fds)
  }, 5)
  const started = Date.now()
  let settledIn = 0
  const answered = WINDOWS > 0 ? providers : providers.slice(HANG)
  const results = await Promise.allSettled(
    answered.map((p) =>
      p.refreshPromise().finally(() => {
        if (Date.now() - started <= WITHIN_MS) settledIn += 1
      }),
    ),
  )
  const ms = Date.now() - started
  // Every session's request, hung ones included, has reached the server by now or soon.
  for (let waited = 0; calls < providers.length && WINDOWS === 0 && waited < 2000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  clearInterval(sampler)
  const ok = results.filter((r) => r.status === 'fulfilled').length
  process.stdout.write(
    `${JSON.stringify({ baseline, peak, ok, failed: results.length - ok, calls, ms, settledIn })}\n`,
  )
  // The hung sessions' requests are still open: end here rather than wait for their timeouts.
  process.exit(0)
}

main()
