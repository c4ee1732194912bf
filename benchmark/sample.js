'use strict'

// One benchmark sample in a fresh process:
//
//   node benchmark/sample.js <v2|ours> <row> '<json options>'
//
// The parent (run.js) has already written the config and cache files into a temporary
// HOME. The sample measures one row, checks what it loaded, and prints one JSON line:
// { ok, metrics } or { ok: false, error }. A fresh process per sample keeps the module
// cache, v2's process-wide ini cache and its 30-second refresh throttle out of the
// numbers. Only core modules are loaded before the measured require.

const fs = require('node:fs')
const path = require('node:path')
const { performance, monitorEventLoopDelay } = require('node:perf_hooks')

const [impl, row, rawOptions] = process.argv.slice(2)
const options = JSON.parse(rawOptions || '{}')

/** Loads the implementation under test; returns { Provider, AWS } (AWS for v2 only). */
function loadImpl() {
  if (impl === 'ours') return { Provider: require(path.join(__dirname, '..')).SSOTokenProvider }
  if (impl === 'v2') {
    const AWS = require('aws-sdk')
    return { Provider: AWS.SSOTokenProvider, AWS }
  }
  throw new Error(`unknown implementation "${impl}"`)
}

/** Constructs a provider and resolves it once the eager load's callback has fired. */
function construct(Provider, profile) {
  return new Promise((resolve, reject) => {
    const p = new Provider({
      profile,
      callback: (err) => (err ? reject(err) : resolve(p)),
    })
  })
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`)
}

function checkToken(p, expected, when) {
  // Never print the token values themselves, only whether they match.
  check(p.token === expected, `token ${when} is not the cache file's accessToken`)
}

// /proc/self/io `rchar` counts bytes read by every thread of the process (libuv's pool
// included), from files, pipes and eventfds alike. A reading shows the count before that
// read itself, so the bytes read since a mark are the count now, less the mark's count and
// the mark's own read.
const ioFd = fs.openSync('/proc/self/io', 'r')
const ioBuf = Buffer.alloc(512)
function mark() {
  const n = fs.readSync(ioFd, ioBuf, 0, ioBuf.length, 0)
  return { rchar: Number(/rchar:\s*(\d+)/.exec(ioBuf.toString('latin1', 0, n))[1]), bytes: n }
}
function readSince(m) {
  return mark().rchar - m.rchar - m.bytes
}

/** Runs `fn` in batches until `durationMs` have passed; resolves { n, ms }. */
async function loopFor(durationMs, batch, fn) {
  let n = 0
  const t0 = performance.now()
  let now = t0
  while (now - t0 < durationMs) {
    for (let i = 0; i < batch; i++) await fn()
    n += batch
    now = performance.now()
  }
  return { n, ms: now - t0 }
}

