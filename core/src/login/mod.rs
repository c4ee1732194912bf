//! Signing in and out without the AWS CLI (docs/behaviour.md §10): the AWS CLI v2's
//! `aws sso login` and `aws sso logout`, writing and reading the very files the CLI does,
//! so that a registration or a token made by either tool is used by the other, and by the
//! SDKs and this crate's own provider.
//!
//! - [`plan`]: the options, and the profile's flow, endpoint and files.
//! - [`registration`]: the registration cache (key, reuse, layout); [`store`]: the token
//!   file and the writes; `json`: Python's `json.dumps`, which both files are written in.
//! - [`pkce`]: verifier, challenge, state, the authorize URL; [`listener`]: the loopback
//!   callback; [`device`]: polling the device flow; [`calls`]: the SSO OIDC calls.
//! - `flow`: one sign-in; [`logout`]: the sign-out.
//!
//! A sign-in or sign-out runs as one task on the network thread ([`start`],
//! [`start_logout`]), holding no thread while it waits for the user, and can be cancelled:
//! its future is dropped, which closes the listener, and nothing is written before the
//! whole exchange has succeeded.

pub mod calls;
pub mod device;
pub mod error;
mod flow;
mod json;
pub mod listener;
pub mod logout;
pub mod pkce;
pub mod plan;
pub mod registration;
pub mod store;

pub use error::LoginError;
pub use flow::{login, LoggedIn, Prompt};
pub use logout::{logout, LoggedOut, LogoutOptions};
pub use plan::LoginOptions;
pub use registration::Flow;

use crate::clock::SystemClock;
use crate::engine::panic_message;
use crate::env::Env;
use crate::oidc::policy::PRODUCTION;
use crate::runtime;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use tokio::sync::oneshot;

/// A sign-in or sign-out under way; [`Running::cancel`] ends it.
#[derive(Debug)]
pub struct Running {
  cancel: Mutex<Option<oneshot::Sender<()>>>,
}

impl Running {
  /// Drops the task's future (the listener closes, nothing is written) and makes it end
  /// with [`LoginError::Aborted`]; nothing if it has ended already.
  pub fn cancel(&self) {
    if let Some(cancel) = self
      .cancel
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .take()
    {
      let _ = cancel.send(());
    }
  }
}

type Done<T> = Box<dyn FnOnce(Result<T, LoginError>) + Send>;

/// Runs `work` as a task on the network thread and hands its outcome to `on_done`, exactly
/// once: the result, [`LoginError::Aborted`] after [`Running::cancel`], or
/// [`LoginError::Internal`] when it panicked or no network thread could be started.
fn spawn<T: Send + 'static>(
  work: impl Future<Output = Result<T, LoginError>> + Send + 'static,
  on_done: Done<T>,
) -> Running {
  let (cancel, mut cancelled) = oneshot::channel::<()>();
  let done = Arc::new(Mutex::new(Some(on_done)));
  let finish = {
    let done = Arc::clone(&done);
    move |outcome| {
      let on_done = done.lock().unwrap_or_else(PoisonError::into_inner).take();
      if let Some(on_done) = on_done {
        on_done(outcome);
      }
    }
  };
  let task = async move {
    let outcome = {
      let mut work = pin!(work);
      let mut listening = true;
      poll_fn(|cx| {
        if listening {
          match std::pin::Pin::new(&mut cancelled).poll(cx) {
            Poll::Ready(Ok(())) => return Poll::Ready(Err(LoginError::Aborted)),
            // The handle was dropped: no cancel can come any more.
            Poll::Ready(Err(_)) => listening = false,
            Poll::Pending => {}
          }
        }
        catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx)))
          .unwrap_or_else(|panic| Poll::Ready(Err(LoginError::Internal(panic_message(&*panic)))))
      })
      .await
      // The work (its listener, its connections) is dropped here, before anyone hears.
    };
    finish(outcome);
  };
  if runtime::spawn_task(task).is_none() {
    let on_done = done.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(on_done) = on_done {
      on_done(Err(LoginError::Internal(
        "the network thread could not be started".into(),
      )));
    }
  }
  Running {
    cancel: Mutex::new(Some(cancel)),
  }
}

/// Starts a sign-in of `options.profile` on the network thread. `on_prompt` is called (on
/// that thread) when the user must act; `on_done` once, with the outcome.
pub fn start(
  options: LoginOptions,
  env: Env,
  on_prompt: impl Fn(&Prompt) + Send + Sync + 'static,
  on_done: impl FnOnce(Result<LoggedIn, LoginError>) + Send + 'static,
) -> Running {
  spawn(
    async move { login(options, env, &SystemClock, PRODUCTION, &on_prompt).await },
    Box::new(on_done),
  )
}

/// Starts a sign-out on the network thread; `on_done` is called once, with the outcome.
pub fn start_logout(
  options: LogoutOptions,
  env: Env,
  on_done: impl FnOnce(Result<LoggedOut, LoginError>) + Send + 'static,
) -> Running {
  spawn(
    async move { logout(options, env, PRODUCTION).await },
    Box::new(on_done),
  )
}

/// File work on the runtime's blocking pool, off the network thread.
async fn blocking<T: Send + 'static>(
  work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LoginError> {
  tokio::task::spawn_blocking(work)
    .await
    .map_err(|_| LoginError::Internal("a file task did not run".into()))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
