'use strict'

// A Rust panic inside a load must cost that load, never the Node process. The panic comes
// from the test-only build (scripts/build-test-hooks.js); releases have no such export.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const hooks = require(path.join(__dirname, '.hooks', 'test-hooks.node'))
const { SSOTokenProvider } = require('..')

test('a panic on the worker thread becomes a failed load and the process lives on', async () => {
  const result = await hooks.__panicOnWorkerForTests()
  assert.equal(result.ok, false)
  assert.equal(result.message, 'Internal error in sso-token-provider (provoked by a test); please report it')
  // The pool and the addon still work afterwards.
  const again = await hooks.__panicOnWorkerForTests()
  assert.equal(again.ok, false)
  process.env.HOME = '/nonexistent-home-for-panic-test'
  delete process.env.AWS_CONFIG_FILE
  const err = await new SSOTokenProvider({ profile: 'after-panic' }).getPromise().catch((e) => e)
  assert.match(err.message, /^Profile "after-panic" not found in config file /)
})

test('the released binding has no test-only export', () => {
  assert.equal(require('../binding.js').__panicOnWorkerForTests, undefined)
})
