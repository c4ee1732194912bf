'use strict'

// What a process spends on refreshes is bounded (docs/behaviour.md §5): refreshes run on
// at most 8 engine threads, shared by cache file whatever the options of the loads. Each
// may have one more, short-lived thread of its own while ureq resolves the endpoint's
// name under a timeout. Each
// may have one more, short-lived thread of its own while ureq resolves the endpoint's
// name under a timeout.

const assert = require('node:assert/strict')
const path = require('node:path')
const { test } = require('./helpers')
const { childEnv, lastJson, runNode } = require('./oidc-server.js')

const LINUX = process.platform !== 'linux' && 'counts threads through /proc'
const WORKER = path.join(__dirname, 'workers', 'many-refreshes.js')
const MAX_REFRESH_THREADS = 8

async function run(env) {
  const r = await runNode([WORKER], { env: childEnv(env), timeoutMs: 60_000 }).done
  assert.equal(r.code, 0, r.stderr)
  return lastJson(r.stdout)
}

test(
  '2,000 instances with 2,000 different windows on one session: one refresh, one thread',
  { skip: LINUX, timeout: 60_000 },
  async (t) => {
    const o = await run({ SSO_TEST_WINDOWS: '2000', SSO_TEST_DELAY_MS: '300' })
    t.diagnostic(`threads ${o.baseline.threads} -> ${o.peak.threads}, fds ${o.baseline.fds} -> ${o.peak.fds}`)
    assert.equal(o.ok, 2000)
    assert.equal(o.calls, 1)
    assert.ok(o.peak.threads <= o.baseline.threads + 1, `threads ${o.baseline.threads} -> ${o.peak.threads}`)
    assert.ok(o.peak.fds <= o.baseline.fds + 8, `fds ${o.baseline.fds} -> ${o.peak.fds}`)
  },
)

test(
  '300 sessions due at once: at most 8 refresh threads (and their lookups), every refresh done',
  { skip: LINUX, timeout: 60_000 },
  async (t) => {
    const o = await run({ SSO_TEST_SESSIONS: '300', SSO_TEST_DELAY_MS: '100' })
    t.diagnostic(`threads ${o.baseline.threads} -> ${o.peak.threads}, fds ${o.baseline.fds} -> ${o.peak.fds}`)
    assert.equal(o.ok, 300)
    assert.equal(o.calls, 300)
    assert.ok(
      o.peak.threads <= o.baseline.threads + 2 * MAX_REFRESH_THREADS,
      `threads ${o.baseline.threads} -> ${o.peak.threads}`,
    )
    assert.ok(
      o.peak.fds <= o.baseline.fds + 4 * MAX_REFRESH_THREADS,
      `fds ${o.baseline.fds} -> ${o.peak.fds}`,
    )
  },
)
