'use strict'

// Builds the addon with its test-only exports (`--features test-hooks`: a provoked panic)
// for `npm test`, as a debug build beside the release one, and places it where
// __test__/panic.test.js loads it. Releases never contain these exports.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const out = path.join(root, '__test__', '.hooks', 'test-hooks.node')

execFileSync(
  'cargo',
  ['build', '--quiet', '--locked', '-p', 'sso-token-provider', '--features', 'test-hooks'],
  {
    cwd: root,
    stdio: 'inherit',
  },
)
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, 'target')
const names = { win32: 'sso_token_provider.dll', darwin: 'libsso_token_provider.dylib' }
const built = path.join(targetDir, 'debug', names[process.platform] || 'libsso_token_provider.so')
fs.mkdirSync(path.dirname(out), { recursive: true })
// Copy then rename: a test process may still have the previous copy loaded.
fs.copyFileSync(built, `${out}.${process.pid}.tmp`)
fs.renameSync(`${out}.${process.pid}.tmp`, out)
