'use strict'

// AWS SDK v2, one line: replace v2's own class. Everything in v2 that builds an
// AWS.SSOTokenProvider now gets ours: the default token chain of bearer-token clients, and
// SsoCredentials, which turns the SSO token of an sso-session profile into role credentials
// for every other service.
//
//   aws sso login --profile dev && AWS_PROFILE=dev AWS_SDK_LOAD_CONFIG=1 node examples/replace-v2.js
//
// The profile needs sso_account_id and sso_role_name for the SsoCredentials part.
// EXAMPLE_ENDPOINT (optional) sends the CodeCatalyst and SSO portal calls to another endpoint.

const AWS = require('aws-sdk')
const { SSOTokenProvider } = require('sso-token-provider')

AWS.SSOTokenProvider = SSOTokenProvider

async function main() {
  const endpoint = process.env.EXAMPLE_ENDPOINT
  const profile = process.env.AWS_PROFILE || 'default'

  // 1. A bearer-token client with no `token` option: v2's default token chain.
  const codecatalyst = new AWS.CodeCatalyst({ region: 'us-west-2', endpoint })
  const { items } = await codecatalyst.listSpaces({}).promise()
  console.log(`spaces: ${items.map((space) => space.name).join(', ')}`)

  // 2. Role credentials through v2's SsoCredentials (AWS_SDK_LOAD_CONFIG=1 lets v2 read
  //    ~/.aws/config). The SSO portal client must be in the profile's sso_region.
  const credentials = new AWS.SsoCredentials({
    profile,
    ssoClient: endpoint ? new AWS.SSO({ region: 'us-east-1', endpoint }) : undefined,
  })
  await credentials.getPromise()
  console.log(
    `role credentials: ${credentials.accessKeyId}, expire at ${credentials.expireTime.toISOString()}`,
  )
}

main().catch((err) => {
  console.error(`${err.code}: ${err.message}`)
  process.exitCode = 1
})
