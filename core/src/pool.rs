//! A small, bounded set of threads for refreshes. A refresh may wait up to the lock wait
//! and the CreateToken retries (about a minute in the worst case), so it never runs on the
//! libuv pool; threads start on demand, at most [`MAX_REFRESH_THREADS`] of them, and end
//! after [`IDLE_EXIT`] without work, so an idle process holds none.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The most threads that refresh at once in a process; further refreshes queue.
pub const MAX_REFRESH_THREADS: usize = 8;

/// How long a refresh thread waits for work before it ends.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

/// One unit of work. It must not panic: the engine wraps every job in its own guard, so
/// that whoever waits on it hears back.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The threads and their queue.
#[derive(Default)]
pub struct Pool {
  shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
  state: Mutex<State>,
  work: Condvar,
}

#[derive(Default)]
struct State {
  jobs: VecDeque<Job>,
  threads: usize,
  idle: usize,
}

impl Pool {
  /// Queues `job`, starting a thread for it when none is idle and the bound allows. When
  /// no thread can be started and none is running, the queued jobs are handed back for the
  /// caller to run itself: late is better than never.
  pub fn submit(&self, job: Job) -> Result<(), Vec<Job>> {
    let mut state = self.lock();
    state.jobs.push_back(job);
    // An idle thread counts until it wakes and takes a job: only as many queued jobs as
    // there are idle threads are theirs; one more needs a thread of its own.
    if state.jobs.len() <= state.idle || state.threads >= MAX_REFRESH_THREADS {
      drop(state);
      self.shared.work.notify_one();
      return Ok(());
    }
    state.threads += 1;
    drop(state);
    let shared = Arc::clone(&self.shared);
    let spawned = std::thread::Builder::new()
      .name("sso-token-refresh".into())
      .spawn(move || work(&shared));
    if spawned.is_ok() {
      return Ok(());
    }
    let mut state = self.lock();
    state.threads -= 1;
    if state.threads > 0 {
      return Ok(());
    }
    Err(state.jobs.drain(..).collect())
  }

  /// Threads alive now (for tests and diagnostics).
  pub fn threads(&self) -> usize {
    self.lock().threads
  }

  fn lock(&self) -> std::sync::MutexGuard<'_, State> {
    self
      .shared
      .state
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
  }
}

fn work(shared: &Shared) {
  let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
  loop {
    if let Some(job) = state.jobs.pop_front() {
      drop(state);
      job();
      state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
      continue;
    }
    state.idle += 1;
    let (next, timeout) = shared
      .work
      .wait_timeout(state, IDLE_EXIT)
      .unwrap_or_else(PoisonError::into_inner);
    state = next;
    state.idle -= 1;
    if timeout.timed_out() && state.jobs.is_empty() {
      state.threads -= 1;
      return;
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::atomic::{AtomicUsize, Ordering};
  use std::sync::mpsc;

  #[test]
  fn jobs_beyond_the_bound_queue_and_all_run() {
    let pool = Pool::default();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (done, finished) = mpsc::channel();
    for _ in 0..40 {
      let (running, most, done) = (running.clone(), most.clone(), done.clone());
      pool
        .submit(Box::new(move || {
          let now = running.fetch_add(1, Ordering::SeqCst) + 1;
          most.fetch_max(now, Ordering::SeqCst);
          std::thread::sleep(Duration::from_millis(20));
          running.fetch_sub(1, Ordering::SeqCst);
          done.send(()).unwrap();
        }))
        .map_err(|_| "refused")
        .unwrap();
    }
    for _ in 0..40 {
      finished.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    assert!(most.load(Ordering::SeqCst) <= MAX_REFRESH_THREADS);
    assert!(pool.threads() <= MAX_REFRESH_THREADS);
  }

  #[test]
  fn jobs_submitted_together_do_not_queue_behind_one_idle_thread() {
    // Two refreshes of different files, submitted while one thread sits idle: each must
    // get a thread, or a slow CreateToken for one session would delay the other.
    let pool = Pool::default();
    let (done, finished) = mpsc::channel();
    pool
      .submit(Box::new(move || done.send(()).unwrap()))
      .map_err(|_| "refused")
      .unwrap();
    finished.recv_timeout(Duration::from_secs(5)).unwrap();
    while pool.lock().idle == 0 {
      std::thread::sleep(Duration::from_millis(1));
    }
    let both = Arc::new(std::sync::Barrier::new(2));
    let (met, meetings) = mpsc::channel();
    for _ in 0..2 {
      let (both, met) = (Arc::clone(&both), met.clone());
      pool
        .submit(Box::new(move || {
          // Each waits for the other: only two threads running at once get past this.
          both.wait();
          met.send(()).unwrap();
        }))
        .map_err(|_| "refused")
        .unwrap();
    }
    for _ in 0..2 {
      meetings
        .recv_timeout(Duration::from_secs(5))
        .expect("the second job waited for the first");
    }
  }
}
