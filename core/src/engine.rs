//! One load: config -> cache file -> decision -> serve, or a refresh (docs/behaviour.md §4).
//!
//! A load is two stages with one hand-off. [`Engine::load`] is the local stage: it reads
//! the config and the cache file, decides, and answers at once unless a refresh must be
//! waited for; then it returns [`Step::Pending`], whose refresh runs on the engine's own
//! threads (a network wait never holds a loader or libuv thread). What the local stage
//! found travels into the refresh instead of being found again.
//!
//! The engine owns the in-flight state of every cache file in the process: one refresh at a
//! time per file (its waiters all get its outcome), the throttle, and the newest token a
//! refresh produced. Everything outside the process is a seam: the environment ([`Env`]),
//! the clock ([`Clock`]) and CreateToken ([`Transport`]).

use crate::cache::{cache_path, CachedToken};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, TokenSource};
use crate::decide::{self, decide, serve_or_fail, Band, Decision, Facts, Window};
use crate::env::Env;
use crate::error::{Error, RefreshCause};
use crate::oidc::endpoint::{endpoint_for, Variants};
use crate::oidc::{Transport, UreqTransport};
use crate::pool::{Job, Pool};
use crate::refresh;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// What a caller asks of one load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
  /// The profile to load.
  pub profile: String,
  /// When the token is due.
  pub window: Window,
  /// Refresh even a token valid beyond the window (`sso-token --refresh`).
  pub force_refresh: bool,
}

impl LoadOptions {
  /// `profile` with v2's default window.
  pub fn new(profile: impl Into<String>) -> Self {
    LoadOptions {
      profile: profile.into(),
      window: Window::default(),
      force_refresh: false,
    }
  }
}

/// A token, and what the command-line tool reports about it.
#[derive(Debug, Clone)]
pub struct Loaded {
  /// The access token.
  pub token: Secret,
  /// When it expires.
  pub expires_at: DateTime<Utc>,
  /// Where the profile's token comes from.
  pub source: TokenSource,
  /// The cache file.
  pub cache_path: PathBuf,
  /// The config file the load read.
  pub config_path: PathBuf,
  /// A new token came from a refresh in this load (or one it waited on, or another
  /// process's found under the lock).
  pub refreshed: bool,
  /// Why a refresh that was due did not happen or failed, when the old token is served.
  pub refresh_note: Option<RefreshCause>,
  /// Why the refreshed token could not be written back (it is served from memory).
  pub write_error: Option<String>,
}

/// The outcome of [`Engine::load`].
#[derive(Debug)]
pub enum Step {
  /// The load is over.
  Done(Result<Loaded, Error>),
  /// A refresh this load must wait for is running.
  Pending(Pending),
}

/// What a load found on disk: the profile's source and its cache file.
#[derive(Debug, Clone)]
pub(crate) struct Found {
  pub(crate) profile: String,
  pub(crate) config_path: PathBuf,
  pub(crate) source: TokenSource,
  pub(crate) path: PathBuf,
  /// Where CreateToken goes; `None` when it cannot (a legacy profile, an invalid region).
  pub(crate) endpoint: Option<String>,
}

impl Found {
  pub(crate) fn serve(&self, token: &Secret, expires_at: DateTime<Utc>) -> Loaded {
    Loaded {
      token: token.clone(),
      expires_at,
      source: self.source.clone(),
      cache_path: self.path.clone(),
      config_path: self.config_path.clone(),
      refreshed: false,
      refresh_note: None,
      write_error: None,
    }
  }

  /// The old token, with `cause` as its note while it is valid; else the error.
  fn fall_back(
    &self,
    now: DateTime<Utc>,
    token: &Secret,
    expires_at: DateTime<Utc>,
    cause: RefreshCause,
  ) -> Result<Loaded, Error> {
    serve_or_fail(now, expires_at, cause, &self.profile).map(|note| Loaded {
      refresh_note: Some(note),
      ..self.serve(token, expires_at)
    })
  }
}

/// How a refresh ended, for every load that waited on it; the same for all of them
/// whatever their profile, so each turns it into its own result.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
  /// A token valid beyond the window: from CreateToken, or another process's.
  Token {
    token: Secret,
    expires_at: DateTime<Utc>,
    write_error: Option<String>,
  },
  /// No new token; loads fall back on their own old token, or on `fallback` (a newer one
  /// another tool wrote, still valid but inside the window) when it lasts longer.
  Failed {
    cause: RefreshCause,
    fallback: Option<(Secret, DateTime<Utc>)>,
  },
  /// The refresh panicked: a bug, reported as one.
  Internal(String),
}

