//! The SSO token cache file: its path, reading it, and replacing it atomically.
//!
//! The file is the AWS CLI's JSON document. We keep it as a JSON map so that keys we do
//! not know survive a write-back in their original order, and take the fields we need out
//! of it. Secret fields are zeroized when the document is dropped.

use crate::error::Error;
use crate::secret::Secret;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroize;

/// Real cache files are a few hundred bytes; anything larger is not one of them.
pub const MAX_CACHE_FILE_BYTES: u64 = 1024 * 1024;

const SECRET_KEYS: [&str; 3] = ["accessToken", "refreshToken", "clientSecret"];

/// What CreateToken needs from the file, in the order v2 checks them.
const REFRESH_KEYS: [&str; 3] = ["clientId", "clientSecret", "refreshToken"];

/// `<home>/.aws/sso/cache/<sha1 hex of key>.json`.
pub fn cache_path(home: &Path, key: &str) -> PathBuf {
  let digest = Sha1::digest(key.as_bytes());
  home
    .join(".aws")
    .join("sso")
    .join("cache")
    .join(format!("{}.json", hex::encode(digest)))
}

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

/// The three values CreateToken needs, or the first key missing (v2's order).
pub struct RefreshMaterial {
  pub client_id: Secret,
  pub client_secret: Secret,
  pub refresh_token: Secret,
}

/// A parsed cache file.
pub struct CachedToken {
  doc: Map<String, Value>,
  pub access_token: Secret,
  pub expires_at: DateTime<Utc>,
  /// `registrationExpiresAt`, when present and readable.
  pub registration_expires_at: Option<DateTime<Utc>>,
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
    let access_token = Secret::new(
      string_field(&doc, "accessToken").ok_or(Error::MissingTokenKey { key: "accessToken" })?,
    );
    let expires_at =
      string_field(&doc, "expiresAt").ok_or(Error::MissingTokenKey { key: "expiresAt" })?;
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
    })
  }

  /// Reads and parses the file at `path`.
  pub fn read(path: &Path, profile: &str) -> Result<CachedToken, Error> {
    let mut bytes = read_capped(path, profile)?;
    let parsed = CachedToken::parse(&bytes, path, profile);
    bytes.zeroize();
    parsed
  }

  /// The first of the refresh keys missing from the file, in v2's order; every load asks,
  /// so this only looks, without copying secrets as [`Self::refresh_material`] does.
  pub fn missing_refresh_key(&self) -> Option<&'static str> {
    REFRESH_KEYS
      .into_iter()
      .find(|key| string_field(&self.doc, key).is_none())
  }

  /// The refresh material, or the first missing key in v2's order.
  pub fn refresh_material(&self) -> Result<RefreshMaterial, &'static str> {
    let get = |key: &'static str| string_field(&self.doc, key).map(Secret::new).ok_or(key);
    Ok(RefreshMaterial {
      client_id: get("clientId")?,
      client_secret: get("clientSecret")?,
      refresh_token: get("refreshToken")?,
    })
  }

  /// The document after a refresh: new token, expiry and (when given) refresh token; every
  /// other key kept in place. Without a new refresh token the old one stays: RFC 6749
  /// section 6 keeps it valid unless a new one is issued.
  pub fn with_refresh(
    &self,
    access_token: &Secret,
    expires_at: DateTime<Utc>,
    refresh_token: Option<&Secret>,
  ) -> CachedToken {
    let mut doc = self.doc.clone();
    doc.insert(
      "accessToken".into(),
      Value::String(access_token.expose().into()),
    );
    doc.insert(
      "expiresAt".into(),
      Value::String(format_timestamp(expires_at)),
    );
    if let Some(rt) = refresh_token {
      doc.insert("refreshToken".into(), Value::String(rt.expose().into()));
    }
    CachedToken {
      doc,
      access_token: access_token.clone(),
      expires_at,
      registration_expires_at: self.registration_expires_at,
    }
  }

  /// The file contents to write: two-space indented JSON, as v2 and the CLI write it.
  pub fn to_bytes(&self) -> Vec<u8> {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_vec_pretty(&self.doc).unwrap_or_default()
  }
}

