//! The client registration cache, as the AWS CLI v2 keeps it (docs/behaviour.md §10;
//! `awscli/botocore/utils.py`: `BaseSSOTokenFetcher._registration_cache_key`,
//! `_is_expired`, `SSOTokenFetcher._register_client`, `SSOTokenFetcherAuth._register_client`
//! and `_is_registration_for_auth_code`, CLI 2.36.7).
//!
//! One file per (start URL, region, scopes, session) in `~/.aws/sso/cache`, named by the
//! SHA-1 of a JSON text of those four and `"tool": "botocore"`. The grant types are not in
//! the key, so the device and the authorization-code registrations of a session share the
//! file, told apart by `grantTypes`. A registration is reused while it has more than
//! [`REGISTRATION_MARGIN`] left, by either tool: the file is the CLI's, byte for byte.

use super::json::{dumps, Value};
use crate::cache::parse_timestamp;
use crate::files::read_regular;
use crate::secret::{zeroize_json, Secret};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value as Json};
use sha1::{Digest, Sha1};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

/// A registration with less than this left is registered again (botocore `_EXPIRY_WINDOW`).
pub const REGISTRATION_MARGIN: Duration = Duration::minutes(15);

/// The grant types of an authorization-code registration, as the CLI registers them.
pub const AUTH_CODE_GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

/// The scope the authorization-code flow registers and asks for when the session names
/// none (botocore `_AUTH_GRANT_DEFAULT_SCOPE`).
pub const DEFAULT_SCOPE: &str = "sso:account:access";

/// The largest registration file read: real ones are about 2 KB.
const MAX_REGISTRATION_BYTES: u64 = 64 * 1024;

/// How the user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
  /// Authorization code with PKCE, the browser returning to a loopback listener.
  AuthCode,
  /// Device authorization (RFC 8628): a code entered on any device.
  DeviceCode,
}

impl Flow {
  /// `authorization_code` or `device_code`, as events and results name it.
  pub fn name(self) -> &'static str {
    match self {
      Flow::AuthCode => "authorization_code",
      Flow::DeviceCode => "device_code",
    }
  }
}

/// `sso_registration_scopes` as the CLI reads it (`parse_sso_registration_scopes`): split
/// on commas, each trimmed, the empty ones dropped.
pub fn parse_scopes(raw: &str) -> Vec<String> {
  raw
    .split(',')
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .map(str::to_string)
    .collect()
}

/// The registration file's name without `.json`: the SHA-1 of
/// `json.dumps({"region", "scopes", "session_name", "startUrl", "tool": "botocore"},
/// sort_keys=True)`. `scopes` are the configured ones (`None`: no `sso_registration_scopes`
/// line), `session` the sso-session (`None`: a profile holding its own `sso_start_url`).
pub fn registration_key(
  start_url: &str,
  region: &str,
  scopes: Option<&[String]>,
  session: Option<&str>,
) -> String {
  let text = dumps(&[
    ("region", Value::Str(region)),
    ("scopes", scopes.map_or(Value::Null, Value::List)),
    ("session_name", session.map_or(Value::Null, Value::Str)),
    ("startUrl", Value::Str(start_url)),
    ("tool", Value::Str("botocore")),
  ]);
  hex::encode(Sha1::digest(&text[..]))
}

/// A client registration, from the cache or from RegisterClient.
#[derive(Debug, Clone)]
pub struct Registration {
  /// `clientId`.
  pub client_id: Secret,
  /// `clientSecret`.
  pub client_secret: Secret,
  /// `expiresAt` as the file holds it: the token file copies it verbatim, as the CLI does.
  pub expires_at_text: String,
  /// `expiresAt`, read.
  pub expires_at: DateTime<Utc>,
}

/// The registration in the file at `path`, if it can be used for `flow` at `now`: readable,
/// with a client id and secret, more than [`REGISTRATION_MARGIN`] left, and made for this
/// flow. Anything else (no file, a broken one, another flow's) means registering again and
/// replacing it, as the CLI does.
pub fn read_reusable(path: &Path, flow: Flow, now: DateTime<Utc>) -> Option<Registration> {
  let mut bytes = read_regular(path, MAX_REGISTRATION_BYTES).ok()?;
  let reusable = parse_reusable(&bytes, flow, now);
  bytes.zeroize();
  reusable
}

