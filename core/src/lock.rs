//! A lock file beside the cache file, held while one process refreshes.
//!
//! `flock(2)` on `<cache>.lock`: the kernel drops it when the holder dies, so a lock left
//! by a killed process is taken over at once, with no staleness guess. The file is unlinked
//! on release; a waiter that locked a file just unlinked by its holder notices (the path no
//! longer names its inode) and tries again on the new one.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// How often a waiter retries a held lock.
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A held lock; released (and its file removed) on drop.
#[derive(Debug)]
pub struct FileLock {
  path: PathBuf,
  file: File,
}

/// `cache.json` -> `cache.json.lock`.
pub fn lock_path(cache_path: &Path) -> PathBuf {
  let mut name = cache_path.as_os_str().to_owned();
  name.push(".lock");
  PathBuf::from(name)
}

impl FileLock {
  /// Takes the lock at `path`, waiting until `wait` has passed. `Ok(None)` when another
  /// process still holds it then.
  pub fn acquire(path: &Path, wait: Duration) -> io::Result<Option<FileLock>> {
    let deadline = Instant::now() + wait;
    loop {
      let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
      // SAFETY: flock on a descriptor we own; no memory is involved.
      let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
      if rc == 0 {
        // The holder before us may have unlinked the file between our open and our lock.
        let ours = file.metadata()?;
        match fs::metadata(path) {
          Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {
            return Ok(Some(FileLock {
              path: path.to_path_buf(),
              file,
            }))
          }
          _ => continue,
        }
      }
      let err = io::Error::last_os_error();
      if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(err);
      }
      if Instant::now() >= deadline {
        return Ok(None);
      }
      thread::sleep(LOCK_POLL_INTERVAL);
    }
  }
}

impl Drop for FileLock {
  fn drop(&mut self) {
    // Unlink while still holding the lock, so no one locks a file we are about to remove.
    let _ = fs::remove_file(&self.path);
    // SAFETY: as above; closing the file would release it too.
    unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn second_taker_waits_then_times_out_and_release_removes_file() {
    let dir = std::env::temp_dir().join(format!("sso-lock-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json.lock");
    let held = FileLock::acquire(&path, Duration::ZERO).unwrap().unwrap();
    let start = Instant::now();
    assert!(FileLock::acquire(&path, Duration::from_millis(50))
      .unwrap()
      .is_none());
    assert!(start.elapsed() >= Duration::from_millis(50));
    drop(held);
    assert!(!path.exists());
    let again = FileLock::acquire(&path, Duration::ZERO).unwrap();
    assert!(again.is_some());
    drop(again);
    fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn a_lock_file_left_behind_without_a_holder_is_taken_over() {
    let dir = std::env::temp_dir().join(format!("sso-lock-stale-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json.lock");
    fs::write(&path, b"12345").unwrap();
    assert!(FileLock::acquire(&path, Duration::ZERO).unwrap().is_some());
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
