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

/** What the user must see to authorize a sign-in. */
export interface LoginPrompt {
  /** `'authorization_code'` (the browser comes back to this machine) or `'device_code'`. */
  flow: 'authorization_code' | 'device_code'
  /** The page to open: the authorize URL, or the device flow's verification page. */
  verificationUri: string
  /** The same with the user code filled in (the authorize URL for the code flow). */
  verificationUriComplete: string
  /** The code to enter on the verification page; `null` in the code flow. */
  userCode: string | null
  /** The authorize URL of the code flow; `null` in the device flow. */
  authorizeUrl: string | null
  /** Whether the browser is being opened with this URL. */
  openingBrowser: boolean
}

/**
 * What `login()` reads of an `AbortSignal` (declared here so that the typings need neither
 * the DOM library nor `@types/node`; an `AbortController`'s `signal` fits).
 */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

export interface LoginOptions {
  /** Profile to sign in; default `AWS_PROFILE` if non-empty, else `'default'`. */
  profile?: string
  /**
   * `true`: the device code flow (a code entered on any device). By default the
   * authorization code flow with PKCE, or the device flow where no browser can be opened
   * (Linux without `DISPLAY`/`WAYLAND_DISPLAY`); a profile holding its own
   * `sso_start_url` always uses the device flow, as the AWS CLI does.
   */
  useDeviceCode?: boolean
  /** Open the URL in the default browser; default `true`. */
  openBrowser?: boolean
  /** Called once when the user must act; without it the prompt is written to stderr. */
  onPrompt?: (prompt: LoginPrompt) => void
  /** Aborting it ends the sign-in (`kind` `'LoginAborted'`): the listener closes, nothing is written. */
  signal?: AbortSignalLike
  /** How long the sign-in may take, in milliseconds; default 600000 (10 minutes). */
  timeoutMs?: number
}

/**
 * Why a sign-in or sign-out failed: the usual error, with a `kind` to decide on
 * (`'LoginTimedOut'`, `'LoginAborted'`, `'LoginDenied'`, `'LoginFailed'`, `'LogoutFailed'`,
 * or the configuration's own, such as `'ProfileNotFound'`).
 */
export interface LoginFailure extends SSOTokenProviderFailure {
  readonly kind: string
}

/**
 * Signs a profile in without the AWS CLI, writing the token (and the client registration)
 * where and as the AWS CLI does; providers in this process and others see the new token.
 * Resolves with its expiry, never with the token. Throws a `TypeError` at once for a bad
 * option; rejects with a {@link LoginFailure}.
 */
export declare function login(options?: LoginOptions): Promise<{ expiration: Date }>

export interface LogoutOptions {
  /** Only this profile's token file; without it every token in `~/.aws/sso/cache`, as `aws sso logout`. */
  profile?: string
}

/**
 * Signs out as `aws sso logout` does: the portal's Logout with each token, then the token
 * files removed (registrations stay). Resolves with the files removed and what did not go as
 * it should (a Logout that failed: the file is removed anyway).
 */
export declare function logout(options?: LogoutOptions): Promise<{ removed: string[]; warnings: string[] }>

/** `'SSOTokenProviderFailure'`, the `code` and `name` of every error. */
export declare const ERROR_CODE: 'SSOTokenProviderFailure'
