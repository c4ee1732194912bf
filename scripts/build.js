'use strict'

// `npm install` hook: build the addon from source with cargo, unless a prebuilt binary for
// this platform (the optional `sso-token-provider-<platform>` package, e.g.
// sso-token-provider-linux-x64-gnu) already loads. Plain cargo, not the napi CLI, so that
// installing the published package needs no devDependencies: only a Rust toolchain when no
// prebuilt binary matches. Works on any platform cargo can build for: the output is placed
// under the name the generated loader (binding.js) looks for on the running platform.
// Self-contained (it ships in the main package on its own).
//
// In a checkout of the repository (a `.git` there, the napi CLI installed) it runs the
// package's `build` script instead, the exact build `npm run build` makes (`napi build
// --target <host>`, with its type-definition environment), so that the `npm run build` after
// `npm install` finds everything fresh and compiles nothing. The plain cargo build passes
// `--target <host>` too: its dependencies are then laid out as napi's are, and the packaging
// test reuses the checkout's compiled ones.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

// binding.js's musl test, in its order: /usr/bin/ldd's text, then the process report, then
// `ldd --version`; so that the file is built under the name the loader will look for.
function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf-8').includes('musl')
  } catch {
    // no /usr/bin/ldd: go on
  }
  let report = null
  if (process.report && typeof process.report.getReport === 'function') {
    process.report.excludeNetwork = true
    report = process.report.getReport()
  }
  if (report) {
    if (report.header && report.header.glibcVersionRuntime) return false
    if (Array.isArray(report.sharedObjects)) {
      return report.sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))
    }
    return false
  }
  try {
    return execFileSync('ldd', ['--version'], { encoding: 'utf8' }).includes('musl')
  } catch {
    return false
  }
}

/**
 * The platform part of the file name binding.js requires on this machine (mirrors its
 * branches), e.g. 'linux-x64-gnu', 'linux-arm64-musl', 'win32-x64-msvc', 'darwin-arm64';
 * null where the loader has no branch.
 */
function localPlatform() {
  const { platform, arch } = process
  if (platform === 'win32') {
    if (arch === 'x64') {
      const vars = (process.config && process.config.variables) || {}
      const gnu = vars.shlib_suffix === 'dll.a' || vars.node_target_type === 'shared_library'
      return gnu ? 'win32-x64-gnu' : 'win32-x64-msvc'
    }
    if (arch === 'ia32' || arch === 'arm64') return `win32-${arch}-msvc`
    return null
  }
  if (platform === 'darwin') return arch === 'x64' || arch === 'arm64' ? `darwin-${arch}` : null
  if (platform === 'freebsd') return ['x64', 'arm64', 'ppc64'].includes(arch) ? `freebsd-${arch}` : null
  if (platform === 'android') {
    if (arch === 'arm64') return 'android-arm64'
    if (arch === 'arm') return 'android-arm-eabi'
    return null
  }
  if (platform === 'openharmony') return arch === 'arm64' ? 'openharmony-arm64' : null
  if (platform === 'linux') {
    const musl = isMusl()
    if (arch === 'x64' || arch === 'arm64' || arch === 'loong64' || arch === 'riscv64') {
      return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
    }
    if (arch === 'arm') return musl ? 'linux-arm-musleabihf' : 'linux-arm-gnueabihf'
    if (arch === 'ppc64' || arch === 's390x') return `linux-${arch}-gnu`
    return null
  }
  return null
}

/** What cargo names a cdylib on the host OS. */
function cargoOutputName() {
  if (process.platform === 'win32') return 'sso_token_provider.dll'
  if (process.platform === 'darwin') return 'libsso_token_provider.dylib'
  return 'libsso_token_provider.so'
}

function prebuiltLoads(platform) {
  try {
    require(`sso-token-provider-${platform}`)
    return true
  } catch {
    return false
  }
}

/**
 * What to do when cargo is not installed at all, for `platform`. `prebuilt` lists the
 * platforms with a prebuilt package (the packed package's `optionalDependencies`).
 */
function missingCargoMessage(platform, prebuilt, version) {
  const lines = [
    `sso-token-provider: cargo is not installed, so the native addon cannot be built from source.`,
  ]
  if (prebuilt.includes(platform)) {
    lines.push(
      `This platform (${platform}) has a prebuilt package, sso-token-provider-${platform}, but it is not installed`,
      `(npm leaves optional dependencies out with --omit=optional, or with a lockfile made on another platform, or could not fetch it):`,
      `  npm install sso-token-provider-${platform}@${version}`,
    )
  } else {
    lines.push(
      `There is no prebuilt package for ${platform}` +
        (prebuilt.length ? ` (there is for ${prebuilt.join(', ')}).` : '.'),
    )
  }
  lines.push(
    `To build from source, install a Rust toolchain from https://rustup.rs (and a C compiler and linker), then:`,
    `  npm rebuild sso-token-provider`,
  )
  return lines.join('\n')
}

