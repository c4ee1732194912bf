//! One error type for every failure of a load. `Display` is the exact message users see;
//! the v2 texts are kept word for word where v2 had them (docs/behaviour.md §7).
//!
//! No variant carries a token, refresh token or client secret: only names, paths and
//! causes that were sanitised before they got here.

use crate::oidc::OidcError;
use std::fmt;
use std::path::PathBuf;

/// The `code` and `name` of every error reaching JavaScript.
pub const ERROR_CODE: &str = "SSOTokenProviderFailure";

/// The start of every refresh failure message; v2's whole message.
pub const REFRESH_FAILED: &str = "SSO Token refresh failed. Please log in using \"aws sso login\"";

/// Why a load failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
  /// No home directory could be found, so neither the config nor the cache can be.
  NoHomeDir,
  /// No `[profile p]` / `[p]` section with keys.
  ProfileNotFound {
    /// The profile asked for.
    profile: String,
    /// The file looked in, once the load knows it.
    config: Option<ConfigFile>,
  },
  /// The profile lacks a key it needs.
  MissingProfileProperty {
    /// The profile asked for.
    profile: String,
    /// The missing key.
    property: &'static str,
  },
  /// `sso_session = s` names no `[sso-session s]` section with keys.
  SessionNotFound {
    /// The session named by the profile.
    session: String,
    /// The file looked in, once the load knows it.
    config: Option<ConfigFile>,
  },
  /// The session lacks a key it needs.
  MissingSessionProperty {
    /// The session named by the profile.
    session: String,
    /// The missing key.
    property: &'static str,
  },
  /// The config file exists but could not be read (a directory, no permission, not UTF-8).
  UnreadableConfig {
    /// The config file.
    path: PathBuf,
    /// What went wrong, as the OS or the decoder said it.
    cause: String,
  },
  /// The config file is over [`crate::limits::MAX_CONFIG_FILE_BYTES`].
  ConfigFileTooLarge {
    /// The config file.
    path: PathBuf,
  },
  /// No cache file, or one holding `null`.
  CachedTokenNotFound {
    /// The profile asked for.
    profile: String,
  },
  /// The cache file exists but could not be read.
  UnreadableCacheFile {
    /// The cache file.
    path: PathBuf,
    /// What the OS said.
    cause: String,
  },
  /// The cache file is over [`crate::limits::MAX_CACHE_FILE_BYTES`].
  CacheFileTooLarge {
    /// The cache file.
    path: PathBuf,
  },
  /// JSON syntax error in the cache file.
  InvalidCacheJson {
    /// The cache file.
    path: PathBuf,
    /// serde_json's text, which names the line and column and never quotes the input.
    cause: String,
    /// The text ends before the JSON does (an empty file among them): what a reader sees
    /// while another tool rewrites the file in place.
    cut_short: bool,
  },
  /// `expiresAt` is not a timestamp we can read.
  InvalidExpiresAt {
    /// The cache file.
    path: PathBuf,
  },
  /// A key the load needs is missing from the cache file (or is not a non-empty string):
  /// `accessToken` or `expiresAt` (the file is incomplete), or a refresh key of a token
  /// that has expired.
  MissingTokenKey {
    /// The missing key.
    key: &'static str,
    /// The profile asked for, for the advice to log in again.
    profile: String,
    /// The cache file, when the key is one every token file needs.
    incomplete: Option<PathBuf>,
  },
  /// A legacy (`sso_start_url` in the profile) token has expired; those are never refreshed.
  LegacyTokenExpired {
    /// The profile asked for.
    profile: String,
  },
  /// The token has expired and no refresh could replace it.
  RefreshFailed {
    /// Why.
    cause: RefreshCause,
  },
  /// A window setting is not a number of seconds in range.
  InvalidWindow {
    /// `expiryWindow` or `advisoryWindow`.
    setting: &'static str,
  },
  /// A panic or another bug inside the provider; the load fails, the process lives.
  Internal {
    /// The panic message or the bug's description.
    cause: String,
  },
}

