'use strict'

// `npm install` hook: build the addon from source with cargo, unless a prebuilt binary for
// this platform (the optional `sso-token-provider-linux-x64-gnu` package) already loads.
// Plain cargo, not the napi CLI, so that installing the published package needs no
// devDependencies: only a Rust toolchain when no prebuilt binary matches.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const target = path.join(root, 'sso-token-provider.linux-x64-gnu.node')
const fromSource = fs.existsSync(path.join(root, 'Cargo.toml'))

function prebuiltLoads() {
  try {
    require('sso-token-provider-linux-x64-gnu')
    return true
  } catch {
    return false
  }
}

// The output is named for linux-x64-gnu, the one target the loader looks for here; a build
// on musl or another platform would be written under a name nothing loads.
const glibc = process.platform === 'linux' && Boolean(process.report.getReport().header.glibcVersionRuntime)
if (process.arch !== 'x64' || !glibc) {
  console.error('sso-token-provider: only linux-x64-gnu (glibc) is supported for now')
  process.exit(1)
}
if (
  !fromSource ||
  (process.env.SSO_TOKEN_PROVIDER_FORCE_BUILD !== '1' &&
    !fs.existsSync(path.join(root, '.git')) &&
    prebuiltLoads())
) {
  process.exit(0)
}

console.error('sso-token-provider: building the native addon from source (cargo build --release)')
try {
  execFileSync('cargo', ['build', '--release', '--locked', '-p', 'sso-token-provider'], {
    cwd: root,
    stdio: 'inherit',
  })
} catch (e) {
  console.error(
    'sso-token-provider: cargo build failed. A source build needs a Rust toolchain (rustup.rs) and a C linker.',
  )
  process.exit(1)
}
// cargo puts its output under CARGO_TARGET_DIR when set (relative to the package root).
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, 'target')
const built = path.join(targetDir, 'release', 'libsso_token_provider.so')
// Copy then rename: a running process may have the old binary mapped; overwriting it in
// place would corrupt that process.
const tmp = `${target}.${process.pid}.tmp`
fs.copyFileSync(built, tmp)
fs.renameSync(tmp, target)
