'use strict'

// A second jest file: a fresh module registry, so the package and its addon are required
// again in the same process (and once more through jest.isolateModules).

const { fromSso } = require('sso-token-provider')
const { makeSandbox, tokenDoc } = require('../sandbox.js')

let sandbox

beforeAll(() => {
  sandbox = makeSandbox({ token: tokenDoc(3600, { accessToken: 'jest-token-from-sso' }) })
  sandbox.use()
})

afterAll(() => sandbox.cleanup())

test('fromSso() resolves the v3 token shape', async () => {
  const identity = await fromSso({ profile: 'dev' })()
  expect(identity.token).toBe('jest-token-from-sso')
  expect(identity.expiration).toBeInstanceOf(Date)
  expect(identity.expiration.toISOString()).toBe(sandbox.readToken().expiresAt)
})

test('a copy of the package from an isolated registry works too', async () => {
  let isolated
  jest.isolateModules(() => {
    isolated = require('sso-token-provider')
  })
  const identity = await isolated.fromSso({ profile: 'dev' })()
  expect(identity.token).toBe('jest-token-from-sso')
})
