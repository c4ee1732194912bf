//! The napi binding: one load path over the core's engine.
//!
//! - `lookup(request)`: answered on the JS thread from the engine's memory when the change
//!   notifications say nothing a load read has changed (`null` otherwise);
//! - `load(request)`: the files read on the libuv pool (one `AsyncTask` type);
//! - `changes()`: the count of changes seen, for the JS layer's warm path;
//! - `openChannel(callback)`: the one channel back, per JS realm, through which every
//!   refresh's outcome reaches the instances holding that file's token and the calls
//!   waiting for it.
//!
//! Failures come back as data (`ok: false`, with the error's `kind` and message) and
//! `lib/native.js` turns them into v2-shaped errors, so every error is built in one place.
//! The sign-in and sign-out are bound in `login.rs`.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sso_token_core::chrono::{DateTime, Utc};
use sso_token_core::engine::panic_message;
use sso_token_core::{
  Engine, Env as CoreEnv, Error as CoreError, LoadOptions, Loaded, Secret, Settled, Step, Window,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

pub mod login;

/// A token on its way to JavaScript. The JS string is made straight from the secret's
/// bytes, so no plain copy is left on the Rust heap: the secret is zeroized when this is
/// dropped, right after the conversion. (The JS string itself belongs to V8.)
pub struct JsToken(Secret);

impl TypeName for JsToken {
  fn type_name() -> &'static str {
    "string"
  }
  fn value_type() -> ValueType {
    ValueType::String
  }
}

impl ToNapiValue for JsToken {
  unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
    // SAFETY: called by napi-rs on the JS thread with a live env, as every conversion is.
    unsafe { <&str>::to_napi_value(env, value.0.expose()) }
  }
}

/// One load, as the JS layer asks for it.
#[napi(object, object_to_js = false)]
pub struct LoadRequest {
  pub profile: String,
  /// The values of `envVariables()`, in that order; `null` for unset.
  pub env: Vec<Option<String>>,
  /// Seconds, as the caller set them.
  pub expiry_window: f64,
  pub advisory_window: f64,
  /// Refresh now through CreateToken (`sso-token --refresh`).
  pub force: Option<bool>,
  /// Add what the `sso-token` command prints.
  pub detail: Option<bool>,
  /// The snapshot version the caller holds: an answer of that version leaves the token out.
  pub version: Option<f64>,
  /// The profile name came from `AWS_PROFILE`.
  pub profile_from_env: Option<bool>,
}

/// The outcome of one load or lookup, as handed to `lib/native.js`. On success it carries
/// what the JS layer may cache and until when (milliseconds since the epoch): the layer
/// compares `Date.now()` with these numbers and does no window arithmetic itself.
#[napi(object, object_from_js = false)]
pub struct LoadResult {
  pub ok: bool,
  /// The error's kind when `ok` is false (`Error::kind` in the core).
  pub kind: Option<String>,
  /// The exact error message when `ok` is false.
  pub message: Option<String>,
  /// What this profile and environment are found by next time (`lookupKey`).
  pub key: Option<f64>,
  /// Left out when the caller already holds this version.
  #[napi(ts_type = "string")]
  pub token: Option<JsToken>,
  /// Changes whenever the file's token does.
  pub version: Option<f64>,
  pub expires_at: Option<f64>,
  /// From here on a call asks again: a refresh ahead of need is due.
  pub refresh_at: Option<f64>,
  /// From here on a call waits for a refresh (v2's window).
  pub must_refresh_at: Option<f64>,
  /// While the throttle holds: when the next attempt may start.
  pub retry_after: Option<f64>,
  /// Whether changes on disk are seen; without, a reload reads the disk.
  pub watched: Option<bool>,
  /// The refresh to wait for: its outcome comes through the channel with this number.
  pub pending: Option<f64>,
  /// The count of changes seen as of a lookup's check (`changes()`).
  pub changes: Option<f64>,
  /// Left out of `lookupKey` answers: the caller has them from the first.
  pub cache_path: Option<String>,
  /// The config file the load read.
  pub config_path: Option<String>,
  /// What the `sso-token` command reports; only when asked for.
  pub detail: Option<LoadDetail>,
}

