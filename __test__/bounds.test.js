'use strict'

// What a process spends on refreshes is bounded, and no refresh waits behind another
// (docs/behaviour.md §5, threads): every refresh is a task on the one network thread,
// holding no thread while it waits; writes go to at most 8 short-lived blocking threads;
// at most 512 refreshes (fewer under a low open-file limit) hold a socket and a lock file
// at once.

const assert = require('node:assert/strict')
const path = require('node:path')
const { test } = require('./helpers')
const { childEnv, lastJson, runNode } = require('./oidc-server.js')

const LINUX = process.platform !== 'linux' && 'counts threads through /proc'
const WORKER = path.join(__dirname, 'workers', 'many-refreshes.js')
// The network thread and the runtime's blocking threads.
const MAX_NEW_THREADS = 1 + 8
const MAX_IN_FLIGHT = 512

async function run(env) {
  const r = await runNode([WORKER], { env: childEnv(env), timeoutMs: 90_000 }).done
  assert.equal(r.code, 0, r.stderr)
  return lastJson(r.stdout)
}

function report(t, o) {
  t.diagnostic(
    `threads ${o.baseline.threads} -> ${o.peak.threads}, fds ${o.baseline.fds} -> ${o.peak.fds}, ` +
      `${o.ok} settled in ${o.ms} ms (${o.settledIn} within the bound)`,
  )
}

test(
  '2,000 instances with 2,000 different windows on one session: one refresh, threads bounded',
  { skip: LINUX, timeout: 90_000 },
  async (t) => {
    const o = await run({ SSO_TEST_WINDOWS: '2000', SSO_TEST_DELAY_MS: '300' })
    report(t, o)
    assert.equal(o.ok, 2000)
    assert.equal(o.calls, 1)
    assert.ok(
      o.peak.threads <= o.baseline.threads + MAX_NEW_THREADS,
      `threads ${o.baseline.threads} -> ${o.peak.threads}`,
    )
    assert.ok(o.peak.fds <= o.baseline.fds + 8, `fds ${o.baseline.fds} -> ${o.peak.fds}`)
  },
)

test(
  '2,000 sessions due at once against an endpoint that answers in 250 ms: all settle within 5 s',
  { skip: LINUX, timeout: 90_000 },
  async (t) => {
    const o = await run({ SSO_TEST_SESSIONS: '2000', SSO_TEST_DELAY_MS: '250', SSO_TEST_WITHIN_MS: '5000' })
    report(t, o)
    assert.equal(o.ok, 2000)
    assert.equal(o.calls, 2000)
    assert.equal(o.settledIn, 2000, `${o.settledIn} of 2,000 within 5 s (all in ${o.ms} ms)`)
    assert.ok(
      o.peak.threads <= o.baseline.threads + MAX_NEW_THREADS,
      `threads ${o.baseline.threads} -> ${o.peak.threads}`,
    )
    // A socket and a lock file per refresh in flight (and here the test server's end of
    // each connection, in this same process), a temp file while one writes.
    assert.ok(o.peak.fds <= o.baseline.fds + 3 * MAX_IN_FLIGHT + 32, `fds ${o.baseline.fds} -> ${o.peak.fds}`)
  },
)

test(
  'a healthy session settles within 1 s while 8 others wait on an endpoint that never answers',
  { skip: LINUX, timeout: 90_000 },
  async (t) => {
    const o = await run({
      SSO_TEST_SESSIONS: '9',
      SSO_TEST_HANG: '8',
      SSO_TEST_DELAY_MS: '0',
      SSO_TEST_WITHIN_MS: '1000',
    })
    report(t, o)
    assert.equal(o.ok, 1)
    assert.equal(o.calls, 9, 'the hung sessions asked too')
    assert.equal(o.settledIn, 1, `the healthy session took ${o.ms} ms`)
  },
)
