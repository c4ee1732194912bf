//! The bytes of CreateToken: the request body we send, and the answer we accept. An
//! answer is validated whole (a failed check fails the refresh, never half-takes it), its
//! secrets are zeroized once parsed, and any text kept from it is cut short and scrubbed
//! of the values we sent before it reaches a message.

use super::{CreateTokenRequest, CreateTokenResponse, OidcError};
use crate::files::push_zeroizing;
use crate::secret::{Secret, ZeroizingWriter};
use serde_json::{Map, Value};
use std::io::{self, Read};
use zeroize::{Zeroize, Zeroizing};

/// Largest `expiresIn` accepted (10 years of 366 days, in seconds): far beyond any real
/// token lifetime and small enough that `now + expiresIn` is always a valid date.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;

/// Longest text kept from the server or the network stack, in characters.
pub(super) const MAX_SERVER_TEXT_CHARS: usize = 200;

/// The CreateToken request body, exactly as sent (field order included). It holds the
/// client secret and the refresh token, so it is serialized from borrowed values straight
/// into a buffer that zeroizes every smaller copy it outgrows and is itself zeroized on drop.
/// Public for the allocator test (`core/tests/zeroize.rs`).
pub fn request_body(request: &CreateTokenRequest) -> Result<Zeroizing<Vec<u8>>, OidcError> {
  #[derive(serde::Serialize)]
  #[serde(rename_all = "camelCase")]
  struct Body<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    refresh_token: &'a str,
  }
  let (id, secret, token) = (
    request.client_id.expose(),
    request.client_secret.expose(),
    request.refresh_token.expose(),
  );
  // The keys, quotes and grant type take 79 bytes; only escaped characters need more.
  let mut out = ZeroizingWriter::with_capacity(id.len() + secret.len() + token.len() + 96);
  serde_json::to_writer(
    &mut out,
    &Body {
      client_id: id,
      client_secret: secret,
      grant_type: "refresh_token",
      refresh_token: token,
    },
  )
  .map_err(|_| OidcError::Refused("could not encode the CreateToken request".into()))?;
  Ok(out.into_bytes())
}

/// Why [`read_body`] gave up.
#[derive(Debug)]
pub enum BodyError {
  /// The body is longer than the limit.
  TooLarge,
  /// Reading failed (for a ureq body reader, a ureq error wrapped in `io::Error`).
  Io(io::Error),
}

/// Reads a response body of at most `limit` bytes. The body may hold new tokens, so it is
/// read into a buffer that zeroizes what it outgrows and is zeroized on drop (a plain
/// `read_to_end` leaves every smaller copy in freed memory). Public for the allocator test.
pub fn read_body(reader: impl Read, limit: u64) -> Result<Zeroizing<Vec<u8>>, BodyError> {
  let mut bytes = Zeroizing::new(Vec::new());
  // One byte past the limit tells a body of exactly `limit` bytes from a longer one.
  let mut limited = reader.take(limit.saturating_add(1));
  let mut chunk = [0u8; 8192];
  let result = loop {
    match limited.read(&mut chunk) {
      Ok(0) => break Ok(()),
      Ok(n) => push_zeroizing(&mut bytes, &chunk[..n]),
      Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
      Err(e) => break Err(BodyError::Io(e)),
    }
  };
  chunk.zeroize();
  result?;
  if bytes.len() as u64 > limit {
    return Err(BodyError::TooLarge);
  }
  Ok(bytes)
}

fn invalid(why: &str) -> OidcError {
  OidcError::InvalidResponse(why.to_string())
}

/// Validates a 2xx CreateToken body. Checks every field by hand: typed deserialization
/// errors quote the offending value, which here may be a token. Public for the fuzz tests.
pub fn parse_success(bytes: &[u8]) -> Result<CreateTokenResponse, OidcError> {
  let text = std::str::from_utf8(bytes).map_err(|_| invalid("body is not UTF-8"))?;
  let value: Value = serde_json::from_str(text).map_err(|_| invalid("body is not JSON"))?;
  let Value::Object(mut fields) = value else {
    let mut value = value;
    scrub(&mut value);
    return Err(invalid("body is not a JSON object"));
  };
  let result = take_response(&mut fields);
  for value in fields.values_mut() {
    scrub(value);
  }
  result
}

fn take_response(fields: &mut Map<String, Value>) -> Result<CreateTokenResponse, OidcError> {
  let access_token = take_secret(fields, "accessToken")
    .ok()
    .flatten()
    .filter(|t| !t.is_empty())
    .ok_or_else(|| invalid("accessToken missing or not a non-empty string"))?;
  if has_control(access_token.expose()) {
    return Err(invalid("accessToken contains control characters"));
  }
  let expires_in = match fields.get("expiresIn") {
    Some(Value::Number(n)) => n.as_i64().filter(|s| *s > 0),
    _ => None,
  }
  .ok_or_else(|| invalid("expiresIn missing or not a positive whole number"))?;
  if expires_in > MAX_EXPIRES_IN_SECS {
    return Err(invalid("expiresIn is over 10 years"));
  }
  // null is how some JSON encoders write an absent optional field.
  let refresh_token = take_secret(fields, "refreshToken")
    .map_err(|_| invalid("refreshToken is not a string"))?
    .filter(|t| !t.is_empty());
  if refresh_token
    .as_ref()
    .is_some_and(|t| has_control(t.expose()))
  {
    return Err(invalid("refreshToken contains control characters"));
  }
  if !matches!(
    fields.get("tokenType"),
    None | Some(Value::Null) | Some(Value::String(_))
  ) {
    return Err(invalid("tokenType is not a string"));
  }
  Ok(CreateTokenResponse {
    access_token,
    expires_in,
    refresh_token,
  })
}

