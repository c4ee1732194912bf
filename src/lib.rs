//! The napi binding: one load is one call from JavaScript and one result back.
//!
//! The load's local stage (config, cache file, decision) runs on the addon's loader
//! threads (`loader.rs`, the default) or as an `AsyncTask` on the libuv pool (`load`).
//! When it must wait for a refresh, the refresh runs on the engine's own threads and the
//! result follows when it lands (on the pool path, the task's promise resolves with a
//! second promise that the refresh settles): no network wait ever holds a loader or libuv
//! thread. Failures come back as data (`ok: false`) and `lib/native.js` turns them into
//! v2-shaped errors, so every error is built in one place.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sso_token_core::engine::panic_message;
use sso_token_core::{
  Engine, Env as CoreEnv, Error as CoreError, LoadOptions, Loaded, Pending, Refreshed, Secret,
  Step, Window,
};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod loader;

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

/// The outcome of one load, as handed to `lib/native.js`.
#[napi(object, object_from_js = false)]
pub struct LoadResult {
  pub ok: bool,
  /// The exact error message when `ok` is false.
  pub message: Option<String>,
  #[napi(ts_type = "string")]
  pub token: Option<JsToken>,
  /// Milliseconds since the epoch.
  pub expires_at: Option<f64>,
  pub cache_path: Option<String>,
  /// The config file the load read.
  pub config_path: Option<String>,
  /// What the `sso-token` command reports; only when asked for.
  pub detail: Option<LoadDetail>,
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

impl LoadResult {
  pub(crate) fn new(result: std::result::Result<Loaded, CoreError>, detail: bool) -> Self {
    match result {
      Ok(l) => LoadResult {
        ok: true,
        message: None,
        token: Some(JsToken(l.token)),
        expires_at: Some(l.expires_at.timestamp_millis() as f64),
        cache_path: Some(l.cache_path.display().to_string()),
        config_path: Some(l.config_path.display().to_string()),
        detail: detail.then(|| LoadDetail {
          session: l.source.session_name().map(str::to_string),
          start_url: l.source.start_url().to_string(),
          region: l.source.region().to_string(),
          refreshed: l.refreshed,
          refresh_note: l.refresh_note.map(|n| n.to_string()),
          write_error: l.write_error,
        }),
      },
      Err(e) => LoadResult::failed(e),
    }
  }

  pub(crate) fn failed(error: CoreError) -> Self {
    LoadResult {
      ok: false,
      message: Some(error.to_string()),
      token: None,
      expires_at: None,
      cache_path: None,
      config_path: None,
      detail: None,
    }
  }
}

/// Runs `f`, turning a panic into a failed load: a panic unwinding into Node would abort
/// it, and a provider bug must cost one load, not the process.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T, on_panic: impl FnOnce(CoreError) -> T) -> T {
  catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
    on_panic(CoreError::Internal {
      cause: panic_message(&*panic),
    })
  })
}

/// A JavaScript value made on the JS thread during `resolve`: here, the promise a
/// pending refresh settles. Valid for the handle scope `resolve` runs in, which is where
/// napi-rs turns it into the task's result.
pub struct RawValue(sys::napi_value);

impl TypeName for RawValue {
  fn type_name() -> &'static str {
    "Promise"
  }
  fn value_type() -> ValueType {
    ValueType::Object
  }
}

impl ToNapiValue for RawValue {
  unsafe fn to_napi_value(_env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
    Ok(value.0)
  }
}

/// One load's inputs, taken on the JS thread.
pub struct LoadTask {
  env: CoreEnv,
  options: std::result::Result<LoadOptions, CoreError>,
  detail: bool,
}

/// What the local stage hands to the JS thread: the result, built on the worker thread,
/// or the refresh to wait for.
pub enum Computed {
  Ready(LoadResult),
  Pending(Pending),
}

#[napi]
impl Task for LoadTask {
  type Output = Computed;
  type JsValue = Either<LoadResult, RawValue>;

  /// The local stage only: a refresh to wait for comes back as [`Computed::Pending`].
  fn compute(&mut self) -> Result<Self::Output> {
    let detail = self.detail;
    Ok(guarded(
      || match &self.options {
        Ok(options) => match Engine::global().load(&self.env, options) {
          Step::Done(result) => Computed::Ready(LoadResult::new(result, detail)),
          Step::Pending(pending) => Computed::Pending(pending),
        },
        Err(e) => Computed::Ready(LoadResult::failed(e.clone())),
      },
      |e| Computed::Ready(LoadResult::failed(e)),
    ))
  }

  fn resolve(&mut self, env: napi::Env, computed: Self::Output) -> Result<Self::JsValue> {
    let detail = self.detail;
    let pending = match computed {
      Computed::Ready(result) => return Ok(Either::A(result)),
      Computed::Pending(pending) => pending,
    };
    if let Some(result) = pending.ready() {
      return Ok(Either::A(LoadResult::new(result, detail)));
    }
    let (deferred, promise) = env.create_deferred()?;
    pending.on_done(move |result| {
      let result = guarded(|| LoadResult::new(result, detail), LoadResult::failed);
      deferred.resolve(move |_| Ok(result));
    });
    Ok(Either::B(RawValue(promise.raw())))
  }
}

