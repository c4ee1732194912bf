'use strict'

// `sso-token login` and `sso-token logout` as a new user runs them (docs/behaviour.md §10):
// `npx sso-token login` with no AWS CLI on PATH, then v2 and v3 clients (the SDKs' own token
// providers and ours) using the token; `sso-token logout` making them say "log in"; Ctrl-C;
// the browser opened with the platform's opener and an argument array; the device flow
// where no browser can be opened.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const test = require('node:test')
const { makeHome, sessionConfig, uniqueName, tempDir, assertFailure } = require('./support/home.js')
const { startIdentityCenter, playBrowser, get, listening } = require('./support/identity-center.js')
const { runNode } = require('./oidc-server.js')
const { messages } = require('./helpers.js')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'sso-token.js')
const START_URL = 'https://d-1234567890.awsapps.com/start'

async function scenario() {
  const session = uniqueName('cli')
  const home = makeHome({ config: sessionConfig({ profile: 'dev', session, startUrl: START_URL }) })
  const ic = await startIdentityCenter()
  const extra = {
    AWS_ENDPOINT_URL_SSO_OIDC: ic.url,
    AWS_ENDPOINT_URL_SSO: ic.url,
    DISPLAY: undefined,
    WAYLAND_DISPLAY: undefined,
  }
  return {
    home,
    ic,
    session,
    tokenPath: home.cachePath(session),
    env: (more = {}) => home.env({ ...extra, ...more }),
    use: () => home.use(extra),
    async done() {
      await ic.close()
      home.cleanup()
    },
  }
}

/** `node args…` (the helpers' runNode), resolved when it ends. */
function run(args, { env, cwd = ROOT, onLine }) {
  return runNode(args, { env, cwd, onLine }).done
}

/**
 * A project that depends on the package, as a user's app does: `node_modules/.bin/sso-token`
 * is what `npx sso-token` runs.
 */
function project() {
  const dir = tempDir('sso-token-app-')
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n')
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true })
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'sso-token-provider'), 'dir')
  fs.symlinkSync(
    '../sso-token-provider/bin/sso-token.js',
    path.join(dir, 'node_modules', '.bin', 'sso-token'),
  )
  return dir
}

test(
  'npx sso-token login with no AWS CLI on PATH; v2 and v3 clients get the token; sso-token logout makes them say "log in"',
  { skip: process.platform === 'win32' && 'a POSIX PATH and symlinked node_modules' },
  async (t) => {
    const s = await scenario()
    try {
      const nodeDir = path.dirname(process.execPath)
      assert.equal(fs.existsSync(path.join(nodeDir, 'aws')), false, 'no aws on this PATH')
      const app = project()
      const npxEnv = s.env({
        PATH: nodeDir,
        npm_config_update_notifier: 'false',
        npm_config_cache: path.join(s.home.home, '.npm'),
      })
      const started = Date.now()
      let browser
      // npx itself (a Node script), started as the shell would start it.
      const npx = fs.realpathSync(path.join(nodeDir, process.platform === 'win32' ? 'npx.cmd' : 'npx'))
      const out = await run([npx, '--no-install', 'sso-token', 'login', '--profile', 'dev', '--no-browser'], {
        env: npxEnv,
        cwd: app,
        onLine(line) {
          if (line.includes('/authorize?')) browser = playBrowser(line.trim())
        },
      })
      t.diagnostic(`npx sso-token login end to end: ${Date.now() - started} ms`)
      assert.equal(out.code, 0, out.stderr)
      assert.equal((await browser).status, 200)
      assert.match(
        out.stdout,
        /^Browser will not be automatically opened\.\nPlease visit the following URL:\n\nhttp:\/\/127\.0\.0\.1:\d+\/authorize\?/,
      )
      assert.match(out.stdout, new RegExp(`\nSuccessfully logged into Start URL: ${START_URL}\n$`))
      const token = JSON.parse(fs.readFileSync(s.tokenPath, 'utf8')).accessToken
      assert.equal(
        out.stdout.includes(token) || out.stderr.includes(token),
        false,
        'the token is never printed',
      )

      // The apps: this process, pointed at the same home.
      s.use()
      const AWS = require('aws-sdk')
      const { CodeCatalystClient, ListSpacesCommand } = require('@aws-sdk/client-codecatalyst')
      const v3 = require('@aws-sdk/token-providers')
      const ours = require(ROOT)
      const v2Client = (provider) =>
        new AWS.CodeCatalyst({ token: provider, endpoint: s.ic.url, region: 'us-west-2', maxRetries: 0 })
      const v3Client = (provider) =>
        new CodeCatalystClient({ token: provider, endpoint: s.ic.url, region: 'us-west-2', maxAttempts: 1 })
      const v2Own = new AWS.SSOTokenProvider({ profile: 'dev' })
      const oursV2 = new ours.SSOTokenProvider({ profile: 'dev' })
      assert.deepEqual((await v2Client(v2Own).listSpaces({}).promise()).items, [])
      assert.deepEqual((await v2Client(oursV2).listSpaces({}).promise()).items, [])
      assert.equal(oursV2.token, token)
      assert.deepEqual(
        (await v3Client(v3.fromSso({ profile: 'dev' })).send(new ListSpacesCommand({}))).items,
        [],
      )
      assert.deepEqual(
        (await v3Client(ours.fromSso({ profile: 'dev' })).send(new ListSpacesCommand({}))).items,
        [],
      )
      const bearers = s.ic.calls('POST /v1/spaces').map((r) => r.headers.authorization)
      assert.deepEqual(bearers, Array(4).fill(`Bearer ${token}`))

      const gone = await run([BIN, 'logout'], { env: s.env() })
      assert.equal(gone.code, 0, gone.stderr)
      assert.equal(gone.stdout, 'Signed out: 1 cached file removed.\n')
      assert.deepEqual(s.ic.loggedOut, [token])
      assert.equal(fs.existsSync(s.tokenPath), false)

      await new Promise((resolve) => setTimeout(resolve, 5))
      const logIn = 'Cached token not found. Please log in using "aws sso login" for profile "dev".'
      await assert.rejects(oursV2.getPromise(), (err) => (assertFailure(err, logIn), true))
      await assert.rejects(ours.fromSso({ profile: 'dev' })(), (err) => (assertFailure(err, logIn), true))
      await assert.rejects(v3.fromSso({ profile: 'dev' })(), /aws sso login/)
      // v2's own provider holds the token in memory; the service has ended the session.
      await assert.rejects(v2Client(v2Own).listSpaces({}).promise(), { statusCode: 401 })
    } finally {
      await s.done()
    }
  },
)

