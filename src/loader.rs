//! The loader threads: where a load's local stage runs instead of the libuv pool.
//!
//! A load is mostly a hand-off: a few microseconds of Rust between two thread wake-ups,
//! JS thread -> worker and back. On the libuv pool both wake-ups are futex and epoll
//! round trips, and on a virtual machine each costs tens of microseconds. A loader thread
//! that has just finished a job spins briefly before it parks, so the next job of a caller
//! awaiting loads back to back is picked up without a wake-up; the way back is one
//! threadsafe-function call per result (results that arrive together share one wake-up).
//! Parked, a loader costs nothing. A refresh still runs on the engine's refresh threads;
//! its result comes back the same way.
//!
//! Each JS realm (the main thread, each worker thread) opens its own channel back
//! (`loaderOpen`). The channel is unref'd, and ref'd while that realm has loads
//! outstanding: a pending load keeps Node alive, as libuv work does, and nothing else does.

use crate::{guarded, LoadResult};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sso_token_core::{Engine, Env as CoreEnv, Error as CoreError, LoadOptions, Step};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Loader threads in the process: enough to overlap the reads of concurrent loads on two
/// cores, few enough to stay out of the way.
const LOADER_THREADS: usize = 2;

/// How long a loader that finished a job looks for the next one before it parks: longer
/// than a JS caller takes to take a result and ask for the next load.
const SPIN_FOR: Duration = Duration::from_micros(200);

/// A finished load, for the realm that asked for it.
#[napi(object, object_from_js = false)]
pub struct Completed {
  /// The id the JS layer gave the load.
  pub id: f64,
  pub result: LoadResult,
}

/// The channel back to one realm: unref'd, ref'd while loads are outstanding.
type Channel = ThreadsafeFunction<Completed, (), Completed, Status, false, true>;

struct Realm {
  channel: Arc<Channel>,
  outstanding: usize,
}

thread_local! {
  /// The realm of this JS thread, once it has opened its channel.
  static REALM: RefCell<Option<Realm>> = const { RefCell::new(None) };
}

struct Job {
  id: f64,
  env: CoreEnv,
  options: std::result::Result<LoadOptions, CoreError>,
  detail: bool,
  channel: Arc<Channel>,
}

#[derive(Default)]
struct Queue {
  jobs: Mutex<VecDeque<Job>>,
  /// Jobs in `jobs`, read without the lock by spinning loaders.
  queued: AtomicUsize,
  /// Loaders waiting on `work`; changed with `jobs` locked. Only then is a wake-up sent.
  parked: AtomicUsize,
  work: Condvar,
}

/// The queue, with its loader threads started on first use; `None` when not one thread
/// could be started (the JS layer then uses the libuv pool).
fn queue() -> Option<&'static Queue> {
  static QUEUE: OnceLock<Option<&'static Queue>> = OnceLock::new();
  *QUEUE.get_or_init(|| {
    let queue: &'static Queue = Box::leak(Box::default());
    let started = (0..LOADER_THREADS)
      .take_while(|n| {
        std::thread::Builder::new()
          .name(format!("sso-token-load-{n}"))
          .spawn(move || run(queue))
          .is_ok()
      })
      .count();
    (started > 0).then_some(queue)
  })
}

fn run(queue: &'static Queue) {
  loop {
    let job = next_job(queue);
    let Job {
      id,
      env,
      options,
      detail,
      channel,
    } = job;
    let step = guarded(
      || match &options {
        Ok(options) => Engine::global().load(&env, options),
        Err(e) => Step::Done(Err(e.clone())),
      },
      |e| Step::Done(Err(e)),
    );
    // Guarded too: a loader thread must outlive any bug, or its callers would hang.
    let finish = move |result| {
      let result = guarded(|| LoadResult::new(result, detail), LoadResult::failed);
      send(&channel, id, result);
    };
    match step {
      Step::Done(result) => finish(result),
      Step::Pending(pending) => pending.on_done(finish),
    }
  }
}