/// The environment of a load: the values of `sso_token_core::env::VARIABLES`, in order, as
/// the calling JS realm sees them, or `null` for this process's own (read here, on the JS
/// thread, where Node's main thread writes `process.env`).
pub(crate) fn environment(values: Option<Vec<Option<String>>>) -> CoreEnv {
  values.map_or_else(CoreEnv::from_process, CoreEnv::from_values)
}

/// Loads `profile`'s token: one promise of a [`LoadResult`], never rejected for a load
/// problem. `env` is as [`environment`] takes it; the windows are in seconds; `detail`
/// adds what `sso-token` prints.
#[napi(catch_unwind, ts_return_type = "Promise<LoadResult>")]
pub fn load(
  profile: String,
  env: Option<Vec<Option<String>>>,
  expiry_window: f64,
  advisory_window: f64,
  force_refresh: bool,
  detail: bool,
) -> AsyncTask<LoadTask> {
  AsyncTask::new(LoadTask {
    env: environment(env),
    options: options(profile, expiry_window, advisory_window, force_refresh),
    detail,
  })
}

/// A load's options from what JS passes; the windows are checked here.
pub(crate) fn options(
  profile: String,
  expiry_window: f64,
  advisory_window: f64,
  force_refresh: bool,
) -> std::result::Result<LoadOptions, CoreError> {
  Window::from_secs_f64(expiry_window, advisory_window).map(|window| LoadOptions {
    profile,
    window,
    force_refresh,
  })
}

/// Whether this process's environment holds `name` = `value`: the JS layer sets a variable
/// in `process.env` and asks, to learn whether `process.env` is the process environment
/// (Node's main thread) or a copy (a worker thread, a test runner's sandbox).
#[napi]
pub fn process_env_has(name: String, value: String) -> bool {
  std::env::var(name).is_ok_and(|v| v == value)
}

/// The environment variable names `load` expects values for, in order.
#[napi]
pub fn env_variables() -> Vec<&'static str> {
  sso_token_core::env::VARIABLES.to_vec()
}

/// The message of a bug inside the provider, for failures the binding itself reports.
#[napi]
pub fn internal_error_message(cause: String) -> String {
  CoreError::Internal { cause }.to_string()
}

/// The `code` and `name` of every error.
#[napi]
pub const ERROR_CODE: &str = sso_token_core::ERROR_CODE;

/// At most one refresh attempt per cache file in this many seconds.
#[napi]
pub const REFRESH_THROTTLE_SECONDS: f64 =
  sso_token_core::decide::REFRESH_THROTTLE.num_seconds() as f64;

/// How a refresh of a cache file ended, for the JS layer's instances that hold its token.
#[napi(object, object_from_js = false)]
pub struct RefreshEvent {
  pub cache_path: String,
  /// The new token, when the refresh produced one.
  #[napi(ts_type = "string")]
  pub token: Option<JsToken>,
  /// Its expiry, in milliseconds since the epoch.
  pub expires_at: Option<f64>,
  /// Why it failed, when it did.
  pub cause: Option<String>,
}

/// Unref'd: a refresh ahead of need that is still running never keeps Node alive.
type RefreshListener = ThreadsafeFunction<RefreshEvent, (), RefreshEvent, Status, false, true>;

static REFRESH_LISTENERS: std::sync::Mutex<Vec<RefreshListener>> =
  std::sync::Mutex::new(Vec::new());

/// Calls `callback` with every refresh's outcome, whichever load started it (one per JS
/// realm: each worker thread that loads the addon registers its own).
#[napi(catch_unwind)]
pub fn on_refreshed(callback: Function<RefreshEvent, ()>) -> Result<()> {
  static ENGINE_LISTENER: std::sync::Once = std::sync::Once::new();
  let listener = callback
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build()?;
  lock_listeners().push(listener);
  ENGINE_LISTENER.call_once(|| {
    Engine::global().on_refreshed(Box::new(|path, refreshed| {
      let event = || {
        let (token, expires_at, cause) = match refreshed {
          Refreshed::Token { token, expires_at } => (
            Some(JsToken(token.clone())),
            Some(expires_at.timestamp_millis() as f64),
            None,
          ),
          Refreshed::Failed(cause) => (None, None, Some(cause.to_string())),
        };
        RefreshEvent {
          cache_path: path.display().to_string(),
          token,
          expires_at,
          cause,
        }
      };
      // A realm that has gone (a worker that ended) answers Closing: forget it.
      lock_listeners()
        .retain(|l| l.call(event(), ThreadsafeFunctionCallMode::NonBlocking) != Status::Closing);
    }));
  });
  Ok(())
}

fn lock_listeners() -> std::sync::MutexGuard<'static, Vec<RefreshListener>> {
  REFRESH_LISTENERS
    .lock()
    .unwrap_or_else(std::sync::PoisonError::into_inner)
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
