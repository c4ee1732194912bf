'use strict'

// The seven prebuilt targets: the Rust triple, the platform name the generated loader
// (binding.js) looks for on that platform, the npm package's os/cpu/libc, and how this
// repository builds it (scripts/build-target.js). Used by build-target.js, pack.js and
// test-platforms.js; scripts/build.js (the install hook) stays self-contained because it ships
// in the main package on its own.

const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const BINARY_NAME = 'sso-token-provider'
const PACKAGE_NAME = 'sso-token-provider'

/**
 * - `zig`: the `cargo zigbuild --target` value (a `.2.17` suffix pins the glibc floor);
 *   absent: plain `cargo build --target <triple>`.
 * - `rustflags`: extra flags for the target only (CARGO_TARGET_<TRIPLE>_RUSTFLAGS).
 * - `deploymentTarget`: MACOSX_DEPLOYMENT_TARGET.
 * - `linker`: a C cross linker that must be on PATH (cargo's default for the triple).
 * - `libnode`: napi-build needs LIBNODE_PATH (windows-gnu).
 * - `frameworks`: link against the .tbd stubs in scripts/darwin-frameworks (cross builds).
 * - `native`: built with plain cargo and the platform's own toolchain on that OS (CI).
 */
const TARGETS = [
  {
    triple: 'x86_64-unknown-linux-gnu',
    platform: 'linux-x64-gnu',
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    zig: 'x86_64-unknown-linux-gnu.2.17',
  },
  {
    triple: 'aarch64-unknown-linux-gnu',
    platform: 'linux-arm64-gnu',
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    zig: 'aarch64-unknown-linux-gnu.2.17',
  },
  {
    triple: 'x86_64-unknown-linux-musl',
    platform: 'linux-x64-musl',
    os: 'linux',
    cpu: 'x64',
    libc: 'musl',
    zig: 'x86_64-unknown-linux-musl',
    // A dynamically linked .so against musl's libc.so, as napi-rs builds musl addons: a
    // statically linked C runtime cannot be dlopen()ed by node.
    rustflags: ['-C', 'target-feature=-crt-static'],
  },
  {
    triple: 'aarch64-unknown-linux-musl',
    platform: 'linux-arm64-musl',
    os: 'linux',
    cpu: 'arm64',
    libc: 'musl',
    zig: 'aarch64-unknown-linux-musl',
    rustflags: ['-C', 'target-feature=-crt-static'],
  },
  {
    // Built with mingw-w64 here (MSVC's CRT cannot be had on Linux) and shipped under the
    // msvc name, which is what binding.js looks for on the official (MSVC-built) node.exe.
    // The release workflow builds x86_64-pc-windows-msvc natively instead.
    triple: 'x86_64-pc-windows-gnu',
    platform: 'win32-x64-msvc',
    os: 'win32',
    cpu: 'x64',
    linker: { command: 'x86_64-w64-mingw32-gcc', apt: 'gcc-mingw-w64-x86-64' },
    libnode: true,
    alternatives: ['x86_64-pc-windows-msvc'],
  },
  {
    triple: 'aarch64-apple-darwin',
    platform: 'darwin-arm64',
    os: 'darwin',
    cpu: 'arm64',
    zig: 'aarch64-apple-darwin',
    deploymentTarget: '11.0',
    frameworks: true,
  },
  {
    triple: 'x86_64-apple-darwin',
    platform: 'darwin-x64',
    os: 'darwin',
    cpu: 'x64',
    zig: 'x86_64-apple-darwin',
    deploymentTarget: '10.15',
    frameworks: true,
  },
]

/** The file cargo writes for a cdylib on the target's OS. */
function cargoOutputName(os) {
  if (os === 'win32') return 'sso_token_provider.dll'
  if (os === 'darwin') return 'libsso_token_provider.dylib'
  return 'libsso_token_provider.so'
}

/** The file name binding.js requires for a platform, e.g. sso-token-provider.linux-x64-gnu.node. */
function nodeFileName(platform) {
  return `${BINARY_NAME}.${platform}.node`
}

function packageName(platform) {
  return `${PACKAGE_NAME}-${platform}`
}

function platformDir(platform) {
  return path.join(ROOT, 'npm', platform)
}

/** A target by Rust triple (or an alternative triple that ships under the same name). */
function findTarget(triple) {
  return TARGETS.find((t) => t.triple === triple || (t.alternatives || []).includes(triple))
}

function findPlatform(platform) {
  return TARGETS.find((t) => t.platform === platform)
}

module.exports = {
  ROOT,
  TARGETS,
  cargoOutputName,
  nodeFileName,
  packageName,
  platformDir,
  findTarget,
  findPlatform,
}