fn millis(t: DateTime<Utc>) -> f64 {
  t.timestamp_millis() as f64
}

/// The parts of a load only the `sso-token` command shows.
#[napi(object, object_from_js = false)]
pub struct LoadDetail {
  pub session: Option<String>,
  pub start_url: String,
  pub region: String,
  pub refreshed: bool,
  pub refresh_note: Option<String>,
  pub write_error: Option<String>,
}

impl LoadDetail {
  fn of(
    source: &sso_token_core::config::TokenSource,
    refreshed: bool,
    refresh_note: Option<String>,
    write_error: Option<String>,
  ) -> Self {
    LoadDetail {
      session: source.session_name().map(str::to_string),
      start_url: source.start_url().to_string(),
      region: source.region().to_string(),
      refreshed,
      refresh_note,
      write_error,
    }
  }
}

/// What a result says beyond its token: the paths, for answers that are not `lookupKey`'s.
#[derive(Clone, Copy)]
struct Shape {
  detail: bool,
  known: Option<u64>,
  paths: bool,
}

impl LoadResult {
  fn empty(ok: bool) -> Self {
    LoadResult {
      ok,
      kind: None,
      message: None,
      key: None,
      token: None,
      version: None,
      expires_at: None,
      refresh_at: None,
      must_refresh_at: None,
      retry_after: None,
      watched: None,
      pending: None,
      changes: None,
      cache_path: None,
      config_path: None,
      detail: None,
    }
  }

  fn loaded(l: Loaded, shape: Shape) -> Self {
    let s = l.snapshot;
    LoadResult {
      key: Some(l.key as f64),
      token: (shape.known != Some(s.version)).then(|| JsToken(l.token)),
      version: Some(s.version as f64),
      expires_at: Some(millis(s.expires_at)),
      refresh_at: Some(millis(s.refresh_at)),
      must_refresh_at: Some(millis(s.must_refresh_at)),
      retry_after: s.retry_after.map(millis),
      watched: Some(s.watched),
      cache_path: shape.paths.then(|| l.cache_path.display().to_string()),
      config_path: shape.paths.then(|| l.config_path.display().to_string()),
      detail: shape.detail.then(|| {
        LoadDetail::of(
          &l.source,
          l.refreshed,
          l.refresh_note.map(|n| n.to_string()),
          l.write_error,
        )
      }),
      ..LoadResult::empty(true)
    }
  }

  fn failed(error: CoreError) -> Self {
    LoadResult {
      kind: Some(error.kind().to_string()),
      message: Some(error.to_string()),
      ..LoadResult::empty(false)
    }
  }

  fn of(result: std::result::Result<Loaded, CoreError>, shape: Shape) -> Self {
    match result {
      Ok(l) => LoadResult::loaded(l, shape),
      Err(e) => LoadResult::failed(e),
    }
  }

  /// A step's result: a pending one names its refresh, and says what the caller waits on.
  fn step(step: Step, shape: Shape) -> Self {
    match step {
      Step::Done(result) => LoadResult::of(result, shape),
      Step::Pending(pending) => match pending.ready() {
        Some(result) => LoadResult::of(result, shape),
        None => LoadResult {
          key: Some(pending.key() as f64),
          pending: Some(pending.id() as f64),
          cache_path: Some(pending.cache_path().display().to_string()),
          config_path: Some(pending.config_path().display().to_string()),
          detail: shape
            .detail
            .then(|| LoadDetail::of(pending.source(), false, None, None)),
          ..LoadResult::empty(false)
        },
      },
    }
  }
}

/// Runs `f`, turning a panic into a failed load (`failed` of the bug): a panic unwinding
/// into Node would abort it, and a provider bug must cost one load, not the process.
fn guarded<T>(f: impl FnOnce() -> T, failed: impl FnOnce(CoreError) -> T) -> T {
  catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
    failed(CoreError::Internal {
      cause: panic_message(&*panic),
    })
  })
}

/// A request's parts for the engine; the windows are checked here.
struct Parsed {
  env: CoreEnv,
  options: std::result::Result<LoadOptions, CoreError>,
  detail: bool,
  known: Option<u64>,
}

