//! SSO OIDC over HTTPS (docs/behaviour.md §5): CreateToken with the refresh_token grant, the
//! one request that carries the refresh token and the client secret, and the plumbing every
//! request shares.
//!
//! - [`endpoint`]: where requests go, from the region and the environment.
//! - [`target`]: an endpoint URL checked before anything is sent; [`policy`]: timeouts,
//!   attempts, backoff.
//! - [`wire`]: the CreateToken body, and the answer: validated, parsed, its secrets
//!   zeroized; [`redact`]: server text made safe to show.
//! - `proxy`, `tls`, `http`: the route (proxy, trust store) and one exchange over it,
//!   holding no thread while it waits; [`transport`]: CreateToken over them.
//!
//! The provider sees only the [`Transport`] seam, so its tests pass a fake.

pub mod endpoint;
pub(crate) mod http;
pub mod policy;
mod proxy;
pub mod redact;
pub mod target;
mod tls;
pub mod transport;
pub mod wire;

#[cfg(test)]
pub(crate) mod test_server;

pub use endpoint::endpoint_for;
pub use transport::HttpsTransport;
pub use wire::{parse_error, parse_success};

use crate::env::Env;
use crate::secret::Secret;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A future that can be sent to the network thread.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// Why a request failed. `Display` is the cause shown after
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
    self.is_error("invalid_grant", "InvalidGrantException")
  }

  /// The service's error is `oauth` (the OAuth name) or `aws` (AWS's exception name).
  pub fn is_error(&self, oauth: &str, aws: &str) -> bool {
    matches!(self, OidcError::Http { error: Some(e), .. } if e == oauth || e == aws)
  }
}

/// Sends CreateToken. A seam: tests of the provider pass a fake; production uses
/// [`HttpsTransport`]. The future runs on the network thread and must not block it.
pub trait Transport: Send + Sync {
  /// Sends one CreateToken (with its retries) to `endpoint`, reading proxy and trust
  /// settings from `env` only.
  fn create_token<'a>(
    &'a self,
    endpoint: &'a str,
    request: &'a CreateTokenRequest,
    env: &'a Env,
  ) -> BoxFuture<'a, Result<CreateTokenResponse, OidcError>>;
}
