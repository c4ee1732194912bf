// A user's ava setup, for __test__/ecosystem.test.js. ava runs each test file in a worker
// thread of one process, concurrently; every worker has its own copy of process.env. The
// paths are relative to the project directory (the folder of the nearest package.json).
export default {
  files: ['__test__/samples/ava/*.spec.mjs'],
  workerThreads: true,
  timeout: '30s',
}
