'use strict'

// The documents a user and a maintainer read: every fenced JavaScript sample in README.md
// runs as written, in a sandbox home with a cached token for profile `dev` (a sample that
// cannot run here says why in an HTML comment right above its fence:
// `<!-- not run: <reason> -->`), and every relative link of every Markdown file of the
// repository, with its anchor, leads somewhere.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('./helpers.js')
const { runNode } = require('./oidc-server.js')
const { makeSandbox, tokenDoc } = require('./samples/sandbox.js')

const ROOT = path.join(__dirname, '..')
// Inside the package folder, so that `require('sso-token-provider')` finds this package
// itself (package self-reference through its `exports`).
const SAMPLES = path.join(__dirname, '.samples')

/** The fenced code blocks of `markdown`: { lang, code, line, skip } (`skip`: the reason). */
function fences(markdown) {
  const out = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i])
    if (!open) continue
    let end = i + 1
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++
    const before = lines.slice(Math.max(0, i - 2), i).join('\n')
    const skip = /<!-- not run: ([^>]*?)\s*-->/.exec(before)
    out.push({ lang: open[1], code: lines.slice(i + 1, end).join('\n'), line: i + 1, skip: skip && skip[1] })
    i = end
  }
  return out
}

const samples = fences(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).filter((f) =>
  ['js', 'mjs', 'javascript'].includes(f.lang),
)

test('README.md has JavaScript samples, and every one that does not run says why', () => {
  assert.ok(samples.length >= 4, `${samples.length} samples`)
  for (const s of samples) if (s.skip !== null) assert.ok(s.skip.length > 10, `line ${s.line}: no reason`)
})

for (const sample of samples) {
  const name = `README.md line ${sample.line}: the sample runs as written`
  test(name, { skip: sample.skip || false }, async () => {
    const sandbox = makeSandbox({ profile: 'dev', token: tokenDoc(3600) })
    fs.mkdirSync(SAMPLES, { recursive: true })
    const esm = sample.lang === 'mjs' || /^\s*import\s/m.test(sample.code)
    const file = path.join(SAMPLES, `readme-${sample.line}.${esm ? 'mjs' : 'js'}`)
    fs.writeFileSync(file, sample.code)
    try {
      const r = await runNode([file], {
        env: sandbox.env({ AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' }),
        timeoutMs: 30_000,
      }).done
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
    } finally {
      fs.rmSync(file, { force: true })
      sandbox.cleanup()
    }
  })
}

/** GitHub's anchor of a heading: lower case, punctuation but hyphens dropped, spaces as hyphens. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

function anchors(file) {
  const text = fs.readFileSync(file, 'utf8')
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])))
}

function markdownFiles() {
  const tracked = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md', 'test-data/README.md']
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)
  return [...tracked, ...docs.filter((f) => f.endsWith('.md'))].filter((f) =>
    fs.existsSync(path.join(ROOT, f)),
  )
}

test('every relative link in the repository Markdown leads to a file, and to a heading where it names one', () => {
  let checked = 0
  for (const doc of markdownFiles()) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8')
    for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(href)) continue
      const [target, anchor] = href.split('#')
      const file = target ? path.join(ROOT, path.dirname(doc), target) : path.join(ROOT, doc)
      assert.ok(fs.existsSync(file), `${doc}: ${href} does not exist`)
      if (anchor) assert.ok(anchors(file).has(anchor), `${doc}: ${href}: no heading #${anchor}`)
      checked++
    }
  }
  assert.ok(checked > 10, `${checked} links`)
})
