'use strict'

// Fixtures shared by the runner: temporary homes with a config file and SSO cache files,
// and the environment a sample process runs with. The parent writes every file, so file
// creation is never part of what a sample measures.

const { START_URL, cleanEnv, isoIn, makeHome: makeTestHome } = require('../__test__/support/home.js')

const PROFILE = 'bench'
const SESSION = 'bench-session'
const BIG_PROFILE = 'p2500'
const BIG_SESSION = 's2500'
const BIG_COUNT = 5000
const BIG_TARGET_BYTES = 1.4e6

/** A small, realistic config: the benchmarked profile plus a couple of neighbours. */
function smallConfig() {
  return [
    '[default]',
    'region = us-east-1',
    '',
    `[profile ${PROFILE}]`,
    `sso_session = ${SESSION}`,
    'sso_account_id = 111122223333',
    'sso_role_name = ReadOnly',
    'region = us-east-1',
    '',
    '[profile other]',
    'region = eu-west-1',
    '',
    `[sso-session ${SESSION}]`,
    `sso_start_url = ${START_URL}`,
    'sso_region = us-east-1',
    'sso_registration_scopes = sso:account:access',
    '',
  ].join('\n')
}

let bigConfigText
/**
 * 5,000 profiles and 5,000 sso-sessions, padded with comment lines to about 1.4 MB: the
 * size of a generated config in a large AWS organization. Built once per run.
 */
function bigConfig() {
  if (bigConfigText) return bigConfigText
  const block = (n, pad) =>
    `[profile p${n}]\nsso_session = s${n}\nregion = us-east-1\noutput = json\n${pad}` +
    `[sso-session s${n}]\nsso_start_url = https://d-${n}.awsapps.com/start\n` +
    'sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n'
  let bare = 0
  for (let n = 1; n <= BIG_COUNT; n++) bare += block(n, '').length
  // Spread the padding over every profile so no single section is unusually large.
  const padLen = Math.max(0, Math.ceil((BIG_TARGET_BYTES - bare) / BIG_COUNT) - 3)
  const pad = padLen > 0 ? `; ${'x'.repeat(padLen)}\n` : ''
  const parts = []
  for (let n = 1; n <= BIG_COUNT; n++) parts.push(block(n, pad))
  bigConfigText = parts.join('')
  return bigConfigText
}

/** A cache-file token valid for `seconds` more; `extra` adds or overrides keys. */
function cacheToken(accessToken, seconds, extra) {
  return {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken,
    expiresAt: isoIn(seconds),
    ...extra,
  }
}

/** A token with the keys a refresh needs: clientId, clientSecret, refreshToken. */
function refreshableToken(accessToken, seconds, refreshToken) {
  return cacheToken(accessToken, seconds, {
    clientId: 'bench-client-id',
    clientSecret: 'bench-client-secret',
    registrationExpiresAt: isoIn(90 * 86400),
    refreshToken,
  })
}

/** A fresh temporary home with `config` and one cache file per session key of `tokens`. */
const makeHome = ({ config, tokens }) => makeTestHome({ config, tokens, prefix: 'sso-bench-' })

/** The environment of a sample: the parent's, minus AWS settings, with HOME = `home`. */
function sampleEnv(home, extra) {
  return cleanEnv(process.env, { HOME: home, ...extra })
}

module.exports = {
  PROFILE,
  SESSION,
  BIG_PROFILE,
  BIG_SESSION,
  smallConfig,
  bigConfig,
  cacheToken,
  refreshableToken,
  makeHome,
  sampleEnv,
}