/// Where a profile or session was looked for: what a "not found" message names, so that a
/// user sees which file was read and why that profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
  /// The config file read.
  pub path: PathBuf,
  /// Whether it exists (a missing file reads as an empty config).
  pub exists: bool,
  /// The profile name came from `AWS_PROFILE`, not from the caller.
  pub profile_from_env: bool,
}

impl fmt::Display for ConfigFile {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, " in config file \"{}\"", self.path.display())?;
    if !self.exists {
      f.write_str(" (the file does not exist)")?;
    }
    if self.profile_from_env {
      f.write_str("; the profile name came from AWS_PROFILE")?;
    }
    Ok(())
  }
}

/// Why a due refresh did not produce a token. `Display` is the text shown in parentheses
/// after [`REFRESH_FAILED`], and as the note when an old token is served instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshCause {
  /// CreateToken was sent (or refused before sending) and failed.
  Oidc(OidcError),
  /// A key CreateToken needs is missing from the cache file.
  MissingKey(&'static str),
  /// `registrationExpiresAt` has passed: the client registration cannot be used.
  RegistrationExpired,
  /// Legacy (`sso_start_url` in the profile) tokens are never refreshed, like the AWS CLI.
  Legacy,
  /// Another attempt for this cache file was made less than [`crate::limits::REFRESH_THROTTLE`]
  /// ago.
  Throttled,
  /// The cache file could not be read again when the refresh began (deleted by a logout,
  /// broken by another tool): the refresh was not sent.
  FileGone(Box<Error>),
}

impl RefreshCause {
  /// The error a load reports when the token it would fall back on has expired. The
  /// causes v2 knew keep v2's messages.
  pub fn into_error(self, profile: &str) -> Error {
    match self {
      RefreshCause::Legacy => Error::LegacyTokenExpired {
        profile: profile.into(),
      },
      RefreshCause::MissingKey(key) => Error::MissingTokenKey {
        key,
        profile: profile.into(),
        incomplete: None,
      },
      RefreshCause::FileGone(error) => *error,
      cause => Error::RefreshFailed { cause },
    }
  }
}

impl fmt::Display for RefreshCause {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      RefreshCause::Oidc(e) => write!(f, "{e}"),
      RefreshCause::MissingKey(key) => write!(f, "(Key \"{key}\" not present in SSO Token)"),
      RefreshCause::RegistrationExpired => f.write_str("(client registration expired)"),
      RefreshCause::Legacy => f.write_str("(legacy sso_start_url profiles are not refreshed)"),
      RefreshCause::Throttled => write!(
        f,
        "(refresh throttled: last attempt less than {} s ago)",
        crate::limits::REFRESH_THROTTLE.num_seconds()
      ),
      RefreshCause::FileGone(error) => {
        write!(f, "(the cache file could not be read again: {error})")
      }
    }
  }
}

impl std::error::Error for RefreshCause {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      RefreshCause::Oidc(e) => Some(e),
      RefreshCause::FileGone(e) => Some(e.as_ref()),
      _ => None,
    }
  }
}

impl Error {
  /// This error with the config file it was looked for in, for the "not found" errors.
  pub fn in_config(self, file: ConfigFile) -> Error {
    match self {
      Error::ProfileNotFound { profile, .. } => Error::ProfileNotFound {
        profile,
        config: Some(file),
      },
      Error::SessionNotFound { session, .. } => Error::SessionNotFound {
        session,
        config: Some(file),
      },
      other => other,
    }
  }

