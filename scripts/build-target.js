#!/usr/bin/env node
'use strict'

// Release builds of the addon for one of the seven prebuilt targets, or all of them:
//
//   npm run build:target -- <rust triple>     # e.g. aarch64-unknown-linux-gnu
//   npm run build:all                         # the seven, one after the other
//
// Each build leaves npm/<platform>/sso-token-provider.<platform>.node, the name the
// generated loader (binding.js) looks for on that platform (git-ignored). Before building, it
// checks that everything the target needs is there (the target's std, cargo-zigbuild and
// zig, a cross linker, LIBNODE_PATH) and stops with a message naming what is missing and how
// to install it; `build:all` checks all seven before it starts. The README's "Building for
// other platforms" has the set-up.
//
//   linux gnu      cargo zigbuild --target <triple>.2.17 (glibc 2.17 floor)
//   linux musl     cargo zigbuild, -C target-feature=-crt-static (a dynamic .so, as napi-rs)
//   windows        cargo build with mingw-w64 and LIBNODE_PATH (scripts/libnode.js), shipped
//                  under the win32-x64-msvc name; on Windows, x86_64-pc-windows-msvc natively
//   macOS          cargo zigbuild with MACOSX_DEPLOYMENT_TARGET 11.0 (arm64) / 10.15 (x64)
//                  and the framework stubs in scripts/darwin-frameworks; on macOS, natively

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { ROOT, TARGETS, cargoOutputName, nodeFileName, platformDir, findTarget } = require('./targets.js')
const { which, tryOutput } = require('./tools.js')
const { DEFAULT_LIBNODE } = require('./libnode.js')

const SETUP = 'see "Building for other platforms" in README.md'

class Missing extends Error {}

function usage() {
  const list = TARGETS.map((t) => `  ${t.triple.padEnd(28)} -> npm/${t.platform}/`).join('\n')
  return `usage: node scripts/build-target.js <rust triple> | --all\n\ntargets:\n${list}`
}

function rustSysroot() {
  const out = tryOutput('rustc', ['--print', 'sysroot'])
  if (!out) throw new Missing('rustc is not on PATH: install Rust with rustup (rustup.rs)')
  return out.trim()
}

function hostTriple() {
  const out = tryOutput('rustc', ['-vV']) || ''
  const m = /^host: (\S+)$/m.exec(out)
  return m ? m[1] : null
}

/** How to build `triple` on this machine: { target, triple, kind: 'zig'|'cargo', env }. */
function plan(triple) {
  const target = findTarget(triple)
  if (!target) throw new Missing(`unknown target ${triple}\n\n${usage()}`)
  const env = {}
  const envKey = triple.toUpperCase().replace(/-/g, '_')
  const rustflags = [...(target.rustflags || [])]
  let kind = target.zig ? 'zig' : 'cargo'

  // On its own OS a target is built with the platform's toolchain (the release workflow).
  if (target.os === 'darwin' && process.platform === 'darwin') kind = 'cargo'
  if (triple === 'x86_64-pc-windows-msvc') {
    if (process.platform !== 'win32') {
      throw new Missing(
        'x86_64-pc-windows-msvc needs MSVC (a Windows machine); here, build x86_64-pc-windows-gnu',
      )
    }
    kind = 'cargo'
  }
  if (target.deploymentTarget) env.MACOSX_DEPLOYMENT_TARGET = target.deploymentTarget
  if (target.frameworks && kind === 'zig') {
    // Link-time stubs of Security and CoreFoundation (used by rustls-native-certs); an
    // install name that does not record this machine's build folder.
    rustflags.push('-C', `link-arg=-F${path.join(__dirname, 'darwin-frameworks')}`)
    rustflags.push('-C', `link-arg=-Wl,-install_name,@rpath/${nodeFileName(target.platform)}`)
  }
  if (rustflags.length) {
    const key = `CARGO_TARGET_${envKey}_RUSTFLAGS`
    env[key] = [process.env[key], ...rustflags].filter(Boolean).join(' ')
  }
  return { target, triple, kind, env }
}

