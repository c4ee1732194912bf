'use strict'

// Gets a token in the advisory band (a refresh ahead of need starts, against a server that
// never answers) and then has nothing left to do: the process must end at once, neither
// waiting for the refresh nor leaving a half-written file. Prints one JSON line.

const { SSOTokenProvider } = require('../..')

async function main() {
  const p = new SSOTokenProvider({ profile: process.env.SSO_TEST_PROFILE })
  const t0 = Date.now()
  await p.getPromise()
  process.stdout.write(`${JSON.stringify({ token: p.token, ms: Date.now() - t0 })}\n`)
}

main()
