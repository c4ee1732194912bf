//! The one owner of token state in a process (docs/behaviour.md §4): what every cache file
//! holds, which refresh of it is under way, when its next attempt may start, and which
//! files have changed on disk since they were read.
//!
//! Two ways in, one decision:
//! - [`Engine::load`] reads the config and the cache file (off the JS thread), remembers
//!   what it found, and decides;
//! - [`Engine::lookup`] answers from memory when the change notifications say that
//!   nothing a load read has changed since (on the JS thread: no disk, no thread hop), and
//!   decides the same way.
//!
//! Either returns [`Step::Done`] with the token and its [`Snapshot`], or [`Step::Pending`]
//! when it must wait for a refresh, which runs on the network thread (`crate::runtime`).
//! Every refresh ends in one [`Settled`] for the file, handed to every listener
//! ([`Engine::on_settled`]) and every waiter. Everything outside the process is a seam: the
//! environment ([`Env`]), the clock ([`Clock`]), CreateToken ([`Transport`]) and the change
//! notifications ([`Watch`]).

use crate::cache::{cache_path, CachedToken};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, TokenSource};
use crate::decide::{self, decide, serve_or_fail, Band, Decision, Facts, Window};
use crate::env::Env;
use crate::error::{ConfigFile, Error, RefreshCause};
use crate::oidc::endpoint::{endpoint_for, Variants};
use crate::oidc::{HttpsTransport, OidcError, Transport};
use crate::refresh::{self, Outcome, Patience};
use crate::runtime;
use crate::secret::Secret;
use crate::watch::Watch;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
  /// The profile name came from `AWS_PROFILE` (a "not found" message says so).
  pub profile_from_env: bool,
}

impl LoadOptions {
  /// `profile` with v2's default window.
  pub fn new(profile: impl Into<String>) -> Self {
    LoadOptions {
      profile: profile.into(),
      window: Window::default(),
      force_refresh: false,
      profile_from_env: false,
    }
  }
}

/// What a caller may cache about a file's token, with the times it must come back: the
/// JavaScript layer compares the clock with these and does no window arithmetic itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
  /// Changes whenever the file's token does.
  pub version: u64,
  /// The token's expiry.
  pub expires_at: DateTime<Utc>,
  /// From here on a call should ask again (a refresh ahead of need is due): the advisory
  /// edge, or the mandatory one for a token that cannot be refreshed.
  pub refresh_at: DateTime<Utc>,
  /// From here on a call must wait for a refresh (the mandatory edge, v2's window).
  pub must_refresh_at: DateTime<Utc>,
  /// When the next refresh attempt may start, while the throttle holds.
  pub retry_after: Option<DateTime<Utc>>,
  /// Whether changes to the files are seen: without that, memory is trusted until
  /// `refresh_at` only by `get()`, and a reload reads the disk.
  pub watched: bool,
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
  /// What may be cached, and until when.
  pub snapshot: Snapshot,
  /// What [`Engine::lookup`] finds this profile and environment by next time.
  pub key: u64,
}

/// The outcome of [`Engine::load`] and [`Engine::lookup`].
#[derive(Debug)]
pub enum Step {
  /// The load is over.
  Done(Result<Loaded, Error>),
  /// A refresh this load must wait for is running.
  Pending(Pending),
}

/// What a load found for a profile: its source, its files, the refresh blockers of its
/// cache file. Kept per (profile, environment) while the files are unchanged.
#[derive(Debug, Clone)]
struct Found {
  /// The load's key.
  key: u64,
  config_path: PathBuf,
  source: TokenSource,
  path: PathBuf,
  /// The profile's `use_fips_endpoint` / `use_dualstack_endpoint`, as written.
  variants: (Option<String>, Option<String>),
  /// The first refresh key missing from the cache file.
  missing_refresh_key: Option<&'static str>,
  /// The file's `registrationExpiresAt`.
  registration_expires_at: Option<DateTime<Utc>>,
}

impl Found {
  /// Where CreateToken goes; `None` for a legacy profile, which is never refreshed.
  fn endpoint(&self, env: &Env) -> Option<Result<String, OidcError>> {
    let session = self.source.session_name()?;
    let variants = Variants::from(env, self.variants.0.as_deref(), self.variants.1.as_deref());
    Some(endpoint_for(self.source.region(), session, variants, env))
  }

