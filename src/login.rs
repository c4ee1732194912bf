//! The binding of the sign-in and sign-out (docs/behaviour.md §10), thin over
//! `sso_token_core::login`:
//!
//! - `login(request, onEvent)`: one task on the network thread; its promise is settled from
//!   there (a deferred, which holds the event loop open until then), and the prompt reaches
//!   JS through `onEvent`, a threadsafe function that does not hold the loop itself;
//! - `cancelLogin(id)`: drops that task's future (its listener closes, nothing is written);
//! - `logout(request)`: the same for the sign-out, which is not cancelled.
//!
//! As for loads, failures come back as data (`ok: false`, `kind`, `message`), never as a
//! rejection, and no panic crosses into Node.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::JsDeferred;
use napi_derive::napi;
use sso_token_core::engine::panic_message;
use sso_token_core::login::{
  self, LoggedIn, LoggedOut, LoginError, LoginOptions, LogoutOptions, Prompt, Running,
};
use sso_token_core::Env as CoreEnv;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One sign-in, as the JS layer asks for it.
#[napi(object, object_to_js = false)]
pub struct LoginRequest {
  /// From `newLoginId()`: what `cancelLogin` names it by.
  pub id: u32,
  pub profile: String,
  /// The values of `envVariables()`, in that order; `null` for unset.
  pub env: Vec<Option<String>>,
  pub use_device_code: bool,
  pub timeout_ms: f64,
}

/// The prompt: what the user must open (and, for the device flow, type).
#[napi(object, object_from_js = false)]
pub struct LoginEvent {
  /// `prompt`.
  #[napi(js_name = "type")]
  pub kind: String,
  /// `authorization_code` or `device_code`.
  pub flow: String,
  pub verification_uri: String,
  pub verification_uri_complete: String,
  pub user_code: Option<String>,
  pub authorize_url: Option<String>,
}

/// How a sign-in ended. Never a token.
#[napi(object, object_from_js = false)]
pub struct LoginResult {
  pub ok: bool,
  pub kind: Option<String>,
  pub message: Option<String>,
  /// Milliseconds since the epoch.
  pub expires_at: Option<f64>,
  pub start_url: Option<String>,
  pub cache_path: Option<String>,
  pub flow: Option<String>,
  /// A new client registration was made (else the cached one was used).
  pub registered: Option<bool>,
  pub warnings: Vec<String>,
}

impl LoginResult {
  fn of(outcome: std::result::Result<LoggedIn, LoginError>) -> Self {
    match outcome {
      Ok(done) => LoginResult {
        ok: true,
        kind: None,
        message: None,
        expires_at: Some(done.expires_at.timestamp_millis() as f64),
        start_url: Some(done.start_url),
        cache_path: Some(done.cache_path.display().to_string()),
        flow: Some(done.flow.name().to_string()),
        registered: Some(done.registered),
        warnings: done.warnings,
      },
      Err(e) => LoginResult {
        ok: false,
        kind: Some(e.kind().to_string()),
        message: Some(e.to_string()),
        expires_at: None,
        start_url: None,
        cache_path: None,
        flow: None,
        registered: None,
        warnings: Vec::new(),
      },
    }
  }
}

/// One sign-out.
#[napi(object, object_to_js = false)]
pub struct LogoutRequest {
  /// Only this profile's token file; every token file when absent.
  pub profile: Option<String>,
  pub env: Vec<Option<String>>,
}

/// How a sign-out ended.
#[napi(object, object_from_js = false)]
pub struct LogoutResult {
  pub ok: bool,
  pub kind: Option<String>,
  pub message: Option<String>,
  /// The files removed.
  pub removed: Vec<String>,
  pub warnings: Vec<String>,
}

impl LogoutResult {
  fn of(outcome: std::result::Result<LoggedOut, LoginError>) -> Self {
    match outcome {
      Ok(done) => LogoutResult {
        ok: true,
        kind: None,
        message: None,
        removed: done
          .removed
          .iter()
          .map(|p| p.display().to_string())
          .collect(),
        warnings: done.warnings,
      },
      Err(e) => LogoutResult {
        ok: false,
        kind: Some(e.kind().to_string()),
        message: Some(e.to_string()),
        removed: Vec::new(),
        warnings: Vec::new(),
      },
    }
  }
}

/// `of(outcome)`, a panic in it reported as the bug it is: it runs on the network thread,
/// where a panic must not end the task without settling the promise.
fn shaped<T, R>(
  outcome: std::result::Result<T, LoginError>,
  of: fn(std::result::Result<T, LoginError>) -> R,
) -> R {
  catch_unwind(AssertUnwindSafe(|| of(outcome)))
    .unwrap_or_else(|panic| of(Err(LoginError::Internal(panic_message(&*panic)))))
}