const rows = {
  // Row 1: wall time and RSS added by the require alone.
  async require() {
    const rss0 = process.memoryUsage.rss()
    const t0 = performance.now()
    const { Provider } = loadImpl()
    const t1 = performance.now()
    const rss1 = process.memoryUsage.rss()
    // Not measured, only checked: the module that was timed must load the right token.
    checkToken(await construct(Provider, options.profile), options.expect, 'after the require')
    return { requireMs: t1 - t0, rssMB: (rss1 - rss0) / 2 ** 20 }
  },

  // Row 2: what a short-lived CLI or Lambda cold start pays: require, construct, callback.
  async 'first-token'() {
    const t0 = performance.now()
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    const ms = performance.now() - t0
    checkToken(p, options.expect, 'after the first load')
    return { ms }
  },

  // Row 3: the path every SDK request takes: a valid token already in memory.
  async 'warm-get'() {
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    for (let i = 0; i < 1000; i++) await p.getPromise() // let V8 optimize before timing
    const io0 = mark()
    const { n, ms } = await loopFor(options.durationMs, 256, () => p.getPromise())
    const bytesRead = readSince(io0)
    checkToken(p, options.expect, 'after the warm loop')
    return { opsPerSec: (n / ms) * 1000, bytesRead }
  },

  // Row 4: forced reloads, one after another, then 64 at once on one instance.
  async reload() {
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    const { n, ms } = await loopFor(options.durationMs, 8, () => p.refreshPromise())
    checkToken(p, options.expect, 'after back-to-back reloads')
    const all64 = () => Promise.all(Array.from({ length: 64 }, () => p.refreshPromise()))
    await all64() // warm-up batch
    const io0 = mark()
    const t0 = performance.now()
    await all64()
    const batchMs = performance.now() - t0
    const bytes = readSince(io0)
    checkToken(p, options.expect, 'after 64 concurrent reloads')
    // What a design that reads off the JS thread pays at least: one libuv pool round trip
    // doing almost nothing, measured in this same process.
    const pool = await loopFor(options.durationMs / 2, 8, () => fs.promises.stat(__filename))
    // Ours only: the least a reload of unchanged files can cost here, one non-blocking poll of
    // the change notifications answered in the next turn of the event loop, as
    // refreshPromise() answers.
    let floorPerSec
    if (impl === 'ours') {
      const binding = require(path.join(__dirname, '..', 'binding.js'))
      const poll = () =>
        new Promise((resolve) => {
          binding.changes()
          setImmediate(resolve)
        })
      const floor = await loopFor(options.durationMs / 2, 8, poll)
      floorPerSec = (floor.n / floor.ms) * 1000
    }
    return {
      opsPerSec: (n / ms) * 1000,
      bytesPerCall64: bytes / 64,
      batch64Ms: batchMs,
      poolRoundTripsPerSec: (pool.n / pool.ms) * 1000,
      floorPerSec,
    }
  },

  // Row 4b: many providers of one profile, as a server that makes one per request does,
  // once a first one has loaded the token.
  async instances() {
    const { Provider } = loadImpl()
    await construct(Provider, options.profile)
    for (let i = 0; i < 100; i++) await construct(Provider, options.profile) // warm-up
    const t0 = performance.now()
    const all = await Promise.all(
      Array.from({ length: options.count }, () => construct(Provider, options.profile)),
    )
    const ms = performance.now() - t0
    for (const p of all) checkToken(p, options.expect, 'of a new instance')
    return { ms }
  },

  // Row 5: reloads of one profile out of a 1.4 MB config.
  async 'big-config'() {
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    const { n, ms } = await loopFor(options.durationMs, 1, () => p.refreshPromise())
    checkToken(p, options.expect, 'after big-config reloads')
    return { opsPerSec: (n / ms) * 1000 }
  },

  // Row 6: how much the reloads hold up everything else on the event loop.
  async 'loop-delay'() {
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    let ticks = 0
    histogram.enable()
    const interval = setInterval(() => ticks++, 1)
    // The histogram records a delay only between two of its own timer runs: let it run
    // once first, or a loop blocked from the start would record nothing (reset() would
    // forget that first run too, so the few idle samples of this wait stay in).
    await new Promise((resolve) => setTimeout(resolve, 3))
    ticks = 0
    const t0 = performance.now()
    for (let i = 0; i < options.count; i++) await p.refreshPromise()
    const elapsedMs = performance.now() - t0
    const seen = ticks
    clearInterval(interval)
    // A loop blocked until now has not recorded that delay yet: the histogram's timer
    // records it when it next fires, so give it a few turns before reading.
    await new Promise((resolve) => setTimeout(resolve, 5))
    histogram.disable()
    checkToken(p, options.expect, 'after the reloads')
    return {
      maxMs: histogram.max / 1e6,
      p99Ms: histogram.percentile(99) / 1e6,
      tickShare: Math.min(1, seen / elapsedMs),
      elapsedMs,
    }
  },

  // Row 7: a token inside the refresh window, refreshed against a loopback CreateToken
  // server, until the callback and the write-back to the cache file.
  async refresh() {
    const { Provider, AWS } = loadImpl()
    // v2 has no endpoint variable for SSO OIDC; its service-specific config does it.
    // CreateToken is an unauthenticated operation, so no credentials are needed.
    if (AWS) AWS.config.ssooidc = { endpoint: options.endpoint }
    const t0 = performance.now()
    const p = await construct(Provider, options.profile)
    const callbackMs = performance.now() - t0
    checkToken(p, options.expect, 'after the refresh')
    // Both write the file before calling back; poll only in case one does not, and then
    // count the time until the file is written.
    let written = readAccessToken(options.cachePath) === options.expect
    let ms = callbackMs
    const deadline = performance.now() + 2000
    while (!written && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      written = readAccessToken(options.cachePath) === options.expect
      ms = performance.now() - t0
    }
    check(written, 'the refreshed token was not written back to the cache file')
    return { ms, callbackMs }
  },
}

