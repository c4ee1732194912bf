'use strict'

// A jest test as a user of the package would write it.

const { SSOTokenProvider } = require('sso-token-provider')
const { makeSandbox, tokenDoc } = require('../sandbox.js')

let sandbox

beforeAll(() => {
  sandbox = makeSandbox({ token: tokenDoc(3600, { accessToken: 'jest-token-provider' }) })
  sandbox.use() // HOME of this test file's process object
})

afterAll(() => sandbox.cleanup())

test('loads the cached token with the promise API', async () => {
  const provider = new SSOTokenProvider({ profile: 'dev' })
  await provider.getPromise()
  expect(provider.token).toBe('jest-token-provider')
  expect(provider.expireTime.toISOString()).toBe(sandbox.readToken().expiresAt)
  expect(provider.needsRefresh()).toBe(false)
})

test('reports a missing profile to the callback', (done) => {
  new SSOTokenProvider({
    profile: 'nope',
    callback(err) {
      expect(err.code).toBe('SSOTokenProviderFailure')
      // v2's text, then the file it looked in.
      expect(err.message).toBe(`Profile "nope" not found in config file "${sandbox.configPath}"`)
      done()
    },
  })
})
