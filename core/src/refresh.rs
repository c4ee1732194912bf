//! The network part of a load: one refresh of one cache file, on a refresh thread
//! (docs/behaviour.md §5 and §6). Under the cross-process lock it re-reads the file (another
//! process may have refreshed already), sends CreateToken, and writes the new token back
//! over the file it started from.

use crate::cache::{lock_path, write_atomic, CachedToken, FileLock};
use crate::decide::{Band, Window};
use crate::engine::{Engine, Found, Outcome};
use crate::env::Env;
use crate::error::RefreshCause;
use crate::oidc::OidcError;
use chrono::Duration;

/// The longest a refresh waits for another process's lock; after that it refreshes without
/// it. Longer than one CreateToken with its retries may take.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

/// How long a refresh that got `invalid_grant` watches the cache file for another tool's
/// token, in steps of [`RIVAL_WRITE_STEP`]: with a server that rotates refresh tokens, a
/// CLI or SDK that refreshed at the same moment won, and writes its token just after.
pub const RIVAL_WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(1000);
const RIVAL_WRITE_STEP: std::time::Duration = std::time::Duration::from_millis(25);

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
  if let Ok(reread) = reread(engine, found) {
    if reread.access_token != cached.access_token
      && window.band(now, reread.expires_at) == Band::Fresh
    {
      return theirs(&reread);
    }
    // Another process may have rotated the refresh token: build on the newest file.
    if reread.missing_refresh_key().is_none() {
      cached = reread;
    }
  }
  let request = match cached.refresh_material() {
    Ok(request) => request,
    Err(key) => {
      return Outcome::Failed {
        cause: RefreshCause::MissingKey(key),
        fallback: None,
      }
    }
  };
  let Some(endpoint) = &found.endpoint else {
    return Outcome::Internal("a refresh was started with no endpoint".into());
  };
  let sent_at = engine.clock.now();
  let response = match engine.transport.create_token(endpoint, &request, env) {
    Ok(r) => r,
    Err(e) => return after_failure(engine, found, &cached, window, e),
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
  let unchanged =
    reread(engine, found).is_ok_and(|on_disk| on_disk.access_token == cached.access_token);
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

/// The cache file as it is now, waiting out another tool's rewrite in place.
fn reread(engine: &Engine, found: &Found) -> Result<CachedToken, crate::error::Error> {
  CachedToken::read_settled(&found.path, &found.profile, engine.patience.torn_read)
}

/// Another writer's token, found in the file: used as it is, nothing to write back.
fn theirs(reread: &CachedToken) -> Outcome {
  Outcome::Token {
    token: reread.access_token.clone(),
    expires_at: reread.expires_at,
    write_error: None,
  }
}

/// After CreateToken failed: another tool's token in the file (still under our lock) is
/// served instead of the failure when it is valid beyond the window, and kept as the
/// fallback when it is merely still valid.
fn after_failure(
  engine: &Engine,
  found: &Found,
  cached: &CachedToken,
  window: Window,
  error: OidcError,
) -> Outcome {
  let patience = if error.is_invalid_grant() {
    engine.patience.rival_write
  } else {
    std::time::Duration::ZERO
  };
  let deadline = std::time::Instant::now() + patience;
  let mut fallback = None;
  loop {
    if let Ok(reread) = reread(engine, found) {
      let now = engine.clock.now();
      if reread.access_token != cached.access_token {
        if window.band(now, reread.expires_at) != Band::Mandatory {
          return theirs(&reread);
        }
        if reread.expires_at > now {
          fallback = Some((reread.access_token.clone(), reread.expires_at));
        }
      }
    }
    if std::time::Instant::now() >= deadline {
      break;
    }
    std::thread::sleep(RIVAL_WRITE_STEP);
  }
  Outcome::Failed {
    cause: RefreshCause::Oidc(error),
    fallback,
  }
}
