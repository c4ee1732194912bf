// Hand-written typings for sso-token-provider (binding.d.ts is generated and internal).

export interface SSOTokenProviderOptions {
  /** Profile to load; default `AWS_PROFILE` if non-empty, else `'default'`. */
  profile?: string
  /** Called once the eager load ends: `null` on success, else the error. */
  callback?: (err: SSOTokenProviderFailure | null) => void
}

/** Every error the provider reports. */
export interface SSOTokenProviderFailure extends Error {
  code: 'SSOTokenProviderFailure'
  name: 'SSOTokenProviderFailure'
  message: string
  time: Date
}

/** Drop-in replacement for `AWS.SSOTokenProvider` of the AWS SDK for JavaScript v2. */
export declare class SSOTokenProvider {
  /** Seconds before `expireTime` at which the token is refreshed; 300 (five minutes). */
  static expiryWindow: number
  /**
   * Seconds before `expireTime` from which a call is answered at once and the token is
   * refreshed in the background; 900 (fifteen minutes). 0 turns that off.
   */
  static advisoryWindow: number

  constructor(options?: SSOTokenProviderOptions)

  // `token`, `expireTime` and the `get`/`refresh` callbacks are typed as aws-sdk v2 types
  // its `AWS.Token`, so that under --strict an instance is a v2 token (a client's `token`
  // option, `TokenProviderChain`) and the class can be assigned to `AWS.SSOTokenProvider`.
  /**
   * The bearer token; not enumerable. `undefined` until the first load succeeds (typed
   * `string`, as v2 types it).
   */
  token: string
  /** When the token expires; `null` before the first successful load (typed `Date`, as v2). */
  expireTime: Date
  /** `true` until a load succeeds. */
  expired: boolean
  /** The profile this provider loads. */
  profile: string
  /** Per-instance expiry window in seconds; defaults to `SSOTokenProvider.expiryWindow`. */
  expiryWindow: number
  /** Per-instance advisory window in seconds; defaults to `SSOTokenProvider.advisoryWindow`. */
  advisoryWindow: number

  /** True when the token is missing, expired, or within `expiryWindow` of expiring. */
  needsRefresh(): boolean
  /**
   * Loads if `needsRefresh()`, then calls back; otherwise calls back at once with no argument.
   * On success the callback gets no error (`null` after a load, as in v2).
   */
  get(callback?: (err?: SSOTokenProviderFailure) => void): void
  /** Re-reads config and cache from disk, refreshing over the network when due. */
  refresh(callback?: (err?: SSOTokenProviderFailure) => void): void
  getPromise(): Promise<void>
  refreshPromise(): Promise<void>
}

/** The token shape SDK v3 clients take from their `token` option. */
export interface TokenIdentity {
  token: string
  expiration?: Date
}

/**
 * The init of v3's own `fromSso` (`@aws-sdk/token-providers`), as far as it applies here;
 * the README ("With SDK v3") says what each key does.
 */
export interface FromSsoInit {
  /** Profile to load, read at each call; default `AWS_PROFILE` if non-empty, else `'default'`. */
  profile?: string
  /**
   * The config file to read instead of `AWS_CONFIG_FILE` / `~/.aws/config` (a non-empty
   * path, taken as written: no `~` expansion). The token cache stays in `~/.aws/sso/cache`.
   */
  configFilepath?: string
  /**
   * v3's shared credentials file. Accepted so one init can serve several v3 providers, and
   * not read: SSO settings come from the config file only, as in v2.
   */
  filepath?: string
  /**
   * `true`: read the config and the cache file on every call (a new login or a config edit
   * is seen at once). Otherwise a token more than `SSOTokenProvider.expiryWindow` from
   * expiry is served from memory. A network refresh happens only when one is due either way.
   */
  ignoreCache?: boolean
  /** Gets one `debug` line per call, as v3's fromSso logs; nothing else is logged. */
  logger?: { debug?: (...content: any[]) => void }
  /**
   * Accepted and not used: v3 configures the SSO OIDC client with it; our CreateToken call
   * reads `AWS_ENDPOINT_URL_SSO_OIDC`, `HTTPS_PROXY`, `NO_PROXY` and `AWS_CA_BUNDLE`.
   */
  clientConfig?: unknown
  /** Accepted and not used, as `clientConfig`. */
  parentClientConfig?: unknown
}

/**
 * What a `fromSso` provider rejects with: the usual error plus v3's `tryNextLink`, true
 * only when the profile is not an SSO profile (no `sso_session`), so that a v3 `chain()`
 * goes on to its next provider then and stops on every error the user must act on.
 */
export interface FromSsoFailure extends SSOTokenProviderFailure {
  tryNextLink: boolean
}

/**
 * An SDK v3 token provider backed by the same engine: `new Client({ token: fromSso() })`,
 * or `chain(fromSso(), other)`. Rejects with a {@link FromSsoFailure}; throws a
 * `TypeError` at once for a `configFilepath` that is not a non-empty string.
 */
export declare function fromSso(init?: FromSsoInit): () => Promise<TokenIdentity>

/** `'SSOTokenProviderFailure'`, the `code` and `name` of every error. */
export declare const ERROR_CODE: 'SSOTokenProviderFailure'