/// The next job: spinning for [`SPIN_FOR`] after the last one, then parked.
fn next_job(queue: &Queue) -> Job {
  let spin_until = Instant::now() + SPIN_FOR;
  while Instant::now() < spin_until {
    if queue.queued.load(Ordering::Acquire) > 0 {
      if let Some(job) = take(queue) {
        return job;
      }
    }
    std::hint::spin_loop();
  }
  let mut jobs = queue.jobs.lock().unwrap_or_else(PoisonError::into_inner);
  loop {
    if let Some(job) = jobs.pop_front() {
      queue.queued.fetch_sub(1, Ordering::AcqRel);
      return job;
    }
    queue.parked.fetch_add(1, Ordering::AcqRel);
    jobs = queue
      .work
      .wait(jobs)
      .unwrap_or_else(PoisonError::into_inner);
    queue.parked.fetch_sub(1, Ordering::AcqRel);
  }
}

fn take(queue: &Queue) -> Option<Job> {
  let job = queue
    .jobs
    .lock()
    .unwrap_or_else(PoisonError::into_inner)
    .pop_front()?;
  queue.queued.fetch_sub(1, Ordering::AcqRel);
  Some(job)
}

fn send(channel: &Channel, id: f64, result: LoadResult) {
  // Closing: the realm has gone (a worker thread that ended); its result has no reader.
  let _ = channel.call(
    Completed { id, result },
    ThreadsafeFunctionCallMode::NonBlocking,
  );
}

/// Opens this realm's channel back: `callback` gets every finished load as `{ id, result }`.
/// `false` when there are no loader threads: then use `load`, on the libuv pool.
#[napi(catch_unwind)]
pub fn loader_open(callback: Function<Completed, ()>) -> Result<bool> {
  if queue().is_none() {
    return Ok(false);
  }
  let channel: Channel = callback
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build_callback(
      |ctx: napi::threadsafe_function::ThreadsafeCallContext<Completed>| {
        // On this realm's JS thread: one load fewer outstanding.
        REALM.with(|realm| {
          if let Some(realm) = realm.borrow_mut().as_mut() {
            realm.outstanding = realm.outstanding.saturating_sub(1);
            if realm.outstanding == 0 {
              // SAFETY: on the JS thread of the env that owns the channel, which is alive.
              unsafe {
                napi::sys::napi_unref_threadsafe_function(ctx.env.raw(), realm.channel.raw())
              };
            }
          }
        });
        Ok(ctx.value)
      },
    )?;
  REALM.with(|realm| {
    *realm.borrow_mut() = Some(Realm {
      channel: Arc::new(channel),
      outstanding: 0,
    })
  });
  Ok(true)
}

/// Queues a load; its result reaches the realm's callback with `id`. Arguments as
/// [`crate::load`].
#[allow(clippy::too_many_arguments)]
#[napi(catch_unwind)]
pub fn loader_submit(
  env: napi::Env,
  id: f64,
  profile: String,
  env_values: Option<Vec<Option<String>>>,
  expiry_window: f64,
  advisory_window: f64,
  force_refresh: bool,
  detail: bool,
) -> Result<()> {
  let channel = REALM.with(|realm| {
    let mut realm = realm.borrow_mut();
    let realm = realm
      .as_mut()
      .ok_or_else(|| napi::Error::from_reason("loaderOpen was not called in this realm"))?;
    if realm.outstanding == 0 {
      // SAFETY: on the JS thread of the env that owns the channel, which is alive.
      unsafe { napi::sys::napi_ref_threadsafe_function(env.raw(), realm.channel.raw()) };
    }
    realm.outstanding += 1;
    Ok::<_, napi::Error>(Arc::clone(&realm.channel))
  })?;
  let job = Job {
    id,
    env: crate::environment(env_values),
    options: crate::options(profile, expiry_window, advisory_window, force_refresh),
    detail,
    channel,
  };
  let Some(queue) = queue() else {
    return Err(napi::Error::from_reason("no loader threads"));
  };
  let mut jobs = queue.jobs.lock().unwrap_or_else(PoisonError::into_inner);
  jobs.push_back(job);
  queue.queued.fetch_add(1, Ordering::AcqRel);
  // A spinning loader takes the job without a wake-up, which is the point of spinning.
  let parked = queue.parked.load(Ordering::Acquire) > 0;
  drop(jobs);
  if parked {
    queue.work.notify_one();
  }
  Ok(())
}
