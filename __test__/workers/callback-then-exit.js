'use strict'

// Starts a load and ends its script at once, leaving only the callback: the process must
// live until the callback has run, as with v2 (whose load kept its socket open).
// Prints one JSON line from the callback: { token, error }.

const { SSOTokenProvider } = require('../..')

// eslint-disable-next-line no-new
new SSOTokenProvider({
  profile: process.env.SSO_TEST_PROFILE,
  callback(err) {
    process.stdout.write(`${JSON.stringify({ error: err ? err.message : null })}\n`)
  },
})
