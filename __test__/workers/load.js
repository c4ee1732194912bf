'use strict'

// Loads one profile with our SSOTokenProvider in a process of its own and prints one JSON
// line: { pid, token, expireTime (ms), error: { code, message } | null, startedAt, ms }.
//   SSO_TEST_PROFILE   the profile
//   SSO_TEST_WAIT_GO=1 print "ready", then wait for a line on stdin before loading, so that
//                      many processes can be started first and released together
// The constructor starts a load; refreshPromise() joins it, as a v2 caller would do.

const { SSOTokenProvider } = require('../..')

function waitForGo() {
  return new Promise((resolve) => {
    process.stdin.once('data', () => {
      process.stdin.pause()
      resolve()
    })
    process.stdout.write('ready\n')
  })
}

async function main() {
  if (process.env.SSO_TEST_WAIT_GO === '1') await waitForGo()
  const startedAt = Date.now()
  const provider = new SSOTokenProvider({ profile: process.env.SSO_TEST_PROFILE })
  let error = null
  try {
    await provider.refreshPromise()
  } catch (e) {
    error = { code: e.code, message: e.message }
  }
  const out = {
    pid: process.pid,
    token: provider.token === undefined ? null : provider.token,
    expireTime: provider.expireTime ? +provider.expireTime : null,
    error,
    startedAt,
    ms: Date.now() - startedAt,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ crashed: String((e && e.stack) || e) })}\n`)
  process.exitCode = 3
})
