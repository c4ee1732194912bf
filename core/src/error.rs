//! One error type for every failure of a load. `Display` is the exact message users see;
//! the v2 texts are kept word for word where v2 had them (SPEC section 7).
//!
//! No variant carries a token, refresh token or client secret: only names, paths and
//! causes that were sanitised before they got here.

use std::fmt;
use std::path::PathBuf;

/// The `code` and `name` of every error reaching JavaScript.
pub const ERROR_CODE: &str = "SSOTokenProviderFailure";

/// The start of every refresh failure message; v2's whole message.
pub const REFRESH_FAILED: &str = "SSO Token refresh failed. Please log in using \"aws sso login\"";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
  /// No home directory could be found, so neither the config nor the cache can be.
  NoHomeDir,
  ProfileNotFound {
    profile: String,
  },
  MissingProfileProperty {
    profile: String,
    property: &'static str,
  },
  SessionNotFound {
    session: String,
  },
  MissingSessionProperty {
    session: String,
    property: &'static str,
  },
  /// The config file exists but could not be read (a directory, no permission, not UTF-8).
  UnreadableConfig {
    path: PathBuf,
    cause: String,
  },
  CachedTokenNotFound {
    profile: String,
  },
  UnreadableCacheFile {
    path: PathBuf,
    cause: String,
  },
  CacheFileTooLarge {
    path: PathBuf,
  },
  /// JSON syntax error; `cause` is serde_json's text, which names the line and column and
  /// never quotes the input.
  InvalidCacheJson {
    path: PathBuf,
    cause: String,
  },
  InvalidExpiresAt {
    path: PathBuf,
  },
  MissingTokenKey {
    key: &'static str,
  },
  /// A legacy (`sso_start_url` in the profile) token has expired; those are never refreshed.
  LegacyTokenExpired {
    profile: String,
  },
  /// `cause` is already in parentheses, e.g. `(invalid_grant, HTTP 400: ...)`.
  RefreshFailed {
    cause: String,
  },
  /// A panic or another bug inside the provider; the load fails, the process lives.
  Internal {
    cause: String,
  },
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Error::NoHomeDir => write!(
        f,
        "Cannot find the home directory: set HOME (or AWS_CONFIG_FILE) to load SSO tokens"
      ),
      Error::ProfileNotFound { profile } => write!(f, "Profile \"{profile}\" not found"),
      Error::MissingProfileProperty { profile, property } => write!(
        f,
        "Profile \"{profile}\" is missing required property \"{property}\"."
      ),
      Error::SessionNotFound { session } => write!(f, "Sso session \"{session}\" not found"),
      Error::MissingSessionProperty { session, property } => write!(
        f,
        "Sso session \"{session}\" is missing required property \"{property}\"."
      ),
      Error::UnreadableConfig { path, cause } => write!(
        f,
        "Config file \"{}\" could not be read: {cause}",
        path.display()
      ),
      Error::CachedTokenNotFound { profile } => write!(
        f,
        "Cached token not found. Please log in using \"aws sso login\" for profile \"{profile}\"."
      ),
      Error::UnreadableCacheFile { path, cause } => write!(
        f,
        "Cached token file \"{}\" could not be read: {cause}",
        path.display()
      ),
      Error::CacheFileTooLarge { path } => write!(
        f,
        "Cached token file \"{}\" is too large (over 1 MiB)",
        path.display()
      ),
      Error::InvalidCacheJson { path, cause } => write!(
        f,
        "Cached token file \"{}\" is not valid JSON: {cause}",
        path.display()
      ),
      Error::InvalidExpiresAt { path } => write!(
        f,
        "Cached token file \"{}\" has an invalid \"expiresAt\" value",
        path.display()
      ),
      Error::MissingTokenKey { key } => write!(f, "Key \"{key}\" not present in SSO Token"),
      Error::LegacyTokenExpired { profile } => write!(
        f,
        "SSO Token for profile \"{profile}\" has expired. Please log in using \"aws sso login\" for profile \"{profile}\"."
      ),
      Error::RefreshFailed { cause } => write!(f, "{REFRESH_FAILED} {cause}"),
      Error::Internal { cause } => write!(
        f,
        "Internal error in sso-token-provider ({cause}); please report it"
      ),
    }
  }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn messages_are_the_v2_texts() {
    let p = || "dev".to_string();
    let cases: Vec<(Error, &str)> = vec![
      (Error::ProfileNotFound { profile: p() }, "Profile \"dev\" not found"),
      (
        Error::MissingProfileProperty { profile: p(), property: "sso_session" },
        "Profile \"dev\" is missing required property \"sso_session\".",
      ),
      (
        Error::MissingProfileProperty { profile: p(), property: "sso_region" },
        "Profile \"dev\" is missing required property \"sso_region\".",
      ),
      (
        Error::SessionNotFound { session: "my sso".into() },
        "Sso session \"my sso\" not found",
      ),
      (
        Error::MissingSessionProperty { session: "s".into(), property: "sso_start_url" },
        "Sso session \"s\" is missing required property \"sso_start_url\".",
      ),
      (
        Error::MissingSessionProperty { session: "s".into(), property: "sso_region" },
        "Sso session \"s\" is missing required property \"sso_region\".",
      ),
      (
        Error::CachedTokenNotFound { profile: p() },
        "Cached token not found. Please log in using \"aws sso login\" for profile \"dev\".",
      ),
      (
        Error::MissingTokenKey { key: "accessToken" },
        "Key \"accessToken\" not present in SSO Token",
      ),
      (
        Error::LegacyTokenExpired { profile: p() },
        "SSO Token for profile \"dev\" has expired. Please log in using \"aws sso login\" for profile \"dev\".",
      ),
      (
        Error::RefreshFailed { cause: "(invalid_grant, HTTP 400: Invalid refresh token provided)".into() },
        "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)",
      ),
      (
        Error::InvalidCacheJson {
          path: "/h/.aws/sso/cache/x.json".into(),
          cause: "EOF while parsing an object at line 1 column 1".into(),
        },
        "Cached token file \"/h/.aws/sso/cache/x.json\" is not valid JSON: EOF while parsing an object at line 1 column 1",
      ),
      (
        Error::CacheFileTooLarge { path: "/c.json".into() },
        "Cached token file \"/c.json\" is too large (over 1 MiB)",
      ),
      (
        Error::InvalidExpiresAt { path: "/c.json".into() },
        "Cached token file \"/c.json\" has an invalid \"expiresAt\" value",
      ),
      (
        Error::UnreadableCacheFile { path: "/c.json".into(), cause: "Is a directory (os error 21)".into() },
        "Cached token file \"/c.json\" could not be read: Is a directory (os error 21)",
      ),
      (
        Error::UnreadableConfig { path: "/cfg".into(), cause: "Permission denied (os error 13)".into() },
        "Config file \"/cfg\" could not be read: Permission denied (os error 13)",
      ),
    ];
    for (err, want) in cases {
      assert_eq!(err.to_string(), want);
    }
  }
}
