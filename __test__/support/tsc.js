'use strict'

// The installed TypeScript compiler, for the tests that hold index.d.ts to what it promises.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/** Compiles the project `tsconfig` names; returns spawnSync's result (status, stdout, stderr). */
function tsc(tsconfig) {
  return spawnSync(process.execPath, [TSC, '-p', tsconfig], {
    cwd: path.dirname(tsconfig),
    encoding: 'utf8',
    timeout: 60_000,
  })
}

/**
 * Writes `files` ({ name: text }) and a tsconfig.json listing them into a fresh folder,
 * compiles them and removes the folder. `prepare(dir)` runs first (to link packages in).
 */
function typeCheck(files, compilerOptions, prepare = () => {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-types-'))
  try {
    prepare(dir)
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
    const config = { compilerOptions, files: Object.keys(files) }
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config))
    return tsc(path.join(dir, 'tsconfig.json'))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * `tsc --strict` options for a check against the SDKs' own typings, resolving every package
 * from this checkout's node_modules. skipLibCheck: the SDKs' declarations need @types/node,
 * which is not installed; index.d.ts itself is held to skipLibCheck: false by
 * __test__/types/tsconfig.json.
 */
function sdkCompilerOptions() {
  return {
    strict: true,
    noEmit: true,
    module: 'commonjs',
    moduleResolution: 'node',
    target: 'es2020',
    lib: ['es2020'],
    types: [],
    skipLibCheck: true,
    baseUrl: ROOT,
    paths: { '*': [path.join(ROOT, 'node_modules', '*')] },
  }
}

module.exports = { ROOT, tsc, typeCheck, sdkCompilerOptions }
