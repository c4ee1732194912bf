'use strict'

// Reads one cache file over and over (about every millisecond) while other processes
// refresh it, and counts what a reader of the AWS CLI cache would see. Stops on a line on
// stdin and prints one JSON line:
//   { reads, torn, missing, otherErrors, tokens: [distinct accessTokens seen], tornSamples }
// torn: the bytes were not a JSON object with string accessToken and expiresAt (a half
// written file); missing: ENOENT (the file must never disappear during a rename).
//   SOAK_READ_FILE  the file to read

const fs = require('node:fs')

const file = process.env.SOAK_READ_FILE
const pause = new Int32Array(new SharedArrayBuffer(4))
const stats = { reads: 0, torn: 0, missing: 0, otherErrors: 0, tokens: [], tornSamples: [] }
const seen = new Set()
let stop = false
process.stdin.on('data', () => (stop = true))
process.stdin.on('end', () => (stop = true))

function readOnce() {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if (e.code === 'ENOENT') stats.missing += 1
    else stats.otherErrors += 1
    return
  }
  stats.reads += 1
  let doc
  try {
    doc = JSON.parse(text)
  } catch {
    doc = null
  }
  if (!doc || typeof doc.accessToken !== 'string' || typeof doc.expiresAt !== 'string') {
    stats.torn += 1
    if (stats.tornSamples.length < 3) stats.tornSamples.push(text.slice(0, 80))
    return
  }
  seen.add(doc.accessToken)
}

async function main() {
  process.stdout.write('ready\n')
  while (!stop) {
    for (let i = 0; i < 20; i++) {
      readOnce()
      Atomics.wait(pause, 0, 0, 1)
    }
    // Let the stdin "stop" line in.
    await new Promise((resolve) => setImmediate(resolve))
  }
  stats.tokens = [...seen]
  process.stdout.write(`${JSON.stringify(stats)}\n`)
}

main()
