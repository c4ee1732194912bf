//! The network thread: one tokio runtime (current-thread) on one thread of its own, where
//! every refresh and every request runs as a task. Waiting on a server, a lock or a backoff
//! holds no thread, so a slow or silent endpoint delays nothing but its own refresh; the
//! file writes (each with an fsync) go to the runtime's blocking pool, at most
//! [`MAX_BLOCKING_THREADS`] threads that end after [`IDLE_EXIT`] without work. Name lookups
//! use that pool too.
//!
//! Started on the first refresh, never at `require`. At most [`refreshes_in_flight`]
//! refreshes hold a connection and a lock file at once (two descriptors each); further ones
//! wait their turn, so a process's open files stay bounded however many sessions are due
//! together.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Threads the runtime may start for blocking work (writes, name lookups).
pub const MAX_BLOCKING_THREADS: usize = 8;

/// How long such a thread waits for work before it ends.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Refreshes that may hold a connection and a lock file at once, at most.
pub const MAX_REFRESHES_IN_FLIGHT: usize = 512;

/// Refreshes that may hold a connection and a lock file at once in this process:
/// [`MAX_REFRESHES_IN_FLIGHT`], or an eighth of the open-file limit when that is lower, so
/// that refreshes never take more than a quarter of the descriptors a process may open.
pub fn refreshes_in_flight() -> usize {
  #[cfg(unix)]
  {
    let mut limit = libc::rlimit {
      rlim_cur: 0,
      rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
      let share = usize::try_from(limit.rlim_cur / 8).unwrap_or(usize::MAX);
      return share.clamp(1, MAX_REFRESHES_IN_FLIGHT);
    }
  }
  MAX_REFRESHES_IN_FLIGHT
}

struct Net {
  handle: Handle,
  refreshes: Semaphore,
}

/// The runtime, started on first use; `None` when its thread could not be started.
fn net() -> Option<&'static Net> {
  static NET: OnceLock<Option<Net>> = OnceLock::new();
  NET
    .get_or_init(|| {
      let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_keep_alive(IDLE_EXIT)
        .thread_name("sso-token-io")
        .build()
        .ok()?;
      let handle = runtime.handle().clone();
      std::thread::Builder::new()
        .name("sso-token-net".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .ok()?;
      Some(Net {
        handle,
        refreshes: Semaphore::new(refreshes_in_flight()),
      })
    })
    .as_ref()
}

/// Runs `future` as a refresh on the network thread: it waits for one of the
/// [`refreshes_in_flight`] places first. Without a network thread (none could be
/// started) it runs to its end on the calling thread: late rather than never.
pub fn spawn_refresh(future: impl Future<Output = ()> + Send + 'static) {
  match net() {
    Some(net) => {
      net.handle.spawn(async move {
        // The semaphore is never closed.
        let _place = net.refreshes.acquire().await;
        future.await;
      });
    }
    None => {
      // Not even a runtime for this thread: the future is dropped, and whoever waits on
      // it hears of that from its own guard.
      let _ = block_on(future);
    }
  }
}

/// Runs `future` as a refresh (see [`spawn_refresh`]) once `delay` has passed; the wait
/// holds no place.
pub fn spawn_refresh_after(delay: Duration, future: impl Future<Output = ()> + Send + 'static) {
  match net() {
    Some(net) => {
      net.handle.spawn(async move {
        tokio::time::sleep(delay).await;
        spawn_refresh(future);
      });
    }
    // Without a network thread nothing waits for the delay: the call is dropped, and the
    // refresh happens when a load next asks for one.
    None => drop(future),
  }
}

/// Runs `future` as a task of its own on the network thread, outside the refresh places: a
/// sign-in (docs/behaviour.md §10) waits on a person for minutes and must not hold one.
/// `None` when there is no network thread. Dropping the handle leaves the task running;
/// aborting it drops the future at its next await.
pub fn spawn_task<T: Send + 'static>(
  future: impl Future<Output = T> + Send + 'static,
) -> Option<tokio::task::JoinHandle<T>> {
  net().map(|net| net.handle.spawn(future))
}

/// Runs `future` to its end on the calling thread, with a runtime of its own (the
/// `sso-token` command's sign-in, tests). Never call it on the network thread. Fails only
/// when the operating system refuses the runtime's own descriptors.
pub fn block_on<T>(future: impl Future<Output = T>) -> std::io::Result<T> {
  Ok(
    tokio::runtime::Builder::new_current_thread()
      .enable_io()
      .enable_time()
      .max_blocking_threads(MAX_BLOCKING_THREADS)
      .build()?
      .block_on(future),
  )
}
