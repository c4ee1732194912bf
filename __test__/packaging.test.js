'use strict'

// PACKAGING (slow: ~30 s, up to a few minutes on a cold cargo cache). The package as npm
// users get it, the napi-rs way: `node scripts/pack.js` makes the platform tarball
// (npm/linux-x64-gnu: only the prebuilt .node) and the main tarball (JS, typings, command,
// Rust sources), which pins the platform package in optionalDependencies. Then:
//   (a) both tarballs install into a fresh project with no Rust toolchain on PATH, and the
//       package works from the prebuilt binary;
//   (b) the main tarball alone installs by building from source with cargo, and works;
//       without cargo the same install fails with a message saying that cargo is missing
//       and what to do;
//   (c) the tarballs hold what they must and nothing else (no target/, tests, benchmark,
//       examples, fixtures or .node files in the main one; __test__/release.test.js checks
//       all eight packages as the release packs them).
// npm talks to a loopback "registry" answering 404 to everything: nothing is fetched from
// the network, and the unpublished optional dependency is a 404, as it is before a release.

const { describe, before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const { execFile, execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const { makeSandbox, tokenDoc } = require('./samples/sandbox.js')
const { cargoHost, localPlatform } = require('../scripts/build.js')

const ROOT = path.join(__dirname, '..')
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const PLATFORM_DIR = path.join(ROOT, 'npm', 'linux-x64-gnu')
const PLATFORM_PKG = JSON.parse(fs.readFileSync(path.join(PLATFORM_DIR, 'package.json'), 'utf8'))
const BINARY = 'sso-token-provider.linux-x64-gnu.node'

// Dependencies already compiled in release mode are reused from a cargo target directory of
// our own, target/packaging (seeded once from this checkout's release build: scripts/build.js
// and napi build both build with --target <host>, so the layouts match), so a source build
// compiles only the two crates of the package. Not this checkout's target/ itself: a build
// there from the unpacked copy would share the fingerprints of the checkout's own build and
// could leave it stale after a later edit. Under target/, so that it is kept for the next
// run and goes with `cargo clean`, not left in the system's temp folder.
const BUILD_TARGET_DIR = process.env.SSO_PACKAGING_TARGET_DIR || path.join(ROOT, 'target', 'packaging')

function run(file, args, { env, cwd, timeout = 120_000 } = {}) {
  const start = Date.now()
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env, cwd, timeout, encoding: 'utf8', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}`, ms: Date.now() - start })
      },
    )
  })
}

/** The directories of `PATH` that hold an executable `name`. */
function onPath(name, pathValue) {
  return pathValue
    .split(path.delimiter)
    .filter(Boolean)
    .filter((dir) => {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })
}

// A PATH with node, npm and a shell but no Rust toolchain.
const NO_CARGO_PATH = [
  ...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin']),
].join(path.delimiter)

let work // temp dir for this run
let registry // loopback 404 registry
let tarballs // { main, platform }

/**
 * Environment for npm: none of this process's npm_* variables (set when run under
 * `npm test`), a private cache and user config, the loopback registry; with or without cargo.
 */
function npmEnv({ cargo }) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k)) env[k] = v
  }
  Object.assign(env, {
    npm_config_registry: `${registry.url}/`,
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_userconfig: path.join(work, 'npmrc'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_foreground_scripts: 'true',
  })
  if (cargo) {
    env.CARGO_TARGET_DIR = BUILD_TARGET_DIR
  } else {
    for (const k of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(k)) delete env[k]
    env.PATH = NO_CARGO_PATH
  }
  return env
}

/**
 * A fresh project that lets `tgz`'s install script run (npm 11 asks; npm 10 just runs it), or
 * with `allow: false` denies it (npm 11's `npm install-scripts deny`).
 */
function freshProject(name, tgz, { allow = true } = {}) {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  const pkg = {
    name,
    version: '1.0.0',
    private: true,
    allowScripts: { [`file:${tgz}`]: allow },
  }
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  return dir
}

/** In `project`, loads a token through the installed package; reports where the addon came from. */
async function useInstalled(project, env) {
  const doc = tokenDoc(3600)
  const sandbox = makeSandbox({ token: doc })
  try {
    const script = `
      const { SSOTokenProvider } = require('sso-token-provider')
      const p = new SSOTokenProvider({
        profile: 'dev',
        callback(err) {
          if (err) throw err
          const addon = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
          console.log(JSON.stringify({ token: p.token, expireTime: p.expireTime.toISOString(), addon }))
        },
      })
    `
    const cjs = await run(process.execPath, ['-e', script], {
      cwd: project,
      env: sandbox.env({ PATH: env.PATH }),
    })
    assert.equal(cjs.code, 0, cjs.output)
    const result = JSON.parse(cjs.stdout)
    assert.equal(result.token, doc.accessToken)
    assert.equal(result.expireTime, doc.expiresAt)

    const esm = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { fromSso } from 'sso-token-provider'; console.log((await fromSso({ profile: 'dev' })()).token)",
      ],
      { cwd: project, env: sandbox.env({ PATH: env.PATH }) },
    )
    assert.equal(esm.code, 0, esm.output)
    assert.equal(esm.stdout, `${doc.accessToken}\n`)

    const bin = await run(
      path.join(project, 'node_modules', '.bin', 'sso-token'),
      ['--profile', 'dev', '--json'],
      {
        cwd: project,
        env: sandbox.env({ PATH: env.PATH }),
      },
    )
    assert.equal(bin.code, 0, bin.output)
    assert.equal(JSON.parse(bin.stdout).expiresAt, doc.expiresAt)
    return result
  } finally {
    sandbox.cleanup()
  }
}

function tarList(tgz) {
  return execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).trim().split('\n').sort()
}

function tarJson(tgz, entry) {
  return JSON.parse(execFileSync('tar', ['xzf', tgz, '-O', entry], { encoding: 'utf8' }))
}

describe('PACKAGING: npm pack, then install into fresh projects (slow)', { timeout: 300_000 }, () => {
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-packaging-'))
    fs.writeFileSync(path.join(work, 'npmrc'), '')
    const requests = []
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":"Not found"}')
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    registry = { url: `http://127.0.0.1:${server.address().port}`, requests, server }

    assert.ok(
      fs.existsSync(path.join(ROOT, BINARY)),
      `${BINARY} is missing: build it first (node scripts/build.js)`,
    )
    const packed = await run(
      process.execPath,
      [path.join(ROOT, 'scripts', 'pack.js'), '--out', path.join(work, 'dist')],
      {
        cwd: ROOT,
        env: npmEnv({ cargo: true }),
      },
    )
    assert.equal(packed.code, 0, packed.output)
    const out = JSON.parse(packed.stdout)
    tarballs = { main: out.main, platform: out.platforms[PLATFORM_PKG.name] }
    assert.ok(fs.existsSync(tarballs.main) && fs.existsSync(tarballs.platform), packed.stdout)

    // Seed the build cache once (a copy of the compiled dependencies: a second or two): the
    // host's build scripts and proc macros in release/, the addon's dependencies in <host>/.
    const host = cargoHost(process.env)
    const seeds = ['release', path.join(host, 'release')].filter((d) =>
      fs.existsSync(path.join(ROOT, 'target', d)),
    )
    if (!fs.existsSync(BUILD_TARGET_DIR) && seeds.length) {
      const partial = `${BUILD_TARGET_DIR}.${process.pid}.tmp`
      for (const d of seeds) {
        execFileSync('mkdir', ['-p', path.dirname(path.join(partial, d))])
        execFileSync('cp', ['-a', path.join(ROOT, 'target', d), path.join(partial, d)])
      }
      try {
        fs.renameSync(partial, BUILD_TARGET_DIR)
      } catch {
        fs.rmSync(partial, { recursive: true, force: true }) // another run seeded it first
      }
    }
  })

  after(async () => {
    if (registry) await new Promise((resolve) => registry.server.close(resolve))
    if (work) fs.rmSync(work, { recursive: true, force: true })
  })

  test('(c) the platform package: same version, os/cpu/libc, the .node file and the license', () => {
    assert.equal(PLATFORM_PKG.name, 'sso-token-provider-linux-x64-gnu')
    assert.equal(PLATFORM_PKG.version, PKG.version)
    // Added at pack time only: the repository's own install (and `npm ci`) never asks the
    // registry for a package that is not published yet.
    assert.equal(PKG.optionalDependencies, undefined)
    assert.deepEqual(tarList(tarballs.platform), [
      'package/LICENSE',
      'package/README.md',
      'package/package.json',
      `package/${BINARY}`,
    ])
    const pkg = tarJson(tarballs.platform, 'package/package.json')
    assert.equal(pkg.name, 'sso-token-provider-linux-x64-gnu')
    assert.equal(pkg.version, PKG.version)
    assert.deepEqual(pkg.os, ['linux'])
    assert.deepEqual(pkg.cpu, ['x64'])
    assert.deepEqual(pkg.libc, ['glibc'])
    assert.equal(pkg.main, BINARY)
    assert.deepEqual(pkg.files, [BINARY])
  })

  // Its file list: __test__/release.test.js (the same packMain, for all seven platforms).
  test('(c) the main package: pins this platform package, no binary of its own', () => {
    const files = tarList(tarballs.main)
    assert.deepEqual(
      files.filter((f) => /\.(node|tgz|so)$/.test(f)),
      [],
    )
    assert.ok(files.includes('package/scripts/build.js'))
    const pkg = tarJson(tarballs.main, 'package/package.json')
    assert.deepEqual(pkg.optionalDependencies, { 'sso-token-provider-linux-x64-gnu': pkg.version })
    assert.equal(pkg.scripts.install, 'node scripts/build.js')
  })

  test('(a) both tarballs install with no Rust toolchain; the prebuilt binary is used', async () => {
    const env = npmEnv({ cargo: false })
    assert.deepEqual(onPath('cargo', env.PATH), [], `cargo is on ${env.PATH}`)
    assert.deepEqual(onPath('rustc', env.PATH), [])
    const project = freshProject('with-prebuilt', tarballs.main)
    const before = registry.requests.length
    const r = await run('npm', ['install', tarballs.platform, tarballs.main], { cwd: project, env })
    assert.equal(r.code, 0, r.output)
    assert.match(r.output, /> node scripts\/build\.js/, 'the install script ran')
    assert.doesNotMatch(r.output, /building the native addon from source|cargo/)
    assert.doesNotMatch(r.output, /not yet covered by allowScripts/)

    const installed = path.join(project, 'node_modules', 'sso-token-provider')
    assert.equal(fs.existsSync(path.join(installed, BINARY)), false, 'no binary was built')
    assert.equal(fs.existsSync(path.join(installed, 'target')), false)
    const result = await useInstalled(project, env)
    assert.deepEqual(result.addon, [path.join(project, 'node_modules', PLATFORM_PKG.name, BINARY)])
    // The registry was asked for nothing but the (unpublished) platform package.
    const asked = registry.requests.slice(before)
    assert.ok(
      asked.every((r) => r === `GET /${PLATFORM_PKG.name}`),
      `unexpected registry requests: ${asked}`,
    )
  })

  test('(a) the prebuilt path needs no install script: denied (npm 11 allowScripts), nothing runs and the package works', async () => {
    const env = npmEnv({ cargo: false })
    const project = freshProject('script-denied', tarballs.main, { allow: false })
    const r = await run('npm', ['install', tarballs.platform, tarballs.main], { cwd: project, env })
    assert.equal(r.code, 0, r.output)
    assert.doesNotMatch(r.output, /> node scripts\/build\.js/, 'the install script ran')
    assert.doesNotMatch(r.output, /not yet covered by allowScripts/)
    const result = await useInstalled(project, env)
    assert.deepEqual(result.addon, [path.join(project, 'node_modules', PLATFORM_PKG.name, BINARY)])
  })

  test(
    '(b) the main tarball alone builds from source with cargo and works',
    { timeout: 240_000 },
    async (t) => {
      const env = npmEnv({ cargo: true })
      assert.notDeepEqual(onPath('cargo', env.PATH), [], 'cargo is needed for this test')
      const project = freshProject('from-source', tarballs.main)
      const r = await run('npm', ['install', tarballs.main], { cwd: project, env, timeout: 230_000 })
      const compiled = r.output.match(/^\s*Compiling \S+/gm) || []
      t.diagnostic(`npm install with a source build: ${r.ms} ms, ${compiled.length} crates compiled`)
      assert.equal(r.code, 0, r.output)
      assert.match(r.output, /building the native addon from source \(cargo build --release\)/)
      assert.match(r.output, /Compiling sso-token-provider v/)
      assert.equal(fs.existsSync(path.join(project, 'node_modules', PLATFORM_PKG.name)), false)

      const installed = path.join(project, 'node_modules', 'sso-token-provider')
      assert.ok(fs.existsSync(path.join(installed, BINARY)), 'the build placed the .node file')
      const result = await useInstalled(project, env)
      assert.deepEqual(result.addon, [path.join(installed, BINARY)])
    },
  )

  test('(b) without the prebuilt package or cargo, the install fails: cargo is missing, and what to do', async () => {
    const env = npmEnv({ cargo: false })
    const project = freshProject('no-toolchain', tarballs.main)
    const r = await run('npm', ['install', tarballs.main], { cwd: project, env })
    assert.notEqual(r.code, 0, r.output)
    assert.ok(
      r.output.includes(
        [
          'sso-token-provider: cargo is not installed, so the native addon cannot be built from source.',
          'This platform (linux-x64-gnu) has a prebuilt package, sso-token-provider-linux-x64-gnu, but it is not installed',
          '(npm leaves optional dependencies out with --omit=optional, or with a lockfile made on another platform, or could not fetch it):',
          `  npm install sso-token-provider-linux-x64-gnu@${PKG.version}`,
          'To build from source, install a Rust toolchain from https://rustup.rs (and a C compiler and linker), then:',
          '  npm rebuild sso-token-provider',
        ].join('\n'),
      ),
      r.output,
    )
    assert.doesNotMatch(r.output, /cargo build failed/)
  })
})

