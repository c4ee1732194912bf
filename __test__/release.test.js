'use strict'

// RELEASE: what `npm publish` would send, checked from here. scripts/pack.js packs the seven
// platform packages (with stand-in .node files: the contents of the binaries do not matter
// here, their names do) and the main package into a temporary folder, as the release
// workflow's publish job does; then every tarball's package.json and file list is read back.
// The workflow itself is checked for what kept it from ever publishing (issue 21).

const { describe, before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { TARGETS, nodeFileName, packageName, findTarget } = require('../scripts/targets.js')

const ROOT = path.join(__dirname, '..')
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const LICENSE = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')
const REPOSITORY_URL = 'git+https://github.com/sso-token-provider/sso-token-provider.git'
const WORKFLOW = fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8')

// pack.js runs `npm` without a shell, which Windows' npm.cmd needs; releases are packed on
// Linux (the publish job).
const WINDOWS = process.platform === 'win32' && 'scripts/pack.js runs npm without a shell'

/** This process's environment without the npm_* variables `npm test` sets. */
function cleanEnv() {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v
  return env
}

function tarList(tgz) {
  return execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((f) => f.replace(/^package\//, ''))
    .sort()
}

function tarText(tgz, entry) {
  return execFileSync('tar', ['xzf', tgz, '-O', `package/${entry}`], { encoding: 'utf8' })
}

describe('RELEASE: the eight tarballs scripts/pack.js makes for npm publish', { skip: WINDOWS }, () => {
  let work
  let packed // { main, platforms: { name: tgz } }

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-release-'))
    const binaries = path.join(work, 'binaries')
    fs.mkdirSync(binaries)
    for (const t of TARGETS) fs.writeFileSync(path.join(binaries, nodeFileName(t.platform)), 'stand-in')
    const stdout = execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'scripts', 'pack.js'),
        '--all',
        '--binaries',
        binaries,
        '--out',
        path.join(work, 'dist'),
      ],
      { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    )
    packed = JSON.parse(stdout)
  })

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true })
  })

  test('seven platform packages: os/cpu (and libc on Linux), repository, LICENSE, the binary', () => {
    assert.deepEqual(Object.keys(packed.platforms).sort(), TARGETS.map((t) => packageName(t.platform)).sort())
    for (const t of TARGETS) {
      const tgz = packed.platforms[packageName(t.platform)]
      const file = nodeFileName(t.platform)
      assert.deepEqual(tarList(tgz), ['LICENSE', 'README.md', file, 'package.json'].sort(), t.platform)
      assert.equal(tarText(tgz, 'LICENSE'), LICENSE)
      const pkg = JSON.parse(tarText(tgz, 'package.json'))
      assert.equal(pkg.name, packageName(t.platform))
      assert.equal(pkg.version, PKG.version)
      assert.deepEqual(pkg.os, [t.os], t.platform)
      assert.deepEqual(pkg.cpu, [t.cpu], t.platform)
      if (t.os === 'linux') assert.deepEqual(pkg.libc, [t.libc], t.platform)
      else assert.equal(pkg.libc, undefined, t.platform)
      assert.equal(pkg.main, file)
      assert.deepEqual(pkg.repository, {
        type: 'git',
        url: REPOSITORY_URL,
        directory: `npm/${t.platform}`,
      })
      assert.equal(pkg.license, PKG.license)
    }
  })

  test('the main package: repository, homepage, bugs, keywords, what it does today, only the install script', () => {
    const tgz = packed.main
    const pkg = JSON.parse(tarText(tgz, 'package.json'))
    assert.deepEqual(pkg.repository, { type: 'git', url: REPOSITORY_URL })
    assert.equal(pkg.homepage, 'https://github.com/sso-token-provider/sso-token-provider#readme')
    assert.deepEqual(pkg.bugs, { url: 'https://github.com/sso-token-provider/sso-token-provider/issues' })
    assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.includes('sso'), `keywords: ${pkg.keywords}`)
    assert.match(pkg.description, /AWS\.SSOTokenProvider/)
    assert.match(pkg.description, /IAM Identity Center \(SSO\) tokens/)
    assert.doesNotMatch(pkg.description, /libuv/)
    assert.deepEqual(pkg.scripts, { install: 'node scripts/build.js' })
    assert.equal(pkg.devDependencies, undefined)
    const pinned = Object.fromEntries(TARGETS.map((t) => [packageName(t.platform), PKG.version]))
    assert.deepEqual(pkg.optionalDependencies, pinned)
    assert.equal(tarText(tgz, 'LICENSE'), LICENSE)
  })

  test('the main package holds what a user needs and no test-only or repository-only file', () => {
    const files = tarList(packed.main)
    for (const needed of [
      'LICENSE',
      'README.md',
      'package.json',
      'index.js',
      'index.mjs',
      'index.d.ts',
      'lib/native.js',
      'lib/holders.js',
      'lib/login.js',
      'lib/printable.js',
      'binding.js',
      'binding.d.ts',
      'bin/sso-token.js',
      'scripts/build.js',
      'Cargo.toml',
      'Cargo.lock',
      'build.rs',
      'rust-toolchain.toml',
      'src/lib.rs',
      'src/login.rs',
      'core/Cargo.toml',
      'core/src/lib.rs',
      'core/src/oidc/transport.rs',
      'docs/behaviour.md',
    ]) {
      assert.ok(files.includes(needed), `${needed} is not in the main tarball`)
    }
    const unwanted = files.filter(
      (f) =>
        /^(__test__|test-data|benchmark|examples|npm|core\/tests|\.github|\.ci|target|dist|node_modules)\//.test(
          f,
        ) ||
        (f.startsWith('scripts/') && f !== 'scripts/build.js') ||
        [
          'core/src/oidc/test_server.rs',
          'core/src/oidc/transport_tests.rs',
          'core/src/watch/tests.rs',
          'core/src/login/tests.rs',
          'core/src/login/listener_tests.rs',
          'core/src/login/calls_tests.rs',
        ].includes(f) ||
        /^(clippy\.toml|rustfmt\.toml|\.editorconfig|\.prettierrc\.json|\.prettierignore|\.gitignore|package-lock\.json)$/.test(
          f,
        ) ||
        /\.(node|tgz)$/.test(f),
    )
    assert.deepEqual(unwanted, [])
  })

  test('every relative link in the packed README points at a file in the package', () => {
    const readme = tarText(packed.main, 'README.md')
    const files = tarList(packed.main)
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((m) => m[1])
      .filter((href) => !/^[a-z]+:/i.test(href))
    assert.ok(links.length > 0, 'the README links to docs/behaviour.md')
    for (const href of links) assert.ok(files.includes(href), `README links to ${href}, not in the package`)
  })

  test('`npm pack --dry-run` in the repository lists the same files as the packed main package', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const [info] = JSON.parse(out.slice(out.indexOf('[')))
    assert.deepEqual(info.files.map((f) => f.path).sort(), tarList(packed.main))
  })

  test('`npm pack` in the repository root writes no tarball of that name: it points to scripts/pack.js', () => {
    const dest = path.join(work, 'npm-pack')
    fs.mkdirSync(dest)
    const r = spawnSync('npm', ['pack', '--pack-destination', dest], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
    })
    assert.notEqual(r.status, 0, r.stdout)
    assert.match(r.stderr, /node scripts\/pack\.js --all --out dist/)
    assert.deepEqual(fs.readdirSync(dest), [])
    assert.equal(path.basename(packed.main), `${PKG.name}-${PKG.version}.tgz`)
  })
})

