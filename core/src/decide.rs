//! When to refresh (docs/behaviour.md §4): the expiry window and the refresh decision, as
//! pure functions of a few named facts. Every other layer asks here; the JavaScript
//! `needsRefresh()` (index.js) is v2 API and mirrors [`Window::band`]'s mandatory edge.

use crate::error::{Error, RefreshCause};
use crate::oidc::OidcError;
use chrono::{DateTime, Duration, Utc};

pub use crate::limits::{EXPIRY_WINDOW, MAX_WINDOW_SECS, REFRESH_THROTTLE};

/// How long before expiry a token is due: inside `mandatory` a load waits for a refresh
/// (v2's `expiryWindow`); between `advisory` and `mandatory` it is served while one runs
/// in the background. `advisory` is never shorter than `mandatory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
  mandatory: Duration,
  advisory: Duration,
}

/// Where a token's expiry falls relative to a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
  /// Valid beyond the advisory window: nothing to do.
  Fresh,
  /// Inside the advisory window, valid beyond the mandatory one.
  Advisory,
  /// Inside the mandatory window, or expired.
  Mandatory,
}

impl Default for Window {
  fn default() -> Self {
    Window::mandatory_only(EXPIRY_WINDOW)
  }
}

impl Window {
  /// A window with no advisory band.
  pub fn mandatory_only(mandatory: Duration) -> Self {
    Window {
      mandatory,
      advisory: mandatory,
    }
  }

  /// From seconds as JavaScript holds them: each a finite number from 0 to
  /// [`MAX_WINDOW_SECS`], else [`Error::InvalidWindow`] naming the setting. An advisory
  /// window shorter than the mandatory one means no advisory band.
  pub fn from_secs_f64(mandatory: f64, advisory: f64) -> Result<Self, Error> {
    let invalid = |setting| Error::InvalidWindow { setting };
    let mandatory = window_duration(mandatory).ok_or(invalid("expiryWindow"))?;
    let advisory = window_duration(advisory).ok_or(invalid("advisoryWindow"))?;
    Ok(Window {
      mandatory,
      advisory: advisory.max(mandatory),
    })
  }

  /// The mandatory part (v2's `expiryWindow`).
  pub fn mandatory(&self) -> Duration {
    self.mandatory
  }

  /// The advisory part, at least [`Self::mandatory`].
  pub fn advisory(&self) -> Duration {
    self.advisory
  }