  /// The kind of failure, as the JavaScript layer receives it with the message: it decides
  /// from the kind, never from the text, what a caller may do next (a v3 `chain()` goes on
  /// to its next provider only for [`Error::MissingProfileProperty`] of `sso_session`, a
  /// profile that is not an SSO profile at all).
  pub fn kind(&self) -> &'static str {
    match self {
      Error::NoHomeDir => "NoHomeDir",
      Error::ProfileNotFound { .. } => "ProfileNotFound",
      Error::MissingProfileProperty {
        property: "sso_session",
        ..
      } => "NotAnSsoProfile",
      Error::MissingProfileProperty { .. } => "MissingProfileProperty",
      Error::SessionNotFound { .. } => "SessionNotFound",
      Error::MissingSessionProperty { .. } => "MissingSessionProperty",
      Error::UnreadableConfig { .. } | Error::ConfigFileTooLarge { .. } => "UnreadableConfig",
      Error::CachedTokenNotFound { .. } => "CachedTokenNotFound",
      Error::UnreadableCacheFile { .. }
      | Error::CacheFileTooLarge { .. }
      | Error::InvalidCacheJson { .. }
      | Error::InvalidExpiresAt { .. } => "InvalidCacheFile",
      Error::MissingTokenKey { .. } => "MissingTokenKey",
      Error::LegacyTokenExpired { .. } => "TokenExpired",
      Error::RefreshFailed { .. } => "RefreshFailed",
      Error::InvalidWindow { .. } => "InvalidSetting",
      Error::Internal { .. } => "Internal",
    }
  }

  /// Whether this is a cache file whose text ends early (see [`Error::InvalidCacheJson`]).
  pub fn is_cut_short(&self) -> bool {
    matches!(
      self,
      Error::InvalidCacheJson {
        cut_short: true,
        ..
      }
    )
  }
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Error::NoHomeDir => write!(
        f,
        "Cannot find the home directory: set HOME (or AWS_CONFIG_FILE) to load SSO tokens"
      ),
      // v2's texts first, word for word (callers match on them), then where and why.
      Error::ProfileNotFound { profile, config } => {
        write!(f, "Profile \"{profile}\" not found")?;
        config.iter().try_for_each(|c| write!(f, "{c}"))
      }
      Error::MissingProfileProperty { profile, property } => write!(
        f,
        "Profile \"{profile}\" is missing required property \"{property}\"."
      ),
      Error::SessionNotFound { session, config } => {
        write!(f, "Sso session \"{session}\" not found")?;
        config.iter().try_for_each(|c| write!(f, "{c}"))
      }
      Error::MissingSessionProperty { session, property } => write!(
        f,
        "Sso session \"{session}\" is missing required property \"{property}\"."
      ),
      Error::UnreadableConfig { path, cause } => write!(
        f,
        "Config file \"{}\" could not be read: {cause}",
        path.display()
      ),
      Error::ConfigFileTooLarge { path } => write!(
        f,
        "Config file \"{}\" is too large (over 32 MiB)",
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
      Error::InvalidCacheJson { path, cause, .. } => write!(
        f,
        "Cached token file \"{}\" is not valid JSON: {cause}",
        path.display()
      ),
      Error::InvalidExpiresAt { path } => write!(
        f,
        "Cached token file \"{}\" has an invalid \"expiresAt\" value",
        path.display()
      ),
      Error::MissingTokenKey {
        key,
        profile,
        incomplete,
      } => {
        write!(f, "Key \"{key}\" not present in SSO Token")?;
        match incomplete {
          Some(path) => write!(f, ": the cache file \"{}\" is incomplete", path.display())?,
          None => f.write_str(", and the token has expired")?,
        }
        write!(f, "; log in again with \"aws sso login --profile {profile}\"")
      }
      Error::LegacyTokenExpired { profile } => write!(
        f,
        "SSO Token for profile \"{profile}\" has expired. Please log in using \"aws sso login\" for profile \"{profile}\"."
      ),
      Error::RefreshFailed { cause } => write!(f, "{REFRESH_FAILED} {cause}"),
      Error::InvalidWindow { setting } => write!(
        f,
        "The \"{setting}\" setting must be a number of seconds from 0 to {} (ten years)",
        crate::limits::MAX_WINDOW_SECS
      ),
      Error::Internal { cause } => write!(
        f,
        "Internal error in sso-token-provider ({cause}); please report it"
      ),
    }
  }
}