/** The text of `job` in the workflow: from its key to the next job's. */
function jobText(job) {
  const start = WORKFLOW.indexOf(`\n  ${job}:\n`)
  assert.ok(start >= 0, `no job ${job}`)
  const next = WORKFLOW.slice(start + 1).search(/\n {2}[a-z][a-z-]*:\n/)
  return next < 0 ? WORKFLOW.slice(start) : WORKFLOW.slice(start, start + 1 + next)
}

function flowScalar(text) {
  return text.trim().replace(/^'(.*)'$/, '$1')
}

/**
 * A job's `strategy.matrix`, read from the flow-style lines this workflow writes it in
 * (`key: [a, b]`, and `- { k: v, ... }` under `include:`).
 */
function matrixOf(job) {
  const lines = jobText(job).split('\n')
  const at = lines.findIndex((l) => /^ {6}matrix:$/.test(l))
  assert.ok(at >= 0, `${job} has no matrix`)
  const dims = {}
  const include = []
  for (const line of lines.slice(at + 1)) {
    if (!/^ {8}/.test(line)) break
    let m
    if ((m = /^ {8}([a-z-]+): \[(.*)\]$/.exec(line))) dims[m[1]] = m[2].split(',').map(flowScalar)
    else if ((m = /^ {10}- \{(.*)\}$/.exec(line))) {
      include.push(Object.fromEntries(m[1].split(',').map((kv) => kv.split(':').map(flowScalar))))
    }
  }
  return { dims, include }
}

/**
 * The jobs GitHub makes of a matrix: the product of its dimensions, then each `include`
 * entry merged into every combination whose original values it does not change (values an
 * earlier entry added may be overwritten), or added as a job of its own when it fits none.
 */
