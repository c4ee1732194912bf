//! The napi binding: one load is one `AsyncTask` on the libuv thread pool, so the event
//! loop never waits on disk or network. Failures come back as data (`ok: false`) and the
//! JS layer turns them into v2-shaped errors, so every error is built in one place.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sso_token_core::oidc::UreqTransport;
use sso_token_core::provider::{Context, Coordinator, LoadOptions, Loaded, SystemClock};
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
}

impl LoadResult {
  fn from_core(result: std::result::Result<Loaded, CoreError>) -> Self {
    match result {
      Ok(l) => LoadResult {
        ok: true,
        message: None,
        token: Some(l.token.expose().to_string()),
        expires_at: Some(l.expires_at.timestamp_millis() as f64),
        session: l.source.session_name().map(str::to_string),
        start_url: Some(l.source.start_url().to_string()),
        region: Some(l.source.region().to_string()),
        cache_path: Some(l.cache_path.display().to_string()),
        refreshed: l.refreshed,
        refresh_note: l.refresh_note,
        write_error: l.write_error,
      },
      Err(e) => LoadResult {
        ok: false,
        message: Some(e.to_string()),
        token: None,
        expires_at: None,
        session: None,
        start_url: None,
        region: None,
        cache_path: None,
        refreshed: false,
        refresh_note: None,
        write_error: None,
      },
    }
  }
}

/// Runs `f`, turning a panic into a failed load: a panic unwinding into libuv would abort
/// Node, and a provider bug must cost one load, not the process.
fn guarded(
  f: impl FnOnce() -> std::result::Result<Loaded, CoreError>,
) -> std::result::Result<Loaded, CoreError> {
  catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
    let cause = panic
      .downcast_ref::<&str>()
      .map(|s| s.to_string())
      .or_else(|| panic.downcast_ref::<String>().cloned())
      .unwrap_or_else(|| "panic".into());
    Err(CoreError::Internal { cause })
  })
}

pub struct LoadTask {
  env: Env,
  options: LoadOptions,
}

impl Task for LoadTask {
  type Output = LoadResult;
  type JsValue = LoadResult;

  fn compute(&mut self) -> Result<Self::Output> {
    static TRANSPORT: UreqTransport = UreqTransport;
    let ctx = Context {
      env: &self.env,
      clock: &SystemClock,
      transport: &TRANSPORT,
      coordinator: Coordinator::global(),
    };
    let result = guarded(|| ctx.load(&self.options));
    Ok(LoadResult::from_core(result))
  }

  fn resolve(&mut self, _env: napi::Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output)
  }
}

/// Loads `profile`'s token on the libuv pool. `env` holds the values of
/// `sso_token_core::env::VARIABLES`, in order, as the calling JS realm sees them.
#[napi]
pub fn load_token(
  profile: String,
  env: Vec<Option<String>>,
  expiry_window_ms: f64,
  force_refresh: bool,
) -> AsyncTask<LoadTask> {
  let window_ms = if expiry_window_ms.is_finite() {
    expiry_window_ms as i64
  } else {
    0
  };
  AsyncTask::new(LoadTask {
    env: Env::from_values(env),
    options: LoadOptions {
      profile,
      expiry_window: sso_token_core::chrono::Duration::milliseconds(window_ms),
      force_refresh,
    },
  })
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
    Ok(LoadResult::from_core(guarded(|| {
      panic!("provoked by a test")
    })))
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
