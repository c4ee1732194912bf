'use strict'

// The v2 callback API: the constructor starts loading at once; its callback fires when the
// load ends (token and expireTime are set then, not when `new` returns).
//
//   aws sso login --profile dev && AWS_PROFILE=dev node examples/callback.js

const { SSOTokenProvider } = require('sso-token-provider')

const provider = new SSOTokenProvider({
  profile: process.env.AWS_PROFILE || 'default',
  callback(err) {
    if (err) {
      console.error(`${err.code}: ${err.message}`)
      process.exitCode = 1
      return
    }
    console.log(`profile ${provider.profile}: token expires at ${provider.expireTime.toISOString()}`)

    // Later on, get() loads again only when the token is within expiryWindow of expiring.
    provider.get((err) => {
      if (err) throw err
      console.log(`needs refresh: ${provider.needsRefresh()}`)
    })
  },
})