/// [`read_reusable`] of the file's bytes.
pub fn parse_reusable(bytes: &[u8], flow: Flow, now: DateTime<Utc>) -> Option<Registration> {
  let mut value: Json = serde_json::from_slice(bytes).ok()?;
  let found = match &value {
    Json::Object(doc) => reusable(doc, flow, now),
    _ => None,
  };
  zeroize_json(&mut value);
  found
}

fn reusable(doc: &Map<String, Json>, flow: Flow, now: DateTime<Utc>) -> Option<Registration> {
  let text = |key: &str| match doc.get(key) {
    Some(Json::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => Some(s.as_str()),
    _ => None,
  };
  let expires_at_text = text("expiresAt")?;
  let expires_at = parse_timestamp(expires_at_text)?;
  if expires_at - now < REGISTRATION_MARGIN || (flow == Flow::AuthCode) != for_auth_code(doc) {
    return None;
  }
  Some(Registration {
    client_id: Secret::new(text("clientId")?),
    client_secret: Secret::new(text("clientSecret")?),
    expires_at_text: expires_at_text.to_string(),
    expires_at,
  })
}

/// `'grantTypes' in reg and 'authorization_code' in reg['grantTypes']`: Python's `in`,
/// which on a string is a substring test.
fn for_auth_code(doc: &Map<String, Json>) -> bool {
  match doc.get("grantTypes") {
    Some(Json::Array(items)) => items
      .iter()
      .any(|i| i.as_str() == Some("authorization_code")),
    Some(Json::String(s)) => s.contains("authorization_code"),
    _ => false,
  }
}

/// The registration file the CLI writes for `flow`: `clientId`, `clientSecret`,
/// `expiresAt`, then for the device flow `scopes` only when some were registered, for the
/// authorization-code flow the `scopes` registered and the grant types.
pub fn document(registration: &Registration, flow: Flow, scopes: &[String]) -> Zeroizing<Vec<u8>> {
  let grant_types = AUTH_CODE_GRANT_TYPES.map(str::to_string);
  let mut fields = vec![
    ("clientId", Value::Str(registration.client_id.expose())),
    (
      "clientSecret",
      Value::Str(registration.client_secret.expose()),
    ),
    ("expiresAt", Value::Str(&registration.expires_at_text)),
  ];
  match flow {
    Flow::DeviceCode if scopes.is_empty() => {}
    Flow::DeviceCode => fields.push(("scopes", Value::List(scopes))),
    Flow::AuthCode => {
      fields.push(("scopes", Value::List(scopes)));
      fields.push(("grantTypes", Value::List(&grant_types)));
    }
  }
  dumps(&fields)
}

#[cfg(test)]
mod tests {
  use super::*;
  use chrono::TimeZone;

  const START: &str = "https://d-abc123.awsapps.com/start";

  fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
  }

  /// The first vector is `client_id_key` of the CLI's `TestSSOTokenFetcher`
  /// (`tests/unit/botocore/test_utils.py`); both were recomputed with Python's `json.dumps`
  /// and `hashlib.sha1`.
  #[test]
  fn the_key_is_the_clis_sha1_of_its_sorted_json() {
    assert_eq!(
      registration_key(START, "us-west-2", None, None),
      "d75f79f67bab3f92a2b1450471c0c2574de0dca4"
    );
    let scopes = ["sso:account:access".to_string()];
    assert_eq!(
      registration_key(START, "us-west-2", Some(&scopes), Some("admin")),
      "4e0b35ce126fbacfad7c16ce93ffe85ce6cafeed"
    );
    // An empty list is not the same as no scopes.
    assert_ne!(
      registration_key(START, "us-west-2", Some(&[]), None),
      registration_key(START, "us-west-2", None, None)
    );
  }

  #[test]
  fn scopes_are_split_trimmed_and_empty_ones_dropped() {
    assert_eq!(
      parse_scopes(" sso:account:access ,, codecatalyst:read_write,"),
      ["sso:account:access", "codecatalyst:read_write"]
    );
    assert!(parse_scopes("").is_empty());
    assert!(parse_scopes(" , ").is_empty());
  }

  fn registration(expires: &str) -> Registration {
    Registration {
      client_id: Secret::new("cid"),
      client_secret: Secret::new("csecret"),
      expires_at_text: expires.into(),
      expires_at: parse_timestamp(expires).unwrap(),
    }
  }

  /// Byte for byte what `_sso_json_dumps` writes (checked with Python's `json.dumps` on the
  /// dicts the two `_register_client` methods build).
  #[test]
  fn the_files_are_laid_out_as_the_cli_writes_them() {
    let r = registration("2026-10-20T08:00:00Z");
    let scopes = [DEFAULT_SCOPE.to_string()];
    assert_eq!(
      &document(&r, Flow::AuthCode, &scopes)[..],
      br#"{"clientId": "cid", "clientSecret": "csecret", "expiresAt": "2026-10-20T08:00:00Z", "scopes": ["sso:account:access"], "grantTypes": ["authorization_code", "refresh_token"]}"#
    );
    assert_eq!(
      &document(&r, Flow::DeviceCode, &[])[..],
      br#"{"clientId": "cid", "clientSecret": "csecret", "expiresAt": "2026-10-20T08:00:00Z"}"#
    );
    assert_eq!(
      &document(&r, Flow::DeviceCode, &scopes)[..],
      br#"{"clientId": "cid", "clientSecret": "csecret", "expiresAt": "2026-10-20T08:00:00Z", "scopes": ["sso:account:access"]}"#
    );
  }

  #[test]
  fn a_registration_is_reused_for_its_own_flow_while_15_minutes_are_left() {
    let r = registration("2026-10-20T08:00:00Z");
    let auth = document(&r, Flow::AuthCode, &[DEFAULT_SCOPE.to_string()]);
    let device = document(&r, Flow::DeviceCode, &[]);
    let early = at(2026, 10, 20, 7, 44);
    let late = at(2026, 10, 20, 7, 46);
    let got = parse_reusable(&auth, Flow::AuthCode, early).unwrap();
    assert_eq!(got.client_id.expose(), "cid");
    assert_eq!(got.client_secret.expose(), "csecret");
    assert_eq!(got.expires_at_text, "2026-10-20T08:00:00Z");
    assert!(parse_reusable(&auth, Flow::AuthCode, late).is_none());
    assert!(parse_reusable(&auth, Flow::DeviceCode, early).is_none());
    assert!(parse_reusable(&device, Flow::DeviceCode, early).is_some());
    assert!(parse_reusable(&device, Flow::AuthCode, early).is_none());
    // Exactly 15 minutes left is not less than the margin: still used, as the CLI's `<`.
    assert!(parse_reusable(&device, Flow::DeviceCode, at(2026, 10, 20, 7, 45)).is_some());
  }

  #[test]
  fn a_registration_in_another_tools_format_or_broken_is_judged_as_the_cli_judges_it() {
    let now = at(2026, 1, 1, 0, 0);
    let ok = |text: &str, flow| parse_reusable(text.as_bytes(), flow, now).is_some();
    // The legacy `UTC` suffix and offsets read as the CLI's dateutil reads them.
    assert!(ok(
      r#"{"clientId":"c","clientSecret":"s","expiresAt":"2026-02-01T00:00:00UTC"}"#,
      Flow::DeviceCode
    ));
    assert!(ok(
      r#"{"clientId":"c","clientSecret":"s","expiresAt":"2026-02-01T01:00:00+01:00","grantTypes":"authorization_code refresh_token"}"#,
      Flow::AuthCode
    ));
    for broken in [
      "",
      "null",
      "[]",
      "{",
      r#"{"clientId":"c","clientSecret":"s"}"#,
      r#"{"clientId":"c","clientSecret":"s","expiresAt":"soon"}"#,
      r#"{"clientId":"","clientSecret":"s","expiresAt":"2026-02-01T00:00:00Z"}"#,
      r#"{"clientId":"c\n","clientSecret":"s","expiresAt":"2026-02-01T00:00:00Z"}"#,
      r#"{"clientId":"c","clientSecret":7,"expiresAt":"2026-02-01T00:00:00Z"}"#,
    ] {
      assert!(!ok(broken, Flow::DeviceCode), "{broken}");
    }
  }
}