type Waiter = Box<dyn FnOnce(&Outcome) + Send>;

/// One refresh of one cache file, and who waits for it.
#[derive(Default)]
pub(crate) struct Flight {
  state: Mutex<FlightState>,
}

enum FlightState {
  Running(Vec<Waiter>),
  Done(Outcome),
}

impl Default for FlightState {
  fn default() -> Self {
    FlightState::Running(Vec::new())
  }
}

impl Flight {
  fn lock(&self) -> MutexGuard<'_, FlightState> {
    self.state.lock().unwrap_or_else(PoisonError::into_inner)
  }

  /// Calls `waiter` with the outcome: now if the refresh is over, else when it ends.
  fn on_done(&self, waiter: Waiter) {
    let mut state = self.lock();
    match &mut *state {
      FlightState::Running(waiters) => waiters.push(waiter),
      FlightState::Done(outcome) => {
        let outcome = outcome.clone();
        drop(state);
        waiter(&outcome);
      }
    }
  }

  fn outcome(&self) -> Option<Outcome> {
    match &*self.lock() {
      FlightState::Done(outcome) => Some(outcome.clone()),
      FlightState::Running(_) => None,
    }
  }

  fn finish(&self, outcome: Outcome) {
    let waiters = match std::mem::replace(&mut *self.lock(), FlightState::Done(outcome.clone())) {
      FlightState::Running(waiters) => waiters,
      FlightState::Done(_) => Vec::new(),
    };
    for waiter in waiters {
      // A waiter that panics must not keep the others from hearing back.
      let _ = catch_unwind(AssertUnwindSafe(|| waiter(&outcome)));
    }
  }
}

/// A load waiting on a refresh. Its result is this load's own: its profile's name in the
/// messages, its own old token to fall back on.
pub struct Pending {
  flight: Arc<Flight>,
  clock: Arc<dyn Clock>,
  found: Found,
  token: Secret,
  expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Pending {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Pending")
      .field("cache_path", &self.found.path)
      .finish_non_exhaustive()
  }
}

impl Pending {
  /// The result, if the refresh has already ended.
  pub fn ready(&self) -> Option<Result<Loaded, Error>> {
    self.flight.outcome().map(|outcome| self.result(&outcome))
  }

  /// Calls `f` with the result when the refresh ends (at once if it has), on whichever
  /// thread ends it.
  pub fn on_done(self, f: impl FnOnce(Result<Loaded, Error>) + Send + 'static) {
    let flight = Arc::clone(&self.flight);
    flight.on_done(Box::new(move |outcome| f(self.result(outcome))));
  }

  /// Blocks until the refresh ends (Rust callers and tests).
  pub fn wait(self) -> Result<Loaded, Error> {
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    self.on_done(move |result| {
      let _ = send.send(result);
    });
    receive.recv().unwrap_or_else(|_| {
      Err(Error::Internal {
        cause: "a refresh ended without an outcome".into(),
      })
    })
  }

  fn result(&self, outcome: &Outcome) -> Result<Loaded, Error> {
    match outcome {
      Outcome::Token {
        token,
        expires_at,
        write_error,
      } => Ok(Loaded {
        refreshed: true,
        write_error: write_error.clone(),
        ..self.found.serve(token, *expires_at)
      }),
      Outcome::Failed { cause, fallback } => {
        let (token, expires_at) = match fallback {
          Some((token, expires_at)) if *expires_at > self.expires_at => (token, *expires_at),
          _ => (&self.token, self.expires_at),
        };
        self
          .found
          .fall_back(self.clock.now(), token, expires_at, cause.clone())
      }
      Outcome::Internal(cause) => Err(Error::Internal {
        cause: cause.clone(),
      }),
    }
  }
}

/// Refresh state of one cache file in this process.
#[derive(Default)]
pub(crate) struct FileState {
  /// When the last refresh attempt started.
  last_attempt: Option<DateTime<Utc>>,
  /// The newest token a refresh in this process produced, for loads after it and for when
  /// writing it back failed.
  pub(crate) latest: Option<(Secret, DateTime<Utc>)>,
  /// Why the last attempt failed, for loads that come while the throttle holds.
  pub(crate) last_failure: Option<RefreshCause>,
  /// The refresh under way, if any.
  pub(crate) flight: Option<Arc<Flight>>,
  /// The token last read from the file.
  seen: Option<(Secret, DateTime<Utc>)>,
}

