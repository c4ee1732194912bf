//! A string that must never be printed: access tokens, refresh tokens, client secrets.
//!
//! `Debug` and `Display` are redacted, and the bytes are zeroized when the value is dropped,
//! so a secret cannot leak through an error message, a log line or a core dump of freed
//! memory. Read the value only where it is sent or stored.

use std::fmt;
use zeroize::Zeroize;

/// A redacted, zeroized string.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
  /// Wraps `value`; the caller's copy, if any, is its own to zeroize.
  pub fn new(value: impl Into<String>) -> Self {
    Secret(value.into())
  }

  /// The secret value; callers must not format it into messages.
  pub fn expose(&self) -> &str {
    &self.0
  }

  /// Whether the value is the empty string.
  pub fn is_empty(&self) -> bool {
    self.0.is_empty()
  }
}

impl Drop for Secret {
  fn drop(&mut self) {
    self.0.zeroize();
  }
}

impl fmt::Debug for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("** redacted **")
  }
}

impl fmt::Display for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("** redacted **")
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn debug_and_display_never_show_the_value() {
    let s = Secret::new("hunter2-token");
    assert_eq!(format!("{s:?}"), "** redacted **");
    assert_eq!(format!("{s}"), "** redacted **");
    assert_eq!(s.expose(), "hunter2-token");
  }
}
