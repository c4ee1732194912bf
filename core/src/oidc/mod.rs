//! SSO OIDC CreateToken (refresh_token grant), the one request that carries the refresh
//! token and the client secret (docs/behaviour.md §5).
//!
//! - [`endpoint`]: where the request goes, from the region and the environment.
//! - [`wire`]: the request body, and the answer: validated, parsed, cleaned of secrets.
//! - [`transport`]: how it gets there: URL checks, proxy, TLS, timeouts and retries, over
//!   ureq and rustls.
//!
//! The provider sees only the [`Transport`] seam, so its tests pass a fake.

pub mod endpoint;
mod proxy;
mod tls;
pub mod transport;
pub mod wire;

#[cfg(test)]
mod test_server;

pub use endpoint::endpoint_for;
pub use transport::UreqTransport;
pub use wire::{parse_error, parse_success};

use crate::env::Env;
use crate::secret::Secret;
use std::fmt;

/// What CreateToken needs from the cache file.
#[derive(Debug, Clone)]
pub struct CreateTokenRequest {
  /// `clientId` of the client registration.
  pub client_id: Secret,
  /// `clientSecret` of the client registration.
  pub client_secret: Secret,
  /// The refresh token to trade in.
  pub refresh_token: Secret,
}

/// A validated CreateToken answer.
#[derive(Debug, Clone)]
pub struct CreateTokenResponse {
  /// The new access token: a non-empty string without control characters.
  pub access_token: Secret,
  /// Whole seconds, > 0, at most [`wire::MAX_EXPIRES_IN_SECS`].
  pub expires_in: i64,
  /// A rotated refresh token, when the server issued one.
  pub refresh_token: Option<Secret>,
}

/// Why a refresh failed. `Display` is the cause shown after
/// `SSO Token refresh failed. Please log in using "aws sso login"`, e.g.
/// ` (invalid_grant, HTTP 400: Invalid refresh token provided)`, without the leading space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
  /// The server answered 4xx/5xx.
  Http {
    /// The HTTP status.
    status: u16,
    /// `error` (or `__type`, or the `x-amzn-ErrorType` header), sanitised.
    error: Option<String>,
    /// `error_description` (or `message`), sanitised.
    description: Option<String>,
  },
  /// Connect, TLS, timeout, proxy, reset.
  Transport(String),
  /// 2xx with a body we refuse (not JSON, too large, missing or bad fields).
  InvalidResponse(String),
  /// We would not send the request (e.g. `http://` to a non-loopback host).
  Refused(String),
}

impl fmt::Display for OidcError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      OidcError::Http {
        status,
        error,
        description,
      } => match (error, description) {
        (Some(e), Some(d)) => write!(f, "({e}, HTTP {status}: {d})"),
        (Some(e), None) => write!(f, "({e}, HTTP {status})"),
        (None, Some(d)) => write!(f, "(HTTP {status}: {d})"),
        (None, None) => write!(f, "(HTTP {status})"),
      },
      OidcError::Transport(m) => write!(f, "({m})"),
      OidcError::InvalidResponse(m) => write!(f, "(invalid CreateToken response: {m})"),
      OidcError::Refused(m) => write!(f, "({m})"),
    }
  }
}

impl std::error::Error for OidcError {}

impl OidcError {
  /// The server refused the refresh token (`invalid_grant`; AWS's error type
  /// `InvalidGrantException`): used, rotated away, or revoked.
  pub fn is_invalid_grant(&self) -> bool {
    matches!(self, OidcError::Http { error: Some(e), .. }
      if e == "invalid_grant" || e == "InvalidGrantException")
  }
}

/// Sends CreateToken. A seam: tests of the provider pass a fake; production uses
/// [`UreqTransport`].
pub trait Transport: Send + Sync {
  /// Sends one CreateToken (with its retries) to `endpoint`, reading proxy and trust
  /// settings from `env` only.
  fn create_token(
    &self,
    endpoint: &str,
    request: &CreateTokenRequest,
    env: &Env,
  ) -> Result<CreateTokenResponse, OidcError>;
}
