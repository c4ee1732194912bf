'use strict'

// Helpers for the refresh / transport / cross-process tests: a temporary HOME with real
// config and cache files, a loopback SSO OIDC CreateToken server that records every
// request, a CONNECT proxy, child processes and a test CA made with openssl. Nothing of
// our code is mocked: the addon talks to these servers over real sockets.

const assert = require('node:assert/strict')
const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const net = require('node:net')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const REFRESH_FAILED = 'SSO Token refresh failed. Please log in using "aws sso login"'

const {
  assertFailure,
  cleanEnv,
  isoIn,
  makeHome,
  sha1,
  tempDir,
  tokenDoc,
  uniqueName,
  useEnv,
} = require('./support/home.js')
const { delay } = require('./helpers.js')

/** Points HOME at `home`, clears every AWS / proxy variable, then applies `extra`. */
function useHome(home, extra = {}) {
  useEnv({ HOME: home, ...extra })
}

/** The environment for a child process: ours without the AWS / proxy variables. */
function childEnv(extra = {}) {
  return cleanEnv(process.env, extra)
}

/** Size, inode, mtime, mode and bytes of a file (lstat: a symlink is reported as one). */
function fileState(file) {
  const st = fs.lstatSync(file)
  return {
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    mode: st.mode & 0o777,
    symlink: st.isSymbolicLink(),
    bytes: st.isSymbolicLink() ? fs.readlinkSync(file) : fs.readFileSync(file, 'utf8'),
  }
}

function listDir(dir) {
  return fs.readdirSync(dir).sort()
}

/**
 * A loopback HTTP server standing in for SSO OIDC. Every request is recorded as
 * { method, url, headers, body, json, at, index }. `handler(req, res, record)` answers;
 * without one the answer is a CreateToken success.
 */
async function startOidcServer(handler, { tls } = {}) {
  const requests = []
  const sockets = new Set()
  let current = handler
  const onRequest = (req, res) => {
    const at = Date.now()
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const record = { method: req.method, url: req.url, headers: req.headers, body, json, at }
      record.index = requests.push(record) - 1
      try {
        if (current) await current(req, res, record)
        else createTokenOk(res)
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'test_handler_error', error_description: String(err) }))
      }
    })
  }
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest)
    : http.createServer(onRequest)
  const tlsErrors = []
  server.on('tlsClientError', (e) => tlsErrors.push(e.message))
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address()
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    tlsErrors,
    server,
    setHandler(h) {
      current = h
    },
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function sendJson(res, status, obj, headers = {}) {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj)
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(text)
}

/** A CreateToken success; `fields` replace or (as undefined) remove response fields. */
function createTokenOk(res, fields = {}) {
  const body = { accessToken: 'new-access-token', expiresIn: 3600, tokenType: 'Bearer', ...fields }
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k]
  sendJson(res, 200, body)
}

/** A CreateToken refusal: 400 invalid_grant, as SSO OIDC answers a used refresh token. */
function invalidGrantReply(req, res) {
  sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token provided' })
}

/** A handler answering the n-th request with replies[n] (the last one repeats). */
function scripted(replies) {
  return (req, res, record) => {
    const reply = replies[Math.min(record.index, replies.length - 1)]
    return reply(req, res, record)
  }
}

/** A port with nothing listening on it. */
async function freePort() {
  const s = net.createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return port
}

function ours() {
  return require(ROOT)
}

/**
 * Constructs our provider (the constructor loads eagerly) and resolves when its callback
 * fires: { provider, err, ms }. A constructor that throws is reported as `threw`.
 */
function construct(profile) {
  const { SSOTokenProvider } = ours()
  const start = Date.now()
  return new Promise((resolve) => {
    let provider
    try {
      provider = new SSOTokenProvider({
        profile,
        callback(err) {
          process.nextTick(() => resolve({ provider, err: err || null, ms: Date.now() - start }))
        },
      })
    } catch (threw) {
      resolve({ provider, err: null, threw, ms: Date.now() - start })
    }
  })
}

