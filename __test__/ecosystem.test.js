'use strict'

// The package where users put it, beyond SDK v2 (v2 is covered by v2-client.test.js):
//   - SDK v3: fromSso() as the `token` option of a real v3 client, including a refresh;
//   - ESM: `import ... from 'sso-token-provider'` resolved by package name;
//   - the `sso-token` command: help, exit codes, the --json keys, AWS_PROFILE;
//   - users' test runners: jest (a module registry per file, one process) and ava (test files
//     in worker threads, each with its own process.env), on the samples in __test__/samples.
// Every test runs against a temporary HOME and loopback servers (__test__/samples/sandbox.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { makeSandbox, startServer, tokenDoc } = require('./samples/sandbox.js')
const { messages } = require('./helpers.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_SYMLINK =
  process.platform === 'win32' &&
  'links the package in with a directory symlink (a privilege on Windows) and expects POSIX paths'
const WIN_NPX = process.platform === 'win32' && 'starts npx without a shell: on Windows it is npx.cmd'

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'bin', 'sso-token.js')

/** Runs a command without blocking this process's servers: { code, stdout, stderr, ms }. */
function run(file, args, { env, cwd = ROOT, timeout = 60_000 } = {}) {
  const start = Date.now()
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env, cwd, timeout, encoding: 'utf8', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ code, stdout, stderr, ms: Date.now() - start, signal: err && err.signal })
      },
    )
  })
}

const node = (args, opts) => run(process.execPath, args, opts)

// The v3 tests point this process at a sandbox; each puts the environment back afterwards.
function useSandbox(t, sandbox, extra) {
  const saved = { ...process.env }
  sandbox.use(extra)
  t.after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
}

// ---------------------------------------------------------------------------------------
// SDK v3

test('SDK v3: fromSso() as the token of a CodeCatalystClient sends our token as Bearer', async (t) => {
  const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')
  const { fromSso } = require('sso-token-provider')
  const doc = tokenDoc(3600)
  const sandbox = makeSandbox({ token: doc })
  const server = await startServer()
  const client = new CodeCatalystClient({
    region: 'us-west-2',
    endpoint: server.url,
    token: fromSso({ profile: 'dev' }),
    maxAttempts: 1,
  })
  try {
    useSandbox(t, sandbox)
    const out = await client.send(new ListSpacesCommand({}))
    assert.deepEqual(
      out.items.map((s) => s.name),
      ['space-a'],
    )
    await client.send(new ListSpacesCommand({}))
    const calls = server.to('POST /v1/spaces')
    assert.equal(calls.length, 2)
    for (const call of calls) assert.equal(call.headers.authorization, `Bearer ${doc.accessToken}`)
    assert.equal(server.to('POST /token').length, 0, 'a token valid for an hour is never refreshed')
  } finally {
    client.destroy()
    await server.close()
    sandbox.cleanup()
  }
})

test('SDK v3: a token inside the window is refreshed through AWS_ENDPOINT_URL_SSO_OIDC first', async (t) => {
  const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')
  const { fromSso } = require('sso-token-provider')
  const doc = tokenDoc(60, { refreshable: true })
  const sandbox = makeSandbox({ token: doc })
  const oidc = await startServer({ 'POST /token': () => [200, { accessToken: 'new', expiresIn: 3600 }] })
  const service = await startServer()
  const client = new CodeCatalystClient({
    region: 'us-west-2',
    endpoint: service.url,
    token: fromSso({ profile: 'dev' }),
    maxAttempts: 1,
  })
  try {
    useSandbox(t, sandbox, { AWS_ENDPOINT_URL_SSO_OIDC: oidc.url })
    await client.send(new ListSpacesCommand({}))
    assert.equal(service.to('POST /v1/spaces')[0].headers.authorization, 'Bearer new')

    assert.equal(oidc.requests.length, 1)
    assert.equal(oidc.requests[0].path, '/token')
    assert.deepEqual(oidc.requests[0].json, {
      clientId: doc.clientId,
      clientSecret: doc.clientSecret,
      grantType: 'refresh_token',
      refreshToken: doc.refreshToken,
    })
    assert.equal(service.to('POST /token').length, 0, 'the refresh went to the SSO OIDC endpoint only')

    const written = sandbox.readToken()
    assert.equal(written.accessToken, 'new')
    assert.equal(written.refreshToken, doc.refreshToken, 'the refresh token is kept')
    assert.ok(Date.parse(written.expiresAt) > Date.now() + 3500e3)
  } finally {
    client.destroy()
    await oidc.close()
    await service.close()
    sandbox.cleanup()
  }
})