/// What the local stage found.
enum Local {
  /// The file's token and what to do with it.
  Read(Found, CachedToken, Decision),
  /// The file is mid-rewrite; the token last read from it is still valid.
  Remembered(Loaded),
}

/// How long a load re-reads a cache file caught mid-rewrite before serving the token it
/// last read from that file, when it has one that is still valid.
const REMEMBERED_PATIENCE: std::time::Duration = std::time::Duration::from_millis(3);

/// How long a load waits on other tools' writes.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
  /// For a cache file caught mid-rewrite: [`crate::cache::token::TORN_READ_PATIENCE`].
  pub torn_read: std::time::Duration,
  /// After `invalid_grant`, for another tool's token: [`crate::refresh::RIVAL_WRITE_PATIENCE`].
  pub rival_write: std::time::Duration,
}

impl Default for Patience {
  fn default() -> Self {
    Patience {
      torn_read: crate::cache::token::TORN_READ_PATIENCE,
      rival_write: crate::refresh::RIVAL_WRITE_PATIENCE,
    }
  }
}

/// How a refresh of one cache file ended, as told to [`Engine::on_refreshed`] listeners.
#[derive(Debug, Clone, Copy)]
pub enum Refreshed<'a> {
  /// A new token for the file (ours from CreateToken, or another process's).
  Token {
    /// The token.
    token: &'a Secret,
    /// When it expires.
    expires_at: DateTime<Utc>,
  },
  /// The refresh failed; loads keep the old token while it is valid.
  Failed(&'a RefreshCause),
}

