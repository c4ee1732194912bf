//! Why a sign-in or a sign-out failed. `Display` is the exact message users see, `kind` what
//! callers decide on (docs/behaviour.md §10). No variant carries a token, a client secret,
//! a code or a verifier: server text reaches here scrubbed of every value sent.

use super::calls::Call;
use crate::error::Error;
use crate::oidc::OidcError;
use std::fmt;
use std::path::PathBuf;

/// A failed sign-in or sign-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
  /// The profile's configuration could not be read or is incomplete (the provider's own
  /// messages and kinds).
  Config(Error),
  /// An option is out of range.
  InvalidOption(String),
  /// A request would not be sent: an unusable region or endpoint (plain http to a host that
  /// is not loopback), found before any connection.
  Refused(OidcError),
  /// The loopback listener could not be bound.
  Listener(String),
  /// The operating system gave no random bytes.
  NoRandomness,
  /// A call failed, or its answer was refused.
  Oidc {
    /// Which call.
    call: Call,
    /// Why.
    error: OidcError,
  },
  /// The user (or the service for them) refused: `access_denied` from CreateToken or from
  /// the authorization server's redirect.
  Denied(String),
  /// The authorization server sent the browser back with another `error`.
  Authorization {
    /// `error`.
    error: String,
    /// `error_description`, when given.
    description: Option<String>,
  },
  /// The device authorization expired before the user approved it (`expired_token`).
  DeviceAuthorizationExpired,
  /// The sign-in's own timeout passed.
  TimedOut {
    /// The timeout.
    after: std::time::Duration,
  },
  /// Cancelled by the caller (an `AbortSignal`, Ctrl-C).
  Aborted,
  /// Signed in, but the token file could not be written: the token is lost.
  Write {
    /// The token file.
    path: PathBuf,
    /// What the system said.
    cause: String,
  },
  /// The token cache folder could not be read (sign-out).
  CacheDir {
    /// The folder.
    path: PathBuf,
    /// What the system said.
    cause: String,
  },
  /// A token file could not be removed (sign-out).
  Remove {
    /// The file.
    path: PathBuf,
    /// What the system said.
    cause: String,
  },
  /// A bug: a panic or a task that did not run.
  Internal(String),
}

impl LoginError {
  /// What callers decide on: the configuration's own kinds (`ProfileNotFound`, …),
  /// `InvalidSetting`, `LoginDenied`, `LoginTimedOut`, `LoginAborted`, `LoginFailed`,
  /// `LogoutFailed` or `Internal`.
  pub fn kind(&self) -> &'static str {
    match self {
      LoginError::Config(e) => e.kind(),
      LoginError::InvalidOption(_) => "InvalidSetting",
      LoginError::Denied(_) => "LoginDenied",
      LoginError::DeviceAuthorizationExpired | LoginError::TimedOut { .. } => "LoginTimedOut",
      LoginError::Aborted => "LoginAborted",
      LoginError::CacheDir { .. } | LoginError::Remove { .. } => "LogoutFailed",
      LoginError::Internal(_) => "Internal",
      LoginError::Refused(_)
      | LoginError::Listener(_)
      | LoginError::NoRandomness
      | LoginError::Oidc { .. }
      | LoginError::Authorization { .. }
      | LoginError::Write { .. } => "LoginFailed",
    }
  }
}

