'use strict'

// Loads one profile with the real aws-sdk v2 AWS.SSOTokenProvider in a process of its own
// (v2 throttles refreshes process-wide for 30 s) and prints one JSON line:
// { token, expireTime (ms), error: { code, message } | null, uncaught: message | null }.
//   SSO_TEST_PROFILE        the profile
//   SSO_TEST_OIDC_ENDPOINT  where v2's SSOOIDC client sends CreateToken

process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
const AWS = require('aws-sdk')

AWS.config.ssooidc = { endpoint: process.env.SSO_TEST_OIDC_ENDPOINT }

let provider
let printed = false
function print(fields) {
  if (printed) return
  printed = true
  const out = {
    token: provider && provider.token !== undefined ? provider.token : null,
    expireTime: provider && provider.expireTime ? +provider.expireTime : null,
    error: null,
    uncaught: null,
    ...fields,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

// v2 throws from inside the CreateToken callback when a refresh of an expired token fails.
process.on('uncaughtException', (e) => print({ uncaught: e.message }))

try {
  provider = new AWS.SSOTokenProvider({
    profile: process.env.SSO_TEST_PROFILE,
    callback(err) {
      // v2 writes the cache file right after this callback returns, in the same tick.
      setImmediate(() => print({ error: err ? { code: err.code, message: err.message } : null }))
    },
  })
} catch (e) {
  print({ error: { code: e.code, message: e.message }, thrown: true })
}
