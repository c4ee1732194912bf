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

  constructor(options?: SSOTokenProviderOptions)

  /** The bearer token; not enumerable. Undefined until the first load succeeds. */
  token: string | undefined
  /** When the token expires; `null` before the first successful load. */
  expireTime: Date | null
  /** `true` until a load succeeds. */
  expired: boolean
  /** The profile this provider loads. */
  profile: string
  /** Per-instance expiry window in seconds; defaults to `SSOTokenProvider.expiryWindow`. */
  expiryWindow: number

  /** True when the token is missing, expired, or within `expiryWindow` of expiring. */
  needsRefresh(): boolean
  /** Loads if `needsRefresh()`, then calls back; otherwise calls back at once with no argument. */
  get(callback?: (err?: SSOTokenProviderFailure | null) => void): void
  /** Re-reads config and cache from disk, refreshing over the network when due. */
  refresh(callback?: (err?: SSOTokenProviderFailure | null) => void): void
  getPromise(): Promise<void>
  refreshPromise(): Promise<void>
}

/** The token shape SDK v3 clients take from their `token` option. */
export interface TokenIdentity {
  token: string
  expiration?: Date
}

export interface FromSsoInit {
  profile?: string
}

/** An SDK v3 token provider backed by the same engine: `new Client({ token: fromSso() })`. */
export declare function fromSso(init?: FromSsoInit): () => Promise<TokenIdentity>

/** `'SSOTokenProviderFailure'`, the `code` and `name` of every error. */
export declare const ERROR_CODE: 'SSOTokenProviderFailure'