impl fmt::Display for LoginError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      LoginError::Config(e) => write!(f, "{e}"),
      LoginError::InvalidOption(m) => f.write_str(m),
      LoginError::Refused(why) => write!(f, "Sign-in failed {why}"),
      LoginError::Listener(why) => write!(
        f,
        "Unable to start the sign-in callback listener on 127.0.0.1: {why}. The device code \
         flow (--use-device-code, useDeviceCode: true) does not need it"
      ),
      LoginError::NoRandomness => f.write_str(
        "Sign-in failed: the operating system gave no random bytes for the sign-in's secrets",
      ),
      LoginError::Oidc {
        call,
        error: OidcError::InvalidResponse(why),
      } => write!(
        f,
        "Sign-in failed: {} (invalid response: {why})",
        call.name()
      ),
      LoginError::Oidc { call, error } => write!(f, "Sign-in failed: {} {error}", call.name()),
      LoginError::Denied(cause) => write!(f, "Sign-in denied {cause}"),
      LoginError::Authorization { error, description } => {
        write!(
          f,
          "Sign-in failed: the authorization server answered \"{error}\""
        )?;
        match description {
          Some(d) => write!(f, ": {d}"),
          None => Ok(()),
        }
      }
      // The AWS CLI's words (`PendingAuthorizationExpiredError`).
      LoginError::DeviceAuthorizationExpired => f.write_str(
        "The pending authorization to retrieve an SSO token has expired. The login flow to \
         retrieve an SSO token must be restarted.",
      ),
      LoginError::TimedOut { after } => {
        let secs = after.as_secs_f64();
        let secs = if after.subsec_nanos() == 0 {
          format!("{secs}")
        } else {
          format!("{secs:.1}")
        };
        write!(
          f,
          "Sign-in timed out after {secs} s without an authorization; sign in again"
        )
      }
      LoginError::Aborted => f.write_str("Sign-in aborted"),
      LoginError::Write { path, cause } => write!(
        f,
        "Signed in, but the token could not be saved to \"{}\": {cause}",
        path.display()
      ),
      LoginError::CacheDir { path, cause } => write!(
        f,
        "Sign-out failed: the SSO cache folder \"{}\" could not be read: {cause}",
        path.display()
      ),
      LoginError::Remove { path, cause } => write!(
        f,
        "Sign-out failed: \"{}\" could not be removed: {cause}",
        path.display()
      ),
      LoginError::Internal(cause) => write!(
        f,
        "Internal error in sso-token-provider ({cause}); please report it"
      ),
    }
  }
}

impl std::error::Error for LoginError {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      LoginError::Config(e) => Some(e),
      LoginError::Oidc { error, .. } | LoginError::Refused(error) => Some(error),
      _ => None,
    }
  }
}

impl From<Error> for LoginError {
  fn from(e: Error) -> Self {
    LoginError::Config(e)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn messages_and_kinds() {
    let http = |error: &str| OidcError::Http {
      status: 400,
      error: Some(error.into()),
      description: Some("no".into()),
    };
    for (e, kind, message) in [
      (
        LoginError::Oidc {
          call: Call::RegisterClient,
          error: http("invalid_client"),
        },
        "LoginFailed",
        "Sign-in failed: RegisterClient (invalid_client, HTTP 400: no)",
      ),
      (
        LoginError::Oidc {
          call: Call::CreateToken,
          error: OidcError::InvalidResponse("body is not JSON".into()),
        },
        "LoginFailed",
        "Sign-in failed: CreateToken (invalid response: body is not JSON)",
      ),
      (
        LoginError::Denied(http("access_denied").to_string()),
        "LoginDenied",
        "Sign-in denied (access_denied, HTTP 400: no)",
      ),
      (
        LoginError::Authorization {
          error: "server_error".into(),
          description: Some("try later".into()),
        },
        "LoginFailed",
        "Sign-in failed: the authorization server answered \"server_error\": try later",
      ),
      (
        LoginError::TimedOut {
          after: std::time::Duration::from_secs(600),
        },
        "LoginTimedOut",
        "Sign-in timed out after 600 s without an authorization; sign in again",
      ),
      (LoginError::Aborted, "LoginAborted", "Sign-in aborted"),
      (
        LoginError::Config(Error::ProfileNotFound {
          profile: "p".into(),
          config: None,
        }),
        "ProfileNotFound",
        "Profile \"p\" not found",
      ),
    ] {
      assert_eq!(e.kind(), kind);
      assert_eq!(e.to_string(), message);
    }
  }
}
