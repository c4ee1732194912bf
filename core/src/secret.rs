//! A string that must never be printed: access tokens, refresh tokens, client secrets.
//!
//! `Debug` and `Display` are redacted, and the bytes are zeroized when the value is dropped,
//! so a secret cannot leak through an error message, a log line or a core dump of freed
//! memory. Read the value only where it is sent or stored.

use crate::files::push_zeroizing;
use std::fmt;
use std::io;
use zeroize::{Zeroize, Zeroizing};

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

/// An [`io::Write`] into memory for bytes that hold secrets (a request body, a cache
/// document): when the buffer has to grow, the content moves to a new allocation and the old
/// one is zeroized before it is freed, and the finished buffer is zeroized on drop. A `Vec`
/// grown by `serde_json::to_vec` would leave each smaller copy behind in freed memory.
pub struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl ZeroizingWriter {
  /// An empty buffer of `capacity` bytes; a good guess saves the copies of growing.
  pub fn with_capacity(capacity: usize) -> Self {
    ZeroizingWriter(Zeroizing::new(Vec::with_capacity(capacity)))
  }

  /// The bytes written, still zeroized on drop.
  pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
    self.0
  }
}

impl io::Write for ZeroizingWriter {
  fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
    push_zeroizing(&mut self.0, buf);
    Ok(buf.len())
  }

  fn flush(&mut self) -> io::Result<()> {
    Ok(())
  }
}

/// Zeroizes every string in a JSON value about to be dropped: a parsed cache file or
/// CreateToken answer, whose strings may be tokens.
pub fn zeroize_json(value: &mut serde_json::Value) {
  use serde_json::Value;
  match value {
    Value::String(s) => s.zeroize(),
    Value::Array(items) => items.iter_mut().for_each(zeroize_json),
    Value::Object(fields) => fields.values_mut().for_each(zeroize_json),
    _ => {}
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io::Write;

  #[test]
  fn debug_and_display_never_show_the_value() {
    let s = Secret::new("hunter2-token");
    assert_eq!(format!("{s:?}"), "** redacted **");
    assert_eq!(format!("{s}"), "** redacted **");
    assert_eq!(s.expose(), "hunter2-token");
  }

  #[test]
  fn the_writer_keeps_everything_written_across_growth() {
    let mut w = ZeroizingWriter::with_capacity(2);
    w.write_all(b"ab").unwrap();
    w.write_all(b"cdefgh").unwrap();
    write!(w, "{}", 42).unwrap();
    w.flush().unwrap();
    assert_eq!(&w.into_bytes()[..], b"abcdefgh42");
  }
}
