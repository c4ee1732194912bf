'use strict'

// Many loads in one process, to catch leaks of memory or file descriptors. Run with
// `node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16`: a fixed young
// generation, else V8 growing it (heapTotal 13 -> 21 -> 38 MB under this allocation rate)
// shows up in RSS as a fake leak of up to 25 MB. Sets up its own temporary HOME with one session (valid token) shared
// by BATCH profiles, makes BATCH instances and calls refreshPromise() on all of them
// together, batch after batch: every call is a full load in Rust (config, cache file).
//   SOAK_WARMUP  loads before the first measurement (default 10000)
//   SOAK_LOADS   loads measured (default 100000)
//   SOAK_ERRORS  then this many failing loads (missing cache file), measured too after a
//                warm-up of a tenth as many (default 0)
//   SOAK_BATCH   concurrent loads per batch (default 100)
// Prints one JSON line with the figures (bytes, counts, ms).

const fs = require('node:fs')
const { makeHome, uniqueName, tokenDoc, useHome } = require('../oidc-server.js')

const WARMUP = Number(process.env.SOAK_WARMUP || 10000)
const LOADS = Number(process.env.SOAK_LOADS || 100000)
const ERRORS = Number(process.env.SOAK_ERRORS || 0)
const BATCH = Number(process.env.SOAK_BATCH || 100)

function settle() {
  for (let i = 0; i < 4; i++) global.gc()
}

function measure() {
  settle()
  const m = process.memoryUsage()
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    fds: fs.readdirSync('/proc/self/fd').length,
  }
}

async function run(providers, loads) {
  let ok = 0
  let failed = 0
  let firstError = null
  for (let done = 0; done < loads; done += providers.length) {
    const results = await Promise.allSettled(providers.map((p) => p.refreshPromise()))
    for (const r of results) {
      if (r.status === 'fulfilled') ok += 1
      else {
        failed += 1
        if (!firstError) firstError = r.reason.message
      }
    }
  }
  return { ok, failed, firstError }
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc')
  const home = makeHome()
  const session = uniqueName('soak')
  const profiles = home.addSession({
    session,
    profiles: Array.from({ length: BATCH }, (_, i) => `${session}-p${i}`),
  })
  const doc = tokenDoc(24 * 3600)
  home.writeToken(session, doc)
  const missing = uniqueName('missing')
  const missingProfiles = home.addSession({
    session: missing,
    profiles: Array.from({ length: BATCH }, (_, i) => `${missing}-p${i}`),
  })
  useHome(home.home)
  const { SSOTokenProvider } = require('../..')
  const providers = profiles.map((profile) => new SSOTokenProvider({ profile }))

  const t0 = Date.now()
  const warm = await run(providers, WARMUP)
  const atWarm = measure()
  const t1 = Date.now()
  const main = await run(providers, LOADS)
  const t2 = Date.now()
  const atEnd = measure()
  let errors = null
  let atErrorWarm = null
  let atErrors = null
  if (ERRORS > 0) {
    const failing = missingProfiles.map((profile) => new SSOTokenProvider({ profile, callback() {} }))
    await run(failing, Math.max(BATCH, ERRORS / 10))
    atErrorWarm = measure()
    const t3 = Date.now()
    errors = await run(failing, ERRORS)
    errors.ms = Date.now() - t3
    atErrors = measure()
  }
  const tokensOk = providers.every((p) => p.token === doc.accessToken)
  home.cleanup()
  process.stdout.write(
    `${JSON.stringify({ warm, main, errors, warmMs: t1 - t0, loadsMs: t2 - t1, atWarm, atEnd, atErrorWarm, atErrors, tokensOk })}\n`,
  )
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ crashed: String((e && e.stack) || e) })}\n`)
  process.exitCode = 3
})