/** Throws Missing naming the first thing this build cannot find. */
function preflight(p) {
  const { target, triple } = p
  const sysroot = rustSysroot()
  if (triple !== hostTriple() && !fs.existsSync(path.join(sysroot, 'lib', 'rustlib', triple, 'lib'))) {
    throw new Missing(`the Rust standard library for ${triple} is not installed: rustup target add ${triple}`)
  }
  if (p.kind === 'zig') {
    if (!tryOutput('cargo-zigbuild', ['--version'])) {
      throw new Missing(
        `${triple} is built with cargo-zigbuild, which is not on PATH: pip install cargo-zigbuild`,
      )
    }
    const zig = tryOutput('zig', ['version']) || tryOutput('python3', ['-m', 'ziglang', 'version'])
    if (!zig) {
      throw new Missing(
        `${triple} needs zig (cargo-zigbuild's linker): pip install ziglang (pip install cargo-zigbuild brings it)`,
      )
    }
  }
  if (target.linker && triple === target.triple && !which(target.linker.command)) {
    throw new Missing(
      `${triple} needs the linker ${target.linker.command}, which is not on PATH: apt-get install ${target.linker.apt}`,
    )
  }
  if (target.libnode && triple === target.triple) {
    let dir = process.env.LIBNODE_PATH
    if (!dir && fs.existsSync(path.join(DEFAULT_LIBNODE, 'libnode.dll.a'))) dir = DEFAULT_LIBNODE
    if (!dir) {
      throw new Missing(
        `${triple} needs LIBNODE_PATH, a folder with node.exe's import library: make it with ` +
          '`node scripts/libnode.js` (needs apt mingw-w64-tools; writes target/platform-tools/libnode, used when LIBNODE_PATH is unset)',
      )
    }
    dir = path.resolve(dir)
    for (const name of ['libnode.dll.a', 'libnode.dll']) {
      if (!fs.existsSync(path.join(dir, name))) {
        throw new Missing(
          `LIBNODE_PATH=${dir} has no ${name}: make it with \`node scripts/libnode.js --out ${dir}\``,
        )
      }
    }
    p.env.LIBNODE_PATH = dir
  }
}

function targetDir() {
  return process.env.CARGO_TARGET_DIR
    ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(ROOT, 'target')
}

function build(p) {
  const { target, triple } = p
  const args =
    p.kind === 'zig'
      ? ['zigbuild', '--release', '--locked', '-p', 'sso-token-provider', '--target', target.zig]
      : ['build', '--release', '--locked', '-p', 'sso-token-provider', '--target', triple]
  const shown = Object.entries(p.env)
    .map(([k, v]) => `${k}=${JSON.stringify(v)} `)
    .join('')
  console.error(`build-target: ${shown}cargo ${args.join(' ')}`)
  const started = Date.now()
  const r = spawnSync('cargo', args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...p.env } })
  if (r.status !== 0) {
    throw new Error(`cargo failed for ${triple} (exit ${r.status === null ? r.signal : r.status})`)
  }
  const built = path.join(targetDir(), triple, 'release', cargoOutputName(target.os))
  const dest = path.join(platformDir(target.platform), nodeFileName(target.platform))
  // Copy then rename: a process that has the old file loaded keeps a whole one.
  const tmp = `${dest}.${process.pid}.tmp`
  fs.copyFileSync(built, tmp)
  fs.renameSync(tmp, dest)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const size = fs.statSync(dest).size
  console.error(
    `build-target: ${triple} -> ${path.relative(ROOT, dest)} (${(size / 1048576).toFixed(2)} MiB, ${seconds} s)`,
  )
  return { triple, platform: target.platform, file: dest, size, seconds: Number(seconds) }
}

function main(argv) {
  if (argv.length !== 1 || argv[0] === '--help' || argv[0] === '-h') {
    console.error(usage())
    process.exit(argv.length === 1 ? 0 : 2)
  }
  const triples = argv[0] === '--all' ? TARGETS.map((t) => t.triple) : [argv[0]]
  let plans
  try {
    plans = triples.map(plan)
    const problems = []
    for (const p of plans) {
      try {
        preflight(p)
      } catch (e) {
        if (!(e instanceof Missing)) throw e
        problems.push(e.message)
      }
    }
    if (problems.length) throw new Missing(problems.join('\n'))
  } catch (e) {
    if (!(e instanceof Missing)) throw e
    console.error(`build-target: cannot build:\n${e.message.replace(/^/gm, '  ')}\n(${SETUP})`)
    process.exit(1)
  }
  const results = []
  for (const p of plans) {
    try {
      results.push(build(p))
    } catch (e) {
      console.error(`build-target: ${e.message}`)
      process.exit(1)
    }
  }
  if (results.length > 1) {
    for (const r of results) {
      console.error(`  ${r.triple.padEnd(28)} ${(r.size / 1048576).toFixed(2)} MiB  ${r.seconds} s`)
    }
  }
}

if (require.main === module) main(process.argv.slice(2))

module.exports = { plan, preflight }