describe('PACKAGING: the install hook on a platform with no prebuilt package, without cargo', () => {
  test('says that cargo is missing, that no prebuilt package fits, and how to build', () => {
    // scripts/build.js as it ships, in a package whose optionalDependencies name another
    // platform only; run with a PATH that has node and no cargo.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-hook-'))
    try {
      fs.mkdirSync(path.join(dir, 'scripts'))
      fs.copyFileSync(path.join(ROOT, 'scripts', 'build.js'), path.join(dir, 'scripts', 'build.js'))
      fs.writeFileSync(path.join(dir, 'Cargo.toml'), '')
      const pkg = { name: 'sso-token-provider', version: PKG.version, optionalDependencies: {} }
      pkg.optionalDependencies['sso-token-provider-darwin-arm64'] = PKG.version
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg))
      const env = {}
      for (const [k, v] of Object.entries(process.env)) if (!/^(CARGO|RUSTUP|RUSTC|npm_)/i.test(k)) env[k] = v
      env.PATH = NO_CARGO_PATH
      const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'build.js')], {
        env,
        encoding: 'utf8',
      })
      assert.equal(r.status, 1, r.stderr)
      assert.equal(
        r.stderr,
        [
          'sso-token-provider: cargo is not installed, so the native addon cannot be built from source.',
          `There is no prebuilt package for ${localPlatform()} (there is for darwin-arm64).`,
          'To build from source, install a Rust toolchain from https://rustup.rs (and a C compiler and linker), then:',
          '  npm rebuild sso-token-provider',
          '',
        ].join('\n'),
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
