//! What a sign-in writes (docs/behaviour.md §10): the token file and, for a new
//! registration, the registration file, both laid out byte for byte as the AWS CLI writes
//! them (`_sso_json_dumps`), but each replaced atomically (the refresh's `write_atomic`:
//! temp file, fsync, rename, mode 0600) under its lock file, so that a provider refreshing
//! the same file in another process never interleaves with it.

use super::json::{dumps, Value};
use super::registration::Registration;
use crate::cache::{lock_path, write_atomic, FileLock};
use crate::refresh::LOCK_WAIT;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use std::io;
use std::path::Path;
use zeroize::Zeroizing;

/// How the CLI writes a time (`_serialize_utc_timestamp`): UTC, whole seconds, `Z`.
pub fn cli_timestamp(t: DateTime<Utc>) -> String {
  t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A token just issued, and what its file records with it.
#[derive(Debug)]
pub struct NewToken<'a> {
  /// `sso_start_url` as configured.
  pub start_url: &'a str,
  /// `sso_region`.
  pub region: &'a str,
  /// The access token.
  pub access_token: &'a Secret,
  /// When it expires.
  pub expires_at: DateTime<Utc>,
  /// The registration it was issued to.
  pub registration: &'a Registration,
  /// The refresh token, when the service issued one.
  pub refresh_token: Option<&'a Secret>,
}

/// The token file as `SSOTokenFetcher` and `SSOTokenFetcherAuth` write it: `startUrl`,
/// `region`, `accessToken`, `expiresAt`, `clientId`, `clientSecret`,
/// `registrationExpiresAt` (the registration's own text), then `refreshToken` if issued.
pub fn token_document(token: &NewToken<'_>) -> Zeroizing<Vec<u8>> {
  let expires_at = cli_timestamp(token.expires_at);
  let mut fields = vec![
    ("startUrl", Value::Str(token.start_url)),
    ("region", Value::Str(token.region)),
    ("accessToken", Value::Str(token.access_token.expose())),
    ("expiresAt", Value::Str(&expires_at)),
    (
      "clientId",
      Value::Str(token.registration.client_id.expose()),
    ),
    (
      "clientSecret",
      Value::Str(token.registration.client_secret.expose()),
    ),
    (
      "registrationExpiresAt",
      Value::Str(&token.registration.expires_at_text),
    ),
  ];
  if let Some(refresh_token) = token.refresh_token {
    fields.push(("refreshToken", Value::Str(refresh_token.expose())));
  }
  dumps(&fields)
}

/// Replaces the file at `path` with `bytes`, under its lock (waiting up to [`LOCK_WAIT`]
/// for a refresh of it in another process, then going on without it, as a refresh does),
/// creating the cache folder (0700) if need be. Blocking: run it on the blocking pool.
pub fn save(path: &Path, bytes: &[u8]) -> io::Result<()> {
  if let Some(dir) = path.parent() {
    create_private_dir(dir)?;
  }
  let lock = FileLock::acquire(&lock_path(path), LOCK_WAIT)
    .ok()
    .flatten();
  if let Some(lock) = &lock {
    // Under the lock a temp file of this path is a dead writer's.
    lock.remove_leftovers(path);
  }
  write_atomic(path, bytes).map(|_| ())
}

/// `~/.aws/sso/cache` and the folders above it, new ones readable by the owner alone on
/// Unix (the CLI leaves them to the umask; the folder holds every token).
fn create_private_dir(dir: &Path) -> io::Result<()> {
  let mut builder = std::fs::DirBuilder::new();
  builder.recursive(true);
  #[cfg(unix)]
  std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
  builder.create(dir)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;
  use chrono::TimeZone;

  fn registration() -> Registration {
    Registration {
      client_id: Secret::new("cid"),
      client_secret: Secret::new("csecret"),
      // Another tool's format is copied as it is.
      expires_at_text: "2026-10-20T08:00:00UTC".into(),
      expires_at: Utc.with_ymd_and_hms(2026, 10, 20, 8, 0, 0).unwrap(),
    }
  }

  /// Byte for byte what the CLI writes for the same dict (checked with Python's
  /// `json.dumps(obj, default=_serialize_utc_timestamp)`): whole seconds, the refresh token
  /// last and only when issued.
  #[test]
  fn the_token_file_is_laid_out_as_the_cli_writes_it() {
    let registration = registration();
    let access = Secret::new("at\u{e9}");
    let refresh = Secret::new("rt");
    let expires_at = Utc
      .with_ymd_and_hms(2026, 7, 24, 2, 7, 19)
      .unwrap()
      .checked_add_signed(chrono::Duration::milliseconds(999))
      .unwrap();
    let token = NewToken {
      start_url: "https://d-abc123.awsapps.com/start",
      region: "us-west-2",
      access_token: &access,
      expires_at,
      registration: &registration,
      refresh_token: Some(&refresh),
    };
    assert_eq!(
      &token_document(&token)[..],
      br#"{"startUrl": "https://d-abc123.awsapps.com/start", "region": "us-west-2", "accessToken": "at\u00e9", "expiresAt": "2026-07-24T02:07:19Z", "clientId": "cid", "clientSecret": "csecret", "registrationExpiresAt": "2026-10-20T08:00:00UTC", "refreshToken": "rt"}"#
    );
    let without = NewToken {
      refresh_token: None,
      ..token
    };
    assert_eq!(
      &token_document(&without)[..],
      br#"{"startUrl": "https://d-abc123.awsapps.com/start", "region": "us-west-2", "accessToken": "at\u00e9", "expiresAt": "2026-07-24T02:07:19Z", "clientId": "cid", "clientSecret": "csecret", "registrationExpiresAt": "2026-10-20T08:00:00UTC"}"#
    );
  }

  #[test]
  fn save_creates_the_folder_and_leaves_only_the_file() {
    let d = temp_dir("login-store");
    let path = d.join("sso").join("cache").join("t.json");
    save(&path, b"one").unwrap();
    save(&path, b"two").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
      .unwrap()
      .map(|e| e.unwrap().file_name())
      .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
      assert_eq!(mode(&path), 0o600);
      assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    std::fs::remove_dir_all(&d).unwrap();
  }
}
