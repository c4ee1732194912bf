'use strict'

// The one temporary-home builder and environment rule of the tests, the samples and the
// benchmark: a real ~/.aws/config and real SSO cache files in a temporary folder, and an
// environment from which every AWS, home and proxy setting of the machine is removed.
// No side effects on require: the jest and ava samples load it too.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const START_URL = 'https://d-1234567890.awsapps.com/start'

// What could make a load read outside the temporary home, pick another profile, or send
// the refresh somewhere else: every AWS_ variable, the other home variables, proxies.
const CLEARED = /^(AWS_|USERPROFILE$|HOMEPATH$|HOMEDRIVE$|HTTPS?_PROXY$|NO_PROXY$|EXAMPLE_ENDPOINT$)/i

/**
 * `env` without what CLEARED names, with `extra` on top (a value of undefined removes the
 * variable). v2's end-of-support banner is turned off.
 */
function cleanEnv(env, extra = {}) {
  const out = {}
  for (const [name, value] of Object.entries(env)) if (!CLEARED.test(name)) out[name] = value
  out.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete out[name]
    else out[name] = value
  }
  return out
}

/** Applies cleanEnv to this process (or worker thread): the environment of a load. */
function useEnv(extra = {}) {
  const next = cleanEnv(process.env, extra)
  for (const name of Object.keys(process.env)) if (!(name in next)) delete process.env[name]
  Object.assign(process.env, next)
}

const sha1 = (key) => crypto.createHash('sha1').update(key, 'utf8').digest('hex')

/** ISO-8601 (UTC, `Z`) timestamp `seconds` from now. */
const isoIn = (seconds) => new Date(Date.now() + seconds * 1000).toISOString()

// The provider throttles and remembers refreshed tokens per cache file per process: a test
// that refreshes uses a session name of its own.
let counter = 0
function uniqueName(prefix = 'sess') {
  counter += 1
  return `${prefix}-${process.pid}-${counter}-${crypto.randomBytes(3).toString('hex')}`
}

const tempDirs = new Set()
let exitHook = false
function tempDir(prefix = 'sso-token-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
    })
  }
  return dir
}

function toBytes(value) {
  if (Buffer.isBuffer(value) || typeof value === 'string') return value
  return JSON.stringify(value, null, 2)
}

/** The `[profile P] -> [sso-session S]` config text (`default` as `[default]`). */
function sessionConfig({
  profile = 'dev',
  profiles,
  session = 'my-sso',
  startUrl = START_URL,
  region = 'us-east-1',
} = {}) {
  let text = ''
  for (const p of profiles || [profile]) {
    text += `${p === 'default' ? '[default]' : `[profile ${p}]`}\nsso_session = ${session}\n\n`
  }
  return `${text}[sso-session ${session}]\nsso_start_url = ${startUrl}\nsso_region = ${region}\n\n`
}

/**
 * A temporary home. `config` (string or Buffer) becomes ~/.aws/config; `tokens` maps cache
 * keys (session names, or start URLs of legacy profiles) to cache files: objects as
 * two-space JSON, strings and Buffers byte for byte, mode 0600 as the AWS CLI writes them.
 */
function makeHome({ config, tokens, prefix } = {}) {
  const home = tempDir(prefix)
  const awsDir = path.join(home, '.aws')
  const cacheDir = path.join(awsDir, 'sso', 'cache')
  fs.mkdirSync(cacheDir, { recursive: true })
  const configPath = path.join(awsDir, 'config')
  const cachePath = (key) => path.join(cacheDir, `${sha1(key)}.json`)
  const h = {
    home,
    awsDir,
    cacheDir,
    configPath,
    cachePath,
    writeConfig(text) {
      fs.writeFileSync(configPath, text)
    },
    /** Appends profiles pointing to a new sso-session; returns the profile names. */
    addSession({ session, profiles = [`${session}-profile`], region, startUrl }) {
      fs.appendFileSync(configPath, sessionConfig({ profiles, session, region, startUrl }))
      return profiles
    },
    /** Replaces the cache file of `key` (a new file, so a new inode); returns its path. */
    writeToken(key, value, { mode = 0o600 } = {}) {
      const file = cachePath(key)
      fs.rmSync(file, { force: true })
      fs.writeFileSync(file, toBytes(value), { mode })
      fs.chmodSync(file, mode)
      return file
    },
    readToken(key) {
      return JSON.parse(fs.readFileSync(cachePath(key), 'utf8'))
    },
    /** The environment of a child process loading from this home. */
    env(extra = {}) {
      return cleanEnv(process.env, { HOME: home, ...extra })
    },
    /** Points this process (or worker thread) at this home. */
    use(extra = {}) {
      useEnv({ HOME: home, ...extra })
    },
    cleanup() {
      tempDirs.delete(home)
      fs.rmSync(home, { recursive: true, force: true })
    },
  }
  if (config !== undefined) h.writeConfig(config)
  for (const [key, value] of Object.entries(tokens || {})) h.writeToken(key, value)
  return h
}

/**
 * A refreshable cache document expiring in `expiresIn` seconds, with unknown keys before,
 * between and after the known ones (they must survive a write-back in place).
 */
function tokenDoc(expiresIn, overrides = {}) {
  const tag = crypto.randomBytes(4).toString('hex')
  return {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken: `old-access-${tag}`,
    expiresAt: isoIn(expiresIn),
    customBefore: { nested: [1, 2, 3], flag: true },
    clientId: `client-id-${tag}`,
    clientSecret: `client-secret-${tag}-SECRET`,
    registrationExpiresAt: isoIn(90 * 24 * 3600),
    refreshToken: `refresh-token-${tag}-RT`,
    zzUnknownLast: 'kept',
    ...overrides,
  }
}

/** Asserts the SSOTokenProviderFailure shape and (string or RegExp) message. */
function assertFailure(err, message) {
  assert.ok(err instanceof Error, `expected an Error, got ${err}`)
  assert.equal(err.code, 'SSOTokenProviderFailure')
  assert.equal(err.name, 'SSOTokenProviderFailure')
  assert.ok(err.time instanceof Date, 'error.time must be a Date')
  if (typeof message === 'string') assert.equal(err.message, message)
  else if (message instanceof RegExp) assert.match(err.message, message)
}

module.exports = {
  START_URL,
  cleanEnv,
  useEnv,
  sha1,
  isoIn,
  uniqueName,
  tempDir,
  sessionConfig,
  makeHome,
  tokenDoc,
  assertFailure,
}
