'use strict'

// docs/behaviour.md §6, across processes: the lock file beside the cache file and the re-read
// after taking it. Real Node child processes load the same session through the package;
// the CreateToken server runs in this process and counts the requests.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { setup, childEnv, createTokenOk, delay, runNode, lastJson, listDir } = require('./oidc-server.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_LOCK_STAYS =
  process.platform === 'win32' &&
  'on Windows the empty lock file stays after a refresh (README, Platforms); this asserts it is unlinked'
const WIN_NO_MODES =
  process.platform === 'win32' && 'POSIX file modes and inodes: Windows has none (README, Platforms)'

const WORKER = path.join(__dirname, 'workers', 'load.js')

function workerEnv(s, extra = {}) {
  return childEnv({
    HOME: s.home.home,
    AWS_ENDPOINT_URL_SSO_OIDC: s.server.url,
    SSO_TEST_PROFILE: s.profile,
    ...extra,
  })
}

async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

test('12 processes refreshing one session at once make exactly one CreateToken call', async (t) => {
  if (WIN_NO_MODES) return t.skip(WIN_NO_MODES)
  const s = await setup({
    expiresIn: 120,
    handler: async (req, res) => {
      await delay(300)
      createTokenOk(res, { accessToken: 'cross-process-token', refreshToken: 'cross-process-rt' })
    },
  })
  try {
    const env = workerEnv(s, { SSO_TEST_WAIT_GO: '1' })
    let ready = 0
    const children = Array.from({ length: 12 }, () =>
      runNode([WORKER], {
        env,
        timeoutMs: 30000,
        onLine: (line) => {
          if (line === 'ready') ready += 1
        },
      }),
    )
    // All twelve have loaded the addon; release them together.
    await until(() => ready === 12, 20000, 'the workers to start')
    for (const c of children) c.child.stdin.end('go\n')
    const results = await Promise.all(children.map((c) => c.done))

    for (const r of results) assert.equal(r.code, 0, r.stderr)
    const outs = results.map((r) => lastJson(r.stdout))
    for (const out of outs) {
      assert.equal(out.error, null, JSON.stringify(out))
      assert.equal(out.token, 'cross-process-token')
    }
    const expiries = outs.map((o) => o.expireTime)
    assert.ok(Math.max(...expiries) - Math.min(...expiries) < 1000, 'all hold the same new token')
    // They did overlap: every load started before the single response was sent.
    const responseAt = s.server.requests[0].at + 300
    assert.ok(
      outs.every((o) => o.startedAt < responseAt),
      'the loads overlapped the refresh',
    )
    assert.equal(s.server.requests.length, 1, 'exactly one CreateToken call')

    const written = JSON.parse(fs.readFileSync(s.file, 'utf8'))
    assert.equal(written.accessToken, 'cross-process-token')
    assert.equal(written.refreshToken, 'cross-process-rt')
    assert.equal(fs.statSync(s.file).mode & 0o777, 0o600)
    assert.deepEqual(
      listDir(s.home.cacheDir),
      [path.basename(s.file)],
      'lock file removed, no temp file left',
    )
  } finally {
    await s.done()
  }
})

test('a process waiting on the lock uses the token the holder wrote, without a request', async (t) => {
  if (WIN_LOCK_STAYS) return t.skip(WIN_LOCK_STAYS)
  const s = await setup({
    expiresIn: 120,
    handler: async (req, res) => {
      await delay(1500)
      createTokenOk(res, { accessToken: 'holder-token' })
    },
  })
  try {
    const env = workerEnv(s)
    const holder = runNode([WORKER], { env })
    await until(() => s.server.requests.length === 1, 15000, 'the holder to send CreateToken')
    assert.ok(fs.existsSync(`${s.file}.lock`), 'the holder keeps <cache>.json.lock while refreshing')
    const waiter = runNode([WORKER], { env })
    const [h, w] = await Promise.all([holder.done, waiter.done])
    assert.equal(h.code, 0, h.stderr)
    assert.equal(w.code, 0, w.stderr)
    assert.equal(lastJson(h.stdout).token, 'holder-token')
    const wOut = lastJson(w.stdout)
    assert.equal(wOut.error, null)
    assert.equal(wOut.token, 'holder-token')
    assert.equal(s.server.requests.length, 1, 'the waiter re-read the file instead of refreshing')
    assert.deepEqual(listDir(s.home.cacheDir), [path.basename(s.file)])
  } finally {
    await s.done()
  }
})

test('a process killed while holding the lock does not block the next one', async (t) => {
  if (WIN_LOCK_STAYS) return t.skip(WIN_LOCK_STAYS)
  const s = await setup({
    expiresIn: 120,
    handler: (req, res, record) => {
      // The first process never gets an answer: it holds the lock until it is killed.
      if (record.index === 0) return new Promise(() => {})
      createTokenOk(res, { accessToken: 'after-kill-token' })
    },
  })
  try {
    const env = workerEnv(s)
    const lockFile = `${s.file}.lock`
    const victim = runNode([WORKER], { env })
    await until(() => s.server.requests.length === 1, 15000, 'the first process to send CreateToken')
    assert.ok(fs.existsSync(lockFile), 'the lock file exists while the refresh runs')
    victim.child.kill('SIGKILL')
    const v = await victim.done
    assert.equal(v.signal, 'SIGKILL')
    assert.ok(fs.existsSync(lockFile), 'a killed holder leaves its lock file behind')

    const next = await runNode([WORKER], { env, timeoutMs: 60000 }).done
    assert.equal(next.code, 0, next.stderr)
    const out = lastJson(next.stdout)
    assert.equal(out.error, null)
    assert.equal(out.token, 'after-kill-token')
    assert.ok(out.ms < 3000, `the next process waited ${out.ms} ms for a dead holder's lock`)
    assert.ok(next.ms < 6000, `the next process took ${next.ms} ms in all`)
    assert.equal(s.server.requests.length, 2)
    assert.equal(JSON.parse(fs.readFileSync(s.file, 'utf8')).accessToken, 'after-kill-token')
    assert.equal(fs.existsSync(lockFile), false, 'the lock file is removed when released')
  } finally {
    await s.done()
  }
})
