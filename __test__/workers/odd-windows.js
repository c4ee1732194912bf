'use strict'

// Loads with expiryWindow values that crashed or overflowed earlier versions, each in turn,
// in this one process: a crash shows as a missing JSON line and a non-zero exit. Prints
// one JSON line: [{ label, where, message }] (message null on success). The home comes
// from the environment.

const { SSOTokenProvider } = require('../..')

const CASES = [
  ['-1e300', -1e300],
  ["'-1e300'", '-1e300'],
  ['new Number(-1e300)', new Number(-1e300)], // eslint-disable-line no-new-wrappers
  ['-(2**63)', -(2 ** 63)],
  ['-1', -1],
  ['1e300', 1e300],
  ['2**53', 2 ** 53],
  ['-(2**53)', -(2 ** 53)],
  ['1e16', 1e16],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ["'abc'", 'abc'],
  ['600', 600],
  ["'600'", '600'],
  ['0', 0],
]

async function loadWith(where, value) {
  const saved = SSOTokenProvider.expiryWindow
  if (where === 'static') SSOTokenProvider.expiryWindow = value
  try {
    const p = new SSOTokenProvider({ profile: 'dev' })
    if (where === 'instance') {
      await p.getPromise() // the eager load, with the class default
      p.expiryWindow = value
    }
    await p.refreshPromise()
    return null
  } catch (e) {
    return e.message
  } finally {
    SSOTokenProvider.expiryWindow = saved
  }
}

async function main() {
  const out = []
  for (const [label, value] of CASES) {
    for (const where of ['static', 'instance'])
      out.push({ label, where, message: await loadWith(where, value) })
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main()