  /// Whether a refresh of this file could happen at all (ahead of need, or when due).
  fn refreshable(&self, now: DateTime<Utc>) -> bool {
    !self.source.is_legacy()
      && self.missing_refresh_key.is_none()
      && self.registration_expires_at.is_none_or(|t| t > now)
  }
}

/// A load's findings, with the generation of each file it read (`None`: not watched).
struct Held {
  /// The profile and environment the load was for: what a lookup of its key answers.
  profile: String,
  env: Env,
  found: Found,
  config_generation: Option<u64>,
  cache_generation: Option<u64>,
}

/// The best token known for a cache file.
#[derive(Clone)]
struct Current {
  token: Secret,
  expires_at: DateTime<Utc>,
  version: u64,
  /// It came from a refresh (ours, or another process's found under the lock), not from
  /// reading the file: while the file lags behind (its write-back failed), it wins.
  refreshed: bool,
}

/// How a refresh of a file ended, the same for every load that waited on it.
#[derive(Debug, Clone)]
pub struct Settled {
  /// The refresh's number, as [`Pending::id`] gives it.
  pub flight: u64,
  /// The best token for the file now, and its version; or the error once it has expired.
  pub result: Result<(Secret, DateTime<Utc>, u64), Error>,
  /// A new token came from the refresh.
  pub refreshed: bool,
  /// Why the refresh did not produce one, when the old token is served.
  pub note: Option<RefreshCause>,
  /// Why the new token was not written back.
  pub write_error: Option<String>,
  /// When the next attempt may start.
  pub retry_after: Option<DateTime<Utc>>,
}

type Waiter = Box<dyn FnOnce(&Settled) + Send>;

/// One refresh of one cache file, and the Rust callers waiting for it.
struct Flight {
  id: u64,
  state: Mutex<FlightState>,
}

enum FlightState {
  Running(Vec<Waiter>),
  Done(Settled),
}

impl Flight {
  fn lock(&self) -> MutexGuard<'_, FlightState> {
    self.state.lock().unwrap_or_else(PoisonError::into_inner)
  }

  fn on_done(&self, waiter: Waiter) {
    let mut state = self.lock();
    match &mut *state {
      FlightState::Running(waiters) => waiters.push(waiter),
      FlightState::Done(settled) => {
        let settled = settled.clone();
        drop(state);
        waiter(&settled);
      }
    }
  }

  fn settled(&self) -> Option<Settled> {
    match &*self.lock() {
      FlightState::Done(settled) => Some(settled.clone()),
      FlightState::Running(_) => None,
    }
  }

  fn finish(&self, settled: &Settled) {
    let waiters = match std::mem::replace(&mut *self.lock(), FlightState::Done(settled.clone())) {
      FlightState::Running(waiters) => waiters,
      FlightState::Done(_) => Vec::new(),
    };
    for waiter in waiters {
      // A waiter that panics must not keep the others from hearing back.
      let _ = catch_unwind(AssertUnwindSafe(|| waiter(settled)));
    }
  }
}

/// A load waiting on a refresh: its result is its own (its profile's source and files, its
/// window's snapshot) around the refresh's shared [`Settled`].
pub struct Pending {
  flight: Arc<Flight>,
  found: Found,
  window: Window,
  clock: Arc<dyn Clock>,
  watched: bool,
}

impl std::fmt::Debug for Pending {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Pending")
      .field("flight", &self.flight.id)
      .field("cache_path", &self.found.path)
      .finish_non_exhaustive()
  }
}

impl Pending {
  /// The refresh's number, as [`Settled::flight`] names it.
  pub fn id(&self) -> u64 {
    self.flight.id
  }

  /// What the load is found by next time.
  pub fn key(&self) -> u64 {
    self.found.key
  }

  /// The cache file.
  pub fn cache_path(&self) -> &Path {
    &self.found.path
  }

  /// The config file the load read.
  pub fn config_path(&self) -> &Path {
    &self.found.config_path
  }

  /// Where the profile's token comes from.
  pub fn source(&self) -> &TokenSource {
    &self.found.source
  }

  /// The result, if the refresh has already ended.
  pub fn ready(&self) -> Option<Result<Loaded, Error>> {
    self.flight.settled().map(|s| self.result(&s))
  }

