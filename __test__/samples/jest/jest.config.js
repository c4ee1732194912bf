'use strict'

// A user's jest setup, for __test__/ecosystem.test.js. Jest gives every test file its own
// module registry, so the package (index.js, binding.js) is loaded once per file, all in one
// process when run with --runInBand: the addon must survive being required again.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.spec.js'],
}