/// Hears how every refresh ends, with the cache file's path: a refresh ahead of need has
/// no waiting load to hand its token to.
pub type Listener = Box<dyn Fn(&Path, Refreshed<'_>) + Send + Sync>;

/// The process-wide load engine.
pub struct Engine {
  pub(crate) clock: Arc<dyn Clock>,
  pub(crate) transport: Arc<dyn Transport>,
  pub(crate) patience: Patience,
  files: Mutex<HashMap<PathBuf, Arc<Mutex<FileState>>>>,
  pool: Pool,
  listeners: Mutex<Vec<Listener>>,
}

impl Engine {
  /// An engine with its own clock and CreateToken (tests pass fakes).
  pub fn new(clock: Arc<dyn Clock>, transport: Arc<dyn Transport>) -> Arc<Engine> {
    Engine::with_patience(clock, transport, Patience::default())
  }

  /// [`Engine::new`] with other waits (tests that must not wait).
  pub fn with_patience(
    clock: Arc<dyn Clock>,
    transport: Arc<dyn Transport>,
    patience: Patience,
  ) -> Arc<Engine> {
    Arc::new(Engine {
      clock,
      transport,
      patience,
      files: Mutex::default(),
      pool: Pool::default(),
      listeners: Mutex::default(),
    })
  }

  /// Adds `listener` to those told how each refresh ends, on the refresh's thread, after
  /// its waiters.
  pub fn on_refreshed(&self, listener: Listener) {
    self
      .listeners
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .push(listener);
  }

  /// The one engine of this process: the system clock and CreateToken over HTTPS.
  pub fn global() -> &'static Arc<Engine> {
    static GLOBAL: OnceLock<Arc<Engine>> = OnceLock::new();
    GLOBAL.get_or_init(|| Engine::new(Arc::new(SystemClock), Arc::new(UreqTransport)))
  }

  /// The local stage of a load: never waits on anything but the local disk.
  pub fn load(self: &Arc<Self>, env: &Env, opts: &LoadOptions) -> Step {
    let (found, cached, decision) = match self.find(env, opts) {
      Ok(Local::Read(found, cached, decision)) => (found, cached, decision),
      Ok(Local::Remembered(loaded)) => return Step::Done(Ok(loaded)),
      Err(e) => return Step::Done(Err(e)),
    };
    let now = self.clock.now();
    match decision {
      Decision::Fresh => Step::Done(Ok(found.serve(&cached.access_token, cached.expires_at))),
      Decision::Cannot(cause) => {
        Step::Done(found.fall_back(now, &cached.access_token, cached.expires_at, cause))
      }
      Decision::RefreshWhileServing => {
        let served = found.serve(&cached.access_token, cached.expires_at);
        let state = self.state(&found.path);
        let mut st = lock(&state);
        let idle = st.flight.is_none()
          && st
            .last_attempt
            .is_none_or(|last| !decide::throttled(now, last));
        if idle {
          let (_, job) = self.start(&mut st, env, &found, cached, opts);
          drop(st);
          self.submit(job);
        }
        Step::Done(Ok(served))
      }
      Decision::MustRefresh => {
        let state = self.state(&found.path);
        let mut st = lock(&state);
        let (token, expires_at) = (cached.access_token.clone(), cached.expires_at);
        if let Some(flight) = &st.flight {
          return Step::Pending(self.pending(Arc::clone(flight), found, token, expires_at));
        }
        if let Some(done) = settled(now, opts, &found, &cached, &st) {
          return Step::Done(done);
        }
        let (flight, job) = self.start(&mut st, env, &found, cached, opts);
        drop(st);
        self.submit(job);
        Step::Pending(self.pending(flight, found, token, expires_at))
      }
    }
  }

  /// A whole load, waiting for a refresh when one is due (Rust callers and tests).
  pub fn load_blocking(self: &Arc<Self>, env: &Env, opts: &LoadOptions) -> Result<Loaded, Error> {
    match self.load(env, opts) {
      Step::Done(result) => result,
      Step::Pending(pending) => pending.wait(),
    }
  }

  /// Refresh threads alive now (diagnostics and tests).
  pub fn refresh_threads(&self) -> usize {
    self.pool.threads()
  }

  fn find(&self, env: &Env, opts: &LoadOptions) -> Result<Local, Error> {
    let config_path = env.config_file().ok_or(Error::NoHomeDir)?;
    let text = config::read_config_text(&config_path)?;
    let resolved = config::resolve(&text, &opts.profile)?;
    let source = resolved.source;
    let home = env.home_dir().ok_or(Error::NoHomeDir)?;
    let path = cache_path(&home, source.cache_key());
    let cached = match CachedToken::read(&path, &opts.profile) {
      Ok(cached) => cached,
      Err(e) if e.is_cut_short() => {
        // Mid-rewrite by another tool. Read again; with a valid token from this file in
        // memory, only briefly before serving that rather than waiting.
        let seen = lock(&self.state(&path))
          .seen
          .clone()
          .filter(|(_, expires_at)| *expires_at > self.clock.now());
        let patience = match seen {
          Some(_) => self.patience.torn_read.min(REMEMBERED_PATIENCE),
          None => self.patience.torn_read,
        };
        match (
          CachedToken::read_settled(&path, &opts.profile, patience),
          seen,
        ) {
          (Err(e), Some((token, expires_at))) if e.is_cut_short() => {
            let found = Found {
              profile: opts.profile.clone(),
              config_path,
              source,
              path,
              endpoint: None,
            };
            return Ok(Local::Remembered(found.serve(&token, expires_at)));
          }
          (result, _) => result?,
        }
      }
      Err(e) => return Err(e),
    };
    self.remember(&path, &cached);
    // Only a due refresh needs the endpoint: most loads find a fresh token.
    let now = self.clock.now();
    let due = opts.force_refresh || opts.window.band(now, cached.expires_at) != Band::Fresh;
    let endpoint = source.session_name().filter(|_| due).map(|session| {
      let variants = Variants::from(
        env,
        resolved.use_fips_endpoint.as_deref(),
        resolved.use_dualstack_endpoint.as_deref(),
      );
      endpoint_for(source.region(), session, variants, env)
    });
    let decision = decide(&Facts {
      now,
      expires_at: cached.expires_at,
      window: opts.window,
      legacy: source.is_legacy(),
      missing_refresh_key: cached.missing_refresh_key(),
      registration_expires_at: cached.registration_expires_at,
      unusable_endpoint: endpoint.as_ref().and_then(|e| e.as_ref().err()).cloned(),
      force: opts.force_refresh,
    });
    let found = Found {
      profile: opts.profile.clone(),
      config_path,
      source,
      path,
      endpoint: endpoint.and_then(Result::ok),
    };
    Ok(Local::Read(found, cached, decision))
  }

  /// Keeps the token last read from `path`, for when the file is next caught mid-rewrite.
  fn remember(&self, path: &Path, cached: &CachedToken) {
    let state = self.state(path);
    let mut st = lock(&state);
    if st
      .seen
      .as_ref()
      .is_none_or(|(token, _)| *token != cached.access_token)
    {
      st.seen = Some((cached.access_token.clone(), cached.expires_at));
    }
  }

  pub(crate) fn state(&self, path: &Path) -> Arc<Mutex<FileState>> {
    let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(files.entry(path.to_path_buf()).or_default())
  }

  fn pending(
    &self,
    flight: Arc<Flight>,
    found: Found,
    token: Secret,
    expires_at: DateTime<Utc>,
  ) -> Pending {
    Pending {
      flight,
      clock: Arc::clone(&self.clock),
      found,
      token,
      expires_at,
    }
  }

  /// Records a new refresh of `found`'s file in its state `st`, and returns it with the job
  /// that runs it, to [`Self::submit`] once `st` is unlocked.
  fn start(
    self: &Arc<Self>,
    st: &mut FileState,
    env: &Env,
    found: &Found,
    cached: CachedToken,
    opts: &LoadOptions,
  ) -> (Arc<Flight>, Job) {
    let flight = Arc::new(Flight::default());
    st.last_attempt = Some(self.clock.now());
    st.last_failure = None;
    st.flight = Some(Arc::clone(&flight));
    let job = {
      let engine = Arc::clone(self);
      let flight = Arc::clone(&flight);
      let (env, found, window) = (env.clone(), found.clone(), opts.window);
      move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
          refresh::run(&engine, &env, &found, cached, window)
        }))
        .unwrap_or_else(|panic| Outcome::Internal(panic_message(&*panic)));
        engine.finish(&found.path, &flight, outcome);
      }
    };
    (flight, Box::new(job))
  }

  fn submit(&self, job: Job) {
    if let Err(stranded) = self.pool.submit(job) {
      // No refresh thread could be started: run them here, late rather than never.
      for job in stranded {
        job();
      }
    }
  }

  /// Records how a refresh ended, then tells its waiters.
  fn finish(&self, path: &Path, flight: &Arc<Flight>, outcome: Outcome) {
    {
      let state = self.state(path);
      let mut st = lock(&state);
      match &outcome {
        Outcome::Token {
          token, expires_at, ..
        } => st.latest = Some((token.clone(), *expires_at)),
        Outcome::Failed { cause, .. } => st.last_failure = Some(cause.clone()),
        Outcome::Internal(_) => {}
      }
      if st.flight.as_ref().is_some_and(|f| Arc::ptr_eq(f, flight)) {
        st.flight = None;
      }
    }
    flight.finish(outcome.clone());
    let told = match &outcome {
      Outcome::Token {
        token, expires_at, ..
      } => Refreshed::Token {
        token,
        expires_at: *expires_at,
      },
      Outcome::Failed { cause, .. } => Refreshed::Failed(cause),
      Outcome::Internal(_) => return,
    };
    for listener in self
      .listeners
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .iter()
    {
      // A listener that panics must not keep the others from hearing.
      let _ = catch_unwind(AssertUnwindSafe(|| listener(path, told)));
    }
  }
}