  /// Calls `f` with the result when the refresh ends (at once if it has), on whichever
  /// thread ends it.
  pub fn on_done(self, f: impl FnOnce(Result<Loaded, Error>) + Send + 'static) {
    let flight = Arc::clone(&self.flight);
    flight.on_done(Box::new(move |settled| f(self.result(settled))));
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

  /// This load's result from the refresh's outcome.
  pub fn result(&self, settled: &Settled) -> Result<Loaded, Error> {
    let (token, expires_at, version) = settled.result.clone()?;
    let now = self.clock.now();
    let snapshot = snapshot(
      &self.found,
      self.window,
      now,
      expires_at,
      version,
      settled.retry_after,
      self.watched,
    );
    Ok(Loaded {
      refreshed: settled.refreshed,
      refresh_note: settled.note.clone(),
      write_error: settled.write_error.clone(),
      ..serve(&self.found, &token, expires_at, snapshot)
    })
  }
}

/// The snapshot of a token of `found`'s file for `window`.
fn snapshot(
  found: &Found,
  window: Window,
  now: DateTime<Utc>,
  expires_at: DateTime<Utc>,
  version: u64,
  retry_after: Option<DateTime<Utc>>,
  watched: bool,
) -> Snapshot {
  let (advisory, mandatory) = window.edges(expires_at);
  Snapshot {
    version,
    expires_at,
    refresh_at: if found.refreshable(now) {
      advisory
    } else {
      mandatory
    },
    must_refresh_at: mandatory,
    retry_after,
    watched,
  }
}

fn serve(found: &Found, token: &Secret, expires_at: DateTime<Utc>, snapshot: Snapshot) -> Loaded {
  Loaded {
    key: found.key,
    token: token.clone(),
    expires_at,
    source: found.source.clone(),
    cache_path: found.path.clone(),
    config_path: found.config_path.clone(),
    refreshed: false,
    refresh_note: None,
    write_error: None,
    snapshot,
  }
}

/// Refresh state of one cache file in this process.
#[derive(Default)]
struct FileState {
  /// The best token known for the file.
  current: Option<Current>,
  /// When the last refresh attempt started.
  last_attempt: Option<DateTime<Utc>>,
  /// Why the last attempt failed, for loads that come while the throttle holds.
  last_failure: Option<RefreshCause>,
  /// The refresh under way, if any.
  flight: Option<Arc<Flight>>,
  /// A refresh ahead of need is scheduled for when the throttle ends.
  scheduled: bool,
}

impl FileState {
  fn retry_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let last = self.last_attempt?;
    decide::throttled(now, last).then(|| last + decide::REFRESH_THROTTLE)
  }
}

/// How long a load re-reads a cache file caught mid-rewrite before serving the token it
/// last read from that file, when it has one that is still valid.
const REMEMBERED_PATIENCE: std::time::Duration = std::time::Duration::from_millis(3);

/// Hears how every refresh ends, with the cache file's path: a refresh ahead of need has
/// no waiting load to hand its token to.
pub type Listener = Box<dyn Fn(&Path, &Settled) + Send + Sync>;

/// Loads are found again by a number: the same profile in the same environment reads the
/// same files. The JavaScript layer keeps the number of its instance's profile and
/// environment, so that asking again costs no conversion of either.
#[derive(Default)]
struct Keys {
  ids: HashMap<(String, Env), u64>,
  next: u64,
}

/// Keys kept; beyond this (a program that keeps changing its environment) all are
/// forgotten, and the next call of each profile reads its files again.
const MAX_KEYS: usize = 4096;

/// Config texts kept for loads of other profiles of the same file.
const MAX_CONFIGS_KEPT: usize = 16;

/// What [`Engine::lookup`] answers.
#[derive(Debug)]
pub struct Lookup {
  /// [`Engine::changes`] as of the check: a caller that keeps this number knows that
  /// nothing it was answered from changed while the number stays the same.
  pub changes: u64,
  /// The answer; `None` when the files must be read ([`Engine::load`]).
  pub step: Option<Step>,
}

/// The process-wide load engine.
pub struct Engine {
  clock: Arc<dyn Clock>,
  transport: Arc<dyn Transport>,
  patience: Patience,
  files: Mutex<HashMap<PathBuf, Arc<Mutex<FileState>>>>,
  keys: Mutex<Keys>,
  held: Mutex<HashMap<u64, Arc<Held>>>,
  /// Config texts read, by path, with the generation they were read at.
  configs: Mutex<HashMap<PathBuf, (u64, Arc<str>)>>,
  watch: Mutex<Watch>,
  listeners: Mutex<Vec<Listener>>,
  flights: AtomicU64,
  versions: AtomicU64,
}

