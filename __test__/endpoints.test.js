'use strict'

// Where the refresh goes (docs/behaviour.md §5): the host the SSO OIDC rule set gives for
// the region's partition and the FIPS and dual-stack settings, and nowhere else. A loopback
// CONNECT proxy (HTTPS_PROXY) records the host every refresh asks for and refuses it, so
// the test sees the destination without any DNS or outside connection.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const { test } = require('./helpers')
const { REFRESH_FAILED, assertFailure, construct, setup, startConnectProxy } = require('./oidc-server.js')

/** A session in `region` whose token expires in `expiresIn` s, loaded through the proxy. */
async function refreshThroughProxy({ region, expiresIn = -10, profileLines = '', env = {} }) {
  const s = await setup({ expiresIn, region })
  const proxy = await startConnectProxy({ refuse: true })
  try {
    if (profileLines) {
      const text = fs.readFileSync(s.home.configPath, 'utf8')
      fs.writeFileSync(
        s.home.configPath,
        text.replace(`[profile ${s.profile}]\n`, `[profile ${s.profile}]\n${profileLines}`),
      )
    }
    delete process.env.AWS_ENDPOINT_URL_SSO_OIDC
    Object.assign(process.env, { HTTPS_PROXY: proxy.url, ...env })
    const r = await construct(s.profile)
    return { ...r, connects: proxy.connects, session: s.session }
  } finally {
    await proxy.close()
    await s.done()
  }
}

for (const region of [
  'x.evil.test#',
  'x.evil.test/',
  'evil.test:8443/',
  'us-east-1/..',
  'us-east-1.evil.test',
]) {
  test(`sso_region ${JSON.stringify(region)} is refused before any connection`, async () => {
    const expired = await refreshThroughProxy({ region })
    assertFailure(
      expired.err,
      `${REFRESH_FAILED} (sso_region "${region}" of sso-session "${expired.session}" is not a valid region name)`,
    )
    assert.deepEqual(expired.connects, [])
    const valid = await refreshThroughProxy({ region, expiresIn: 120 })
    assert.equal(valid.err, null, 'a still-valid token is served')
    assert.ok(valid.provider.token.startsWith('old-access-'))
    assert.deepEqual(valid.connects, [])
  })
}

const DESTINATIONS = [
  ['us-east-1', {}, '', 'oidc.us-east-1.amazonaws.com'],
  ['cn-north-1', {}, '', 'oidc.cn-north-1.amazonaws.com.cn'],
  ['eusc-de-east-1', {}, '', 'oidc.eusc-de-east-1.amazonaws.eu'],
  ['us-iso-east-1', {}, '', 'oidc.us-iso-east-1.c2s.ic.gov'],
  ['us-isob-east-1', {}, '', 'oidc.us-isob-east-1.sc2s.sgov.gov'],
  ['eu-isoe-west-1', {}, '', 'oidc.eu-isoe-west-1.cloud.adc-e.uk'],
  ['us-isof-south-1', {}, '', 'oidc.us-isof-south-1.csp.hci.ic.gov'],
  ['us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' }, '', 'oidc-fips.us-east-1.amazonaws.com'],
  ['us-east-1', { AWS_USE_DUALSTACK_ENDPOINT: 'true' }, '', 'oidc.us-east-1.api.aws'],
  [
    'us-east-1',
    { AWS_USE_FIPS_ENDPOINT: 'TRUE', AWS_USE_DUALSTACK_ENDPOINT: 'true' },
    '',
    'oidc-fips.us-east-1.api.aws',
  ],
  ['us-gov-west-1', { AWS_USE_FIPS_ENDPOINT: 'true' }, '', 'oidc.us-gov-west-1.amazonaws.com'],
  ['cn-north-1', {}, 'use_dualstack_endpoint = true\n', 'oidc.cn-north-1.api.amazonwebservices.com.cn'],
  ['eusc-de-east-1', {}, 'USE_FIPS_ENDPOINT = true\n', 'oidc-fips.eusc-de-east-1.amazonaws.eu'],
  [
    'us-east-1',
    { AWS_USE_FIPS_ENDPOINT: 'false' },
    'use_fips_endpoint = true\n',
    'oidc.us-east-1.amazonaws.com',
  ],
]

for (const [region, env, profileLines, host] of DESTINATIONS) {
  const how = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), profileLines.trim()]
    .filter(Boolean)
    .join(', ')
  test(`${region}${how ? ` with ${how}` : ''}: the refresh asks for ${host} only`, async () => {
    const r = await refreshThroughProxy({ region, env, profileLines })
    assertFailure(
      r.err,
      new RegExp(`^${REFRESH_FAILED.replace(/[()"]/g, '\\$&')} \\(the proxy did not connect to ${host}:443`),
    )
    assert.deepEqual([...new Set(r.connects)], [`${host}:443`])
  })
}

test('FIPS or dual-stack with AWS_ENDPOINT_URL_SSO_OIDC is refused, as the rule set does', async () => {
  for (const [name, word] of [
    ['AWS_USE_FIPS_ENDPOINT', 'FIPS'],
    ['AWS_USE_DUALSTACK_ENDPOINT', 'Dualstack'],
  ]) {
    const r = await refreshThroughProxy({
      region: 'us-east-1',
      env: { [name]: 'true', AWS_ENDPOINT_URL_SSO_OIDC: 'https://sso-oidc.example.test' },
    })
    assertFailure(
      r.err,
      `${REFRESH_FAILED} (Invalid Configuration: ${word} and custom endpoint are not supported)`,
    )
    assert.deepEqual(r.connects, [])
  }
})
