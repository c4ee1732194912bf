'use strict'

// The repository's `prepack` script. `npm pack` (and `npm publish`) in the repository root
// would write a main tarball of the very name scripts/pack.js gives its own,
// sso-token-provider-<version>.tgz, with other contents: no platform packages in
// `optionalDependencies`, and every script of the repository. So they stop here, and the
// release tarballs come from scripts/pack.js only (it packs a staged copy whose package.json
// has no prepack). `npm pack --dry-run` goes on: it writes nothing and lists the files the
// main package ships.

if (process.env.npm_config_dry_run === 'true') process.exit(0)
console.error(
  [
    'sso-token-provider: npm pack and npm publish do not run in the repository root: their tarball',
    'would lack the platform packages. Make the release tarballs with',
    '  node scripts/pack.js --out dist          (this platform)',
    '  node scripts/pack.js --all --out dist    (the seven, after npm run build:all)',
    'and publish those (README, "Releasing").',
  ].join('\n'),
)
process.exit(1)
