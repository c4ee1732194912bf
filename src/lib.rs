//! The napi binding: one load is one `AsyncTask` on the libuv thread pool, so the event
//! loop never waits on disk or network. Failures come back as data (`ok: false`) and the
//! JS layer turns them into v2-shaped errors, so every error is built in one place.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sso_token_core::oidc::UreqTransport;
use sso_token_core::provider::{Context, Coordinator, LoadOptions, Loaded, Step, SystemClock};
use sso_token_core::{Env, Error as CoreError};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The outcome of one load, as handed to `index.js`.
#[napi(object)]
pub struct LoadResult {
  pub ok: bool,
  /// The exact error message when `ok` is false.
  pub message: Option<String>,
  pub token: Option<String>,
  /// Milliseconds since the epoch.
  pub expires_at: Option<f64>,
  pub session: Option<String>,
  pub start_url: Option<String>,
  pub region: Option<String>,
  pub cache_path: Option<String>,
  pub refreshed: bool,
  pub refresh_note: Option<String>,
  pub write_error: Option<String>,
  /// A refresh is due: call `refreshToken` with the same arguments.
  pub needs_network: bool,
}

impl LoadResult {
  fn empty() -> Self {
    LoadResult {
      ok: false,
      message: None,
      token: None,
      expires_at: None,
      session: None,
      start_url: None,
      region: None,
      cache_path: None,
      refreshed: false,
      refresh_note: None,
      write_error: None,
      needs_network: false,
    }
  }

  fn from_core(result: std::result::Result<Loaded, CoreError>) -> Self {
    match result {
      Ok(l) => LoadResult {
        ok: true,
        token: Some(l.token.expose().to_string()),
        expires_at: Some(l.expires_at.timestamp_millis() as f64),
        session: l.source.session_name().map(str::to_string),
        start_url: Some(l.source.start_url().to_string()),
        region: Some(l.source.region().to_string()),
        cache_path: Some(l.cache_path.display().to_string()),
        refreshed: l.refreshed,
        refresh_note: l.refresh_note,
        write_error: l.write_error,
        ..LoadResult::empty()
      },
      Err(e) => LoadResult {
        message: Some(e.to_string()),
        ..LoadResult::empty()
      },
    }
  }
}

/// Runs `f`, turning a panic into a failed load (`on_panic`): a panic unwinding into libuv
/// would abort Node, and a provider bug must cost one load, not the process.
fn guarded<T>(f: impl FnOnce() -> T, on_panic: impl FnOnce(CoreError) -> T) -> T {
  catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| on_panic(panic_error(panic)))
}

fn panic_error(panic: Box<dyn std::any::Any + Send>) -> CoreError {
  let cause = panic
    .downcast_ref::<&str>()
    .map(|s| s.to_string())
    .or_else(|| panic.downcast_ref::<String>().cloned())
    .unwrap_or_else(|| "panic".into());
  CoreError::Internal { cause }
}

/// One load's inputs, taken on the JS thread.
pub struct LoadTask {
  env: Env,
  options: LoadOptions,
}

impl LoadTask {
  fn new(
    profile: String,
    env: Vec<Option<String>>,
    expiry_window_ms: f64,
    force_refresh: bool,
  ) -> Self {
    let window_ms = if expiry_window_ms.is_finite() {
      expiry_window_ms as i64
    } else {
      0
    };
    LoadTask {
      env: Env::from_values(env),
      options: LoadOptions {
        profile,
        expiry_window: sso_token_core::chrono::Duration::milliseconds(window_ms),
        force_refresh,
      },
    }
  }

  fn with_context<T>(&self, f: impl FnOnce(&Context) -> T) -> T {
    static TRANSPORT: UreqTransport = UreqTransport;
    f(&Context {
      env: &self.env,
      clock: &SystemClock,
      transport: &TRANSPORT,
      coordinator: Coordinator::global(),
    })
  }
}

impl Task for LoadTask {
  type Output = LoadResult;
  type JsValue = LoadResult;

  /// Local work only: a refresh that would wait on the network, another load or another
  /// process comes back as `needsNetwork`, so no libuv thread ever waits on those.
  fn compute(&mut self) -> Result<Self::Output> {
    let step = guarded(
      || self.with_context(|ctx| ctx.load_local(&self.options)),
      |e| Step::Done(Err(e)),
    );
    Ok(match step {
      Step::Done(result) => LoadResult::from_core(result),
      Step::NeedsNetwork { cache_path } => LoadResult {
        needs_network: true,
        cache_path: Some(cache_path.display().to_string()),
        ..LoadResult::empty()
      },
    })
  }

  fn resolve(&mut self, _env: napi::Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output)
  }
}

/// Loads `profile`'s token on the libuv pool, without waiting on the network: when a
/// refresh is due the result has `needsNetwork` and the caller goes on with `refreshToken`.
/// `env` holds the values of `sso_token_core::env::VARIABLES`, in order, as the calling JS
/// realm sees them.
#[napi]
pub fn load_token(
  profile: String,
  env: Vec<Option<String>>,
  expiry_window_ms: f64,
  force_refresh: bool,
) -> AsyncTask<LoadTask> {
  AsyncTask::new(LoadTask::new(profile, env, expiry_window_ms, force_refresh))
}

/// The whole load, refresh included, on a thread of its own: it may wait up to the
/// refresh timeout on the network and on other refreshes of the same file, which must not
/// hold a libuv pool thread. Refreshes are rare (at most one attempt per file per 30 s), so
/// a thread per call costs nothing that matters; `lib/native.js` shares one call per file.
#[napi(ts_return_type = "Promise<LoadResult>")]
pub fn refresh_token(
  env: &napi::Env,
  profile: String,
  env_values: Vec<Option<String>>,
  expiry_window_ms: f64,
  force_refresh: bool,
) -> Result<Object<'_>> {
  let (deferred, promise) = env.create_deferred()?;
  let task = LoadTask::new(profile, env_values, expiry_window_ms, force_refresh);
  let spawned = std::thread::Builder::new()
    .name("sso-token-refresh".into())
    .spawn(move || {
      let result = guarded(|| task.with_context(|ctx| ctx.load(&task.options)), Err);
      deferred.resolve(move |_| Ok(LoadResult::from_core(result)));
    });
  if let Err(e) = spawned {
    return Err(napi::Error::from_reason(format!(
      "could not start a refresh thread: {e}"
    )));
  }
  Ok(promise)
}

/// The environment variable names `loadToken` expects values for, in order.
#[napi]
pub fn env_variables() -> Vec<&'static str> {
  sso_token_core::env::VARIABLES.to_vec()
}

/// The `code` and `name` of every error.
#[napi]
pub const ERROR_CODE: &str = sso_token_core::ERROR_CODE;

/// A task whose load panics on the worker thread, through the same guard as `loadToken`:
/// the tests use it to prove a panic becomes a failed load and Node lives on.
pub struct PanicTask;

impl Task for PanicTask {
  type Output = LoadResult;
  type JsValue = LoadResult;

  fn compute(&mut self) -> Result<Self::Output> {
    Ok(LoadResult::from_core(guarded(
      || panic!("provoked by a test"),
      Err,
    )))
  }

  fn resolve(&mut self, _env: napi::Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output)
  }
}

/// Not part of the API: provokes a panic inside a worker-thread load (tests only).
#[napi(js_name = "__panicOnWorkerForTests")]
pub fn panic_on_worker_for_tests() -> AsyncTask<PanicTask> {
  AsyncTask::new(PanicTask)
}