fn read_capped(path: &Path, profile: &str) -> Result<Vec<u8>, Error> {
  let unreadable = |e: io::Error| Error::UnreadableCacheFile {
    path: path.to_path_buf(),
    cause: e.to_string(),
  };
  let file = match File::open(path) {
    Ok(f) => f,
    Err(e) if e.kind() == ErrorKind::NotFound => {
      return Err(Error::CachedTokenNotFound {
        profile: profile.into(),
      })
    }
    Err(e) => return Err(unreadable(e)),
  };
  let mut bytes = Vec::with_capacity(1024);
  file
    .take(MAX_CACHE_FILE_BYTES + 1)
    .read_to_end(&mut bytes)
    .map_err(unreadable)?;
  if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
    bytes.zeroize();
    return Err(Error::CacheFileTooLarge {
      path: path.to_path_buf(),
    });
  }
  Ok(bytes)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How long a write-back keeps retrying a rename that another process blocks (Windows: a
/// reader that opened the cache file without `FILE_SHARE_DELETE`, as Python and the AWS
/// CLI do), in steps of [`RENAME_RETRY_STEP`]. Unix renames are never blocked that way.
pub const RENAME_RETRY_FOR: std::time::Duration = std::time::Duration::from_millis(500);
const RENAME_RETRY_STEP: std::time::Duration = std::time::Duration::from_millis(20);

/// The permission bits a replacement file gets: the old file's (a user who made it
/// group-readable meant it), else 0600. Windows has no such bits: `None`.
#[cfg(unix)]
fn replacement_mode(old: Option<&fs::Metadata>) -> Option<u32> {
  use std::os::unix::fs::PermissionsExt;
  Some(old.map_or(0o600, |m| m.permissions().mode() & 0o777))
}

#[cfg(not(unix))]
fn replacement_mode(_old: Option<&fs::Metadata>) -> Option<u32> {
  None
}

/// A new file that no one else can have opened, readable by its owner alone on Unix.
fn create_private(path: &Path, mode: Option<u32>) -> io::Result<File> {
  let mut options = OpenOptions::new();
  options.write(true).create_new(true);
  #[cfg(unix)]
  {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    options.mode(0o600);
    let file = options.open(path)?;
    if let Some(mode) = mode.filter(|m| *m != 0o600) {
      file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
  }
  #[cfg(not(unix))]
  {
    let _ = mode;
    options.open(path)
  }
}

/// `fs::rename`, retried for [`RENAME_RETRY_FOR`] while the target is held open in a way
/// that blocks replacing it (Windows sharing violations); any other error is final.
fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
  let deadline = std::time::Instant::now() + RENAME_RETRY_FOR;
  loop {
    match fs::rename(from, to) {
      Err(e) if is_sharing_violation(&e) && std::time::Instant::now() < deadline => {
        std::thread::sleep(RENAME_RETRY_STEP)
      }
      other => return other,
    }
  }
}

#[cfg(windows)]
fn is_sharing_violation(e: &io::Error) -> bool {
  // ERROR_ACCESS_DENIED (5), ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33).
  matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn is_sharing_violation(_e: &io::Error) -> bool {
  false
}

/// Makes a rename in `dir` durable. Only Unix can open a folder to sync it, and a folder
/// that cannot be opened is not fatal: the rename itself has happened.
fn sync_dir(dir: &Path) {
  #[cfg(unix)]
  if let Ok(d) = File::open(dir) {
    let _ = d.sync_all();
  }
  #[cfg(not(unix))]
  let _ = dir;
}

/// Replaces `path` with `bytes` so that no reader ever sees a torn file: a new temp file in
/// the same folder (mode 0600, or the old file's mode), written, fsynced, renamed over.
/// A symlink in place of the cache file is not written through: the write is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
  let dir = path
    .parent()
    .ok_or_else(|| io::Error::other("cache path has no folder"))?;
  let old = match fs::symlink_metadata(path) {
    Ok(meta) if meta.file_type().is_symlink() => {
      return Err(io::Error::other(
        "cache file is a symlink; not replacing it",
      ))
    }
    Ok(meta) => Some(meta),
    Err(_) => None,
  };
  let mode = replacement_mode(old.as_ref());
  let name = path
    .file_name()
    .and_then(|n| n.to_str())
    .unwrap_or("token.json");
  let tmp = dir.join(format!(
    ".{name}.{}.{}.tmp",
    std::process::id(),
    TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
  ));
  let result = (|| {
    let mut file = create_private(&tmp, mode)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    rename_over(&tmp, path)?;
    sync_dir(dir);
    Ok(())
  })();
  if result.is_err() {
    let _ = fs::remove_file(&tmp);
  }
  result
}

#[cfg(test)]
mod tests {
  use super::*;
  use chrono::TimeZone;

  fn p() -> PathBuf {
    PathBuf::from("/h/.aws/sso/cache/x.json")
  }

  #[test]
  fn sha1_vector() {
    assert_eq!(
      cache_path(Path::new("/h"), "admin"),
      PathBuf::from("/h/.aws/sso/cache/d033e22ae348aeb5660fc2140aec35850c4da997.json")
    );
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
    let out = String::from_utf8(tok.to_bytes()).unwrap();
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
    assert_eq!(err("[]"), "Key \"accessToken\" not present in SSO Token");
    assert_eq!(
      err("{\"accessToken\":5}"),
      "Key \"accessToken\" not present in SSO Token"
    );
    assert_eq!(
      err("{\"accessToken\":\"\"}"),
      "Key \"accessToken\" not present in SSO Token"
    );
    assert_eq!(
      err("{\"accessToken\":\"t\"}"),
      "Key \"expiresAt\" not present in SSO Token"
    );
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
  fn debug_hides_secrets() {
    let text = "{\"accessToken\":\"AT-sekrit\",\"refreshToken\":\"RT-sekrit\",\"clientSecret\":\"CS-sekrit\",\"expiresAt\":\"2026-01-01T00:00:00Z\"}";
    let tok = CachedToken::parse(text.as_bytes(), &p(), "dev").unwrap();
    let dbg = format!("{tok:?}");
    assert!(!dbg.contains("sekrit"), "{dbg}");
  }

  fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sso-cache-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
  }

  #[cfg(unix)]
  #[test]
  fn write_atomic_replaces_file_with_new_inode_and_mode_0600() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = temp_dir("atomic");
    let f = d.join("t.json");
    write_atomic(&f, b"one").unwrap();
    assert_eq!(
      fs::metadata(&f).unwrap().permissions().mode() & 0o777,
      0o600
    );
    let ino = fs::metadata(&f).unwrap().ino();
    write_atomic(&f, b"two").unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"two");
    assert_ne!(fs::metadata(&f).unwrap().ino(), ino);
    assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp files left");
    // An existing file's mode is kept.
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&f, b"three").unwrap();
    assert_eq!(
      fs::metadata(&f).unwrap().permissions().mode() & 0o777,
      0o640
    );
    fs::remove_dir_all(&d).unwrap();
  }

  #[test]
  fn write_atomic_replaces_the_file_and_leaves_no_temp_file() {
    let d = temp_dir("replace");
    let f = d.join("t.json");
    write_atomic(&f, b"one").unwrap();
    write_atomic(&f, b"two").unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"two");
    assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp files left");
    fs::remove_dir_all(&d).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn write_atomic_refuses_symlinks() {
    let d = temp_dir("symlink");
    let target = d.join("elsewhere");
    fs::write(&target, b"keep").unwrap();
    let link = d.join("t.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(write_atomic(&link, b"new").is_err());
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    assert!(fs::symlink_metadata(&link)
      .unwrap()
      .file_type()
      .is_symlink());
    fs::remove_dir_all(&d).unwrap();
  }

  #[test]
  fn read_caps_size_and_reports_missing_and_directories() {
    let d = temp_dir("read");
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
