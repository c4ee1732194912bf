//! The network part of a load: one refresh of one cache file, on a refresh thread
//! (docs/behaviour.md §5 and §6). Under the cross-process lock it re-reads the file (another
//! process may have refreshed already), sends CreateToken, and writes the new token back
//! over the file it started from.

use crate::cache::{lock_path, write_atomic, CachedToken, FileLock};
use crate::decide::{Band, Window};
use crate::engine::{Engine, Found, Outcome};
use crate::env::Env;
use crate::error::RefreshCause;
use chrono::Duration;

/// The longest a refresh waits for another process's lock; after that it refreshes without
/// it. Longer than one CreateToken with its retries may take.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

/// Refreshes `found`'s file, whose token the local stage read as `cached`.
pub(crate) fn run(
  engine: &Engine,
  env: &Env,
  found: &Found,
  mut cached: CachedToken,
  window: Window,
) -> Outcome {
  // Across processes: one refresher per file; the others find its token on re-reading.
  let _lock = FileLock::acquire(&lock_path(&found.path), LOCK_WAIT)
    .ok()
    .flatten();
  let now = engine.clock.now();
  if let Ok(reread) = CachedToken::read(&found.path, &found.profile) {
    if reread.access_token != cached.access_token
      && window.band(now, reread.expires_at) == Band::Fresh
    {
      return Outcome::Token {
        token: reread.access_token.clone(),
        expires_at: reread.expires_at,
        write_error: None,
      };
    }
    // Another process may have rotated the refresh token: build on the newest file.
    if reread.missing_refresh_key().is_none() {
      cached = reread;
    }
  }
  let request = match cached.refresh_material() {
    Ok(request) => request,
    Err(key) => return Outcome::Failed(RefreshCause::MissingKey(key)),
  };
  let Some(endpoint) = &found.endpoint else {
    return Outcome::Internal("a refresh was started with no endpoint".into());
  };
  let sent_at = engine.clock.now();
  let response = match engine.transport.create_token(endpoint, &request, env) {
    Ok(r) => r,
    Err(e) => return Outcome::Failed(RefreshCause::Oidc(e)),
  };
  // The request time, not the response time: never a later expiry than the server meant.
  let Some(expires_at) = sent_at.checked_add_signed(Duration::seconds(response.expires_in)) else {
    return Outcome::Internal("the new expiry is out of range".into());
  };
  let next = cached.with_refresh(
    &response.access_token,
    expires_at,
    response.refresh_token.as_ref(),
  );
  // Write only over the file this refresh was based on: one deleted (logged out) or
  // replaced (logged in again) meanwhile is the user's newer word, and stays.
  let unchanged = CachedToken::read(&found.path, &found.profile)
    .is_ok_and(|on_disk| on_disk.access_token == cached.access_token);
  let write_error = if unchanged {
    write_atomic(&found.path, &next.to_bytes())
      .err()
      .map(|e| e.to_string())
  } else {
    Some("the cache file changed during the refresh; left as it is".into())
  };
  Outcome::Token {
    token: response.access_token,
    expires_at,
    write_error,
  }
}
