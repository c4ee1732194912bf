//! One refresh of one cache file (docs/behaviour.md §5 and §6): under the cross-process
//! lock it re-reads the file (another process may have refreshed already), sends
//! CreateToken, and writes the new token back over the file it started from.
//!
//! A refresh is a future run on the network thread (`crate::runtime`): waiting for the
//! lock, for the server and between retries holds no thread, and the write-back (with its
//! fsync) goes to the runtime's small blocking pool. It owns its input, its outcome and its
//! patience, and takes the clock and CreateToken as arguments, so it is tested without an
//! engine.

use crate::cache::token::{TORN_READ_PATIENCE, TORN_READ_PAUSE};
use crate::cache::{lock_path, write_atomic, CachedToken, FileLock};
use crate::clock::Clock;
use crate::decide::{Band, Window};
use crate::env::Env;
use crate::error::{Error, RefreshCause};
use crate::files::FileId;
use crate::oidc::{OidcError, Transport};
use crate::secret::Secret;
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;
use std::time::Instant;

/// The longest a refresh waits for another process's lock; after that it refreshes without
/// it. Longer than one CreateToken with its retries may take.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

/// How often a refresh waiting for the lock tries again.
const LOCK_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// How long a refresh that got `invalid_grant` watches the cache file for another tool's
/// token, in steps of [`RIVAL_WRITE_STEP`]: with a server that rotates refresh tokens, a
/// CLI or SDK that refreshed at the same moment won, and writes its token just after.
pub const RIVAL_WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(1000);
const RIVAL_WRITE_STEP: std::time::Duration = std::time::Duration::from_millis(25);

/// How long a refresh waits on other tools' writes.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
  /// For a cache file caught mid-rewrite: [`TORN_READ_PATIENCE`].
  pub torn_read: std::time::Duration,
  /// After `invalid_grant`, for another tool's token: [`RIVAL_WRITE_PATIENCE`].
  pub rival_write: std::time::Duration,
  /// For another process's lock: [`LOCK_WAIT`].
  pub lock: std::time::Duration,
}

impl Default for Patience {
  fn default() -> Self {
    Patience {
      torn_read: TORN_READ_PATIENCE,
      rival_write: RIVAL_WRITE_PATIENCE,
      lock: LOCK_WAIT,
    }
  }
}

/// What a refresh starts from.
#[derive(Debug, Clone)]
pub struct Input {
  /// The cache file.
  pub path: PathBuf,
  /// The profile of the load that started it (only for messages of a file that vanished).
  pub profile: String,
  /// Where CreateToken goes.
  pub endpoint: String,
  /// The token the caller holds for the file: a different one in the file is another
  /// writer's.
  pub token: Secret,
  /// What makes the new token fresh.
  pub window: Window,
  /// The environment the request is sent with (proxy, CA bundle).
  pub env: Env,
}

/// How a refresh ended.
#[derive(Debug, Clone)]
pub enum Outcome {
  /// A token valid beyond the window: from CreateToken, or another process's.
  Token {
    /// The token.
    token: Secret,
    /// When it expires.
    expires_at: DateTime<Utc>,
    /// Why it was not written back, when it was not (it is served from memory).
    write_error: Option<String>,
    /// The identity of the file this refresh wrote, when it wrote one: its own write is
    /// no change for change detection.
    written: Option<FileId>,
  },
  /// No new token; loads fall back on the old one, or on `fallback` (a newer one another
  /// tool wrote, still valid but inside the window) when it lasts longer.
  Failed {
    /// Why.
    cause: RefreshCause,
    /// Another tool's still-valid token.
    fallback: Option<(Secret, DateTime<Utc>)>,
  },
  /// A bug: reported as one.
  Internal(String),
}

