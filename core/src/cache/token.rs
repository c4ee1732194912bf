//! The cache file's document: parsing, the fields a load needs, and the document a
//! refresh writes back.
//!
//! The file is the AWS CLI's JSON document. We keep it as a JSON map so that keys we do
//! not know survive a write-back in their original order, and take the fields we need out
//! of it. Secret fields are zeroized when the document is dropped.

use super::MAX_CACHE_FILE_BYTES;
use crate::error::Error;
use crate::files::{read_identified, FileId, ReadError};
use crate::oidc::CreateTokenRequest;
use crate::secret::{zeroize_json, Secret, ZeroizingWriter};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

const SECRET_KEYS: [&str; 3] = ["accessToken", "refreshToken", "clientSecret"];

/// What CreateToken needs from the file, in the order v2 checks them.
const REFRESH_KEYS: [&str; 3] = ["clientId", "clientSecret", "refreshToken"];

/// RFC 3339 (`Z`, offsets, fractions), or the legacy `2026-01-01T00:00:00UTC` form that
/// old CLI versions wrote.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
  if let Ok(t) = DateTime::parse_from_rfc3339(s) {
    return Some(t.with_timezone(&Utc));
  }
  let naive = s.strip_suffix("UTC")?;
  NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
    .ok()
    .map(|t| t.and_utc())
}

/// How `expiresAt` is written back: UTC with milliseconds and `Z`, as v2's `toISOString`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
  t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// How long a load keeps re-reading a cache file caught cut short; a rewrite in place takes
/// a fraction of a millisecond.
pub const TORN_READ_PATIENCE: std::time::Duration = std::time::Duration::from_millis(150);

/// The pause between two reads of a cache file caught cut short.
pub const TORN_READ_PAUSE: std::time::Duration = std::time::Duration::from_micros(250);

/// A parsed cache file.
pub struct CachedToken {
  doc: Map<String, Value>,
  /// `accessToken`.
  pub access_token: Secret,
  /// `expiresAt`.
  pub expires_at: DateTime<Utc>,
  /// `registrationExpiresAt`, when present and readable.
  pub registration_expires_at: Option<DateTime<Utc>>,
  /// The identity of the file this was read from ([`CachedToken::read`] only).
  pub file_id: Option<FileId>,
}

impl fmt::Debug for CachedToken {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct("CachedToken")
      .field("access_token", &self.access_token)
      .field("expires_at", &self.expires_at)
      .field("keys", &self.doc.keys().collect::<Vec<_>>())
      .finish()
  }
}

impl Drop for CachedToken {
  fn drop(&mut self) {
    for key in SECRET_KEYS {
      if let Some(Value::String(s)) = self.doc.get_mut(key) {
        s.zeroize();
      }
    }
  }
}

/// A non-empty string field; anything else counts as "not present", as v2's truthiness
/// check does for empty strings.
fn string_field<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
  match doc.get(key) {
    Some(Value::String(s)) if !s.is_empty() => Some(s),
    _ => None,
  }
}

