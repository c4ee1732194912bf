#!/usr/bin/env node
'use strict'

// Release packing, the way napi-rs packages ship: one tarball per platform holding only the
// prebuilt `.node` file (npm/<platform>/), and the main tarball (JS, typings, the command and
// the Rust sources for the build-from-source fallback), which lists the platform package in
// `optionalDependencies`.
//
//   node scripts/build.js                 # build the addon first (cargo build --release)
//   node scripts/pack.js [--out DIR]      # writes both tarballs to DIR (default: ./dist)
//
// The platform folder is staged in a temporary directory, so the working tree never holds a
// stray copy of the binary. Prints one JSON object: { main, platforms: { <name>: <tgz> } }.
// Checks before packing: the platform package's version equals the main package's. The
// packed main package pins exactly that version in `optionalDependencies`.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const PLATFORMS = ['linux-x64-gnu']

function fail(message) {
  console.error(`pack: ${message}`)
  process.exit(1)
}

function parseArgs(argv) {
  let out = path.join(root, 'dist')
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = path.resolve(argv[++i])
    else if (argv[i].startsWith('--out=')) out = path.resolve(argv[i].slice('--out='.length))
    else fail(`unknown argument: ${argv[i]} (usage: node scripts/pack.js [--out DIR])`)
  }
  return { out }
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'))
}

// `npm pack --json` prints an array with one entry per package; `filename` is the tarball.
function npmPack(dir, out) {
  const stdout = execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('[')))
  return path.join(out, path.basename(info.filename))
}

// The main package is packed from a staged copy whose package.json pins the platform
// packages in `optionalDependencies`. The repository's package.json does not list them:
// they are not on the registry until released, and `npm ci` cannot lock what it cannot find.
function packMain(pkg, platformNames, out) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-token-provider-main-'))
  try {
    for (const entry of [...pkg.files, 'README.md', 'LICENSE']) {
      const from = path.join(root, entry)
      if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, entry), { recursive: true })
    }
    const staged = { ...pkg, optionalDependencies: {} }
    for (const name of platformNames) staged.optionalDependencies[name] = pkg.version
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`)
    return npmPack(stage, out)
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

function main() {
  const { out } = parseArgs(process.argv.slice(2))
  const pkg = readJson(path.join(root, 'package.json'))
  fs.mkdirSync(out, { recursive: true })
  const result = { main: null, platforms: {} }

  for (const platform of PLATFORMS) {
    const dir = path.join(root, 'npm', platform)
    const platformPkg = readJson(path.join(dir, 'package.json'))
    if (platformPkg.version !== pkg.version) {
      fail(`${platformPkg.name} is at ${platformPkg.version}, ${pkg.name} at ${pkg.version}: they must match`)
    }
    const binary = path.join(root, platformPkg.main)
    if (!fs.existsSync(binary)) {
      fail(`${platformPkg.main} not found: run \`node scripts/build.js\` first`)
    }
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), `sso-token-provider-${platform}-`))
    try {
      for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith('.node')) fs.copyFileSync(path.join(dir, name), path.join(stage, name))
      }
      fs.copyFileSync(binary, path.join(stage, platformPkg.main))
      result.platforms[platformPkg.name] = npmPack(stage, out)
    } finally {
      fs.rmSync(stage, { recursive: true, force: true })
    }
  }

  result.main = packMain(pkg, Object.keys(result.platforms), out)
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}

main()
