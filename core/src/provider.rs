//! One load: config -> cache file -> decision -> (refresh -> write-back) -> token.
//!
//! Everything outside the process is a seam: the environment ([`Env`]), the clock
//! ([`Clock`]), CreateToken ([`Transport`]) and the per-process refresh state
//! ([`Coordinator`]), so every scenario of SPEC sections 4 to 6 runs under `cargo test`.

use crate::cache::{cache_path, write_atomic, CachedToken};
use crate::config::{self, TokenSource};
use crate::decide::{after_failed_refresh, decide, Decision, Facts};
use crate::env::Env;
use crate::error::Error;
use crate::lock::{lock_path, FileLock};
use crate::oidc::{endpoint_for, CreateTokenRequest, Transport};
use crate::secret::Secret;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};

/// The SDKs' default expiry window: refresh when less than this is left.
pub const EXPIRY_WINDOW_SECS: i64 = 300;
/// At most one refresh attempt per cache file in this period.
pub const REFRESH_THROTTLE: Duration = Duration::seconds(30);
/// The longest a load waits for another process's refresh lock; after that it refreshes
/// without it. Longer than one CreateToken with its retries may take.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

pub trait Clock: Send + Sync {
  fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
  fn now(&self) -> DateTime<Utc> {
    Utc::now()
  }
}

/// What a caller asks of one load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
  pub profile: String,
  pub expiry_window: Duration,
  /// Refresh even a token valid beyond the window (`sso-token --refresh`).
  pub force_refresh: bool,
}

impl LoadOptions {
  pub fn new(profile: impl Into<String>) -> Self {
    LoadOptions {
      profile: profile.into(),
      expiry_window: Duration::seconds(EXPIRY_WINDOW_SECS),
      force_refresh: false,
    }
  }
}

/// A token, and what the command-line tool reports about it.
#[derive(Debug, Clone)]
pub struct Loaded {
  pub token: Secret,
  pub expires_at: DateTime<Utc>,
  pub source: TokenSource,
  pub cache_path: PathBuf,
  /// A new token came from CreateToken in this load (or a concurrent one in this process).
  pub refreshed: bool,
  /// Why a refresh that was due did not happen or failed, when the old token is served.
  pub refresh_note: Option<String>,
  /// Why the refreshed token could not be written back (it is served from memory).
  pub write_error: Option<String>,
}

/// Refresh state of one cache file in this process.
#[derive(Debug, Default)]
struct FileState {
  last_attempt: Option<DateTime<Utc>>,
  /// The newest token a refresh in this process produced, for loads that waited on it
  /// and for when writing it back failed.
  latest: Option<(Secret, DateTime<Utc>)>,
  /// Why the last attempt failed, for loads that queued behind it.
  last_failure: Option<String>,
}

/// Per-process refresh coordination: single flight and throttle, per cache file.
#[derive(Debug, Default)]
pub struct Coordinator {
  files: Mutex<HashMap<PathBuf, Arc<Mutex<FileState>>>>,
}

impl Coordinator {
  /// The one coordinator of this process.
  pub fn global() -> &'static Coordinator {
    static GLOBAL: OnceLock<Coordinator> = OnceLock::new();
    GLOBAL.get_or_init(Coordinator::default)
  }

  fn state(&self, path: &Path) -> Arc<Mutex<FileState>> {
    let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
    files.entry(path.to_path_buf()).or_default().clone()
  }
}

/// The outside world of a load.
pub struct Context<'a> {
  pub env: &'a Env,
  pub clock: &'a dyn Clock,
  pub transport: &'a dyn Transport,
  pub coordinator: &'a Coordinator,
}

/// The outcome of [`Context::load_local`].
#[derive(Debug)]
pub enum Step {
  Done(Result<Loaded, Error>),
  /// A refresh of the cache file at `cache_path` is due and may wait on the network, on
  /// another load of the same file or on another process's lock: run [`Context::load`]
  /// where waiting is fine.
  NeedsNetwork {
    cache_path: PathBuf,
  },
}

/// What a load found on disk: the profile's source, its cache file and the token in it.
struct Found {
  source: TokenSource,
  path: PathBuf,
}

impl Found {
  fn serve(&self, cached: &CachedToken, note: Option<String>) -> Loaded {
    Loaded {
      token: cached.access_token.clone(),
      expires_at: cached.expires_at,
      source: self.source.clone(),
      cache_path: self.path.clone(),
      refreshed: false,
      refresh_note: note,
      write_error: None,
    }
  }
}

