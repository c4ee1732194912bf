'use strict'

// Run under libfaketime (LD_PRELOAD, FAKETIME_DONT_FAKE_MONOTONIC=1, FAKETIME_NO_CACHE=1,
// FAKETIME_TIMESTAMP_FILE holding "+0"): the wall clock of this process can be moved while
// it runs, the monotonic clock (libuv timers) stays real.
// 1. A due refresh fails (400): one CreateToken, the throttle starts.
// 2. The wall clock is set back SOAK_JUMP seconds (e.g. -3600: NTP or a VM resume).
// 3. 31 s of real time later, the token is due again (written in the new wall-clock time):
//    the throttle (30 s) is over, so a new attempt must go out.
// Prints one JSON line: { first, second, secondError, jumpedBy }, request counts after each load.

const fs = require('node:fs')
const { setup, sendJson, construct, tokenDoc } = require('../oidc-server.js')

async function main() {
  const s = await setup({
    expiresIn: 120,
    profiles: ['clock-a', 'clock-b'],
    handler: (req, res) => sendJson(res, 400, { error: 'invalid_grant', error_description: 'try later' }),
  })
  try {
    const a = await construct('clock-a')
    const first = s.server.requests.length
    if (a.err) throw a.err
    const before = Date.now()
    fs.writeFileSync(process.env.FAKETIME_TIMESTAMP_FILE, `${process.env.SOAK_JUMP || '-3600'}\n`)
    const jumpedBy = Math.round((Date.now() - before) / 1000)
    await new Promise((resolve) => setTimeout(resolve, 31000))
    const { clientId, clientSecret, refreshToken } = s.doc
    s.home.writeToken(s.session, tokenDoc(120, { clientId, clientSecret, refreshToken }))
    const b = await construct('clock-b')
    const out = {
      first,
      second: s.server.requests.length,
      secondError: b.err ? b.err.message : null,
      jumpedBy,
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  } finally {
    await s.done()
  }
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ crashed: String((e && e.stack) || e) })}\n`)
  process.exitCode = 3
})
