'use strict'

// With change detection turned off (SSO_TOKEN_PROVIDER_WATCH=off, as when no watch can be
// set up): loads a token, has the file replaced, waits, and reports which token getPromise()
// then gives. Prints one JSON line { before, after }.

const fs = require('node:fs')
const { SSOTokenProvider } = require('../..')

async function main() {
  const p = new SSOTokenProvider({ profile: process.env.SSO_TEST_PROFILE })
  await p.getPromise()
  const before = p.token
  fs.writeFileSync(process.env.SSO_TEST_FILE, process.env.SSO_TEST_NEXT)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await p.getPromise()
  process.stdout.write(`${JSON.stringify({ before, after: p.token })}\n`)
}

main()
