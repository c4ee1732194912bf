//! The bytes of CreateToken: the request body we send, and the answer we accept. An
//! answer is validated whole (a failed check fails the refresh, never half-takes it), its
//! secrets are zeroized once parsed, and any text kept from it is cut short and scrubbed
//! of the values we sent before it reaches a message.

use super::redact::sanitize_all;
use super::{CreateTokenRequest, CreateTokenResponse, OidcError};
use crate::secret::{zeroize_json, Secret, ZeroizingWriter};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// Largest `expiresIn` accepted (10 years of 366 days, in seconds): far beyond any real
/// token lifetime and small enough that `now + expiresIn` is always a valid date.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;

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
    zeroize_json(&mut value);
    return Err(invalid("body is not a JSON object"));
  };
  let result = take_response(&mut fields);
  for value in fields.values_mut() {
    zeroize_json(value);
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
pub(crate) fn take_secret(
  fields: &mut Map<String, Value>,
  key: &str,
) -> Result<Option<Secret>, ()> {
  match fields.remove(key) {
    None | Some(Value::Null) => Ok(None),
    Some(Value::String(s)) => Ok(Some(Secret::new(s))),
    Some(mut other) => {
      zeroize_json(&mut other);
      Err(())
    }
  }
}

/// A header value may not hold CR, LF or NUL; a token that does would break the requests
/// that later carry it.
pub(crate) fn has_control(s: &str) -> bool {
  s.chars().any(char::is_control)
}

/// The error of a 4xx/5xx answer: from `{"error", "error_description"}` (or AWS's
/// `__type`/`message`), falling back to the `x-amzn-ErrorType` header, whose part before `:`
/// is the error code; server text sanitised against `secrets`, all of one answer's text
/// together (see [`sanitize_all`]). Public for the fuzz tests.
pub fn parse_error(
  status: u16,
  body: Option<&[u8]>,
  header: Option<&str>,
  secrets: &[&str],
) -> OidcError {
  let mut json = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
  let [json_error, header_error, description] = {
    let fields = match &json {
      Some(Value::Object(fields)) => Some(fields),
      _ => None,
    };
    let text = |keys: &[&str]| {
      fields
        .and_then(|f| keys.iter().find_map(|k| f.get(*k).and_then(Value::as_str)))
        .unwrap_or("")
    };
    let texts = [
      text(&["error", "__type", "code"]),
      header.and_then(|h| h.split(':').next()).unwrap_or(""),
      text(&["error_description", "message", "Message"]),
    ];
    let mut clean = sanitize_all(&texts, secrets)
      .into_iter()
      .map(|s| Some(s).filter(|s| !s.is_empty()));
    [(); 3].map(|()| clean.next().flatten())
  };
  if let Some(value) = json.as_mut() {
    zeroize_json(value);
  }
  let error = json_error
    .map(|e| match e.rsplit_once('#') {
      Some((_, name)) if !name.is_empty() => name.to_string(),
      _ => e,
    })
    .or(header_error);
  OidcError::Http {
    status,
    error,
    description,
  }
}
