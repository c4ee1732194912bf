//! JSON text exactly as the AWS CLI writes its SSO cache files and hashes its registration
//! key: Python's `json.dumps` with its defaults (docs/behaviour.md §10). One line, no
//! indentation, `", "` between items and `": "` after keys, keys in the order given, and
//! `ensure_ascii`: every character outside `' '..='~'` escaped as `\uXXXX` (lowercase hex,
//! a surrogate pair beyond the BMP) except the five short escapes Python uses. The same
//! bytes as the CLI's file, so that a reader comparing files, or hashing them, sees no
//! difference between the two tools.
//!
//! The text holds tokens and client secrets: it is written into a buffer that zeroizes
//! every smaller copy it outgrows and is itself zeroized on drop.

use crate::secret::ZeroizingWriter;
use std::io::Write;
use zeroize::Zeroizing;

/// A value of a cache document or of the registration key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
  /// A string.
  Str(&'a str),
  /// A list of strings (`scopes`, `grantTypes`).
  List(&'a [String]),
  /// `null` (`None` in Python).
  Null,
}

/// `{"key": value, ...}` with the fields in the order given.
pub(crate) fn dumps(fields: &[(&str, Value<'_>)]) -> Zeroizing<Vec<u8>> {
  // Room for the usual document without growing: each string with its quotes and
  // separators; only escapes need more.
  let guess = fields
    .iter()
    .map(|(key, value)| {
      key.len()
        + 8
        + match value {
          Value::Str(s) => s.len(),
          Value::List(items) => items.iter().map(|i| i.len() + 4).sum(),
          Value::Null => 4,
        }
    })
    .sum::<usize>()
    + 2;
  let mut out = ZeroizingWriter::with_capacity(guess);
  // Writing into memory cannot fail.
  let _ = write_object(&mut out, fields);
  out.into_bytes()
}

fn write_object(out: &mut ZeroizingWriter, fields: &[(&str, Value<'_>)]) -> std::io::Result<()> {
  out.write_all(b"{")?;
  for (i, (key, value)) in fields.iter().enumerate() {
    if i > 0 {
      out.write_all(b", ")?;
    }
    write_str(out, key)?;
    out.write_all(b": ")?;
    match value {
      Value::Str(s) => write_str(out, s)?,
      Value::Null => out.write_all(b"null")?,
      Value::List(items) => {
        out.write_all(b"[")?;
        for (j, item) in items.iter().enumerate() {
          if j > 0 {
            out.write_all(b", ")?;
          }
          write_str(out, item)?;
        }
        out.write_all(b"]")?;
      }
    }
  }
  out.write_all(b"}")
}

/// A string as Python's `py_encode_basestring_ascii` writes it.
fn write_str(out: &mut ZeroizingWriter, s: &str) -> std::io::Result<()> {
  out.write_all(b"\"")?;
  let bytes = s.as_bytes();
  let mut plain_from = 0;
  for (at, c) in s.char_indices() {
    let short: Option<&[u8]> = match c {
      '"' => Some(b"\\\""),
      '\\' => Some(b"\\\\"),
      '\n' => Some(b"\\n"),
      '\r' => Some(b"\\r"),
      '\t' => Some(b"\\t"),
      '\u{8}' => Some(b"\\b"),
      '\u{c}' => Some(b"\\f"),
      ' '..='~' => continue,
      _ => None,
    };
    out.write_all(&bytes[plain_from..at])?;
    plain_from = at + c.len_utf8();
    match short {
      Some(escape) => out.write_all(escape)?,
      None => {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
          write!(out, "\\u{unit:04x}")?;
        }
      }
    }
  }
  out.write_all(&bytes[plain_from..])?;
  out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
  use super::*;

  fn text(fields: &[(&str, Value<'_>)]) -> String {
    String::from_utf8(dumps(fields).to_vec()).unwrap()
  }

  /// The expected text is what `python3 -c 'import json; print(json.dumps(...))'` printed.
  #[test]
  fn strings_are_escaped_as_python_ensure_ascii_escapes_them() {
    assert_eq!(
      text(&[(
        "a",
        Value::Str("\u{e9}\u{2028}\u{1F600}\u{7f}\u{1}\"\\/\n\t\u{8}\u{c}\r")
      )]),
      r#"{"a": "\u00e9\u2028\ud83d\ude00\u007f\u0001\"\\/\n\t\b\f\r"}"#
    );
  }

  #[test]
  fn items_are_separated_as_python_separates_them_by_default() {
    let scopes = ["sso:account:access".to_string(), "b".to_string()];
    assert_eq!(
      text(&[
        ("k", Value::Null),
        ("l", Value::List(&scopes)),
        ("e", Value::List(&[])),
        ("s", Value::Str("")),
      ]),
      r#"{"k": null, "l": ["sso:account:access", "b"], "e": [], "s": ""}"#
    );
    assert_eq!(text(&[]), "{}");
  }
}
