'use strict'

// Many refreshes due at once in one process, against a slow loopback CreateToken server:
// SSO_TEST_SESSIONS sessions (one instance each), or one session loaded by
// SSO_TEST_WINDOWS instances that each have their own expiryWindow. Samples the thread and
// fd counts of this process while the refreshes are pending and prints one JSON line:
// { baseline: { threads, fds }, peak: { threads, fds }, ok, failed, calls }.

const fs = require('node:fs')
const http = require('node:http')
const { makeHome, tokenDoc, uniqueName } = require('../support/home.js')

const SESSIONS = Number(process.env.SSO_TEST_SESSIONS || 0)
const WINDOWS = Number(process.env.SSO_TEST_WINDOWS || 0)
const DELAY_MS = Number(process.env.SSO_TEST_DELAY_MS || 200)

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
    req.resume()
    req.on('end', () => {
      calls += 1
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ accessToken: `new-${calls}`, expiresIn: 3600 }))
      }, DELAY_MS)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const home = makeHome()
  const profiles = []
  for (let i = 0; i < Math.max(SESSIONS, 1); i++) {
    const session = uniqueName('many')
    profiles.push(...home.addSession({ session }))
    home.writeToken(session, tokenDoc(60))
  }
  home.use({ AWS_ENDPOINT_URL_SSO_OIDC: `http://127.0.0.1:${server.address().port}` })
  const { SSOTokenProvider } = require('../..')
  // Warm the addon and the libuv pool first, so the baseline holds every thread that
  // exists anyway.
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
  const results = await Promise.allSettled(providers.map((p) => p.refreshPromise()))
  clearInterval(sampler)
  server.close()
  const ok = results.filter((r) => r.status === 'fulfilled').length
  process.stdout.write(`${JSON.stringify({ baseline, peak, ok, failed: results.length - ok, calls })}\n`)
  process.exit(0)
}

main()
