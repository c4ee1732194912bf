//! Replacing a cache file so that no reader ever sees a torn one (docs/behaviour.md §6).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::MAX_CACHE_FILE_BYTES;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How long a write-back keeps retrying a rename that another process blocks (Windows: a
/// reader that opened the cache file without `FILE_SHARE_DELETE`, as Python and the AWS
/// CLI do), in steps of [`RENAME_RETRY_STEP`]. Unix renames are never blocked that way.
pub const RENAME_RETRY_FOR: std::time::Duration = std::time::Duration::from_millis(500);
const RENAME_RETRY_STEP: std::time::Duration = std::time::Duration::from_millis(20);

/// The permission bits a replacement file gets: the old file's (a user who made it
/// group-readable meant it), else 0600. Windows has no such bits: `None`.
#[cfg(unix)]
fn replacement_mode(old: Option<&fs::Metadata>) -> Option<u32> {
  use std::os::unix::fs::PermissionsExt;
  Some(old.map_or(0o600, |m| m.permissions().mode() & 0o777))
}

#[cfg(not(unix))]
fn replacement_mode(_old: Option<&fs::Metadata>) -> Option<u32> {
  None
}

/// A new file that no one else can have opened, readable by its owner alone on Unix.
fn create_private(path: &Path, mode: Option<u32>) -> io::Result<File> {
  let mut options = OpenOptions::new();
  options.write(true).create_new(true);
  #[cfg(unix)]
  {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // create_new already refuses an existing path, a symlink included; O_NOFOLLOW says so
    // once more for any platform where that might not hold.
    options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    let file = options.open(path)?;
    if let Some(mode) = mode.filter(|m| *m != 0o600) {
      file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
  }
  #[cfg(not(unix))]
  {
    let _ = mode;
    options.open(path)
  }
}

/// `fs::rename`, retried for [`RENAME_RETRY_FOR`] while the target is held open in a way
/// that blocks replacing it (Windows sharing violations); any other error is final.
fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
  let deadline = std::time::Instant::now() + RENAME_RETRY_FOR;
  loop {
    match fs::rename(from, to) {
      Err(e) if is_sharing_violation(&e) && std::time::Instant::now() < deadline => {
        std::thread::sleep(RENAME_RETRY_STEP)
      }
      other => return other,
    }
  }
}

