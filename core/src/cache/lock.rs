//! A lock file beside the cache file, held while one process refreshes.
//!
//! `File::try_lock` on `<cache>.lock` (`flock(2)` on Unix, `LockFileEx` on Windows): the
//! operating system drops the lock when its holder dies, so a lock left by a killed
//! process is taken over at once, with no staleness guess.
//!
//! On Unix the file is unlinked on release; a waiter that locked a file just unlinked by
//! its holder notices (the path no longer names its inode) and tries again on the new one.
//! On Windows a file that other processes hold open cannot be removed reliably, so the
//! (empty) lock file stays in place and is reused by the next refresh.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// How often a waiter retries a held lock.
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A held lock; released (and, on Unix, its file removed) on drop.
#[derive(Debug)]
pub struct FileLock {
  /// Removed on release (Unix only).
  #[cfg(unix)]
  path: PathBuf,
  file: File,
}

/// `cache.json` -> `cache.json.lock`.
pub fn lock_path(cache_path: &Path) -> PathBuf {
  let mut name = cache_path.as_os_str().to_owned();
  name.push(".lock");
  PathBuf::from(name)
}

/// Opens (or creates, 0600) the lock file itself: never a symlink's target, which could be
/// anywhere (a root process would create it there), never a FIFO or a device.
fn open_lock_file(path: &Path) -> io::Result<File> {
  let mut options = OpenOptions::new();
  options.read(true).write(true).create(true).truncate(false);
  #[cfg(unix)]
  {
    use std::os::unix::fs::OpenOptionsExt;
    options
      .mode(0o600)
      .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
  }
  let file = options.open(path)?;
  if !file.metadata()?.is_file() {
    return Err(io::Error::other("the lock file is not a regular file"));
  }
  Ok(file)
}

/// Whether `path` still names the file we locked (Unix: the holder before us may have
/// unlinked it between our open and our lock). On Windows the file is never removed.
#[cfg(unix)]
fn still_at_path(file: &File, path: &Path) -> io::Result<bool> {
  use std::os::unix::fs::MetadataExt;
  let ours = file.metadata()?;
  Ok(match std::fs::metadata(path) {
    Ok(now) => now.ino() == ours.ino() && now.dev() == ours.dev(),
    Err(_) => false,
  })
}

#[cfg(not(unix))]
fn still_at_path(_file: &File, _path: &Path) -> io::Result<bool> {
  Ok(true)
}

impl FileLock {
  /// Takes the lock at `path` if no other process holds it: `Ok(None)` when one does.
  pub fn try_acquire(path: &Path) -> io::Result<Option<FileLock>> {
    loop {
      let file = open_lock_file(path)?;
      match file.try_lock() {
        Ok(()) => {
          if still_at_path(&file, path)? {
            return Ok(Some(FileLock {
              #[cfg(unix)]
              path: path.to_path_buf(),
              file,
            }));
          }
          // The holder before us unlinked it: lock the file now at the path.
        }
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(e),
      }
    }
  }

  /// Takes the lock at `path`, waiting until `wait` has passed. `Ok(None)` when another
  /// process still holds it then.
  pub fn acquire(path: &Path, wait: Duration) -> io::Result<Option<FileLock>> {
    let deadline = Instant::now() + wait;
    loop {
      if let Some(lock) = FileLock::try_acquire(path)? {
        return Ok(Some(lock));
      }
      if Instant::now() >= deadline {
        return Ok(None);
      }
      thread::sleep(LOCK_POLL_INTERVAL);
    }
  }

  /// Removes the temp file of `cache_path` (docs/behaviour.md §6). Only the lock's holder
  /// writes that file, so while this lock is held a temp file there is a leftover of a
  /// writer that died before its rename, whatever became of its process (a zombie in a
  /// container whose pid 1 does not reap, a reused pid): it holds tokens, and goes.
  pub fn remove_leftovers(&self, cache_path: &Path) {
    let _ = std::fs::remove_file(super::write::temp_path(cache_path));
  }
}

impl Drop for FileLock {
  fn drop(&mut self) {
    // Unlink while still holding the lock, so no one locks a file we are about to remove.
    #[cfg(unix)]
    let _ = std::fs::remove_file(&self.path);
    // Closing the file releases the lock too; unlocking first makes the order explicit.
    let _ = self.file.unlock();
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;
  use std::fs;

  #[test]
  fn second_taker_waits_then_times_out_and_release_removes_file() {
    let dir = temp_dir("lock");
    let path = dir.join("t.json.lock");
    let held = FileLock::acquire(&path, Duration::ZERO).unwrap().unwrap();
    let start = Instant::now();
    assert!(FileLock::acquire(&path, Duration::from_millis(50))
      .unwrap()
      .is_none());
    assert!(start.elapsed() >= Duration::from_millis(50));
    drop(held);
    assert_eq!(path.exists(), cfg!(not(unix)));
    let again = FileLock::acquire(&path, Duration::ZERO).unwrap();
    assert!(again.is_some());
    drop(again);
    fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn a_lock_file_left_behind_without_a_holder_is_taken_over() {
    let dir = temp_dir("lock-stale");
    let path = dir.join("t.json.lock");
    fs::write(&path, b"12345").unwrap();
    assert!(FileLock::acquire(&path, Duration::ZERO).unwrap().is_some());
    fs::remove_dir_all(&dir).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn a_symlink_in_place_of_the_lock_file_is_not_followed() {
    let dir = temp_dir("lock-link");
    let target = dir.join("elsewhere");
    let path = dir.join("t.json.lock");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    assert!(FileLock::acquire(&path, Duration::ZERO).is_err());
    assert!(!target.exists(), "nothing is created at the link's target");
    fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn under_the_lock_the_temp_file_of_the_cache_file_is_removed() {
    let dir = temp_dir("lock-leftovers");
    let hex = "d033e22ae348aeb5660fc2140aec35850c4da997";
    let cache = dir.join(format!("{hex}.json"));
    let leftover = super::super::write::temp_path(&cache);
    let other = dir.join(".0123456789012345678901234567890123456789.json.tmp");
    for f in [&leftover, &other] {
      fs::write(f, b"tokens").unwrap();
    }
    let lock = FileLock::acquire(&lock_path(&cache), Duration::ZERO)
      .unwrap()
      .unwrap();
    lock.remove_leftovers(&cache);
    assert!(
      !leftover.exists(),
      "the temp file of this cache file is removed"
    );
    assert!(other.exists(), "another cache file's is its lock holder's");
    drop(lock);
    fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn lock_path_appends_suffix() {
    assert_eq!(
      lock_path(Path::new("/c/x.json")),
      PathBuf::from("/c/x.json.lock")
    );
  }
}