/// The error a panic while starting becomes, thrown to the JS layer, which words it as the
/// bug it is (lib/native.js `internalError`).
fn bug(panic: Box<dyn std::any::Any + Send>) -> Error {
  Error::from_reason(panic_message(&*panic))
}

type Resolver<T> = Box<dyn FnOnce(napi::Env) -> Result<T> + Send>;

/// Settles `deferred` with `value` on the JS thread.
fn settle<T: ToNapiValue + Send + 'static>(deferred: JsDeferred<T, Resolver<T>>, value: T) {
  deferred.resolve(Box::new(move |_env| Ok(value)));
}

/// Sign-ins under way, by id; a slot is filled once its task has been started.
type Slot = Arc<Mutex<Option<Running>>>;
static RUNNING: Mutex<Option<HashMap<u32, Slot>>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A number no other sign-in of this process has, whichever realm asks.
#[napi]
pub fn new_login_id() -> u32 {
  static NEXT: AtomicU32 = AtomicU32::new(1);
  NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Starts a sign-in; the promise resolves with a [`LoginResult`] once it has ended.
#[napi(ts_return_type = "Promise<LoginResult>")]
pub fn login<'env>(
  env: &'env napi::Env,
  request: LoginRequest,
  on_event: Function<'env, LoginEvent, ()>,
) -> Result<Object<'env>> {
  let (deferred, promise) = env.create_deferred::<LoginResult, Resolver<LoginResult>>()?;
  let events = on_event
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build()?;
  let id = request.id;
  let options = LoginOptions::timeout_from_millis(request.timeout_ms).map(|timeout| LoginOptions {
    profile: request.profile,
    use_device_code: request.use_device_code,
    timeout,
  });
  let options = match options {
    Ok(options) => options,
    Err(e) => {
      settle(deferred, LoginResult::of(Err(e)));
      return Ok(promise);
    }
  };
  let on_prompt = move |p: &Prompt| {
    let event = LoginEvent {
      kind: "prompt".into(),
      flow: p.flow.name().into(),
      verification_uri: p.verification_uri.clone(),
      verification_uri_complete: p.verification_uri_complete.clone(),
      user_code: p.user_code.clone(),
      authorize_url: p.authorize_url.clone(),
    };
    // A realm that has gone (a worker that ended) cannot hear it; the sign-in goes on.
    let _ = events.call(event, ThreadsafeFunctionCallMode::NonBlocking);
  };
  let on_done = move |outcome| {
    let result = shaped(outcome, LoginResult::of);
    if let Some(map) = lock(&RUNNING).as_mut() {
      map.remove(&id);
    }
    settle(deferred, result);
  };
  // The slot is in the map before the task can end, so that its end always finds it; no
  // lock is held while the task starts (it may end at once, on this thread).
  let slot: Slot = Arc::default();
  lock(&RUNNING)
    .get_or_insert_with(HashMap::new)
    .insert(id, Arc::clone(&slot));
  let started = catch_unwind(AssertUnwindSafe(|| {
    login::start(
      options,
      CoreEnv::from_values(request.env),
      on_prompt,
      on_done,
    )
  }));
  match started {
    Ok(task) => *lock(&slot) = Some(task),
    Err(panic) => {
      if let Some(map) = lock(&RUNNING).as_mut() {
        map.remove(&id);
      }
      return Err(bug(panic));
    }
  }
  Ok(promise)
}

/// Cancels the sign-in `id`: it ends with `LoginAborted`. False when none is under way.
#[napi]
pub fn cancel_login(id: u32) -> bool {
  let slot = lock(&RUNNING).as_mut().and_then(|map| map.remove(&id));
  match slot {
    Some(slot) => {
      if let Some(task) = lock(&slot).as_ref() {
        task.cancel();
      }
      true
    }
    None => false,
  }
}

/// Signs out; the promise resolves with a [`LogoutResult`].
#[napi(ts_return_type = "Promise<LogoutResult>")]
pub fn logout<'env>(env: &'env napi::Env, request: LogoutRequest) -> Result<Object<'env>> {
  let (deferred, promise) = env.create_deferred::<LogoutResult, Resolver<LogoutResult>>()?;
  let options = LogoutOptions {
    profile: request.profile,
  };
  let on_done = move |outcome| settle(deferred, shaped(outcome, LogoutResult::of));
  catch_unwind(AssertUnwindSafe(|| {
    // Nothing cancels a sign-out: its handle is not kept.
    drop(login::start_logout(
      options,
      CoreEnv::from_values(request.env),
      on_done,
    ));
  }))
  .map_err(bug)?;
  Ok(promise)
}
