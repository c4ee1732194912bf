// An ava test as a user of the package would write it (ESM). ava runs this file in a worker
// thread, next to the other sample file, each with its own HOME: the provider must read the
// environment of the thread that calls it, not the process's.

import test from 'ava'
import { SSOTokenProvider, fromSso } from 'sso-token-provider'
import sandboxes from '../sandbox.js'

const { makeSandbox, tokenDoc } = sandboxes
const sandbox = makeSandbox({ token: tokenDoc(3600, { accessToken: 'ava-token-one' }) })
sandbox.use() // process.env of this worker thread only

test.after.always(() => sandbox.cleanup())

test("one: loads the token of this worker's HOME", async (t) => {
  const provider = new SSOTokenProvider({ profile: 'dev' })
  await provider.getPromise()
  t.is(provider.token, 'ava-token-one')
  t.is(provider.expireTime.toISOString(), sandbox.readToken().expiresAt)
})

test('one: fromSso() and the class agree, over many concurrent loads', async (t) => {
  const identities = await Promise.all(Array.from({ length: 20 }, () => fromSso({ profile: 'dev' })()))
  for (const identity of identities) t.is(identity.token, 'ava-token-one')
})
