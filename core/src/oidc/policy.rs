//! How patient a request is: timeouts, attempts and backoff, and how it names itself.
//! Every request of this crate (CreateToken, and the sign-in calls) runs under a
//! [`Policy`]; tests pass a fast one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Longest time one attempt may spend establishing its connection: resolving the name, TCP
/// connect, proxy CONNECT and the TLS handshake together (5 seconds).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest time one attempt may take from start to the last byte of the response body,
/// connection included (10 seconds).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts in total, the first included. Only 5xx, 429 and connection-level failures
/// are retried.
pub const MAX_ATTEMPTS: usize = 3;

/// Pause before the second and before the third attempt (100 ms, then 200 ms), each
/// lengthened by a random jitter of up to half of itself so that many processes that failed
/// together do not retry in lockstep.
pub const RETRY_BACKOFF: [Duration; MAX_ATTEMPTS - 1] =
  [Duration::from_millis(100), Duration::from_millis(200)];

/// Largest response body read, success or error (1 MiB). A larger success body fails the
/// request; a larger error body is ignored and the error taken from the status and headers.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("sso-token-provider/", env!("CARGO_PKG_VERSION"));

/// Timeouts and backoff of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
  /// See [`CONNECT_TIMEOUT`].
  pub connect_timeout: Duration,
  /// See [`ATTEMPT_TIMEOUT`].
  pub attempt_timeout: Duration,
  /// See [`RETRY_BACKOFF`].
  pub backoff: [Duration; MAX_ATTEMPTS - 1],
}

/// The documented constants.
pub const PRODUCTION: Policy = Policy {
  connect_timeout: CONNECT_TIMEOUT,
  attempt_timeout: ATTEMPT_TIMEOUT,
  backoff: RETRY_BACKOFF,
};

impl Default for Policy {
  fn default() -> Self {
    PRODUCTION
  }
}

/// `base` plus a random part of up to half of it.
pub fn with_jitter(base: Duration) -> Duration {
  let spread = u64::try_from(base.as_nanos() / 2).unwrap_or(u64::MAX);
  if spread == 0 {
    return base;
  }
  // RandomState is seeded from the OS per process and varied per instance: enough
  // randomness to spread retries without a dependency on a random number crate.
  let random = RandomState::new().build_hasher().finish();
  base + Duration::from_nanos(random % spread)
}
