'use strict'

// Runs under an emulated Node.js (Wine's node.exe, qemu's arm64 node, a musl node), inside a
// project whose node_modules holds the packed main package and one platform package, as npm
// would lay them out. One load through the v2 API: the cached token is inside the expiry
// window, so it is refreshed against the loopback CreateToken server that
// scripts/test-platforms.js runs (AWS_ENDPOINT_URL_SSO_OIDC) and written back. The result
// goes to a file, not stdout: node.exe under Wine cannot write to a pipe from Linux.
//
//   node smoke.js <project dir> <result file>

const fs = require('node:fs')
const path = require('node:path')

const [project, resultFile] = process.argv.slice(2)

function finish(result) {
  fs.writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`)
}

process.on('uncaughtException', (e) => {
  finish({ ok: false, stage: 'uncaught', message: String((e && e.stack) || e) })
  process.exit(1)
})

let SSOTokenProvider
try {
  ;({ SSOTokenProvider } = require(require.resolve('sso-token-provider', { paths: [project] })))
} catch (e) {
  finish({ ok: false, stage: 'require', message: String(e && e.stack) })
  process.exit(1)
}

const started = Date.now()
const provider = new SSOTokenProvider({
  profile: 'x',
  callback(err) {
    const addon = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
    finish({
      ok: !err,
      stage: 'load',
      message: err ? `${err.code}: ${err.message}` : undefined,
      token: provider.token,
      expireTime: provider.expireTime && provider.expireTime.toISOString(),
      ms: Date.now() - started,
      addon: addon.map((f) => path.relative(project, f)),
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      home: process.env.HOME || process.env.USERPROFILE,
    })
  },
})