/** Resolves { err } when `promise` settles, never rejects. */
async function settle(promise) {
  try {
    const value = await promise
    return { err: null, value }
  } catch (err) {
    return { err }
  }
}

/**
 * Runs `node args...` and resolves { code, signal, stdout, stderr, ms }. `onLine(line, child)`
 * sees each stdout line as it arrives.
 */
function runNode(args, { env, input, onLine, timeoutMs = 60000, cwd = ROOT } = {}) {
  const start = Date.now()
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let pending = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (d) => {
    stdout += d
    pending += d
    let i
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i)
      pending = pending.slice(i + 1)
      if (onLine) onLine(line, child)
    }
  })
  child.stderr.on('data', (d) => (stderr += d))
  child.stdin.on('error', () => {})
  if (input !== undefined) child.stdin.end(input)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start })
    })
  })
  return { child, done }
}

/** The last JSON line a worker printed. */
function lastJson(stdout) {
  const lines = stdout.trim().split('\n').filter(Boolean)
  return JSON.parse(lines[lines.length - 1])
}

/**
 * A CONNECT proxy on 127.0.0.1. Records every CONNECT target; tunnels to it, or answers
 * 502 without connecting anywhere when `refuse` is set.
 */
async function startConnectProxy({ refuse = false } = {}) {
  const connects = []
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    connects.push(`${req.method} ${req.url}`)
    res.writeHead(405)
    res.end()
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('connect', (req, clientSocket, head) => {
    connects.push(req.url)
    clientSocket.on('error', () => {})
    if (refuse) {
      clientSocket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const [host, port] = [
      req.url.slice(0, req.url.lastIndexOf(':')),
      req.url.slice(req.url.lastIndexOf(':') + 1),
    ]
    if (host !== '127.0.0.1') {
      clientSocket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const upstream = net.connect(Number(port), host, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head && head.length) upstream.write(head)
      upstream.pipe(clientSocket)
      clientSocket.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => clientSocket.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** A CA and a server certificate for IP 127.0.0.1, made by the openssl command. */
function makeTestCa() {
  const dir = tempDir('sso-test-ca-')
  const f = (name) => path.join(dir, name)
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=sso-token-provider test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1'])
  fs.writeFileSync(
    f('ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  )
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ])
  return {
    dir,
    caPath: f('ca.pem'),
    cert: fs.readFileSync(f('server.pem')),
    key: fs.readFileSync(f('server.key')),
  }
}

function hasOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
}

module.exports = {
  ROOT,
  REFRESH_FAILED,
  tempDir,
  uniqueName,
  sha1,
  isoIn,
  makeHome,
  useHome,
  childEnv,
  tokenDoc,
  fileState,
  listDir,
  startOidcServer,
  sendJson,
  createTokenOk,
  invalidGrantReply,
  scripted,
  delay,
  freePort,
  ours,
  construct,
  settle,
  assertFailure,
  runNode,
  lastJson,
  startConnectProxy,
  makeTestCa,
  hasOpenssl,
}

/**
 * One scenario: a temporary HOME with a fresh session (own cache file) holding
 * `doc` or else `tokenDoc(expiresIn, overrides)`, a loopback server answering with `handler`, and the
 * environment pointing at both. `done()` closes and removes everything.
 */
async function setup({ expiresIn = 120, overrides, doc: given, handler, profiles, region, mode, env } = {}) {
  const home = makeHome()
  const session = uniqueName()
  const profileNames = home.addSession({ session, profiles, region })
  const doc = given || tokenDoc(expiresIn, overrides)
  const file = home.writeToken(session, doc, { mode })
  const server = await startOidcServer(handler)
  useHome(home.home, { AWS_ENDPOINT_URL_SSO_OIDC: server.url, ...env })
  return {
    home,
    session,
    profile: profileNames[0],
    profiles: profileNames,
    doc,
    file,
    server,
    before: fileState(file),
    async done() {
      await server.close()
      home.cleanup()
    },
  }
}

module.exports.setup = setup