test('SDK v3: a failed load rejects the command with our error, before any request', async (t) => {
  const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')
  const { fromSso } = require('sso-token-provider')
  const sandbox = makeSandbox() // a profile, no cached token
  const server = await startServer()
  const client = new CodeCatalystClient({
    region: 'us-west-2',
    endpoint: server.url,
    token: fromSso({ profile: 'dev' }),
    maxAttempts: 1,
  })
  try {
    useSandbox(t, sandbox)
    await assert.rejects(client.send(new ListSpacesCommand({})), (err) => {
      assert.equal(err.code, 'SSOTokenProviderFailure')
      assert.equal(
        err.message,
        'Cached token not found. Please log in using "aws sso login" for profile "dev".',
      )
      return true
    })
    assert.equal(server.requests.length, 0)
  } finally {
    client.destroy()
    await server.close()
    sandbox.cleanup()
  }
})

// ---------------------------------------------------------------------------------------
// ESM

test('ESM: import { SSOTokenProvider, fromSso } from "sso-token-provider" loads a token', async (t) => {
  if (WIN_SYMLINK) return t.skip(WIN_SYMLINK)
  const doc = tokenDoc(3600)
  const sandbox = makeSandbox({ token: doc })
  // A user's project: node_modules/sso-token-provider -> this checkout.
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-esm-project-'))
  try {
    fs.mkdirSync(path.join(project, 'node_modules'))
    fs.symlinkSync(ROOT, path.join(project, 'node_modules', 'sso-token-provider'), 'dir')
    const code = `
      import { createRequire } from 'node:module'
      import pkg, { SSOTokenProvider, fromSso, ERROR_CODE } from 'sso-token-provider'
      const provider = new SSOTokenProvider({ profile: 'dev' })
      await provider.getPromise()
      const identity = await fromSso({ profile: 'dev' })()
      const cjs = createRequire(import.meta.url)('sso-token-provider')
      console.log(JSON.stringify({
        token: provider.token,
        expireTime: provider.expireTime.toISOString(),
        fromSso: identity.token,
        expiration: identity.expiration.toISOString(),
        errorCode: ERROR_CODE,
        sameModule: pkg === cjs && SSOTokenProvider === cjs.SSOTokenProvider,
        resolved: import.meta.resolve('sso-token-provider'),
      }))
    `
    const r = await node(['--input-type=module', '-e', code], { cwd: project, env: sandbox.env() })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(out, {
      token: doc.accessToken,
      expireTime: doc.expiresAt,
      fromSso: doc.accessToken,
      expiration: doc.expiresAt,
      errorCode: 'SSOTokenProviderFailure',
      sameModule: true,
      resolved: `file://${path.join(ROOT, 'index.mjs')}`, // the symlink's target, as node resolves it
    })
  } finally {
    fs.rmSync(project, { recursive: true, force: true })
    sandbox.cleanup()
  }
})

// ---------------------------------------------------------------------------------------
// The sso-token command

const JSON_KEYS = [
  'profile',
  'session',
  'startUrl',
  'region',
  'cachePath',
  'expiresAt',
  'secondsLeft',
  'refreshed',
  'refreshNote',
  'writeError',
  'changeDetection',
]

test('sso-token --help: exit 0, every option and the exit codes', async (t) => {
  const sandbox = makeSandbox()
  t.after(() => sandbox.cleanup())
  for (const flag of ['--help', '-h']) {
    const r = await node([CLI, flag], { env: sandbox.env() })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Usage: sso-token /)
    for (const option of ['--profile NAME', '--refresh', '--json', '--show-token', '--help']) {
      assert.ok(r.stdout.includes(option), `--help does not list ${option}`)
    }
    assert.match(r.stdout, /Exit codes: 0 token available, 1 no usable token[^,]*, 2 usage error/)
    assert.equal(r.stderr, '')
  }
})

test('sso-token: exit 2 and the usage on stderr for a bad argument', async (t) => {
  const sandbox = makeSandbox()
  t.after(() => sandbox.cleanup())
  const env = sandbox.env()
  for (const args of [['--bogus'], ['--profile'], ['--json', 'extra']]) {
    const r = await node([CLI, ...args], { env })
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^sso-token: unknown or incomplete argument: /)
    assert.match(r.stderr, /Usage: sso-token /)
  }
})

test('sso-token --json: exactly the documented keys; the token only with --show-token', async () => {
  const doc = tokenDoc(3600)
  const sandbox = makeSandbox({ token: doc })
  try {
    const r = await node([CLI, '--profile', 'dev', '--json'], { env: sandbox.env() })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(out), JSON_KEYS)
    assert.ok(out.secondsLeft > 3500 && out.secondsLeft <= 3600, `secondsLeft ${out.secondsLeft}`)
    assert.deepEqual(
      { ...out, secondsLeft: 0 },
      {
        profile: 'dev',
        session: sandbox.session,
        startUrl: 'https://d-0000000000.awsapps.com/start',
        region: 'us-east-1',
        cachePath: sandbox.cachePath,
        expiresAt: doc.expiresAt,
        secondsLeft: 0,
        refreshed: false,
        refreshNote: null,
        writeError: null,
        changeDetection: 'watch',
      },
    )
    assert.ok(!r.stdout.includes(doc.accessToken), 'the token is printed without --show-token')

    const shown = await node([CLI, '--profile=dev', '--json', '--show-token'], { env: sandbox.env() })
    assert.equal(shown.code, 0, shown.stderr)
    const withToken = JSON.parse(shown.stdout)
    assert.deepEqual(Object.keys(withToken), [...JSON_KEYS, 'token'])
    assert.equal(withToken.token, doc.accessToken)

    // The text form: the same facts, no token.
    const text = await node([CLI, '--profile', 'dev'], { env: sandbox.env() })
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^profile: +dev$/m)
    assert.ok(text.stdout.includes(sandbox.cachePath))
    assert.ok(!text.stdout.includes(doc.accessToken))
  } finally {
    sandbox.cleanup()
  }
})