#[cfg(windows)]
fn is_sharing_violation(e: &io::Error) -> bool {
  // ERROR_ACCESS_DENIED (5), ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33).
  matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn is_sharing_violation(_e: &io::Error) -> bool {
  false
}

/// Makes a rename in `dir` durable. Only Unix can open a folder to sync it, and a folder
/// that cannot be opened is not fatal: the rename itself has happened.
fn sync_dir(dir: &Path) {
  #[cfg(unix)]
  if let Ok(d) = File::open(dir) {
    let _ = d.sync_all();
  }
  #[cfg(not(unix))]
  let _ = dir;
}

/// A temp file of a writer that died before its rename is older than this, or names a
/// process that no longer exists (Unix), and is removed by the next write-back.
pub const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// `.<sha1 hex>.json.<pid>.<n>.tmp`, our temp files' names: the pid, when `name` is one.
fn temp_file_pid(name: &str) -> Option<u32> {
  let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
  let (file, rest) = rest.split_once(".json.")?;
  let (pid, n) = rest.split_once('.')?;
  let ours = file.len() == 40
    && file.bytes().all(|b| b.is_ascii_hexdigit())
    && !n.is_empty()
    && n.bytes().all(|b| b.is_ascii_digit());
  ours.then(|| pid.parse().ok()).flatten()
}

#[cfg(unix)]
fn process_gone(pid: u32) -> bool {
  let Ok(pid) = libc::pid_t::try_from(pid) else {
    return false;
  };
  // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
  let rc = unsafe { libc::kill(pid, 0) };
  rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_gone(_pid: u32) -> bool {
  false
}

/// Removes the temp files (our naming, this folder only) that a killed writer left behind:
/// they hold tokens. Best effort: a folder that cannot be listed is left alone.
fn remove_leftovers(dir: &Path) {
  let Ok(entries) = fs::read_dir(dir) else {
    return;
  };
  for entry in entries.flatten() {
    let name = entry.file_name();
    let Some(pid) = name.to_str().and_then(temp_file_pid) else {
      continue;
    };
    let Ok(meta) = entry.metadata() else {
      continue;
    };
    let old = meta
      .modified()
      .ok()
      .and_then(|t| t.elapsed().ok())
      .is_some_and(|age| age > LEFTOVER_AGE);
    let dead = pid != std::process::id() && process_gone(pid);
    if meta.is_file() && (old || dead) {
      let _ = fs::remove_file(entry.path());
    }
  }
}

/// Replaces `path` with `bytes` so that no reader ever sees a torn file: a new temp file in
/// the same folder (mode 0600, or the old file's mode), written, fsynced, renamed over.
/// A symlink in place of the cache file is not written through: the write is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
  if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
    // The next reader would refuse it, and the user would have to log in again.
    return Err(io::Error::other(
      "the refreshed cache file would be over 1 MiB; not written",
    ));
  }
  let dir = path
    .parent()
    .ok_or_else(|| io::Error::other("cache path has no folder"))?;
  remove_leftovers(dir);
  let old = match fs::symlink_metadata(path) {
    Ok(meta) if meta.file_type().is_symlink() => {
      return Err(io::Error::other(
        "cache file is a symlink; not replacing it",
      ))
    }
    Ok(meta) => Some(meta),
    Err(_) => None,
  };
  let mode = replacement_mode(old.as_ref());
  let name = path
    .file_name()
    .and_then(|n| n.to_str())
    .unwrap_or("token.json");
  let tmp = dir.join(format!(
    ".{name}.{}.{}.tmp",
    std::process::id(),
    TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
  ));
  let result = (|| {
    let mut file = create_private(&tmp, mode)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    rename_over(&tmp, path)?;
    sync_dir(dir);
    Ok(())
  })();
  if result.is_err() {
    let _ = fs::remove_file(&tmp);
  }
  result
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;

  #[test]
  fn only_our_temp_file_names_are_recognised() {
    let hex = "d033e22ae348aeb5660fc2140aec35850c4da997";
    assert_eq!(temp_file_pid(&format!(".{hex}.json.123.0.tmp")), Some(123));
    for other in [
      format!("{hex}.json"),
      format!(".{hex}.json.123.tmp"),
      format!(".{hex}.json.x.0.tmp"),
      format!(".{hex}.json.123.0.tmp.bak"),
      ".short.json.1.0.tmp".to_string(),
      format!(".{hex}.json.1.0x.tmp"),
    ] {
      assert_eq!(temp_file_pid(&other), None, "{other}");
    }
  }

  #[test]
  fn a_file_the_reader_would_refuse_is_never_written() {
    let d = temp_dir("write-oversize");
    let f = d.join("t.json");
    write_atomic(&f, b"old").unwrap();
    let big = vec![b' '; (MAX_CACHE_FILE_BYTES + 1) as usize];
    let e = write_atomic(&f, &big).unwrap_err();
    assert_eq!(
      e.to_string(),
      "the refreshed cache file would be over 1 MiB; not written"
    );
    assert_eq!(fs::read(&f).unwrap(), b"old");
    write_atomic(&f, &big[1..]).unwrap();
    fs::remove_dir_all(&d).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn leftovers_of_dead_writers_are_removed_and_live_ones_kept() {
    let d = temp_dir("write-leftovers");
    let hex = "d033e22ae348aeb5660fc2140aec35850c4da997";
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let dead = d.join(format!(".{hex}.json.{dead_pid}.0.tmp"));
    let live = d.join(format!(
      ".{hex}.json.{}.7.tmp",
      std::os::unix::process::parent_id()
    ));
    let other = d.join("unrelated.tmp");
    for f in [&dead, &live, &other] {
      fs::write(f, b"tokens").unwrap();
    }
    write_atomic(&d.join(format!("{hex}.json")), b"{}").unwrap();
    assert!(!dead.exists(), "a dead writer's temp file is removed");
    assert!(live.exists() && other.exists());
    fs::remove_dir_all(&d).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn write_atomic_replaces_file_with_new_inode_and_mode_0600() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = temp_dir("write-atomic");
    let f = d.join("t.json");
    write_atomic(&f, b"one").unwrap();
    assert_eq!(
      fs::metadata(&f).unwrap().permissions().mode() & 0o777,
      0o600
    );
    let ino = fs::metadata(&f).unwrap().ino();
    write_atomic(&f, b"two").unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"two");
    assert_ne!(fs::metadata(&f).unwrap().ino(), ino);
    assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp files left");
    // An existing file's mode is kept.
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&f, b"three").unwrap();
    assert_eq!(
      fs::metadata(&f).unwrap().permissions().mode() & 0o777,
      0o640
    );
    fs::remove_dir_all(&d).unwrap();
  }

  #[test]
  fn write_atomic_replaces_the_file_and_leaves_no_temp_file() {
    let d = temp_dir("write-replace");
    let f = d.join("t.json");
    write_atomic(&f, b"one").unwrap();
    write_atomic(&f, b"two").unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"two");
    assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp files left");
    fs::remove_dir_all(&d).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn write_atomic_refuses_symlinks() {
    let d = temp_dir("write-symlink");
    let target = d.join("elsewhere");
    fs::write(&target, b"keep").unwrap();
    let link = d.join("t.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(write_atomic(&link, b"new").is_err());
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    assert!(fs::symlink_metadata(&link)
      .unwrap()
      .file_type()
      .is_symlink());
    fs::remove_dir_all(&d).unwrap();
  }
}
