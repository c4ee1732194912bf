'use strict'

// Files that are not what they should be (docs/behaviour.md §2, §3, §6): a FIFO or a device
// in place of the config file, the cache file or the CA bundle, a config of any size, a
// symlinked lock file, an answer that would make a cache file the reader refuses, and the
// temp files of a writer killed before its rename. Each is a clear error or a safe
// outcome, fast, with no file created or left where it should not be.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('./helpers')
const {
  REFRESH_FAILED,
  assertFailure,
  construct,
  createTokenOk,
  listDir,
  runNode,
  setup,
  ROOT,
} = require('./oidc-server.js')

const POSIX = process.platform === 'win32' && 'FIFOs, devices, symlinks and pids are POSIX here'

function mkfifo(file) {
  execFileSync('mkfifo', [file])
}

/** A load in a child process, so that a hang shows as a timeout, not a wedged test file. */
async function loadInChild(s, profile, extra = {}) {
  const r = await runNode([path.join(__dirname, 'workers', 'load.js')], {
    env: s.home.env({ SSO_TEST_PROFILE: profile, AWS_ENDPOINT_URL_SSO_OIDC: s.server.url, ...extra }),
    timeoutMs: 10_000,
  }).done
  assert.equal(r.signal, null, `the load hung: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

test('a FIFO as the config file: a clear error at once, and the process exits', { skip: POSIX }, async () => {
  const s = await setup()
  try {
    fs.rmSync(s.home.configPath)
    mkfifo(s.home.configPath)
    const start = Date.now()
    const out = await loadInChild(s, s.profile)
    assert.equal(
      out.error.message,
      `Config file "${s.home.configPath}" could not be read: not a regular file`,
    )
    assert.ok(Date.now() - start < 5000)
  } finally {
    await s.done()
  }
})

test(
  'a FIFO as the cache file: a clear error at once; other fs calls are not held up',
  { skip: POSIX },
  async () => {
    const s = await setup()
    try {
      fs.rmSync(s.file)
      mkfifo(s.file)
      const loads = Array.from({ length: 8 }, () => construct(s.profile))
      // Every libuv thread would be stuck in open(2) if a load blocked on the FIFO.
      await fs.promises.stat(ROOT)
      for (const r of await Promise.all(loads)) {
        assertFailure(r.err, `Cached token file "${s.file}" could not be read: not a regular file`)
      }
    } finally {
      await s.done()
    }
  },
)

test('/dev/zero as AWS_CONFIG_FILE: a clear error at once, no memory eaten', { skip: POSIX }, async () => {
  const s = await setup()
  try {
    const out = await loadInChild(s, s.profile, { AWS_CONFIG_FILE: '/dev/zero' })
    assert.equal(out.error.message, 'Config file "/dev/zero" could not be read: not a regular file')
  } finally {
    await s.done()
  }
})

test('a config file over 32 MiB is refused; one of 20 MB with the profile at its end loads', async () => {
  const s = await setup()
  try {
    const text = fs.readFileSync(s.home.configPath, 'utf8')
    const filler = `; ${'x'.repeat(1021)}\n`.repeat(20 * 1024)
    fs.writeFileSync(s.home.configPath, filler + text)
    const r = await construct(s.profile)
    assert.equal(r.err, null, r.err && r.err.message)
    fs.writeFileSync(s.home.configPath, filler + filler + text)
    assertFailure(
      (await construct(s.profile)).err,
      `Config file "${s.home.configPath}" is too large (over 32 MiB)`,
    )
  } finally {
    await s.done()
  }
})

test(
  'a FIFO as AWS_CA_BUNDLE fails the refresh at once and stalls no other session',
  { skip: POSIX },
  async () => {
    const s = await setup({ expiresIn: -10 })
    try {
      const fifo = path.join(s.home.home, 'bundle.pem')
      mkfifo(fifo)
      const out = await loadInChild(s, s.profile, {
        AWS_CA_BUNDLE: fifo,
        AWS_ENDPOINT_URL_SSO_OIDC: 'https://127.0.0.1:9',
      })
      assert.equal(
        out.error.message,
        `${REFRESH_FAILED} (cannot use AWS_CA_BUNDLE file ${fifo}: not a regular file)`,
      )
      assert.ok(out.ms < 3000, `${out.ms} ms`)
    } finally {
      await s.done()
    }
  },
)

test(
  'a dangling symlink as the lock file: nothing is created at its target, the refresh still happens',
  { skip: POSIX },
  async () => {
    const s = await setup({ expiresIn: 60 })
    try {
      const target = path.join(s.home.home, 'planted-target')
      fs.symlinkSync(target, `${s.file}.lock`)
      const r = await construct(s.profile)
      assert.equal(r.err, null, r.err && r.err.message)
      assert.equal(r.provider.token, 'new-access-token')
      assert.equal(fs.existsSync(target), false)
      assert.equal(s.home.readToken(s.session).accessToken, 'new-access-token')
    } finally {
      await s.done()
    }
  },
)

test('an answer that would make the cache file over 1 MiB is served from memory, never written', async () => {
  // The answer stays under its own 1 MiB cap; the file, with the other keys, would not.
  const huge = 'a'.repeat(1024 * 1024 - 200)
  const s = await setup({ expiresIn: 60, handler: (req, res) => createTokenOk(res, { accessToken: huge }) })
  try {
    const r = await construct(s.profile)
    assert.equal(r.err, null, r.err && r.err.message)
    assert.ok(r.provider.token === huge, 'the new token is served')
    assert.ok(fs.readFileSync(s.file, 'utf8') === s.before.bytes, 'the file is left as it was')
    // Another process still reads the file and gets the old, still valid token.
    const out = await loadInChild(s, s.profile, { AWS_ENDPOINT_URL_SSO_OIDC: 'http://127.0.0.1:9' })
    assert.equal(out.error, null)
    assert.equal(out.token, s.doc.accessToken)
  } finally {
    await s.done()
  }
})

test('a temp file left beside the cache file is removed under the lock, whoever left it (a zombie, a reused pid)', async () => {
  const s = await setup({ expiresIn: 60 })
  try {
    const name = path.basename(s.file)
    // What a writer killed between its write and its rename leaves, tokens and all.
    const leftover = path.join(s.home.cacheDir, `.${name}.tmp`)
    // Another session's temp file is that session's lock holder's business.
    const other = path.join(s.home.cacheDir, '.0123456789abcdef0123456789abcdef01234567.json.tmp')
    for (const f of [leftover, other]) fs.writeFileSync(f, '{"accessToken":"leaked"}', { mode: 0o600 })
    const r = await construct(s.profile)
    assert.equal(r.err, null, r.err && r.err.message)
    assert.equal(r.provider.token, 'new-access-token')
    assert.deepEqual(listDir(s.home.cacheDir), [path.basename(other), name].sort())
  } finally {
    await s.done()
  }
})