test('Ctrl-C ends sso-token login: exit 130, the listener closed, nothing written', async () => {
  const s = await scenario()
  try {
    let port
    const out = await run([BIN, 'login', '--profile', 'dev', '--no-browser'], {
      env: s.env(),
      onLine(line, child) {
        if (!line.includes('/authorize?')) return
        port = Number(new URL(new URL(line.trim()).searchParams.get('redirect_uri')).port)
        child.kill('SIGINT')
      },
    })
    assert.equal(out.code, 130)
    assert.equal(out.stderr, 'sso-token: Sign-in aborted\n')
    assert.equal(await listening(port), false)
    assert.deepEqual(fs.readdirSync(s.home.cacheDir), [])
  } finally {
    await s.done()
  }
})

test(
  'the browser is opened with the platform opener and the URL as its one argument; no display means the device flow',
  { skip: process.platform !== 'linux' && 'xdg-open is the Linux opener' },
  async () => {
    const s = await scenario()
    try {
      // A stand-in xdg-open that records how it was started.
      const bin = tempDir('sso-token-opener-')
      const opened = path.join(bin, 'opened')
      fs.writeFileSync(
        path.join(bin, 'xdg-open'),
        `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > "${opened}.tmp" && mv "${opened}.tmp" "${opened}"\n`,
        { mode: 0o755 },
      )
      const env = s.env({ DISPLAY: ':99', PATH: `${bin}:${process.env.PATH}` })
      let printed
      const waitOpened = async () => {
        while (!fs.existsSync(opened)) await new Promise((resolve) => setTimeout(resolve, 20))
        const [count, url] = fs.readFileSync(opened, 'utf8').split('\n')
        assert.equal(count, '1')
        assert.equal(url, printed)
        return playBrowser(url)
      }
      let browser
      const out = await run([BIN, 'login', '--profile', 'dev'], {
        env,
        onLine(line) {
          if (!line.includes('/authorize?')) return
          printed = line.trim()
          browser = waitOpened()
        },
      })
      assert.equal(out.code, 0, out.stderr)
      assert.match(
        out.stdout,
        /^Attempting to open your default browser\. If the browser does not open, open the following URL\./,
      )
      assert.equal((await browser).status, 200)

      // An opener that cannot be started: the URL printed is all it takes.
      fs.rmSync(s.tokenPath)
      const empty = tempDir('sso-token-no-opener-')
      const unopened = await run([BIN, 'login', '--profile', 'dev'], {
        env: s.env({ DISPLAY: ':99', PATH: empty }),
        onLine(line) {
          if (line.includes('/authorize?')) playBrowser(line.trim())
        },
      })
      assert.equal(unopened.code, 0, unopened.stderr)
      assert.match(unopened.stdout, /^Attempting to open your default browser\./)

      // No DISPLAY: the device flow, its URL and code printed.
      fs.rmSync(s.tokenPath)
      const device = await run([BIN, 'login', '--profile', 'dev'], {
        env: s.env({ PATH: `${bin}:${process.env.PATH}` }),
        onLine(line) {
          if (line.includes('/device?user_code=')) get(line.trim())
        },
      })
      assert.equal(device.code, 0, device.stderr)
      assert.match(device.stdout, /Then enter the code:\n\n[0-9A-F]{8}\n/)
      assert.ok(fs.existsSync(s.tokenPath))
    } finally {
      await s.done()
    }
  },
)

test('sso-token login and logout: usage errors exit 2, failures 1 with the message', async () => {
  const s = await scenario()
  try {
    for (const args of [
      ['login', '--timeout', 'soon'],
      ['login', '--timeout'],
      ['login', '--refresh'],
      ['logout', '--no-browser'],
    ]) {
      const out = await run([BIN, ...args], { env: s.env() })
      assert.equal(out.code, 2, args.join(' '))
      assert.match(out.stderr, /^sso-token: /)
    }
    const missing = await run([BIN, 'login', '--profile', 'nope'], { env: s.env() })
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr, `sso-token: ${messages.profileNotFound('nope', s.home.configPath)}\n`)
    const timeout = await run([BIN, 'login', '--profile', 'dev', '--no-browser', '--timeout', '0.3'], {
      env: s.env(),
    })
    assert.equal(timeout.code, 1)
    assert.equal(
      timeout.stderr,
      'sso-token: Sign-in timed out after 0.3 s without an authorization; sign in again\n',
    )
    const none = await run([BIN, 'logout', '--profile', 'dev'], { env: s.env() })
    assert.equal(none.code, 0)
    assert.equal(none.stdout, 'No cached SSO token for profile "dev"; nothing to remove.\n')
  } finally {
    await s.done()
  }
})