/// Refreshes the file of `input`.
pub async fn run(
  input: Input,
  clock: &dyn Clock,
  transport: &dyn Transport,
  patience: Patience,
) -> Outcome {
  // Across processes: one refresher per file; the others find its token on re-reading.
  let lock = acquire(&input, patience.lock).await;
  let cached = match reread(&input, patience).await {
    Ok(cached) => cached,
    Err(e) => return vanished(e),
  };
  if cached.access_token != input.token
    && input.window.band(clock.now(), cached.expires_at) == Band::Fresh
  {
    return theirs(&cached);
  }
  // Another process may have rotated the refresh token: the request is built on the file.
  let request = match cached.refresh_material() {
    Ok(request) => request,
    Err(key) => {
      return Outcome::Failed {
        cause: RefreshCause::MissingKey(key),
        fallback: None,
      }
    }
  };
  let sent_at = clock.now();
  let response = match transport
    .create_token(&input.endpoint, &request, &input.env)
    .await
  {
    Ok(r) => r,
    Err(e) => return after_failure(&input, &cached, clock, patience, e).await,
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
  let unchanged = reread(&input, patience)
    .await
    .is_ok_and(|on_disk| on_disk.access_token == cached.access_token);
  let written = if unchanged {
    let (path, bytes) = (input.path.clone(), next.to_bytes());
    // fsync may take milliseconds: not on the thread that carries every other request.
    match tokio::task::spawn_blocking(move || write_atomic(&path, &bytes)).await {
      Ok(Ok(id)) => Ok(id),
      Ok(Err(e)) => Err(e.to_string()),
      Err(_) => Err("the write-back did not run".into()),
    }
  } else {
    Err("the cache file changed during the refresh; left as it is".into())
  };
  drop(lock);
  Outcome::Token {
    token: response.access_token,
    expires_at,
    written: written.as_ref().ok().copied(),
    write_error: written.err(),
  }
}

/// Runs file work on the runtime's blocking pool: creating and removing files in one
/// folder is serialised by the file system, and the network thread carries every other
/// refresh meanwhile.
async fn on_disk<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
  tokio::task::spawn_blocking(work).await.ok()
}

/// The lock, waiting up to `wait`; `None` when it cannot be had (held past the wait, or
/// unusable: a symlink there), in which case the refresh goes on without it.
async fn acquire(input: &Input, wait: std::time::Duration) -> Option<FileLock> {
  let deadline = Instant::now() + wait;
  loop {
    let cache = input.path.clone();
    let attempt = move || {
      let lock = FileLock::try_acquire(&lock_path(&cache))?;
      if let Some(lock) = &lock {
        // Under the lock a temp file of this cache file is a writer's that died.
        lock.remove_leftovers(&cache);
      }
      Ok::<_, std::io::Error>(lock)
    };
    match on_disk(attempt).await {
      Some(Ok(Some(lock))) => return Some(lock),
      Some(Ok(None)) if Instant::now() < deadline => tokio::time::sleep(LOCK_POLL_INTERVAL).await,
      _ => return None,
    }
  }
}

/// The cache file as it is now, waiting out another tool's rewrite in place.
async fn reread(input: &Input, patience: Patience) -> Result<CachedToken, Error> {
  let deadline = Instant::now() + patience.torn_read;
  loop {
    let (path, profile) = (input.path.clone(), input.profile.clone());
    let read = on_disk(move || CachedToken::read(&path, &profile))
      .await
      .unwrap_or_else(|| {
        Err(Error::Internal {
          cause: "a read of the cache file did not run".into(),
        })
      });
    match read {
      Err(e) if e.is_cut_short() && Instant::now() < deadline => {
        tokio::time::sleep(TORN_READ_PAUSE).await
      }
      other => return other,
    }
  }
}

/// The file is gone or unreadable: a logout, or a broken file, wins over the refresh.
fn vanished(error: Error) -> Outcome {
  Outcome::Failed {
    cause: RefreshCause::FileGone(Box::new(error)),
    fallback: None,
  }
}

/// Another writer's token, found in the file: used as it is, nothing to write back.
fn theirs(reread: &CachedToken) -> Outcome {
  Outcome::Token {
    token: reread.access_token.clone(),
    expires_at: reread.expires_at,
    write_error: None,
    written: None,
  }
}

/// After CreateToken failed: another tool's token in the file (still under our lock) is
/// served instead of the failure when it is valid beyond the window, and kept as the
/// fallback when it is merely still valid.
async fn after_failure(
  input: &Input,
  cached: &CachedToken,
  clock: &dyn Clock,
  patience: Patience,
  error: OidcError,
) -> Outcome {
  let watch_for = if error.is_invalid_grant() {
    patience.rival_write
  } else {
    std::time::Duration::ZERO
  };
  let deadline = Instant::now() + watch_for;
  let mut fallback = None;
  loop {
    if let Ok(reread) = reread(input, patience).await {
      let now = clock.now();
      if reread.access_token != cached.access_token {
        if input.window.band(now, reread.expires_at) != Band::Mandatory {
          return theirs(&reread);
        }
        if reread.expires_at > now {
          fallback = Some((reread.access_token.clone(), reread.expires_at));
        }
      }
    }
    if Instant::now() >= deadline {
      break;
    }
    tokio::time::sleep(RIVAL_WRITE_STEP).await;
  }
  Outcome::Failed {
    cause: RefreshCause::Oidc(error),
    fallback,
  }
}
