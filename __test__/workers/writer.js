'use strict'

// A separate process that rewrites a cache file when told: one line on stdin,
// `<rename|in-place> <accessToken>`, and one line `ok` on stdout once the write has
// returned. The parent acts only after that line, so every write is complete before it.

const fs = require('node:fs')
const readline = require('node:readline')

const file = process.argv[2]
const expiresAt = new Date(Date.now() + 7200e3).toISOString()

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [how, token] = line.split(' ')
  const doc = JSON.stringify({ accessToken: token, expiresAt })
  if (how === 'rename') {
    fs.writeFileSync(`${file}.new`, doc)
    fs.renameSync(`${file}.new`, file)
  } else {
    // As the AWS CLI writes: truncate, then write, in place.
    fs.writeFileSync(file, doc)
  }
  process.stdout.write('ok\n')
})