impl Engine {
  /// An engine with its own clock and CreateToken (tests pass fakes), watching with the
  /// system's notifications.
  pub fn new(clock: Arc<dyn Clock>, transport: Arc<dyn Transport>) -> Arc<Engine> {
    Engine::with(clock, transport, Patience::default(), Watch::system())
  }

  /// [`Engine::new`] with other waits and another watch (tests).
  pub fn with(
    clock: Arc<dyn Clock>,
    transport: Arc<dyn Transport>,
    patience: Patience,
    watch: Watch,
  ) -> Arc<Engine> {
    Arc::new(Engine {
      clock,
      transport,
      patience,
      files: Mutex::default(),
      keys: Mutex::default(),
      held: Mutex::default(),
      configs: Mutex::default(),
      watch: Mutex::new(watch),
      listeners: Mutex::default(),
      flights: AtomicU64::new(1),
      versions: AtomicU64::new(1),
    })
  }

  /// The one engine of this process: the system clock, CreateToken over HTTPS, the system's
  /// change notifications.
  pub fn global() -> &'static Arc<Engine> {
    static GLOBAL: OnceLock<Arc<Engine>> = OnceLock::new();
    GLOBAL.get_or_init(|| Engine::new(Arc::new(SystemClock), Arc::new(HttpsTransport)))
  }

  /// Adds `listener` to those told how each refresh ends, on the network thread, after its
  /// waiters.
  pub fn on_settled(&self, listener: Listener) {
    lock(&self.listeners).push(listener);
  }

  /// How many changes to files loads read were ever seen, polling the notifications
  /// first: a caller that saw this number before knows nothing changed if it is the same.
  pub fn changes(&self) -> u64 {
    lock(&self.watch).poll()
  }

  /// Whether changes in `dir` would be seen, or why not.
  pub fn change_detection(&self, dir: &Path) -> Result<(), String> {
    lock(&self.watch).describe(dir)
  }

  /// A load that reads the files: never waits on anything but the local disk.
  pub fn load(self: &Arc<Self>, env: &Env, opts: &LoadOptions) -> Step {
    match self.read(env, opts) {
      Ok(Read::Fresh(held, cached)) => self.decide(env, opts, &held, Some(cached)),
      Ok(Read::Remembered(loaded)) => Step::Done(Ok(loaded)),
      Err(e) => Step::Done(Err(e)),
    }
  }

  /// [`Engine::load`], waiting for the refresh when one is due (Rust callers and tests).
  pub fn load_blocking(self: &Arc<Self>, env: &Env, opts: &LoadOptions) -> Result<Loaded, Error> {
    match self.load(env, opts) {
      Step::Done(result) => result,
      Step::Pending(pending) => pending.wait(),
    }
  }

  /// The number `profile` in `env` is found by ([`Engine::lookup`]).
  pub fn key(&self, profile: &str, env: &Env) -> u64 {
    let mut keys = lock(&self.keys);
    if let Some(id) = keys.ids.get(&(profile.to_string(), env.clone())) {
      return *id;
    }
    if keys.ids.len() >= MAX_KEYS {
      keys.ids.clear();
      lock(&self.held).clear();
    }
    keys.next += 1;
    let id = keys.next;
    keys.ids.insert((profile.to_string(), env.clone()), id);
    id
  }

  /// The load of `key`'s profile in its environment, answered from memory when a load read
  /// its files and nothing has changed them since (`step` is `None` otherwise, and for a key
  /// this engine no longer knows). `window` and `force` as in [`LoadOptions`].
  pub fn lookup(self: &Arc<Self>, key: u64, window: Window, force_refresh: bool) -> Lookup {
    let changes = self.changes();
    let step = (|| {
      let held = lock(&self.held).get(&key).cloned()?;
      {
        let watch = lock(&self.watch);
        if !watch.exact() {
          return None;
        }
        let unchanged = |path: &Path, generation: Option<u64>| {
          generation.is_some() && watch.current(path) == generation
        };
        if !unchanged(&held.found.config_path, held.config_generation)
          || !unchanged(&held.found.path, held.cache_generation)
        {
          return None;
        }
      }
      // Held, unchanged files always have a current token.
      lock(&self.state(&held.found.path)).current.as_ref()?;
      let opts = LoadOptions {
        profile: held.profile.clone(),
        window,
        force_refresh,
        profile_from_env: false,
      };
      Some(self.decide(&held.env, &opts, &held, None))
    })();
    Lookup { changes, step }
  }

  /// Reads the config and the cache file, tracking both before they are read.
  fn read(&self, env: &Env, opts: &LoadOptions) -> Result<Read, Error> {
    let config_path = env.config_file().ok_or(Error::NoHomeDir)?;
    let config_generation = lock(&self.watch).track(&config_path);
    let text = self.config_text(&config_path, config_generation)?;
    let resolved = config::resolve(&text, &opts.profile).map_err(|e| {
      e.in_config(ConfigFile {
        exists: config_path.is_file(),
        path: config_path.clone(),
        profile_from_env: opts.profile_from_env,
      })
    })?;
    let home = env.home_dir().ok_or(Error::NoHomeDir)?;
    let path = cache_path(&home, resolved.source.cache_key());
    let cache_generation = lock(&self.watch).track(&path);
    let key = self.key(&opts.profile, env);
    let state = self.state(&path);
    let cached = match CachedToken::read(&path, &opts.profile) {
      Ok(cached) => cached,
      Err(e) if e.is_cut_short() => {
        // Mid-rewrite by another tool. Read again; with a valid token from this file in
        // memory, only briefly before serving that rather than waiting.
        let now = self.clock.now();
        let remembered = lock(&state).current.clone().filter(|c| c.expires_at > now);
        let patience = match remembered {
          Some(_) => self.patience.torn_read.min(REMEMBERED_PATIENCE),
          None => self.patience.torn_read,
        };
        match (
          CachedToken::read_settled(&path, &opts.profile, patience),
          remembered,
        ) {
          (Err(e), Some(current)) if e.is_cut_short() => {
            // Not held: the file is mid-rewrite, and the next call must read it again.
            let found = found(key, config_path, resolved, path, None);
            let snapshot = snapshot(
              &found,
              opts.window,
              now,
              current.expires_at,
              current.version,
              None,
              false,
            );
            return Ok(Read::Remembered(serve(
              &found,
              &current.token,
              current.expires_at,
              snapshot,
            )));
          }
          (result, _) => result?,
        }
      }
      Err(e) => return Err(e),
    };
    lock(&self.watch).know(&path, cached.file_id);
    let held = Arc::new(Held {
      profile: opts.profile.clone(),
      env: env.clone(),
      found: found(key, config_path, resolved, path, Some(&cached)),
      config_generation,
      cache_generation,
    });
    if held.config_generation.is_some() && held.cache_generation.is_some() {
      lock(&self.held).insert(key, Arc::clone(&held));
    } else {
      lock(&self.held).remove(&key);
    }
    Ok(Read::Fresh(held, cached))
  }

  /// The text of the config file: what memory holds when the file is watched and unchanged
  /// since it was read (a process loading many profiles of one big config reads it once),
  /// else what is on disk now.
  fn config_text(&self, path: &Path, generation: Option<u64>) -> Result<Arc<str>, Error> {
    if let Some(generation) = generation {
      if let Some((g, text)) = lock(&self.configs).get(path) {
        if *g == generation {
          return Ok(Arc::clone(text));
        }
      }
    }
    let text: Arc<str> = config::read_config_text(path)?.into();
    if let Some(generation) = generation {
      let mut configs = lock(&self.configs);
      if configs.len() >= MAX_CONFIGS_KEPT {
        configs.clear();
      }
      configs.insert(path.to_path_buf(), (generation, Arc::clone(&text)));
    }
    Ok(text)
  }

  /// The decision for a held load, on the token just read (`cached`) or the one in memory,
  /// and what it starts.
  fn decide(
    self: &Arc<Self>,
    env: &Env,
    opts: &LoadOptions,
    held: &Held,
    cached: Option<CachedToken>,
  ) -> Step {
    let found = &held.found;
    let watched = held.config_generation.is_some() && held.cache_generation.is_some();
    let now = self.clock.now();
    let state = self.state(&found.path);
    let mut st = lock(&state);
    if let Some(cached) = &cached {
      self.take_read(&mut st, cached);
    }
    let Some(current) = st.current.clone() else {
      return Step::Done(Err(Error::Internal {
        cause: "a held file has no token".into(),
      }));
    };
    let band = opts.window.band(now, current.expires_at);
    // Only a due refresh needs the endpoint: most loads find a fresh token.
    let endpoint = (opts.force_refresh || band != Band::Fresh)
      .then(|| found.endpoint(env))
      .flatten();
    let decision = decide(&Facts {
      now,
      expires_at: current.expires_at,
      window: opts.window,
      legacy: found.source.is_legacy(),
      missing_refresh_key: found.missing_refresh_key,
      registration_expires_at: found.registration_expires_at,
      unusable_endpoint: endpoint.as_ref().and_then(|e| e.as_ref().err()).cloned(),
      force: opts.force_refresh,
    });
    let served = |st: &FileState, note: Option<RefreshCause>| {
      let snap = snapshot(
        found,
        opts.window,
        now,
        current.expires_at,
        current.version,
        st.retry_after(now),
        watched,
      );
      Loaded {
        refresh_note: note,
        ..serve(found, &current.token, current.expires_at, snap)
      }
    };
    let input = |endpoint: String| refresh::Input {
      path: found.path.clone(),
      profile: opts.profile.clone(),
      endpoint,
      token: current.token.clone(),
      window: opts.window,
      env: env.clone(),
    };
    match (decision, endpoint.and_then(Result::ok)) {
      (Decision::Fresh, _) => Step::Done(Ok(served(&st, None))),
      (Decision::Cannot(cause), _) => Step::Done(
        serve_or_fail(now, current.expires_at, cause, &opts.profile).map(|n| served(&st, Some(n))),
      ),
      (Decision::RefreshWhileServing, Some(endpoint)) => {
        if st.flight.is_none() {
          match st.retry_after(now) {
            None => {
              self.start(&mut st, input(endpoint));
            }
            Some(at) if !st.scheduled => {
              st.scheduled = true;
              self.schedule(
                &found.path,
                (at - now).to_std().unwrap_or_default(),
                input(endpoint),
              );
            }
            Some(_) => {}
          }
        }
        Step::Done(Ok(served(&st, None)))
      }
      (Decision::MustRefresh, Some(endpoint)) => {
        let flight = match &st.flight {
          Some(flight) => Arc::clone(flight),
          None => {
            if let (Some(_), false) = (st.retry_after(now), opts.force_refresh) {
              // Loads during the throttle report the cause of the attempt that started it.
              let cause = st.last_failure.clone().unwrap_or(RefreshCause::Throttled);
              return Step::Done(
                serve_or_fail(now, current.expires_at, cause, &opts.profile)
                  .map(|n| served(&st, Some(n))),
              );
            }
            self.start(&mut st, input(endpoint))
          }
        };
        Step::Pending(Pending {
          flight,
          found: found.clone(),
          window: opts.window,
          clock: Arc::clone(&self.clock),
          watched,
        })
      }
      // A due refresh always has its endpoint: decide() gave Cannot for one that is unusable.
      (_, None) => Step::Done(Err(Error::Internal {
        cause: "a refresh was due with no endpoint".into(),
      })),
    }
  }

  /// Takes a token just read from the file into the file's state.
  fn take_read(&self, st: &mut FileState, cached: &CachedToken) {
    let keep = st.current.as_ref().is_some_and(|c| {
      (c.token == cached.access_token && c.expires_at == cached.expires_at)
        // A refreshed token the file does not have yet (its write-back failed) wins while
        // it lasts longer.
        || (c.refreshed && c.token != cached.access_token && c.expires_at > cached.expires_at)
    });
    if !keep {
      st.current = Some(Current {
        token: cached.access_token.clone(),
        expires_at: cached.expires_at,
        version: self.versions.fetch_add(1, Ordering::Relaxed),
        refreshed: false,
      });
    }
  }

  /// The state of one cache file.
  fn state(&self, path: &Path) -> Arc<Mutex<FileState>> {
    let mut files = lock(&self.files);
    Arc::clone(files.entry(path.to_path_buf()).or_default())
  }

  /// Starts a refresh of `input`'s file, recorded in its state `st`.
  fn start(self: &Arc<Self>, st: &mut FileState, input: refresh::Input) -> Arc<Flight> {
    let flight = Arc::new(Flight {
      id: self.flights.fetch_add(1, Ordering::Relaxed),
      state: Mutex::new(FlightState::Running(Vec::new())),
    });
    st.last_attempt = Some(self.clock.now());
    st.last_failure = None;
    st.flight = Some(Arc::clone(&flight));
    let engine = Arc::clone(self);
    let running = Arc::clone(&flight);
    runtime::spawn_refresh(async move {
      let path = input.path.clone();
      let profile = input.profile.clone();
      let task = {
        let engine = Arc::clone(&engine);
        async move { refresh::run(input, &*engine.clock, &*engine.transport, engine.patience).await }
      };
      // A refresh that panics is reported as a bug to its waiters; the thread goes on.
      let outcome = match tokio::spawn(task).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Internal(match e.try_into_panic() {
          Ok(panic) => panic_message(&*panic),
          Err(_) => "the refresh was cancelled".into(),
        }),
      };
      engine.finish(&path, &profile, &running, outcome);
    });
    flight
  }

  /// Starts a refresh ahead of need once the throttle lets it.
  fn schedule(self: &Arc<Self>, path: &Path, delay: std::time::Duration, input: refresh::Input) {
    let engine = Arc::clone(self);
    let path = path.to_path_buf();
    runtime::spawn_refresh_after(delay, async move {
      let state = engine.state(&path);
      let mut st = lock(&state);
      st.scheduled = false;
      if st.flight.is_none() && st.retry_after(engine.clock.now()).is_none() {
        engine.start(&mut st, input);
      }
    });
  }

  /// Records how a refresh ended, then tells its waiters and the listeners.
  fn finish(&self, path: &Path, profile: &str, flight: &Arc<Flight>, outcome: Outcome) {
    let now = self.clock.now();
    let settled = {
      let state = self.state(path);
      let mut st = lock(&state);
      if st.flight.as_ref().is_some_and(|f| Arc::ptr_eq(f, flight)) {
        st.flight = None;
      }
      let mut settled = Settled {
        flight: flight.id,
        result: Err(Error::Internal {
          cause: "a refresh ended without a token".into(),
        }),
        refreshed: false,
        note: None,
        write_error: None,
        retry_after: None,
      };
      match outcome {
        Outcome::Token {
          token,
          expires_at,
          write_error,
          written,
        } => {
          if written.is_some() {
            lock(&self.watch).know(path, written);
          }
          let version = self.versions.fetch_add(1, Ordering::Relaxed);
          st.current = Some(Current {
            token: token.clone(),
            expires_at,
            version,
            refreshed: true,
          });
          settled.result = Ok((token, expires_at, version));
          settled.refreshed = true;
          settled.write_error = write_error;
        }
        Outcome::Failed { cause, fallback } => {
          if let Some((token, expires_at)) = fallback {
            if st
              .current
              .as_ref()
              .is_none_or(|c| expires_at > c.expires_at)
            {
              st.current = Some(Current {
                token,
                expires_at,
                version: self.versions.fetch_add(1, Ordering::Relaxed),
                refreshed: false,
              });
            }
          }
          st.last_failure = Some(cause.clone());
          settled.result = match &st.current {
            Some(c) => serve_or_fail(now, c.expires_at, cause.clone(), profile)
              .map(|_| (c.token.clone(), c.expires_at, c.version)),
            None => Err(cause.clone().into_error(profile)),
          };
          settled.note = Some(cause);
        }
        Outcome::Internal(cause) => settled.result = Err(Error::Internal { cause }),
      }
      settled.retry_after = st.retry_after(now);
      settled
    };
    flight.finish(&settled);
    for listener in lock(&self.listeners).iter() {
      // A listener that panics must not keep the others from hearing.
      let _ = catch_unwind(AssertUnwindSafe(|| listener(path, &settled)));
    }
  }
}

/// What [`Engine::read`] found.
enum Read {
  /// The file's token, held for later lookups when watched.
  Fresh(Arc<Held>, CachedToken),
  /// The file is mid-rewrite; the token last known for it is still valid.
  Remembered(Loaded),
}

fn found(
  key: u64,
  config_path: PathBuf,
  resolved: config::Resolved,
  path: PathBuf,
  cached: Option<&CachedToken>,
) -> Found {
  Found {
    key,
    config_path,
    source: resolved.source,
    path,
    variants: (resolved.use_fips_endpoint, resolved.use_dualstack_endpoint),
    missing_refresh_key: cached.and_then(CachedToken::missing_refresh_key),
    registration_expires_at: cached.and_then(|c| c.registration_expires_at),
  }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The text of a panic payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
  panic
    .downcast_ref::<&str>()
    .map(|s| s.to_string())
    .or_else(|| panic.downcast_ref::<String>().cloned())
    .unwrap_or_else(|| "panic".into())
}