function expand({ dims, include }) {
  let jobs = Object.keys(dims).length ? [{}] : []
  for (const [key, values] of Object.entries(dims)) {
    jobs = jobs.flatMap((job) => values.map((v) => ({ ...job, [key]: v })))
  }
  const originals = jobs.map((job) => ({ ...job }))
  const extra = []
  for (const entry of include) {
    let merged = false
    jobs.forEach((job, i) => {
      if (Object.entries(entry).some(([k, v]) => k in originals[i] && originals[i][k] !== v)) return
      Object.assign(job, entry)
      merged = true
    })
    if (!merged) extra.push({ ...entry })
  }
  return [...jobs, ...extra]
}

describe('RELEASE: .github/workflows/release.yml', () => {
  test("the matrix rule itself: the include example of GitHub's docs", () => {
    const jobs = expand({
      dims: { fruit: ['apple', 'pear'], animal: ['cat', 'dog'] },
      include: [
        { color: 'green' },
        { color: 'pink', animal: 'cat' },
        { fruit: 'apple', shape: 'circle' },
        { fruit: 'banana' },
        { fruit: 'banana', animal: 'cat' },
      ],
    })
    assert.deepEqual(jobs, [
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ])
  })

  test('the build matrix makes one job per prebuilt target', () => {
    const jobs = expand(matrixOf('build'))
    assert.deepEqual(jobs.map((j) => j.platform).sort(), TARGETS.map((t) => t.platform).sort())
    for (const job of jobs) {
      const target = findTarget(job.target)
      assert.equal(target && target.platform, job.platform, `${job.target} ships as ${job.platform}`)
    }
  })

  test('the test matrices make one job per platform and Node.js version, each on its own runner', () => {
    const native = expand(matrixOf('test-native')).map(
      (j) => `${j.platform} node${j.node} ${j.host} ${j.arch}`,
    )
    assert.deepEqual(native.sort(), [
      'darwin-arm64 node20 macos-latest arm64',
      'darwin-arm64 node22 macos-latest arm64',
      'darwin-x64 node20 macos-latest x64',
      'darwin-x64 node22 macos-latest x64',
      'linux-arm64-gnu node20 ubuntu-24.04-arm arm64',
      'linux-arm64-gnu node22 ubuntu-24.04-arm arm64',
      'linux-x64-gnu node20 ubuntu-latest x64',
      'linux-x64-gnu node22 ubuntu-latest x64',
      'win32-x64-msvc node20 windows-latest x64',
      'win32-x64-msvc node22 windows-latest x64',
    ])
    const musl = expand(matrixOf('test-musl')).map((j) => `${j.platform} node${j.node} ${j.host} ${j.docker}`)
    assert.deepEqual(musl.sort(), [
      'linux-arm64-musl node20 ubuntu-24.04-arm linux/arm64',
      'linux-arm64-musl node22 ubuntu-24.04-arm linux/arm64',
      'linux-x64-musl node20 ubuntu-latest linux/amd64',
      'linux-x64-musl node22 ubuntu-latest linux/amd64',
    ])
  })

  test('no job runs in a container: the musl jobs docker-run Alpine after checkout on the runner', () => {
    // The runner refuses JavaScript actions (checkout, download-artifact) inside an Alpine
    // container except on x64; a `container:` job on ubuntu-24.04-arm never starts them.
    assert.doesNotMatch(WORKFLOW, /^\s*container:/m)
    const musl = jobText('test-musl')
    assert.match(musl, /docker run --rm --platform "\$DOCKER_PLATFORM"/)
    assert.match(musl, /IMAGE: node:\$\{\{ matrix\.node \}\}-alpine/)
    assert.ok(musl.indexOf('actions/checkout@') < musl.indexOf('docker run'))
  })

  test('every actions/* step is on a major that runs on Node 24', () => {
    // The first major of each whose action.yml says `runs.using: node24`.
    const node24 = { checkout: 5, 'setup-node': 5, cache: 5, 'upload-artifact': 6, 'download-artifact': 7 }
    const uses = [...WORKFLOW.matchAll(/uses: actions\/([a-z-]+)@v(\d+)/g)]
    assert.ok(uses.length >= 10, `${uses.length} actions/* steps`)
    for (const [line, name, major] of uses) {
      assert.ok(name in node24, `${line}: an action this test does not know`)
      assert.ok(Number(major) >= node24[name], `${line} runs on Node 20 or older`)
    }
  })

  test('actionlint reports no error (run when actionlint is on PATH; .ci/run installs it)', (t) => {
    const probe = spawnSync('actionlint', ['-version'], { encoding: 'utf8' })
    if (probe.error) return t.skip('actionlint is not on PATH')
    const res = spawnSync('actionlint', ['-oneline'], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(res.status, 0, `actionlint:\n${res.stdout}${res.stderr}`)
  })
})