impl From<LoadRequest> for Parsed {
  fn from(r: LoadRequest) -> Self {
    let force_refresh = r.force.unwrap_or(false);
    let profile_from_env = r.profile_from_env.unwrap_or(false);
    Parsed {
      env: CoreEnv::from_values(r.env),
      options: Window::from_secs_f64(r.expiry_window, r.advisory_window).map(|window| {
        LoadOptions {
          profile: r.profile,
          window,
          force_refresh,
          profile_from_env,
        }
      }),
      detail: r.detail.unwrap_or(false),
      known: r.version.filter(|v| *v >= 0.0).map(|v| v as u64),
    }
  }
}

/// One load that reads the files, on the libuv pool.
pub struct LoadTask(Parsed);

#[napi]
impl Task for LoadTask {
  type Output = Step;
  type JsValue = LoadResult;

  fn compute(&mut self) -> Result<Self::Output> {
    let Parsed { env, options, .. } = &self.0;
    Ok(guarded(
      || match options {
        Ok(options) => Engine::global().load(env, options),
        Err(e) => Step::Done(Err(e.clone())),
      },
      |e| Step::Done(Err(e)),
    ))
  }

  fn resolve(&mut self, _env: napi::Env, step: Self::Output) -> Result<Self::JsValue> {
    let shape = Shape {
      detail: self.0.detail,
      known: self.0.known,
      paths: true,
    };
    Ok(guarded(
      || LoadResult::step(step, shape),
      LoadResult::failed,
    ))
  }
}

/// Loads `request.profile`'s token, reading the files: one promise of a [`LoadResult`],
/// never rejected for a load problem.
#[napi(ts_return_type = "Promise<LoadResult>")]
pub fn load(request: LoadRequest) -> AsyncTask<LoadTask> {
  AsyncTask::new(LoadTask(request.into()))
}

/// The same load answered from memory, on this thread, when nothing it would read has
/// changed on disk: `null` when the files must be read (`load`).
#[napi]
pub fn lookup(request: LoadRequest) -> Option<LoadResult> {
  let Parsed {
    env,
    options,
    detail,
    known,
  } = request.into();
  let options = match options {
    Ok(options) => options,
    Err(e) => return Some(LoadResult::failed(e)),
  };
  let shape = Shape {
    detail,
    known,
    paths: true,
  };
  guarded_lookup(|| {
    let engine = Engine::global();
    let key = engine.key(&options.profile, &env);
    (
      key,
      engine.lookup(key, options.window, options.force_refresh),
      shape,
    )
  })
}

/// `lookup` of a profile and environment a result named by `key` (the caller has checked
/// that neither changed): only numbers cross. `version` is the one the caller holds.
#[napi]
pub fn lookup_key(
  key: f64,
  version: f64,
  expiry_window: f64,
  advisory_window: f64,
) -> Option<LoadResult> {
  let window = match Window::from_secs_f64(expiry_window, advisory_window) {
    Ok(window) => window,
    Err(e) => return Some(LoadResult::failed(e)),
  };
  let shape = Shape {
    detail: false,
    known: (version >= 0.0).then_some(version as u64),
    paths: false,
  };
  guarded_lookup(|| {
    let key = key as u64;
    (key, Engine::global().lookup(key, window, false), shape)
  })
}

/// A lookup under the panic guard, its answer shaped.
fn guarded_lookup(f: impl FnOnce() -> (u64, sso_token_core::Lookup, Shape)) -> Option<LoadResult> {
  guarded(
    || {
      let (key, lookup, shape) = f();
      lookup.step.map(|step| LoadResult {
        changes: Some(lookup.changes as f64),
        key: Some(key as f64),
        ..LoadResult::step(step, shape)
      })
    },
    |e| Some(LoadResult::failed(e)),
  )
}

/// How many changes to files loads read were ever seen (the notifications polled now): the
/// same number as before means nothing changed.
#[napi]
pub fn changes() -> f64 {
  catch_unwind(|| Engine::global().changes() as f64).unwrap_or(f64::NAN)
}

/// Whether changes to files in `dir` would be seen: `watch`, or `none (<why>)`.
#[napi]
pub fn change_detection(dir: String) -> String {
  match Engine::global().change_detection(std::path::Path::new(&dir)) {
    Ok(()) => "watch".into(),
    Err(why) => format!("none ({why})"),
  }
}