test('sso-token: exit 1 when the profile is missing or the token has expired', async () => {
  const sandbox = makeSandbox({ token: tokenDoc(-60) }) // expired, no refresh keys
  try {
    const missing = await node([CLI, '--profile', 'nope', '--json'], { env: sandbox.env() })
    assert.equal(missing.code, 1)
    const notFound = messages.profileNotFound('nope', sandbox.configPath)
    assert.deepEqual(JSON.parse(missing.stdout), {
      profile: 'nope',
      error: { code: 'SSOTokenProviderFailure', message: notFound },
    })
    assert.equal(missing.stderr, `sso-token: ${notFound}\n`)

    const expired = await node([CLI, '--profile', 'dev'], { env: sandbox.env() })
    assert.equal(expired.code, 1)
    assert.equal(expired.stdout, '')
    assert.match(
      expired.stderr,
      /^sso-token: Key "(clientId|clientSecret|refreshToken)" not present in SSO Token, and the token has expired; log in again with "aws sso login --profile dev"\n$/,
    )

    sandbox.writeToken(tokenDoc(3600))
    const ok = await node([CLI, '--profile', 'dev'], { env: sandbox.env() })
    assert.equal(ok.code, 0, 'the same profile after a new login')
  } finally {
    sandbox.cleanup()
  }
})

test('sso-token reads the profile from AWS_PROFILE; --profile wins over it', async () => {
  const doc = tokenDoc(3600)
  const sandbox = makeSandbox({ profile: 'from-env', token: doc })
  try {
    const r = await node([CLI, '--json'], { env: sandbox.env({ AWS_PROFILE: 'from-env' }) })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).profile, 'from-env')
    assert.equal(JSON.parse(r.stdout).expiresAt, doc.expiresAt)

    const without = await node([CLI, '--json'], { env: sandbox.env() })
    assert.equal(without.code, 1)
    assert.equal(
      JSON.parse(without.stdout).error.message,
      messages.profileNotFound('default', sandbox.configPath),
    )
    const wrong = await node([CLI, '--json'], { env: sandbox.env({ AWS_PROFILE: 'typo' }) })
    assert.equal(
      JSON.parse(wrong.stdout).error.message,
      messages.profileNotFound('typo', sandbox.configPath, { fromEnv: true }),
    )

    const empty = await node([CLI, '--json'], { env: sandbox.env({ AWS_PROFILE: '' }) })
    assert.equal(JSON.parse(empty.stdout).profile, 'default', 'an empty AWS_PROFILE counts as unset')

    const overridden = await node([CLI, '--json', '--profile', 'other'], {
      env: sandbox.env({ AWS_PROFILE: 'from-env' }),
    })
    assert.equal(overridden.code, 1)
    assert.equal(JSON.parse(overridden.stdout).profile, 'other')
  } finally {
    sandbox.cleanup()
  }
})

// ---------------------------------------------------------------------------------------
// Users' test runners

test('jest: two test files in one process (a module registry each) pass', { skip: WIN_NPX }, async () => {
  const config = path.join(__dirname, 'samples', 'jest', 'jest.config.js')
  const r = await run('npx', ['--no', '--', 'jest', '--config', config, '--runInBand', '--ci', '--json'], {
    env: { ...process.env, CI: '1' },
    timeout: 120_000,
  })
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  const report = JSON.parse(r.stdout)
  assert.equal(report.success, true)
  assert.equal(report.numTotalTestSuites, 2)
  assert.equal(report.numPassedTests, 4)
  assert.equal(report.numFailedTests, 0)
  const files = report.testResults.map((t) => path.basename(t.name)).sort()
  assert.deepEqual(files, ['from-sso.spec.js', 'provider.spec.js'])
})

test('ava: two test files in worker threads, each with its own HOME, pass', { skip: WIN_NPX }, async () => {
  const config = path.join(__dirname, 'samples', 'ava', 'ava.config.mjs')
  const r = await run('npx', ['--no', '--', 'ava', '--config', config], {
    env: { ...process.env, CI: '1' },
    timeout: 120_000,
  })
  const output = `${r.stdout}\n${r.stderr}`
  assert.equal(r.code, 0, output)
  assert.match(output, /\b4 tests passed\b/)
  for (const name of ['one', 'two']) {
    assert.ok(output.includes(`${name}: loads the token of this worker's HOME`), output)
  }
})
