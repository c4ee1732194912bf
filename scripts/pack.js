#!/usr/bin/env node
'use strict'

// Release packing, the way napi-rs packages ship: one tarball per platform holding only the
// prebuilt `.node` file (npm/<platform>/), and the main tarball (JS, typings, the command and
// the Rust sources for the build-from-source fallback), which lists the packed platform
// packages in `optionalDependencies`.
//
//   node scripts/build.js                 # this machine's platform (in a checkout: npm run build)
//   node scripts/pack.js [--out DIR]      # its platform tarball and the main one (./dist)
//
//   npm run build:all                     # the seven prebuilt targets (scripts/build-target.js)
//   node scripts/pack.js --all [--out DIR]            # seven platform tarballs and the main one
//   node scripts/pack.js --platforms a,b [--out DIR]  # those platforms (e.g. linux-arm64-gnu)
//   ... --binaries DIR                                # take every .node file from DIR instead
//
// A platform's binary is npm/<platform>/sso-token-provider.<platform>.node (written by
// build-target.js) or, for this machine's own platform, the one scripts/build.js placed in
// the package root; when both exist, the newer one. The platform folder is staged in a
// temporary directory with the repository's LICENSE, so the working tree never holds a stray
// copy of the binary. Prints one JSON object: { main, platforms: { <name>: <tgz> } }. Checks
// before packing: each platform package's version equals the main package's, its os/cpu/libc,
// main and files match scripts/targets.js, and it names its repository (npm publish
// --provenance needs `repository.url`). The packed main package pins exactly that version in
// `optionalDependencies` and keeps, of the repository's scripts, only `install`.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { TARGETS, nodeFileName, packageName, platformDir, findPlatform } = require('./targets.js')
const { localPlatform } = require('./build.js')

const root = path.join(__dirname, '..')

function fail(message) {
  console.error(`pack: ${message}`)
  process.exit(1)
}

const USAGE = 'usage: node scripts/pack.js [--all | --platforms a,b,...] [--out DIR] [--binaries DIR]'

function parseArgs(argv) {
  let out = path.join(root, 'dist')
  let platforms = null
  let binaries = null
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = path.resolve(argv[++i])
    else if (argv[i].startsWith('--out=')) out = path.resolve(argv[i].slice('--out='.length))
    else if (argv[i] === '--binaries' && i + 1 < argv.length) binaries = path.resolve(argv[++i])
    else if (argv[i] === '--all') platforms = TARGETS.map((t) => t.platform)
    else if (argv[i] === '--platforms' && i + 1 < argv.length)
      platforms = argv[++i].split(',').filter(Boolean)
    else fail(`unknown argument: ${argv[i]} (${USAGE})`)
  }
  if (!platforms) {
    const local = localPlatform()
    if (!local || !findPlatform(local)) {
      fail(
        `${local || `${process.platform}-${process.arch}`} has no prebuilt package: pass --platforms or --all`,
      )
    }
    platforms = [local]
  }
  for (const p of platforms) {
    if (!findPlatform(p)) fail(`unknown platform ${p} (known: ${TARGETS.map((t) => t.platform).join(', ')})`)
  }
  return { out, platforms, binaries }
}

// The platform package must say what scripts/targets.js says, or npm would install it on the
// wrong machines (or on none).
function checkPlatformPackage(target, platformPkg, version) {
  const file = nodeFileName(target.platform)
  const expected = {
    name: packageName(target.platform),
    version,
    main: file,
    files: [file],
    os: [target.os],
    cpu: [target.cpu],
    libc: target.libc ? [target.libc] : undefined,
  }
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(platformPkg[key]) !== JSON.stringify(value)) {
      fail(
        `npm/${target.platform}/package.json: ${key} is ${JSON.stringify(platformPkg[key])}, expected ${JSON.stringify(value)}`,
      )
    }
  }
  checkRepository(`npm/${target.platform}/package.json`, platformPkg)
}

function checkRepository(where, pkg) {
  if (!pkg.repository || typeof pkg.repository.url !== 'string' || !pkg.repository.url) {
    fail(`${where}: no repository.url (npm publish --provenance refuses a package without one)`)
  }
}

/**
 * The binary to pack for `target`: <binaries>/<file> when given, else npm/<platform>/<file>
 * or the source build's, the newer.
 */
function binaryFor(target, binaries) {
  const file = nodeFileName(target.platform)
  if (binaries) {
    const given = path.join(binaries, file)
    if (!fs.existsSync(given)) fail(`${file} not found in ${binaries}`)
    return given
  }
  const candidates = [path.join(platformDir(target.platform), file)]
  if (target.platform === localPlatform()) candidates.push(path.join(root, file))
  const present = candidates
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  if (!present.length) {
    fail(
      `${file} not found in npm/${target.platform}/: run \`npm run build:target -- ${target.triple}\`` +
        (candidates.length > 1 ? ' or `node scripts/build.js`' : ''),
    )
  }
  return present[0]
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
// Of its scripts only `install` (the source build) means anything in an installed package;
// the others, and the devDependencies they use, stay in the repository. `files` (with its
// `!` exclusions of test-only sources) is applied by npm pack in the stage.
function packMain(pkg, platformNames, out) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-token-provider-main-'))
  try {
    for (const entry of [...pkg.files.filter((f) => !f.startsWith('!')), 'README.md', 'LICENSE']) {
      const from = path.join(root, entry)
      if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, entry), { recursive: true })
    }
    const { devDependencies: _dev, ...kept } = pkg
    const staged = { ...kept, scripts: { install: pkg.scripts.install }, optionalDependencies: {} }
    for (const name of platformNames) staged.optionalDependencies[name] = pkg.version
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`)
    return npmPack(stage, out)
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

function main() {
  const { out, platforms, binaries } = parseArgs(process.argv.slice(2))
  const pkg = readJson(path.join(root, 'package.json'))
  const result = { main: null, platforms: {} }
  checkRepository('package.json', pkg)

  // Every check before any tarball is written.
  const jobs = platforms.map((platform) => {
    const target = findPlatform(platform)
    const dir = platformDir(platform)
    const platformPkg = readJson(path.join(dir, 'package.json'))
    if (platformPkg.version !== pkg.version) {
      fail(`${platformPkg.name} is at ${platformPkg.version}, ${pkg.name} at ${pkg.version}: they must match`)
    }
    checkPlatformPackage(target, platformPkg, pkg.version)
    return { platform, dir, platformPkg, binary: binaryFor(target, binaries) }
  })
  fs.mkdirSync(out, { recursive: true })

  for (const { platform, dir, platformPkg, binary } of jobs) {
    console.error(`pack: ${platformPkg.name} from ${path.relative(root, binary)}`)
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), `sso-token-provider-${platform}-`))
    try {
      for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith('.node')) fs.copyFileSync(path.join(dir, name), path.join(stage, name))
      }
      // npm packs a LICENSE whatever `files` says; each platform package ships the one license.
      fs.copyFileSync(path.join(root, 'LICENSE'), path.join(stage, 'LICENSE'))
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