impl CachedToken {
  /// Parses file contents. `profile` only names the profile in "not found" messages.
  pub fn parse(bytes: &[u8], path: &Path, profile: &str) -> Result<CachedToken, Error> {
    // A UTF-8 BOM is not JSON, but editors add it; v2 failed on it.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::InvalidCacheJson {
      path: path.to_path_buf(),
      cause: e.to_string(),
      cut_short: e.is_eof(),
    })?;
    let doc = match value {
      Value::Null => {
        return Err(Error::CachedTokenNotFound {
          profile: profile.into(),
        })
      }
      Value::Object(map) => map,
      _ => Map::new(),
    };
    let missing = |key| Error::MissingTokenKey {
      key,
      profile: profile.into(),
      incomplete: Some(path.to_path_buf()),
    };
    let access_token =
      Secret::new(string_field(&doc, "accessToken").ok_or_else(|| missing("accessToken"))?);
    let expires_at = string_field(&doc, "expiresAt").ok_or_else(|| missing("expiresAt"))?;
    let expires_at = parse_timestamp(expires_at).ok_or_else(|| Error::InvalidExpiresAt {
      path: path.to_path_buf(),
    })?;
    let registration_expires_at =
      string_field(&doc, "registrationExpiresAt").and_then(parse_timestamp);
    Ok(CachedToken {
      doc,
      access_token,
      expires_at,
      registration_expires_at,
      file_id: None,
    })
  }

  /// Reads and parses the file at `path`; a file caught cut short (another tool rewriting
  /// it in place, as the AWS CLI and botocore do: truncate, then write) is read again every
  /// [`TORN_READ_PAUSE`] until `patience` ([`TORN_READ_PATIENCE`]) has passed. Short,
  /// even pauses: the file is whole again within microseconds, even beside a writer that
  /// rewrites it in a loop.
  pub fn read_settled(
    path: &Path,
    profile: &str,
    patience: std::time::Duration,
  ) -> Result<CachedToken, Error> {
    let deadline = std::time::Instant::now() + patience;
    loop {
      match CachedToken::read(path, profile) {
        Err(e) if e.is_cut_short() && std::time::Instant::now() < deadline => {
          std::thread::sleep(TORN_READ_PAUSE)
        }
        other => return other,
      }
    }
  }

  /// Reads and parses the file at `path`, once.
  pub fn read(path: &Path, profile: &str) -> Result<CachedToken, Error> {
    let (mut bytes, id) = read_capped(path, profile)?;
    let parsed = CachedToken::parse(&bytes, path, profile);
    bytes.zeroize();
    parsed.map(|mut cached| {
      cached.file_id = Some(id);
      cached
    })
  }

  /// The first of the refresh keys missing from the file, in v2's order; every load asks,
  /// so this only looks, without copying secrets as [`Self::refresh_material`] does.
  pub fn missing_refresh_key(&self) -> Option<&'static str> {
    REFRESH_KEYS
      .into_iter()
      .find(|key| string_field(&self.doc, key).is_none())
  }

  /// The refresh material as a CreateToken request, or the first missing key in v2's order.
  pub fn refresh_material(&self) -> Result<CreateTokenRequest, &'static str> {
    let get = |key: &'static str| string_field(&self.doc, key).map(Secret::new).ok_or(key);
    Ok(CreateTokenRequest {
      client_id: get("clientId")?,
      client_secret: get("clientSecret")?,
      refresh_token: get("refreshToken")?,
    })
  }

  /// The document after a refresh: new token, expiry and (when given) refresh token; every
  /// other key kept in place. Without a new refresh token the old one stays: RFC 6749
  /// section 6 keeps it valid unless a new one is issued. The old values this replaces in
  /// the copy are zeroized, not just dropped.
  pub fn with_refresh(
    &self,
    access_token: &Secret,
    expires_at: DateTime<Utc>,
    refresh_token: Option<&Secret>,
  ) -> CachedToken {
    let mut doc = self.doc.clone();
    let mut replace = |key: &str, value: String| {
      if let Some(mut old) = doc.insert(key.into(), Value::String(value)) {
        zeroize_json(&mut old);
      }
    };
    replace("accessToken", access_token.expose().into());
    replace("expiresAt", format_timestamp(expires_at));
    if let Some(rt) = refresh_token {
      replace("refreshToken", rt.expose().into());
    }
    CachedToken {
      doc,
      access_token: access_token.clone(),
      expires_at,
      registration_expires_at: self.registration_expires_at,
      file_id: None,
    }
  }

  /// The file contents to write: two-space indented JSON, as v2 and the CLI write it. The
  /// buffer holds every token: it is built without leaving smaller copies behind as it
  /// grows, and zeroized when dropped.
  pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
    // Room for each key and string value with its quotes, indentation and separators, so
    // that a usual document is written without growing; anything larger grows, zeroized.
    let guess = self
      .doc
      .iter()
      .map(|(k, v)| k.len() + v.as_str().map_or(16, str::len) + 8)
      .sum::<usize>()
      + 4;
    let mut out = ZeroizingWriter::with_capacity(guess);
    // Serialising a map of JSON values into memory cannot fail.
    match serde_json::to_writer_pretty(&mut out, &self.doc) {
      Ok(()) => out.into_bytes(),
      Err(_) => Zeroizing::new(Vec::new()),
    }
  }
}

