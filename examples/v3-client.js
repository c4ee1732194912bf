'use strict'

// AWS SDK v3: fromSso() is a token provider for the `token` option of any v3 client that
// takes bearer tokens; the same engine as the v2 class.
//
//   aws sso login --profile dev && AWS_PROFILE=dev node examples/v3-client.js
//
// EXAMPLE_ENDPOINT (optional) sends the CodeCatalyst call to another endpoint.

const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')
const { fromSso } = require('sso-token-provider')

async function main() {
  const client = new CodeCatalystClient({
    region: 'us-west-2',
    endpoint: process.env.EXAMPLE_ENDPOINT,
    token: fromSso({ profile: process.env.AWS_PROFILE || 'default' }),
  })
  try {
    const { items } = await client.send(new ListSpacesCommand({}))
    console.log(`spaces: ${items.map((space) => space.name).join(', ')}`)
  } finally {
    client.destroy()
  }
}

main().catch((err) => {
  console.error(`${err.code || err.name}: ${err.message}`)
  process.exitCode = 1
})
