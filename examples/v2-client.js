'use strict'

// AWS SDK v2: our provider as the `token` option of a bearer-token client.
//
//   aws sso login --profile dev && AWS_PROFILE=dev node examples/v2-client.js
//
// EXAMPLE_ENDPOINT (optional) sends the CodeCatalyst call to another endpoint.

const AWS = require('aws-sdk')
const { SSOTokenProvider } = require('sso-token-provider')

async function main() {
  const codecatalyst = new AWS.CodeCatalyst({
    region: 'us-west-2',
    endpoint: process.env.EXAMPLE_ENDPOINT,
    token: new SSOTokenProvider({ profile: process.env.AWS_PROFILE || 'default' }),
  })
  const { items } = await codecatalyst.listSpaces({}).promise()
  console.log(`spaces: ${items.map((space) => space.name).join(', ')}`)
}

main().catch((err) => {
  console.error(`${err.code}: ${err.message}`)
  process.exitCode = 1
})