fn lock(state: &Mutex<FileState>) -> MutexGuard<'_, FileState> {
  state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A due refresh that needs no new attempt: a fresh token a refresh in this process just
/// got, or the throttle (the old token while valid, else the last failure).
fn settled(
  now: DateTime<Utc>,
  opts: &LoadOptions,
  found: &Found,
  cached: &CachedToken,
  st: &FileState,
) -> Option<Result<Loaded, Error>> {
  if let Some((token, expires_at)) = &st.latest {
    let fresh = opts.window.band(now, *expires_at) == Band::Fresh;
    if fresh && (!opts.force_refresh || *token != cached.access_token) {
      return Some(Ok(Loaded {
        refreshed: true,
        ..found.serve(token, *expires_at)
      }));
    }
  }
  let last = st.last_attempt?;
  if opts.force_refresh || !decide::throttled(now, last) {
    return None;
  }
  // Loads during the throttle report the cause of the attempt that started it.
  let cause = st.last_failure.clone().unwrap_or(RefreshCause::Throttled);
  Some(found.fall_back(now, &cached.access_token, cached.expires_at, cause))
}

/// The text of a panic payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
  panic
    .downcast_ref::<&str>()
    .map(|s| s.to_string())
    .or_else(|| panic.downcast_ref::<String>().cloned())
    .unwrap_or_else(|| "panic".into())
}