fn read_capped(path: &Path, profile: &str) -> Result<(Vec<u8>, FileId), Error> {
  read_identified(path, MAX_CACHE_FILE_BYTES).map_err(|e| match e {
    ReadError::NotFound => Error::CachedTokenNotFound {
      profile: profile.into(),
    },
    ReadError::TooLarge => Error::CacheFileTooLarge {
      path: path.to_path_buf(),
    },
    e => Error::UnreadableCacheFile {
      path: path.to_path_buf(),
      cause: e.to_string(),
    },
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;
  use chrono::TimeZone;
  use std::fs;
  use std::path::PathBuf;

  fn p() -> PathBuf {
    PathBuf::from("/h/.aws/sso/cache/x.json")
  }

  #[test]
  fn timestamps() {
    let want = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(parse_timestamp("2026-01-01T00:00:00Z"), Some(want));
    assert_eq!(parse_timestamp("2026-01-01T02:00:00+02:00"), Some(want));
    assert_eq!(parse_timestamp("2025-12-31T19:00:00-05:00"), Some(want));
    assert_eq!(parse_timestamp("2026-01-01T00:00:00UTC"), Some(want));
    assert_eq!(
      parse_timestamp("2026-01-01T00:00:00.250Z")
        .unwrap()
        .timestamp_millis(),
      want.timestamp_millis() + 250
    );
    assert_eq!(parse_timestamp("2026-01-01"), None);
    assert_eq!(parse_timestamp("tomorrow"), None);
    assert_eq!(parse_timestamp(""), None);
    assert_eq!(format_timestamp(want), "2026-01-01T00:00:00.000Z");
  }

  #[test]
  fn parse_accepts_bom_and_keeps_unknown_keys() {
    let text = "\u{FEFF}{\"startUrl\":\"u\",\"accessToken\":\"t\",\"expiresAt\":\"2026-01-01T00:00:00Z\",\"x\":1}";
    let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
    assert_eq!(tok.access_token.expose(), "t");
    let out = String::from_utf8(tok.to_bytes().to_vec()).unwrap();
    assert_eq!(
      out,
      "{\n  \"startUrl\": \"u\",\n  \"accessToken\": \"t\",\n  \"expiresAt\": \"2026-01-01T00:00:00Z\",\n  \"x\": 1\n}"
    );
  }

  #[test]
  fn parse_errors() {
    let err = |s: &str| {
      CachedToken::parse(s.as_bytes(), &p(), "dev")
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
      err("{\"accessToken\":"),
      "Cached token file \"/h/.aws/sso/cache/x.json\" is not valid JSON: EOF while parsing a value at line 1 column 15"
    );
    assert_eq!(
      err("null"),
      "Cached token not found. Please log in using \"aws sso login\" for profile \"dev\"."
    );
    let incomplete = |key: &str| {
      format!(
        "Key \"{key}\" not present in SSO Token: the cache file \"/h/.aws/sso/cache/x.json\" is incomplete; log in again with \"aws sso login --profile dev\""
      )
    };
    assert_eq!(err("[]"), incomplete("accessToken"));
    assert_eq!(err("{\"accessToken\":5}"), incomplete("accessToken"));
    assert_eq!(err("{\"accessToken\":\"\"}"), incomplete("accessToken"));
    assert_eq!(err("{\"accessToken\":\"t\"}"), incomplete("expiresAt"));
    assert_eq!(
      err("{\"accessToken\":\"t\",\"expiresAt\":\"soon\"}"),
      "Cached token file \"/h/.aws/sso/cache/x.json\" has an invalid \"expiresAt\" value"
    );
  }

  #[test]
  fn json_errors_never_quote_the_input() {
    let msg = CachedToken::parse(b"{\"accessToken\":\"sekrit\" \"x\"}", &p(), "dev")
      .unwrap_err()
      .to_string();
    assert!(!msg.contains("sekrit"), "{msg}");
  }

  #[test]
  fn refresh_material_reports_the_first_missing_key_in_v2_order() {
    let tok = |s: &str| CachedToken::parse(s.as_bytes(), &p(), "dev").unwrap();
    let base = "\"accessToken\":\"t\",\"expiresAt\":\"2026-01-01T00:00:00Z\"";
    assert_eq!(
      tok(&format!("{{{base}}}")).refresh_material().err(),
      Some("clientId")
    );
    assert_eq!(
      tok(&format!("{{{base},\"clientId\":\"c\"}}"))
        .refresh_material()
        .err(),
      Some("clientSecret")
    );
    assert_eq!(
      tok(&format!(
        "{{{base},\"clientId\":\"c\",\"clientSecret\":\"s\"}}"
      ))
      .refresh_material()
      .err(),
      Some("refreshToken")
    );
  }

  #[test]
  fn missing_refresh_key_agrees_with_refresh_material() {
    let base = "\"accessToken\":\"t\",\"expiresAt\":\"2026-01-01T00:00:00Z\"";
    for (extra, want) in [
      ("", Some("clientId")),
      (
        ",\"clientId\":\"c\",\"refreshToken\":\"r\"",
        Some("clientSecret"),
      ),
      (
        ",\"clientId\":\"c\",\"clientSecret\":\"\"",
        Some("clientSecret"),
      ),
      (
        ",\"clientId\":\"c\",\"clientSecret\":\"s\"",
        Some("refreshToken"),
      ),
      (
        ",\"clientId\":\"c\",\"clientSecret\":\"s\",\"refreshToken\":\"r\"",
        None,
      ),
    ] {
      let text = format!("{{{base}{extra}}}");
      let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
      assert_eq!(tok.missing_refresh_key(), want, "{text}");
      assert_eq!(tok.refresh_material().err(), want, "{text}");
    }
  }

  #[test]
  fn with_refresh_keeps_order_and_old_refresh_token() {
    let text = "{\"clientId\":\"c\",\"accessToken\":\"old\",\"refreshToken\":\"r1\",\"expiresAt\":\"2026-01-01T00:00:00Z\",\"region\":\"us-east-1\"}";
    let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
    let at = Utc.with_ymd_and_hms(2027, 5, 6, 7, 8, 9).unwrap();
    let next = tok.with_refresh(&Secret::new("new"), at, None);
    let out: Value = serde_json::from_slice(&next.to_bytes()).unwrap();
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
      keys,
      [
        "clientId",
        "accessToken",
        "refreshToken",
        "expiresAt",
        "region"
      ]
    );
    assert_eq!(out["accessToken"], "new");
    assert_eq!(out["refreshToken"], "r1");
    assert_eq!(out["expiresAt"], "2027-05-06T07:08:09.000Z");
    let next = tok.with_refresh(&Secret::new("new"), at, Some(&Secret::new("r2")));
    let out: Value = serde_json::from_slice(&next.to_bytes()).unwrap();
    assert_eq!(out["refreshToken"], "r2");
  }

  #[test]
  fn to_bytes_is_serde_json_pretty_output_even_past_its_size_guess() {
    let text = format!(
      "{{\"accessToken\":\"{}\",\"expiresAt\":\"2026-01-01T00:00:00Z\",\"nested\":{{\"list\":[{}]}},\"esc\":\"\\u0001\\n\\\"\"}}",
      "t".repeat(3000),
      "12345,".repeat(400) + "0"
    );
    let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
      &tok.to_bytes()[..],
      &serde_json::to_vec_pretty(&doc).unwrap()[..]
    );
  }

  #[test]
  fn debug_hides_secrets() {
    let text = "{\"accessToken\":\"AT-sekrit\",\"refreshToken\":\"RT-sekrit\",\"clientSecret\":\"CS-sekrit\",\"expiresAt\":\"2026-01-01T00:00:00Z\"}";
    let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
    let dbg = format!("{tok:?}");
    assert!(!dbg.contains("sekrit"), "{dbg}");
  }

  #[test]
  fn read_caps_size_and_reports_missing_and_directories() {
    let d = temp_dir("cache-read");
    let big = d.join("big.json");
    fs::write(&big, vec![b' '; (MAX_CACHE_FILE_BYTES + 10) as usize]).unwrap();
    assert_eq!(
      CachedToken::read(&big, "dev").unwrap_err(),
      Error::CacheFileTooLarge { path: big.clone() }
    );
    assert_eq!(
      CachedToken::read(&d.join("none.json"), "dev").unwrap_err(),
      Error::CachedTokenNotFound {
        profile: "dev".into()
      }
    );
    let msg = CachedToken::read(&d, "dev").unwrap_err().to_string();
    assert!(msg.contains("could not be read: "), "{msg}");
    fs::remove_dir_all(&d).unwrap();
  }
}