/// The environment variable names a request carries values for, in order.
#[napi]
pub fn env_variables() -> Vec<&'static str> {
  sso_token_core::env::VARIABLES.to_vec()
}

/// The `code` and `name` of every error.
#[napi]
pub const ERROR_CODE: &str = sso_token_core::ERROR_CODE;

/// How a refresh of a cache file ended, for the instances of one realm that hold its token
/// and the calls waiting for it.
#[napi(object, object_from_js = false)]
pub struct SettledEvent {
  pub cache_path: String,
  /// The refresh's number, as a pending result named it.
  pub flight: f64,
  pub ok: bool,
  pub kind: Option<String>,
  pub message: Option<String>,
  /// The file's best token now (a new one, or the old one still valid).
  #[napi(ts_type = "string")]
  pub token: Option<JsToken>,
  pub expires_at: Option<f64>,
  pub version: Option<f64>,
  /// A new token came from the refresh.
  pub refreshed: bool,
  /// Why no new token came, when the old one is served.
  pub refresh_note: Option<String>,
  pub write_error: Option<String>,
}

impl SettledEvent {
  fn new(path: &std::path::Path, settled: &Settled) -> Self {
    let (ok, kind, message, token, expires_at, version) = match &settled.result {
      Ok((token, expires_at, version)) => (
        true,
        None,
        None,
        Some(JsToken(token.clone())),
        Some(millis(*expires_at)),
        Some(*version as f64),
      ),
      Err(e) => (
        false,
        Some(e.kind().to_string()),
        Some(e.to_string()),
        None,
        None,
        None,
      ),
    };
    SettledEvent {
      cache_path: path.display().to_string(),
      flight: settled.flight as f64,
      ok,
      kind,
      message,
      token,
      expires_at,
      version,
      refreshed: settled.refreshed,
      refresh_note: settled.note.as_ref().map(|n| n.to_string()),
      write_error: settled.write_error.clone(),
    }
  }
}

/// Unref'd: a refresh ahead of need that is still running never keeps Node alive (the JS
/// layer holds the event loop open itself while a call waits for one).
type Channel = ThreadsafeFunction<SettledEvent, (), SettledEvent, Status, false, true>;

static CHANNELS: Mutex<Vec<Channel>> = Mutex::new(Vec::new());

fn channels() -> std::sync::MutexGuard<'static, Vec<Channel>> {
  CHANNELS
    .lock()
    .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens this realm's channel: `callback` gets the outcome of every refresh in the process,
/// whichever load started it. Each realm (the main thread, each worker) opens its own, once,
/// on its first load.
#[napi]
pub fn open_channel(callback: Function<SettledEvent, ()>) -> Result<()> {
  static LISTENER: std::sync::Once = std::sync::Once::new();
  let channel = callback
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build()?;
  channels().push(channel);
  LISTENER.call_once(|| {
    Engine::global().on_settled(Box::new(|path, settled| {
      // A realm that has gone (a worker that ended) answers Closing: forget it.
      channels().retain(|c| {
        c.call(
          SettledEvent::new(path, settled),
          ThreadsafeFunctionCallMode::NonBlocking,
        ) != Status::Closing
      });
    }));
  });
  Ok(())
}

#[cfg(feature = "test-hooks")]
mod test_hooks {
  //! Built only for the tests (`cargo build --features test-hooks`), never shipped.

  use super::*;

  /// A task whose load panics on the worker thread, through the same guard as `load`.
  pub struct PanicTask;

  #[napi]
  impl Task for PanicTask {
    type Output = LoadResult;
    type JsValue = LoadResult;

    fn compute(&mut self) -> Result<Self::Output> {
      Ok(guarded(
        || -> LoadResult { panic!("provoked by a test") },
        LoadResult::failed,
      ))
    }

    fn resolve(&mut self, _env: napi::Env, output: Self::Output) -> Result<Self::JsValue> {
      Ok(output)
    }
  }

  /// Provokes a panic inside a worker-thread load (tests only).
  #[napi(js_name = "__panicOnWorkerForTests")]
  pub fn panic_on_worker_for_tests() -> AsyncTask<PanicTask> {
    AsyncTask::new(PanicTask)
  }
}
