'use strict'

// Changes on disk reach a running provider (docs/behaviour.md §4.8): a cache file replaced,
// rewritten in place or deleted by another process, and a config file pointing the profile
// at another session, are seen by the next call, with no disk read per call while nothing
// changes. One watch per folder per process, for every instance, polled at the call.

const assert = require('node:assert/strict')
const async_hooks = require('node:async_hooks')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { test } = require('./helpers')
const { assertFailure, delay, lastJson, runNode, setup, tokenDoc, uniqueName } = require('./oidc-server.js')

const LINUX = process.platform !== 'linux' && 'counts inotify watches through /proc'

/** Calls getPromise() every 20 ms until `done(provider, error)` or 1 s; resolves the ms taken. */
async function seenWithin(provider, done) {
  const start = Date.now()
  while (Date.now() - start < 1000) {
    const err = await provider.getPromise().then(
      () => null,
      (e) => e,
    )
    if (done(provider, err)) return Date.now() - start
    await delay(20)
  }
  assert.fail('not seen within 1 s')
}

async function loaded(s) {
  const { SSOTokenProvider } = require('..')
  const p = new SSOTokenProvider({ profile: s.profile })
  await p.getPromise()
  assert.equal(p.token, s.doc.accessToken)
  return p
}

/** `doc` written by another process, the way `how` says. */
function writeFromAnotherProcess(file, doc, how) {
  const code = {
    rename: `fs.writeFileSync(f + '.new', d); fs.renameSync(f + '.new', f)`,
    'in place': `fs.writeFileSync(f, d)`,
    delete: `fs.rmSync(f)`,
  }[how]
  execFileSync(process.execPath, [
    '-e',
    `const fs = require('fs'); const f = ${JSON.stringify(file)}; const d = ${JSON.stringify(JSON.stringify(doc))}; ${code}`,
  ])
}

for (const how of ['rename', 'in place']) {
  test(`a cache file replaced by another process (${how}) is seen by the next get() within 1 s`, async (t) => {
    const s = await setup({ expiresIn: 3600 })
    try {
      const p = await loaded(s)
      const next = tokenDoc(7200, { accessToken: `new-login-${how}` })
      writeFromAnotherProcess(s.file, next, how)
      const ms = await seenWithin(p, (provider) => provider.token === next.accessToken)
      t.diagnostic(`seen after ${ms} ms`)
      assert.equal(+p.expireTime, Date.parse(next.expiresAt))
      assert.equal(s.server.requests.length, 0)
    } finally {
      await s.done()
    }
  })
}

test('a cache file deleted by another process (aws sso logout): the next get() fails as v2 says', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const p = await loaded(s)
    writeFromAnotherProcess(s.file, null, 'delete')
    let failure
    await seenWithin(p, (provider, err) => (failure = err))
    assertFailure(
      failure,
      `Cached token not found. Please log in using "aws sso login" for profile "${s.profile}".`,
    )
  } finally {
    await s.done()
  }
})

test('a config file that points the profile at another session is seen within 1 s', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const p = await loaded(s)
    const other = uniqueName('other')
    const otherDoc = tokenDoc(3600, { accessToken: 'other-session-token' })
    s.home.writeToken(other, otherDoc)
    const text = fs.readFileSync(s.home.configPath, 'utf8')
    const edited = `${text.replace(`sso_session = ${s.session}`, `sso_session = ${other}`)}[sso-session ${other}]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\n`
    execFileSync(process.execPath, [
      '-e',
      `require('fs').writeFileSync(${JSON.stringify(s.home.configPath)}, ${JSON.stringify(edited)})`,
    ])
    await seenWithin(p, (provider) => provider.token === otherDoc.accessToken)
  } finally {
    await s.done()
  }
})

test('a file written just before the load is not taken as changed: the next get() calls back before it returns', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const { SSOTokenProvider } = require('..')
    // The file is seconds old at most, and the load reads it at once.
    s.home.writeToken(s.session, tokenDoc(3600, { accessToken: 'just-written' }))
    const p = new SSOTokenProvider({ profile: s.profile })
    await p.getPromise()
    let called = false
    p.get(() => (called = true))
    assert.equal(called, true, 'answered from memory, as v2 answers a warm get()')
    assert.equal(p.token, 'just-written')
  } finally {
    await s.done()
  }
})