impl std::error::Error for Error {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      Error::RefreshFailed { cause } => Some(cause),
      _ => None,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn messages_are_the_v2_texts() {
    let p = || "dev".to_string();
    let cases: Vec<(Error, &str)> = vec![
      (Error::ProfileNotFound { profile: p(), config: None }, "Profile \"dev\" not found"),
      (
        Error::ProfileNotFound {
          profile: p(),
          config: Some(ConfigFile { path: "/h/.aws/config".into(), exists: true, profile_from_env: true }),
        },
        "Profile \"dev\" not found in config file \"/h/.aws/config\"; the profile name came from AWS_PROFILE",
      ),
      (
        Error::ProfileNotFound {
          profile: p(),
          config: Some(ConfigFile { path: "/cfg".into(), exists: false, profile_from_env: false }),
        },
        "Profile \"dev\" not found in config file \"/cfg\" (the file does not exist)",
      ),
      (
        Error::MissingProfileProperty { profile: p(), property: "sso_session" },
        "Profile \"dev\" is missing required property \"sso_session\".",
      ),
      (
        Error::MissingProfileProperty { profile: p(), property: "sso_region" },
        "Profile \"dev\" is missing required property \"sso_region\".",
      ),
      (
        Error::SessionNotFound { session: "my sso".into(), config: None },
        "Sso session \"my sso\" not found",
      ),
      (
        Error::SessionNotFound {
          session: "s".into(),
          config: Some(ConfigFile { path: "/cfg".into(), exists: true, profile_from_env: false }),
        },
        "Sso session \"s\" not found in config file \"/cfg\"",
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
        Error::MissingTokenKey { key: "accessToken", profile: p(), incomplete: Some("/c.json".into()) },
        "Key \"accessToken\" not present in SSO Token: the cache file \"/c.json\" is incomplete; log in again with \"aws sso login --profile dev\"",
      ),
      (
        Error::MissingTokenKey { key: "clientId", profile: p(), incomplete: None },
        "Key \"clientId\" not present in SSO Token, and the token has expired; log in again with \"aws sso login --profile dev\"",
      ),
      (
        Error::LegacyTokenExpired { profile: p() },
        "SSO Token for profile \"dev\" has expired. Please log in using \"aws sso login\" for profile \"dev\".",
      ),
      (
        Error::RefreshFailed {
          cause: RefreshCause::Oidc(OidcError::Http {
            status: 400,
            error: Some("invalid_grant".into()),
            description: Some("Invalid refresh token provided".into()),
          }),
        },
        "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)",
      ),
      (
        Error::RefreshFailed { cause: RefreshCause::RegistrationExpired },
        "SSO Token refresh failed. Please log in using \"aws sso login\" (client registration expired)",
      ),
      (
        Error::RefreshFailed { cause: RefreshCause::Throttled },
        "SSO Token refresh failed. Please log in using \"aws sso login\" (refresh throttled: last attempt less than 30 s ago)",
      ),
      (
        Error::InvalidCacheJson {
          path: "/h/.aws/sso/cache/x.json".into(),
          cause: "EOF while parsing an object at line 1 column 1".into(),
          cut_short: true,
        },
        "Cached token file \"/h/.aws/sso/cache/x.json\" is not valid JSON: EOF while parsing an object at line 1 column 1",
      ),
      (
        Error::InvalidWindow { setting: "expiryWindow" },
        "The \"expiryWindow\" setting must be a number of seconds from 0 to 315360000 (ten years)",
      ),
      (
        Error::ConfigFileTooLarge { path: "/cfg".into() },
        "Config file \"/cfg\" is too large (over 32 MiB)",
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

  #[test]
  fn causes_keep_v2_messages_once_the_token_has_expired() {
    assert_eq!(
      RefreshCause::Legacy.into_error("dev"),
      Error::LegacyTokenExpired {
        profile: "dev".into()
      }
    );
    assert_eq!(
      RefreshCause::MissingKey("clientId").into_error("dev"),
      Error::MissingTokenKey {
        key: "clientId",
        profile: "dev".into(),
        incomplete: None
      }
    );
    assert_eq!(
      RefreshCause::Throttled.into_error("dev"),
      Error::RefreshFailed {
        cause: RefreshCause::Throttled
      }
    );
  }

  #[test]
  fn a_refresh_failure_exposes_its_transport_cause() {
    use std::error::Error as _;
    let oidc = OidcError::Transport("connection to h:443 refused".into());
    let e = Error::RefreshFailed {
      cause: RefreshCause::Oidc(oidc.clone()),
    };
    let cause = e.source().unwrap();
    assert_eq!(cause.to_string(), "(connection to h:443 refused)");
    assert_eq!(cause.source().unwrap().to_string(), oidc.to_string());
  }
}
