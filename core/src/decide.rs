//! The refresh decision of SPEC section 4, as a pure function of a few facts.

use crate::error::Error;
use chrono::{DateTime, Duration, Utc};

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
  pub now: DateTime<Utc>,
  pub expires_at: DateTime<Utc>,
  pub expiry_window: Duration,
  pub profile: &'a str,
  /// Legacy (`sso_start_url` in the profile) tokens are never refreshed.
  pub legacy: bool,
  /// The first of `clientId`, `clientSecret`, `refreshToken` missing from the file.
  pub missing_refresh_key: Option<&'static str>,
  pub registration_expires_at: Option<DateTime<Utc>>,
  /// The caller asked for a refresh whatever the expiry (`sso-token --refresh`).
  pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
  /// Serve the cached token. `note` says why a wanted refresh was not attempted.
  UseCached {
    note: Option<String>,
  },
  Refresh,
  Fail(Error),
}

pub fn decide(f: &Facts) -> Decision {
  let valid_beyond_window = f.expires_at > f.now + f.expiry_window;
  let expired = f.expires_at <= f.now;
  let registration_expired = f.registration_expires_at.is_some_and(|t| t <= f.now);

  if valid_beyond_window && !f.force {
    return Decision::UseCached { note: None };
  }
  // Cannot refresh: serve the token while it lasts, fail once it has expired.
  let (error, note) = if f.legacy {
    (
      Error::LegacyTokenExpired {
        profile: f.profile.into(),
      },
      "legacy sso_start_url profiles are not refreshed".to_string(),
    )
  } else if let Some(key) = f.missing_refresh_key {
    (
      Error::MissingTokenKey { key },
      format!("Key \"{key}\" not present in SSO Token"),
    )
  } else if registration_expired {
    (
      Error::RefreshFailed {
        cause: "(client registration expired)".into(),
      },
      "client registration expired".to_string(),
    )
  } else {
    return Decision::Refresh;
  };
  if expired {
    Decision::Fail(error)
  } else {
    Decision::UseCached { note: Some(note) }
  }
}

/// After a refresh did not happen or failed: the old token while it is valid, else the
/// v2 message with the cause.
pub fn after_failed_refresh(
  now: DateTime<Utc>,
  expires_at: DateTime<Utc>,
  cause: String,
) -> Result<String, Error> {
  if expires_at > now {
    Ok(cause)
  } else {
    Err(Error::RefreshFailed { cause })
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use chrono::TimeZone;

  fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
  }

  fn facts(expires_in_secs: i64) -> Facts<'static> {
    Facts {
      now: now(),
      expires_at: now() + Duration::seconds(expires_in_secs),
      expiry_window: Duration::seconds(300),
      profile: "dev",
      legacy: false,
      missing_refresh_key: None,
      registration_expires_at: None,
      force: false,
    }
  }

  #[test]
  fn valid_beyond_window_uses_cache() {
    assert_eq!(decide(&facts(301)), Decision::UseCached { note: None });
  }

  #[test]
  fn exactly_at_window_edge_refreshes_like_v2() {
    assert_eq!(decide(&facts(300)), Decision::Refresh);
  }

  #[test]
  fn inside_window_or_expired_refreshes() {
    assert_eq!(decide(&facts(10)), Decision::Refresh);
    assert_eq!(decide(&facts(-10)), Decision::Refresh);
  }

  #[test]
  fn force_refreshes_a_valid_token() {
    let f = Facts {
      force: true,
      ..facts(3600)
    };
    assert_eq!(decide(&f), Decision::Refresh);
  }

  #[test]
  fn missing_key_serves_valid_token_and_fails_expired_one() {
    let f = Facts {
      missing_refresh_key: Some("clientId"),
      ..facts(10)
    };
    assert!(matches!(decide(&f), Decision::UseCached { note: Some(_) }));
    let f = Facts {
      missing_refresh_key: Some("clientSecret"),
      ..facts(0)
    };
    assert_eq!(
      decide(&f),
      Decision::Fail(Error::MissingTokenKey {
        key: "clientSecret"
      })
    );
  }

  #[test]
  fn legacy_never_refreshes() {
    let f = Facts {
      legacy: true,
      ..facts(10)
    };
    assert!(matches!(decide(&f), Decision::UseCached { note: Some(_) }));
    let f = Facts {
      legacy: true,
      ..facts(-1)
    };
    assert_eq!(
      decide(&f),
      Decision::Fail(Error::LegacyTokenExpired {
        profile: "dev".into()
      })
    );
  }

  #[test]
  fn expired_registration_skips_the_call() {
    let f = Facts {
      registration_expires_at: Some(now()),
      ..facts(10)
    };
    assert!(matches!(decide(&f), Decision::UseCached { note: Some(_) }));
    let f = Facts {
      registration_expires_at: Some(now()),
      ..facts(-1)
    };
    assert_eq!(
      decide(&f).clone(),
      Decision::Fail(Error::RefreshFailed {
        cause: "(client registration expired)".into()
      })
    );
    let f = Facts {
      registration_expires_at: Some(now() + Duration::days(1)),
      ..facts(10)
    };
    assert_eq!(decide(&f), Decision::Refresh);
  }

  #[test]
  fn failed_refresh_serves_valid_token_else_fails_with_cause() {
    assert_eq!(
      after_failed_refresh(now(), now() + Duration::seconds(1), "(x)".into()),
      Ok("(x)".into())
    );
    assert_eq!(
      after_failed_refresh(now(), now(), "(x)".into())
        .unwrap_err()
        .to_string(),
      "SSO Token refresh failed. Please log in using \"aws sso login\" (x)"
    );
  }
}