test(
  'a write completed by another process before refreshPromise() is always seen: 10,000 rounds, rename and in place',
  { timeout: 240_000 },
  async (t) => {
    const s = await setup({ expiresIn: 3600 })
    const writer = runNode([path.join(__dirname, 'workers', 'writer.js'), s.file], { timeoutMs: 240_000 })
    try {
      const p = await loaded(s)
      const lines = []
      let wake = null
      writer.child.stdout.setEncoding('utf8')
      let pending = ''
      writer.child.stdout.on('data', (d) => {
        pending += d
        let i
        while ((i = pending.indexOf('\n')) >= 0) {
          lines.push(pending.slice(0, i))
          pending = pending.slice(i + 1)
          if (wake) wake()
        }
      })
      const ack = () =>
        lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => (wake = r)).then(ack)
      const ROUNDS = Number(process.env.SSO_TEST_ROUNDS || 10_000)
      let stale = 0
      const start = Date.now()
      for (let i = 0; i < ROUNDS; i++) {
        const token = `round-${i}`
        writer.child.stdin.write(`${i % 2 ? 'in-place' : 'rename'} ${token}\n`)
        assert.equal(await ack(), 'ok')
        await p.refreshPromise()
        if (p.token !== token) stale += 1
      }
      t.diagnostic(`${ROUNDS} rounds in ${Date.now() - start} ms, ${stale} stale`)
      assert.equal(stale, 0)
    } finally {
      writer.child.stdin.end()
      await writer.done
      await s.done()
    }
  },
)

test('a new instance of a profile this process holds unchanged is answered without a trip off the JS thread', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const { SSOTokenProvider } = require('..')
    await loaded(s)
    // Every asynchronous resource the construction creates: work for the libuv pool (or a
    // thread's answer coming back) would be one of them.
    const types = new Set()
    const hook = async_hooks.createHook({ init: (id, type) => types.add(type) }).enable()
    await new Promise((resolve) => {
      new SSOTokenProvider({
        profile: s.profile,
        callback: (err) => {
          hook.disable()
          assert.equal(err, null)
          resolve()
        },
      })
    })
    assert.deepEqual(
      [...types].filter((t) => !['Immediate', 'TickObject', 'PROMISE'].includes(t)),
      [],
      [...types].join(', '),
    )
  } finally {
    await s.done()
  }
})

// A call that read the files would read their ~500 bytes each time: 50 MB over 100,000.
// What a reload counts instead is the event loop's own eventfd reads (8 bytes per wake-up,
// as the garbage collector's tasks come back), well under a byte per call.
for (const [method, what, limit] of [
  ['getPromise', 'warm calls', 512],
  ['refreshPromise', 'reloads', 100_000],
]) {
  test(`while nothing changes, 100,000 ${what} read nothing from disk`, { skip: LINUX }, async () => {
    const s = await setup({ expiresIn: 3600 })
    try {
      const p = await loaded(s)
      const rchar = () => Number(/rchar:\s*(\d+)/.exec(fs.readFileSync('/proc/self/io', 'latin1'))[1])
      const a = rchar()
      const b = rchar()
      for (let i = 0; i < 100_000; i++) await p[method]()
      const read = rchar() - b - (b - a)
      assert.ok(read < limit, `${read} bytes read`)
    } finally {
      await s.done()
    }
  })
}

test(
  '1,000 instances over 10 profiles of one home share two watches (one inotify fd)',
  { skip: LINUX },
  async () => {
    const s = await setup({
      expiresIn: 3600,
      profiles: Array.from({ length: 10 }, (_, i) => uniqueName(`w${i}`)),
    })
    try {
      const { SSOTokenProvider } = require('..')
      const watches = () => {
        let n = 0
        for (const fd of fs.readdirSync('/proc/self/fd')) {
          let target = ''
          try {
            target = fs.readlinkSync(`/proc/self/fd/${fd}`)
          } catch {}
          if (target === 'anon_inode:inotify')
            n += fs
              .readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
              .split('\n')
              .filter((l) => l.startsWith('inotify wd:')).length
        }
        return n
      }
      const before = watches()
      const providers = Array.from(
        { length: 1000 },
        (_, i) => new SSOTokenProvider({ profile: s.profiles[i % 10] }),
      )
      await Promise.all(providers.map((p) => p.getPromise()))
      const added = watches() - before
      assert.ok(added <= 2, `${added} watches for the cache folder and the config folder`)
    } finally {
      await s.done()
    }
  },
)

test('without a watch (turned off, as where none can be set up): the token in memory until the window', async () => {
  const s = await setup({ expiresIn: 3600 })
  try {
    const next = tokenDoc(7200, { accessToken: 'not-seen' })
    const r = await runNode([path.join(__dirname, 'workers', 'no-watch.js')], {
      env: s.home.env({
        SSO_TOKEN_PROVIDER_WATCH: 'off',
        SSO_TEST_PROFILE: s.profile,
        SSO_TEST_FILE: s.file,
        SSO_TEST_NEXT: JSON.stringify(next),
      }),
    }).done
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(lastJson(r.stdout), { before: s.doc.accessToken, after: s.doc.accessToken })
    const cli = await runNode(
      [path.join(__dirname, '..', 'bin', 'sso-token.js'), '--profile', s.profile, '--json'],
      {
        env: s.home.env({ SSO_TOKEN_PROVIDER_WATCH: 'off' }),
      },
    ).done
    assert.equal(JSON.parse(cli.stdout).changeDetection, 'none (turned off by SSO_TOKEN_PROVIDER_WATCH)')
  } finally {
    await s.done()
  }
})
