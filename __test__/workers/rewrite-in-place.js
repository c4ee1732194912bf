'use strict'

// Rewrites a cache file in place in a tight loop, as the AWS CLI and botocore do (open with
// truncation, write, close: the same inode, empty for a moment each time), alternating
// between two documents, until SSO_TEST_FOR_MS have passed. Prints "started" first and
// the number of rewrites at the end.

const fs = require('node:fs')

const file = process.env.SSO_TEST_FILE
const docs = JSON.parse(process.env.SSO_TEST_DOCS).map((d) => JSON.stringify(d))
const until = Date.now() + Number(process.env.SSO_TEST_FOR_MS)
process.stdout.write('started\n')
let n = 0
while (Date.now() < until) {
  const fd = fs.openSync(file, 'w')
  fs.writeSync(fd, docs[n % docs.length])
  fs.closeSync(fd)
  n += 1
}
process.stdout.write(`${n}\n`)