/**
 * cargo's host triple (`cargo -vV`), or null when cargo is not installed (ENOENT). Any other
 * failure of cargo is thrown.
 */
function cargoHost(env) {
  let out
  try {
    out = execFileSync('cargo', ['-vV'], {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
  } catch (e) {
    if (e.code === 'ENOENT') return null
    throw e
  }
  const m = /^host: (\S+)$/m.exec(out)
  if (!m) throw new Error(`cargo -vV printed no host triple:\n${out}`)
  return m[1]
}

/** The napi CLI's entry point when this is a checkout with devDependencies installed, else null. */
function napiCli() {
  if (!fs.existsSync(path.join(root, '.git'))) return null
  try {
    const manifest = require.resolve('@napi-rs/cli/package.json', { paths: [root] })
    const { bin } = JSON.parse(fs.readFileSync(manifest, 'utf8'))
    return path.join(path.dirname(manifest), typeof bin === 'string' ? bin : bin.napi)
  } catch {
    return null
  }
}

function main() {
  const fromSource = fs.existsSync(path.join(root, 'Cargo.toml'))
  const platform = localPlatform()
  if (!platform) {
    console.error(
      `sso-token-provider: ${process.platform}-${process.arch} is not a platform the loader (binding.js) knows`,
    )
    process.exit(1)
  }
  if (
    !fromSource ||
    (process.env.SSO_TOKEN_PROVIDER_FORCE_BUILD !== '1' &&
      !fs.existsSync(path.join(root, '.git')) &&
      prebuiltLoads(platform))
  ) {
    process.exit(0)
  }

  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const prebuilt = Object.keys(pkg.optionalDependencies || {}).map((name) =>
    name.slice('sso-token-provider-'.length),
  )
  let host
  try {
    host = cargoHost(process.env)
  } catch (e) {
    console.error(
      `sso-token-provider: \`cargo -vV\` failed (${e.message.split('\n')[0]}): is the Rust toolchain complete?`,
    )
    process.exit(1)
  }
  if (!host) {
    console.error(missingCargoMessage(platform, prebuilt, pkg.version))
    process.exit(1)
  }

  const cli = napiCli()
  if (cli) {
    // The repository: `npm run build` itself (package.json is its one definition).
    const [command, ...args] = pkg.scripts.build.split(' ')
    if (command !== 'napi') throw new Error(`the build script is not a napi command: ${pkg.scripts.build}`)
    console.error(`sso-token-provider: building the native addon in this checkout (${pkg.scripts.build})`)
    try {
      execFileSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' })
    } catch {
      console.error('sso-token-provider: napi build failed (see above).')
      process.exit(1)
    }
    return
  }

  const target = path.join(root, `sso-token-provider.${platform}.node`)
  const env = { ...process.env }
  // napi-rs's musl builds: a .so linked against musl's libc.so, since a statically linked C
  // runtime cannot be loaded into node (rustup's musl toolchains link statically by default).
  // With --target, RUSTFLAGS reach the target's crates only, as in napi's builds.
  if (platform.includes('musl')) {
    env.RUSTFLAGS = [process.env.RUSTFLAGS, '-C target-feature=-crt-static'].filter(Boolean).join(' ')
  }

  console.error(
    `sso-token-provider: building the native addon from source (cargo build --release) for ${platform}`,
  )
  try {
    execFileSync('cargo', ['build', '--release', '--locked', '-p', 'sso-token-provider', '--target', host], {
      cwd: root,
      stdio: 'inherit',
      env,
    })
  } catch {
    console.error(
      'sso-token-provider: cargo build failed (see above). A source build needs a Rust toolchain (https://rustup.rs) and a C compiler and linker.',
    )
    process.exit(1)
  }
  // cargo puts its output under CARGO_TARGET_DIR when set (relative to the package root).
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(root, process.env.CARGO_TARGET_DIR)
    : path.join(root, 'target')
  const built = path.join(targetDir, host, 'release', cargoOutputName())
  // Copy then rename: a running process may have the old binary mapped; overwriting it in
  // place would corrupt that process. (On Windows the rename fails while a process has the
  // old file loaded: stop it and run `npm rebuild sso-token-provider`.)
  const tmp = `${target}.${process.pid}.tmp`
  fs.copyFileSync(built, tmp)
  try {
    fs.renameSync(tmp, target)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    console.error(`sso-token-provider: cannot replace ${target} (${e.code}): is a process using it?`)
    process.exit(1)
  }
}

if (require.main === module) main()

module.exports = { localPlatform, isMusl, cargoOutputName, cargoHost }