  /// The times at which a token expiring at `expires_at` enters the advisory band and the
  /// mandatory window: [`Self::band`] is `Fresh` strictly before the first, `Mandatory`
  /// from the second on. Clamped to chrono's first date.
  pub fn edges(&self, expires_at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let edge = |d: Duration| {
      expires_at
        .checked_sub_signed(d)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    (edge(self.advisory), edge(self.mandatory))
  }

  /// The band `expires_at` is in at `now`. "Valid" means strictly more than the window
  /// left, as v2's load decides (`tokenExpireTime > now + expiryWindow`); at the edge the
  /// token is due.
  pub fn band(&self, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Band {
    // An edge past chrono's last date is one no expiry can be beyond.
    let beyond = |d: Duration| {
      now
        .checked_add_signed(d)
        .is_some_and(|edge| expires_at > edge)
    };
    if beyond(self.advisory) {
      Band::Fresh
    } else if beyond(self.mandatory) {
      Band::Advisory
    } else {
      Band::Mandatory
    }
  }
}

fn window_duration(secs: f64) -> Option<Duration> {
  if !(0.0..=MAX_WINDOW_SECS).contains(&secs) {
    return None;
  }
  Some(Duration::milliseconds((secs * 1000.0).round() as i64))
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Facts {
  /// Now, from the clock seam.
  pub now: DateTime<Utc>,
  /// The cached token's `expiresAt`.
  pub expires_at: DateTime<Utc>,
  /// The caller's window.
  pub window: Window,
  /// Legacy (`sso_start_url` in the profile) tokens are never refreshed.
  pub legacy: bool,
  /// The first of `clientId`, `clientSecret`, `refreshToken` missing from the file.
  pub missing_refresh_key: Option<&'static str>,
  /// `registrationExpiresAt`, when the file has a readable one.
  pub registration_expires_at: Option<DateTime<Utc>>,
  /// Why no CreateToken endpoint can be used (an invalid region, say), when that is so.
  pub unusable_endpoint: Option<OidcError>,
  /// The caller asked for a refresh whatever the expiry (`sso-token --refresh`).
  pub force: bool,
}

/// What a load does with the token it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
  /// Serve it; no refresh is due.
  Fresh,
  /// Serve it now and refresh in the background (the advisory band).
  RefreshWhileServing,
  /// Wait for a refresh (the mandatory window, expired, or forced).
  MustRefresh,
  /// A refresh is due but impossible: serve the token while it lasts, else fail
  /// ([`serve_or_fail`]).
  Cannot(RefreshCause),
}

/// The decision for one load.
pub fn decide(f: &Facts) -> Decision {
  let blocker = if f.legacy {
    Some(RefreshCause::Legacy)
  } else if let Some(key) = f.missing_refresh_key {
    Some(RefreshCause::MissingKey(key))
  } else if f.registration_expires_at.is_some_and(|t| t <= f.now) {
    Some(RefreshCause::RegistrationExpired)
  } else {
    f.unusable_endpoint.clone().map(RefreshCause::Oidc)
  };
  let band = if f.force {
    Band::Mandatory
  } else {
    f.window.band(f.now, f.expires_at)
  };
  match (band, blocker) {
    (Band::Fresh, _) | (Band::Advisory, Some(_)) => Decision::Fresh,
    (Band::Advisory, None) => Decision::RefreshWhileServing,
    (Band::Mandatory, None) => Decision::MustRefresh,
    (Band::Mandatory, Some(cause)) => Decision::Cannot(cause),
  }
}

/// After a refresh did not happen or failed: the old token while it is valid (with the
/// cause as its note), else the error for `profile`.
pub fn serve_or_fail(
  now: DateTime<Utc>,
  expires_at: DateTime<Utc>,
  cause: RefreshCause,
  profile: &str,
) -> Result<RefreshCause, Error> {
  if expires_at > now {
    Ok(cause)
  } else {
    Err(cause.into_error(profile))
  }
}

/// Whether an attempt at `last` still blocks a new one at `now`. A clock set back (NTP
/// step, VM resume) makes the last attempt look future: that is not a recent attempt, or
/// refreshes would stay blocked for as long as the jump.
pub fn throttled(now: DateTime<Utc>, last: DateTime<Utc>) -> bool {
  let since = now - last;
  since >= Duration::zero() && since < REFRESH_THROTTLE
}

#[cfg(test)]
mod tests {
  use super::*;
  use chrono::TimeZone;

  fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
  }

  fn facts(expires_in_secs: i64) -> Facts {
    Facts {
      now: now(),
      expires_at: now() + Duration::seconds(expires_in_secs),
      window: Window::default(),
      legacy: false,
      missing_refresh_key: None,
      registration_expires_at: None,
      unusable_endpoint: None,
      force: false,
    }
  }

  #[test]
  fn valid_beyond_window_uses_cache() {
    assert_eq!(decide(&facts(301)), Decision::Fresh);
  }

  #[test]
  fn exactly_at_window_edge_refreshes_like_v2() {
    assert_eq!(decide(&facts(300)), Decision::MustRefresh);
  }

  #[test]
  fn inside_window_or_expired_refreshes() {
    assert_eq!(decide(&facts(10)), Decision::MustRefresh);
    assert_eq!(decide(&facts(-10)), Decision::MustRefresh);
  }

  #[test]
  fn force_refreshes_a_valid_token() {
    let f = Facts {
      force: true,
      ..facts(3600)
    };
    assert_eq!(decide(&f), Decision::MustRefresh);
  }

  #[test]
  fn missing_key_serves_valid_token_and_fails_expired_one() {
    let f = Facts {
      missing_refresh_key: Some("clientId"),
      ..facts(10)
    };
    let Decision::Cannot(cause) = decide(&f) else {
      panic!("{:?}", decide(&f));
    };
    assert!(serve_or_fail(f.now, f.expires_at, cause, "dev").is_ok());
    let f = Facts {
      missing_refresh_key: Some("clientSecret"),
      ..facts(0)
    };
    let Decision::Cannot(cause) = decide(&f) else {
      panic!("{:?}", decide(&f));
    };
    assert_eq!(
      serve_or_fail(f.now, f.expires_at, cause, "dev"),
      Err(Error::MissingTokenKey {
        key: "clientSecret",
        profile: "dev".into(),
        incomplete: None
      })
    );
  }

  #[test]
  fn legacy_never_refreshes() {
    let f = Facts {
      legacy: true,
      ..facts(10)
    };
    assert_eq!(decide(&f), Decision::Cannot(RefreshCause::Legacy));
    assert_eq!(
      serve_or_fail(
        now(),
        now() - Duration::seconds(1),
        RefreshCause::Legacy,
        "dev"
      ),
      Err(Error::LegacyTokenExpired {
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
    assert_eq!(
      decide(&f),
      Decision::Cannot(RefreshCause::RegistrationExpired)
    );
    assert_eq!(
      serve_or_fail(now(), now(), RefreshCause::RegistrationExpired, "dev")
        .unwrap_err()
        .to_string(),
      "SSO Token refresh failed. Please log in using \"aws sso login\" (client registration expired)"
    );
    let f = Facts {
      registration_expires_at: Some(now() + Duration::days(1)),
      ..facts(10)
    };
    assert_eq!(decide(&f), Decision::MustRefresh);
  }

  #[test]
  fn an_unusable_endpoint_is_never_called_and_serves_a_valid_token() {
    let refused = OidcError::Refused("bad region".into());
    let f = Facts {
      unusable_endpoint: Some(refused.clone()),
      ..facts(10)
    };
    assert_eq!(decide(&f), Decision::Cannot(RefreshCause::Oidc(refused)));
  }

  #[test]
  fn failed_refresh_serves_valid_token_else_fails_with_cause() {
    let cause = || RefreshCause::Oidc(OidcError::Transport("x".into()));
    assert_eq!(
      serve_or_fail(now(), now() + Duration::seconds(1), cause(), "dev"),
      Ok(cause())
    );
    assert_eq!(
      serve_or_fail(now(), now(), cause(), "dev")
        .unwrap_err()
        .to_string(),
      "SSO Token refresh failed. Please log in using \"aws sso login\" (x)"
    );
  }

  #[test]
  fn the_advisory_band_serves_and_refreshes_in_the_background() {
    let window = Window::from_secs_f64(300.0, 900.0).unwrap();
    let at = |secs| Facts {
      window,
      ..facts(secs)
    };
    assert_eq!(decide(&at(901)), Decision::Fresh);
    assert_eq!(decide(&at(900)), Decision::RefreshWhileServing);
    assert_eq!(decide(&at(301)), Decision::RefreshWhileServing);
    assert_eq!(decide(&at(300)), Decision::MustRefresh);
    // Nothing to do ahead of time for a token that cannot be refreshed.
    let legacy = Facts {
      legacy: true,
      ..at(600)
    };
    assert_eq!(decide(&legacy), Decision::Fresh);
  }

  #[test]
  fn windows_are_finite_bounded_and_advisory_is_never_shorter() {
    for bad in [
      -1.0,
      f64::NAN,
      f64::INFINITY,
      -1e300,
      1e300,
      MAX_WINDOW_SECS + 1.0,
    ] {
      assert_eq!(
        Window::from_secs_f64(bad, 0.0),
        Err(Error::InvalidWindow {
          setting: "expiryWindow"
        }),
        "{bad}"
      );
      assert_eq!(
        Window::from_secs_f64(0.0, bad),
        Err(Error::InvalidWindow {
          setting: "advisoryWindow"
        }),
        "{bad}"
      );
    }
    let w = Window::from_secs_f64(600.0, 60.0).unwrap();
    assert_eq!(
      (w.mandatory(), w.advisory()),
      (Duration::seconds(600), Duration::seconds(600))
    );
    let w = Window::from_secs_f64(MAX_WINDOW_SECS, MAX_WINDOW_SECS).unwrap();
    let far = DateTime::<Utc>::MAX_UTC;
    assert_eq!(w.band(far, far), Band::Mandatory);
    assert_eq!(w.band(DateTime::<Utc>::MIN_UTC, far), Band::Fresh);
    assert_eq!(
      Window::from_secs_f64(0.25, 0.0).unwrap().mandatory(),
      Duration::milliseconds(250)
    );
  }

  #[test]
  fn the_edges_are_where_the_band_changes() {
    let window = Window::from_secs_f64(300.0, 900.0).unwrap();
    let expires_at = now() + Duration::seconds(3600);
    let (advisory, mandatory) = window.edges(expires_at);
    let just = Duration::milliseconds(1);
    assert_eq!(window.band(advisory - just, expires_at), Band::Fresh);
    assert_eq!(window.band(advisory, expires_at), Band::Advisory);
    assert_eq!(window.band(mandatory - just, expires_at), Band::Advisory);
    assert_eq!(window.band(mandatory, expires_at), Band::Mandatory);
    let far = Window::from_secs_f64(MAX_WINDOW_SECS, MAX_WINDOW_SECS).unwrap();
    assert_eq!(
      far.edges(DateTime::<Utc>::MIN_UTC).0,
      DateTime::<Utc>::MIN_UTC
    );
  }

  #[test]
  fn the_throttle_holds_for_30_seconds_and_ignores_a_clock_set_back() {
    assert!(throttled(now(), now()));
    assert!(throttled(now() + Duration::seconds(29), now()));
    assert!(!throttled(now() + Duration::seconds(30), now()));
    assert!(!throttled(now() - Duration::seconds(10), now()));
  }
}
