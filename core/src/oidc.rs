//! SSO OIDC CreateToken over HTTPS (refresh_token grant).
//!
//! INTERFACE (fixed; the provider depends on it). Implementation: see `UreqTransport`.

use crate::env::Env;
use crate::secret::Secret;
use std::fmt;

/// What CreateToken needs from the cache file.
#[derive(Debug, Clone)]
pub struct CreateTokenRequest {
  pub client_id: Secret,
  pub client_secret: Secret,
  pub refresh_token: Secret,
}

/// A validated CreateToken answer.
#[derive(Debug, Clone)]
pub struct CreateTokenResponse {
  pub access_token: Secret,
  /// Whole seconds, > 0.
  pub expires_in: i64,
  pub refresh_token: Option<Secret>,
}

/// Why a refresh failed. `Display` is the cause shown after
/// `SSO Token refresh failed. Please log in using "aws sso login"`, e.g.
/// ` (invalid_grant, HTTP 400: Invalid refresh token provided)`, without the leading space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
  /// The server answered 4xx/5xx.
  Http {
    status: u16,
    error: Option<String>,
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

/// Sends CreateToken. A seam: tests of the provider pass a fake; production uses
/// [`UreqTransport`].
pub trait Transport: Send + Sync {
  fn create_token(
    &self,
    endpoint: &str,
    request: &CreateTokenRequest,
    env: &Env,
  ) -> Result<CreateTokenResponse, OidcError>;
}

/// The endpoint for a region: `AWS_ENDPOINT_URL_SSO_OIDC` unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, else `https://oidc.{region}.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions). Never `AWS_ENDPOINT_URL`.
pub fn endpoint_for(region: &str, env: &Env) -> String {
  let ignore = env
    .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
  if !ignore {
    if let Some(url) = env.get("AWS_ENDPOINT_URL_SSO_OIDC") {
      return url.trim_end_matches('/').to_string();
    }
  }
  let suffix = if region.starts_with("cn-") {
    "amazonaws.com.cn"
  } else {
    "amazonaws.com"
  };
  format!("https://oidc.{region}.{suffix}")
}

/// The real transport: ureq 3 over rustls.
#[derive(Debug, Default)]
pub struct UreqTransport;

impl Transport for UreqTransport {
  fn create_token(
    &self,
    _endpoint: &str,
    _request: &CreateTokenRequest,
    _env: &Env,
  ) -> Result<CreateTokenResponse, OidcError> {
    Err(OidcError::Refused("not implemented".into()))
  }
}
