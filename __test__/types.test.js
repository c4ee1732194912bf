'use strict'

// docs/behaviour.md §1, TypeScript: index.d.ts describes the whole public API. Compiles
// __test__/types/usage.ts (every public member, plus usages that must be rejected)
// with the installed TypeScript in strict mode. @types/node is not installed, so the
// typings must stand on their own.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_SYMLINK =
  process.platform === 'win32' &&
  'links the package in with a directory symlink (a privilege on Windows) and expects POSIX paths'

const root = path.join(__dirname, '..')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

test('index.d.ts exists and package.json points "types" at it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  assert.equal(pkg.types, 'index.d.ts')
  assert.ok(fs.existsSync(path.join(root, 'index.d.ts')), 'index.d.ts is missing')
})

test('usage.ts type-checks under --strict against index.d.ts', () => {
  const res = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(res.error, undefined)
  assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
})

test('the type check is real: a wrong use of the typings fails to compile', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sso-types-'))
  try {
    const file = path.join(dir, 'bad.ts')
    const indexPath = path.join(root, 'index').replace(/\\/g, '/')
    fs.writeFileSync(
      file,
      `import { SSOTokenProvider } from '${indexPath}';\nconst n: number = new SSOTokenProvider().profile;\nvoid n;\n`,
    )
    const config = JSON.parse(fs.readFileSync(path.join(__dirname, 'types', 'tsconfig.json'), 'utf8'))
    config.files = ['bad.ts']
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config))
    const res = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.notEqual(res.status, 0, 'assigning the string profile to a number must not compile')
    assert.match(res.stdout, /TS2322/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('consumers resolving by package name under nodenext (ESM .mts and CommonJS .cts) type-check', (t) => {
  if (WIN_SYMLINK) return t.skip(WIN_SYMLINK)
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sso-types-nodenext-'))
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'sso-token-provider'), 'dir')
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n')
    fs.writeFileSync(
      path.join(dir, 'esm.mts'),
      [
        "import { SSOTokenProvider, fromSso } from 'sso-token-provider'",
        "const p = new SSOTokenProvider({ profile: 'dev', callback: (err) => void err?.code })",
        'const window: number = p.expiryWindow',
        'const provide: () => Promise<{ token: string; expiration?: Date }> = fromSso()',
        'void window, provide',
        '',
      ].join('\n'),
    )
    fs.writeFileSync(
      path.join(dir, 'cjs.cts'),
      [
        "import sso = require('sso-token-provider')",
        'const ready: Promise<void> = new sso.SSOTokenProvider().getPromise()',
        'void ready',
        '',
      ].join('\n'),
    )
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022'],
        types: [],
      },
      files: ['esm.mts', 'cjs.cts'],
    }
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config))
    const res = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
