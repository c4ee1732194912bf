'use strict'

// docs/behaviour.md §1, TypeScript: index.d.ts describes the whole public API. Compiles
// __test__/types/usage.ts (every public member, plus usages that must be rejected)
// with the installed TypeScript in strict mode. @types/node is not installed, so the
// typings must stand on their own.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT: root, tsc, typeCheck, sdkCompilerOptions } = require('./support/tsc.js')

// POSIX-only checks, skipped on Windows with the reason.
const WIN_SYMLINK =
  process.platform === 'win32' &&
  'links the package in with a directory symlink (a privilege on Windows) and expects POSIX paths'

test('index.d.ts exists and package.json points "types" at it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  assert.equal(pkg.types, 'index.d.ts')
  assert.ok(fs.existsSync(path.join(root, 'index.d.ts')), 'index.d.ts is missing')
})

test('usage.ts type-checks under --strict against index.d.ts', () => {
  const res = tsc(path.join(__dirname, 'types', 'tsconfig.json'))
  assert.equal(res.error, undefined)
  assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
})

test('the type check is real: a wrong use of the typings fails to compile', () => {
  const indexPath = path.join(root, 'index').replace(/\\/g, '/')
  const { compilerOptions } = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'types', 'tsconfig.json'), 'utf8'),
  )
  const res = typeCheck(
    {
      'bad.ts': `import { SSOTokenProvider } from '${indexPath}';\nconst n: number = new SSOTokenProvider().profile;\nvoid n;\n`,
    },
    compilerOptions,
  )
  assert.notEqual(res.status, 0, 'assigning the string profile to a number must not compile')
  assert.match(res.stdout, /TS2322/)
})

test('consumers resolving by package name under nodenext (ESM .mts and CommonJS .cts) type-check', (t) => {
  if (WIN_SYMLINK) return t.skip(WIN_SYMLINK)
  const files = {
    'esm.mts': [
      "import { SSOTokenProvider, fromSso } from 'sso-token-provider'",
      "const p = new SSOTokenProvider({ profile: 'dev', callback: (err) => void err?.code })",
      'const window: number = p.expiryWindow',
      'const provide: () => Promise<{ token: string; expiration?: Date }> = fromSso()',
      'void window, provide',
      '',
    ].join('\n'),
    'cjs.cts': [
      "import sso = require('sso-token-provider')",
      'const ready: Promise<void> = new sso.SSOTokenProvider().getPromise()',
      'void ready',
      '',
    ].join('\n'),
  }
  const compilerOptions = {
    strict: true,
    noEmit: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    lib: ['es2022'],
    types: [],
  }
  const res = typeCheck(files, compilerOptions, (dir) => {
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'sso-token-provider'), 'dir')
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n')
  })
  assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
})

// Issue 20: a provider must be what aws-sdk v2's own typings call a token, under --strict.
test('under --strict against aws-sdk v2 typings: a v2 client token, a TokenProviderChain link, AWS.SSOTokenProvider', () => {
  const indexPath = path.join(root, 'index').replace(/\\/g, '/')
  const res = typeCheck(
    {
      'v2.ts': [
        "import AWS = require('aws-sdk')",
        `import { SSOTokenProvider } from '${indexPath}'`,
        "const provider = new SSOTokenProvider({ profile: 'dev' })",
        "const client = new AWS.CodeCatalyst({ region: 'us-east-1', token: provider })",
        'const chain = new AWS.TokenProviderChain([() => provider])',
        'const token: AWS.Token = provider',
        // v2's SsoCredentials and default chain then build ours.
        'AWS.SSOTokenProvider = SSOTokenProvider',
        'void client, chain, token',
        '',
      ].join('\n'),
    },
    sdkCompilerOptions(),
  )
  assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`)
})