/// Moves a string field into a [`Secret`] (zeroized on drop); `Err` when it is not a string.
fn take_secret(fields: &mut Map<String, Value>, key: &str) -> Result<Option<Secret>, ()> {
  match fields.remove(key) {
    None | Some(Value::Null) => Ok(None),
    Some(Value::String(s)) => Ok(Some(Secret::new(s))),
    Some(mut other) => {
      scrub(&mut other);
      Err(())
    }
  }
}

/// A header value may not hold CR, LF or NUL; a token that does would break the requests
/// that later carry it.
fn has_control(s: &str) -> bool {
  s.chars().any(char::is_control)
}

/// Zeroizes the strings of a parsed body before it is dropped: it may hold tokens.
fn scrub(value: &mut Value) {
  match value {
    Value::String(s) => s.zeroize(),
    Value::Array(items) => items.iter_mut().for_each(scrub),
    Value::Object(fields) => fields.values_mut().for_each(scrub),
    _ => {}
  }
}

/// The error of a 4xx/5xx answer: from `{"error", "error_description"}` (or AWS's
/// `__type`/`message`), falling back to the `x-amzn-ErrorType` header, whose part before `:`
/// is the error code; server text sanitised against `secrets`. Public for the fuzz tests.
pub fn parse_error(
  status: u16,
  body: Option<&[u8]>,
  header: Option<&str>,
  secrets: &[&str],
) -> OidcError {
  let mut json = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
  let (mut error, mut description) = (None, None);
  if let Some(Value::Object(fields)) = &json {
    let text = |keys: &[&str]| {
      keys
        .iter()
        .find_map(|k| fields.get(*k).and_then(Value::as_str))
        .map(|s| sanitize(s, secrets))
        .filter(|s| !s.is_empty())
    };
    error = text(&["error", "__type", "code"]).map(|e| match e.rsplit_once('#') {
      Some((_, name)) if !name.is_empty() => name.to_string(),
      _ => e,
    });
    description = text(&["error_description", "message", "Message"]);
  }
  if let Some(value) = json.as_mut() {
    scrub(value);
  }
  if error.is_none() {
    error = header
      .and_then(|h| h.split(':').next())
      .map(|code| sanitize(code, secrets))
      .filter(|code| !code.is_empty());
  }
  OidcError::Http {
    status,
    error,
    description,
  }
}

/// Makes text from outside safe to show: every secret we sent becomes `***`, control
/// characters become spaces (no forged log lines), and the result is cut to
/// [`MAX_SERVER_TEXT_CHARS`] characters.
pub(super) fn sanitize(text: &str, secrets: &[&str]) -> String {
  let mut redacted = text.to_string();
  for secret in secrets.iter().filter(|s| !s.is_empty()) {
    if redacted.contains(secret) {
      let replaced = redacted.replace(secret, "***");
      redacted.zeroize();
      redacted = replaced;
    }
  }
  let mut out: String = redacted
    .chars()
    .map(|c| if c.is_control() { ' ' } else { c })
    .take(MAX_SERVER_TEXT_CHARS)
    .collect();
  if redacted.chars().nth(MAX_SERVER_TEXT_CHARS).is_some() {
    out.push_str("...");
  }
  redacted.zeroize();
  out.trim().to_string()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn read_body_takes_exactly_the_limit_and_refuses_one_byte_more() {
    assert_eq!(&read_body(&b"abcd"[..], 4).unwrap()[..], b"abcd");
    assert!(matches!(
      read_body(&b"abcde"[..], 4),
      Err(BodyError::TooLarge)
    ));
    assert_eq!(&read_body(&b""[..], 0).unwrap()[..], b"");
    assert!(matches!(read_body(&b"x"[..], 0), Err(BodyError::TooLarge)));
    let big = vec![b'x'; 50_000];
    assert_eq!(read_body(&big[..], u64::MAX).unwrap().len(), 50_000);
  }

  #[test]
  fn read_body_passes_on_read_errors_and_retries_interrupted_reads() {
    struct Flaky(u8);
    impl Read for Flaky {
      fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0 += 1;
        match self.0 {
          1 => Err(io::ErrorKind::Interrupted.into()),
          2 => {
            buf[0] = b'a';
            Ok(1)
          }
          _ => Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
        }
      }
    }
    let Err(BodyError::Io(e)) = read_body(Flaky(0), 10) else {
      panic!("expected an I/O error");
    };
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
  }

  #[test]
  fn sanitize_ignores_empty_secrets_and_trims() {
    assert_eq!(sanitize("  a\tb  ", &["", "zz"]), "a b");
    assert_eq!(sanitize("xxzzxx", &["zz"]), "xx***xx");
    assert_eq!(sanitize(&"a".repeat(200), &[]), "a".repeat(200));
  }
}
