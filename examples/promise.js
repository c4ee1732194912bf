'use strict'

// The promise API. getPromise() loads when needsRefresh() (within expiryWindow, 300 s, of
// expiring); a token inside the window is refreshed through SSO OIDC CreateToken and written
// back to ~/.aws/sso/cache. refreshPromise() re-reads the config and cache files from disk.
//
//   aws sso login --profile dev && AWS_PROFILE=dev node examples/promise.js

const { SSOTokenProvider } = require('sso-token-provider')

async function main() {
  const provider = new SSOTokenProvider({ profile: process.env.AWS_PROFILE || 'default' })
  await provider.getPromise()
  const minutes = Math.round((provider.expireTime - Date.now()) / 60000)
  console.log(`profile ${provider.profile}: token valid for ${minutes} more minutes`)

  await provider.refreshPromise()
  console.log(`re-read from disk, expires at ${provider.expireTime.toISOString()}`)
}

main().catch((err) => {
  console.error(`${err.code}: ${err.message}`)
  process.exitCode = 1
})