Object.assign(rows, {
  // Row 8: every getPromise() of a loop that runs while the token enters v2's window,
  // against a CreateToken that takes 200 ms: v2's one call that refreshes waits for it.
  async 'across-expiry'() {
    const { Provider, AWS } = loadImpl()
    if (AWS) AWS.config.ssooidc = { endpoint: options.endpoint }
    const p = await construct(Provider, options.profile)
    const latencies = []
    const t0 = performance.now()
    while (performance.now() - t0 < options.runMs) {
      const a = performance.now()
      await p.getPromise()
      latencies.push(performance.now() - a)
      // A turn of the event loop now and then, as a server between requests has.
      if (latencies.length % 64 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    checkToken(p, options.expect, 'after the refresh')
    latencies.sort((x, y) => x - y)
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
    return {
      p50Us: at(0.5) * 1000,
      p99Us: at(0.99) * 1000,
      maxMs: latencies[latencies.length - 1],
      calls: latencies.length,
    }
  },

  // Row 9: another process replaces the cache file (a new `aws sso login`); how long until
  // getPromise() gives its token (v2: not before the window), then the bytes 100,000 warm
  // calls read.
  async 'new-login'() {
    const { Provider } = loadImpl()
    const p = await construct(Provider, options.profile)
    for (let i = 0; i < 1000; i++) await p.getPromise()
    const doc = JSON.parse(fs.readFileSync(options.cachePath, 'utf8'))
    const next = JSON.stringify({
      ...doc,
      accessToken: options.next,
      expiresAt: new Date(Date.now() + 7200e3).toISOString(),
    })
    const code = `const fs = require('fs'); const f = ${JSON.stringify(options.cachePath)}; fs.writeFileSync(f + '.new', ${JSON.stringify(next)}); fs.renameSync(f + '.new', f)`
    require('node:child_process').execFileSync(process.execPath, ['-e', code])
    const t0 = performance.now()
    let seenMs = Infinity
    while (performance.now() - t0 < 3000) {
      await p.getPromise()
      if (p.token === options.next) {
        seenMs = performance.now() - t0
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    if (impl === 'ours') check(seenMs < Infinity, 'the new login was not seen')
    const io0 = mark()
    for (let i = 0; i < 100000; i++) await p.getPromise()
    const bytesRead = readSince(io0)
    return { seenMs, bytesRead }
  },
})

function readAccessToken(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).accessToken
  } catch {
    return undefined // a missing or half-written file is simply "not yet"
  }
}

async function main() {
  const run = rows[row]
  if (!run) throw new Error(`unknown row "${row}"`)
  const metrics = await run()
  process.stdout.write(JSON.stringify({ ok: true, metrics }) + '\n')
}

main().then(
  () => process.exit(0), // do not wait for v2's keep-alive sockets or timers
  (err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String((err && err.message) || err) }) + '\n')
    process.exit(1)
  },
)
