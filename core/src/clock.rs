//! The clock seam: every wall-clock reading of the core goes through [`Clock`], so tests
//! run whole scenarios (throttle, expiry, a clock set back) with a fake one. `clippy.toml`
//! bans direct `Utc::now()` and `SystemTime::now()` elsewhere.

use chrono::{DateTime, Utc};

/// Where a load takes "now" from.
pub trait Clock: Send + Sync {
  /// The current time.
  fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
  #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
  fn now(&self) -> DateTime<Utc> {
    Utc::now()
  }
}