impl Context<'_> {
  /// Loads the token of `opts.profile`, refreshing it when due. May wait for the network
  /// and for other refreshes of the same file: run it where blocking is fine.
  pub fn load(&self, opts: &LoadOptions) -> Result<Loaded, Error> {
    let (found, cached, decision) = self.find(opts)?;
    match decision {
      Decision::UseCached { note } => Ok(found.serve(&cached, note)),
      Decision::Fail(e) => Err(e),
      Decision::Refresh => {
        let state = self.coordinator.state(&found.path);
        // Single flight: loads of this file in this process queue here, one refreshing.
        let st = state.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(opts, &found, cached, st)
      }
    }
  }

  /// The part of a load that never waits on anything but the local disk: the whole load
  /// when no refresh is due (or one is throttled, or just happened in this process), else
  /// [`Step::NeedsNetwork`]. Keeps the libuv pool free of network waits.
  pub fn load_local(&self, opts: &LoadOptions) -> Step {
    let (found, cached, decision) = match self.find(opts) {
      Ok(f) => f,
      Err(e) => return Step::Done(Err(e)),
    };
    match decision {
      Decision::UseCached { note } => Step::Done(Ok(found.serve(&cached, note))),
      Decision::Fail(e) => Step::Done(Err(e)),
      Decision::Refresh => {
        let state = self.coordinator.state(&found.path);
        let mut st = match state.try_lock() {
          Ok(st) => st,
          Err(TryLockError::Poisoned(e)) => e.into_inner(),
          Err(TryLockError::WouldBlock) => {
            return Step::NeedsNetwork {
              cache_path: found.path,
            }
          }
        };
        match self.settled(opts, &found, &cached, &mut st) {
          Some(done) => Step::Done(done),
          None => Step::NeedsNetwork {
            cache_path: found.path.clone(),
          },
        }
      }
    }
  }

  fn find(&self, opts: &LoadOptions) -> Result<(Found, CachedToken, Decision), Error> {
    let text = config::read_config_text(self.env)?;
    let source = config::resolve(&text, &opts.profile)?;
    let home = self.env.home_dir().ok_or(Error::NoHomeDir)?;
    let path = cache_path(&home, source.cache_key());
    let cached = CachedToken::read(&path, &opts.profile)?;
    let decision = decide(&Facts {
      now: self.clock.now(),
      expires_at: cached.expires_at,
      expiry_window: opts.expiry_window,
      profile: &opts.profile,
      legacy: source.is_legacy(),
      missing_refresh_key: cached.missing_refresh_key(),
      registration_expires_at: cached.registration_expires_at,
      force: opts.force_refresh,
    });
    Ok((Found { source, path }, cached, decision))
  }

  /// A due refresh that needs no new attempt: a fresh token another load of this process
  /// just got, or the throttle (the old token while valid, else the last failure).
  fn settled(
    &self,
    opts: &LoadOptions,
    found: &Found,
    cached: &CachedToken,
    st: &mut FileState,
  ) -> Option<Result<Loaded, Error>> {
    let now = self.clock.now();
    if let Some((token, expires_at)) = &st.latest {
      let fresh = *expires_at > now + opts.expiry_window;
      if fresh && (!opts.force_refresh || *token != cached.access_token) {
        return Some(Ok(Loaded {
          token: token.clone(),
          expires_at: *expires_at,
          refreshed: true,
          ..found.serve(cached, None)
        }));
      }
    }
    let last = st.last_attempt?;
    // A clock set back (NTP step, VM resume) makes the last attempt look future: that is
    // not a recent attempt, or refreshes would stay blocked for as long as the jump.
    let since = now - last;
    if opts.force_refresh || since >= REFRESH_THROTTLE || since < Duration::zero() {
      return None;
    }
    // Loads that queued behind a failed attempt report its cause, not just the throttle.
    let cause = st
      .last_failure
      .clone()
      .unwrap_or_else(|| "(refresh throttled: last attempt less than 30 s ago)".into());
    Some(
      after_failed_refresh(now, cached.expires_at, cause)
        .map(|note| found.serve(cached, Some(note))),
    )
  }

  fn refresh(
    &self,
    opts: &LoadOptions,
    found: &Found,
    mut cached: CachedToken,
    mut st: MutexGuard<FileState>,
  ) -> Result<Loaded, Error> {
    if let Some(done) = self.settled(opts, found, &cached, &mut st) {
      return done;
    }
    let now = self.clock.now();
    st.last_attempt = Some(now);
    st.last_failure = None;
    let mut give_up = |cached: &CachedToken, cause: String| {
      st.last_failure = Some(cause.clone());
      after_failed_refresh(now, cached.expires_at, cause)
        .map(|note| found.serve(cached, Some(note)))
    };

    // Across processes: one refresher per file; the others find its token on re-reading.
    let _lock = FileLock::acquire(&lock_path(&found.path), LOCK_WAIT)
      .ok()
      .flatten();
    if let Ok(reread) = CachedToken::read(&found.path, &opts.profile) {
      if reread.access_token != cached.access_token && reread.expires_at > now + opts.expiry_window
      {
        st.latest = Some((reread.access_token.clone(), reread.expires_at));
        return Ok(Loaded {
          refreshed: true,
          ..found.serve(&reread, None)
        });
      }
      // Another process may have rotated the refresh token: build on the newest file.
      if reread.missing_refresh_key().is_none() {
        cached = reread;
      }
    }
    let material = match cached.refresh_material() {
      Ok(m) => m,
      Err(key) => return give_up(&cached, format!("(Key \"{key}\" not present in SSO Token)")),
    };

    let request = CreateTokenRequest {
      client_id: material.client_id,
      client_secret: material.client_secret,
      refresh_token: material.refresh_token,
    };
    let endpoint = endpoint_for(found.source.region(), self.env);
    let sent_at = self.clock.now();
    let response = match self.transport.create_token(&endpoint, &request, self.env) {
      Ok(r) => r,
      Err(e) => return give_up(&cached, e.to_string()),
    };
    let expires_at = sent_at + Duration::seconds(response.expires_in);
    let next = cached.with_refresh(
      &response.access_token,
      expires_at,
      response.refresh_token.as_ref(),
    );
    // Write only over the file this refresh was based on: one deleted (logged out) or
    // replaced (logged in again) meanwhile is the user's newer word, and stays.
    let unchanged = CachedToken::read(&found.path, &opts.profile)
      .is_ok_and(|on_disk| on_disk.access_token == cached.access_token);
    let write_error = if unchanged {
      write_atomic(&found.path, &next.to_bytes())
        .err()
        .map(|e| e.to_string())
    } else {
      Some("the cache file changed during the refresh; left as it is".into())
    };
    st.latest = Some((response.access_token.clone(), expires_at));
    Ok(Loaded {
      refreshed: true,
      write_error,
      ..found.serve(&next, None)
    })
  }
}
