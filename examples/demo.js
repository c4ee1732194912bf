'use strict'

// `npm run demo`: the whole flow with no AWS account. A temporary HOME with a config and a
// cached token that expires in two minutes (inside the five-minute window), a CreateToken
// server on 127.0.0.1, one load that refreshes, and the rewritten cache file.

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

// A secret as the demo shows it: never the value, but enough to see that it changed (its
// length and the first 8 hex digits of its SHA-256). These are demo tokens; the provider
// itself prints no fingerprint of a real one.
const mask = (s) =>
  typeof s === 'string' && s.length > 6
    ? `*** (${s.length} chars, sha-256 ${crypto.createHash('sha256').update(s).digest('hex').slice(0, 8)})`
    : '***'

function sandbox() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-token-demo-'))
  fs.mkdirSync(path.join(home, '.aws', 'sso', 'cache'), { recursive: true, mode: 0o700 })
  fs.writeFileSync(
    path.join(home, '.aws', 'config'),
    [
      '[profile demo]',
      'sso_session = demo-session',
      'sso_account_id = 111122223333',
      'sso_role_name = ReadOnly',
      '',
      '[sso-session demo-session]',
      'sso_start_url = https://d-0000000000.awsapps.com/start',
      'sso_region = us-east-1',
      '',
    ].join('\n'),
  )
  const key = crypto.createHash('sha1').update('demo-session').digest('hex')
  const cachePath = path.join(home, '.aws', 'sso', 'cache', `${key}.json`)
  const token = {
    startUrl: 'https://d-0000000000.awsapps.com/start',
    region: 'us-east-1',
    accessToken: 'demo-old-access-token',
    expiresAt: new Date(Date.now() + 120 * 1000).toISOString(),
    clientId: 'demo-client-id',
    clientSecret: 'demo-client-secret',
    registrationExpiresAt: new Date(Date.now() + 90 * 86400 * 1000).toISOString(),
    refreshToken: 'demo-refresh-token-1',
  }
  fs.writeFileSync(cachePath, JSON.stringify(token, null, 2), { mode: 0o600 })
  return { home, cachePath }
}

function createTokenServer() {
  const requests = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, body: JSON.parse(body || '{}') })
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          accessToken: 'demo-new-access-token',
          expiresIn: 3600,
          refreshToken: 'demo-refresh-token-2',
          tokenType: 'Bearer',
        }),
      )
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests })))
}

function showCacheFile(label, cachePath) {
  const doc = JSON.parse(fs.readFileSync(cachePath, 'utf8'))
  for (const k of ['accessToken', 'refreshToken', 'clientSecret']) if (doc[k]) doc[k] = mask(doc[k])
  const mode = (fs.statSync(cachePath).mode & 0o777).toString(8)
  console.log(`${label} (mode ${mode}):\n${JSON.stringify(doc, null, 2)}\n`)
}

async function main() {
  const { home, cachePath } = sandbox()
  const { server, requests } = await createTokenServer()
  process.env.HOME = home
  process.env.AWS_ENDPOINT_URL_SSO_OIDC = `http://127.0.0.1:${server.address().port}`
  delete process.env.AWS_CONFIG_FILE
  delete process.env.AWS_PROFILE
  console.log(`sandbox HOME: ${home}`)
  console.log(`CreateToken server: ${process.env.AWS_ENDPOINT_URL_SSO_OIDC}\n`)
  showCacheFile('cache file before', cachePath)

  const { SSOTokenProvider } = require('..')
  const started = process.hrtime.bigint()
  const provider = await new Promise((resolve, reject) => {
    const p = new SSOTokenProvider({ profile: 'demo', callback: (err) => (err ? reject(err) : resolve(p)) })
  })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  console.log(
    `loaded profile "demo" in ${ms.toFixed(1)} ms (the token was inside the expiry window, so it was refreshed)`,
  )
  console.log(`  token:      ${mask(provider.token)}`)
  console.log(`  expireTime: ${provider.expireTime.toISOString()}`)
  console.log(
    `  CreateToken calls: ${requests.length} (${requests.map((r) => `${r.method} ${r.url}`).join(', ')})\n`,
  )
  showCacheFile('cache file after', cachePath)

  const cli = execFileSync(
    process.execPath,
    [path.join(__dirname, '..', 'bin', 'sso-token.js'), '--profile', 'demo'],
    {
      env: process.env,
      encoding: 'utf8',
    },
  )
  console.log(`$ sso-token --profile demo\n${cli}`)

  server.close()
  const written = JSON.parse(fs.readFileSync(cachePath, 'utf8'))
  const ok =
    provider.token === 'demo-new-access-token' &&
    requests.length === 1 &&
    written.accessToken === 'demo-new-access-token' &&
    written.refreshToken === 'demo-refresh-token-2'
  fs.rmSync(home, { recursive: true, force: true })
  if (!ok) {
    console.error('demo: the refresh did not go as expected')
    process.exitCode = 1
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
