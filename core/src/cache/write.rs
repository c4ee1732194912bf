//! Replacing a cache file so that no reader ever sees a torn one (docs/behaviour.md §6).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::MAX_CACHE_FILE_BYTES;
use crate::files::FileId;

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

/// The temp file a write-back of `path` goes through: `.<name>.tmp` beside it. One name
/// per cache file: only the holder of the cache file's lock writes it, so there is never
/// more than one write under way, and whatever is found at that name while holding the
/// lock was left by a writer that died before its rename ([`super::FileLock::remove_leftovers`]).
pub fn temp_path(path: &Path) -> PathBuf {
  let name = path.file_name().unwrap_or_default().to_string_lossy();
  path.with_file_name(format!(".{name}.tmp"))
}

/// Replaces `path` with `bytes` so that no reader ever sees a torn file: a new temp file in
/// the same folder (mode 0600, or the old file's mode), written, fsynced, renamed over.
/// A symlink in place of the cache file is not written through: the write is refused.
/// Returns the identity of the file written, which the path names from the rename on.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<FileId> {
  if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
    // The next reader would refuse it, and the user would have to log in again.
    return Err(io::Error::other(
      "the refreshed cache file would be over 1 MiB; not written",
    ));
  }
  let dir = path
    .parent()
    .ok_or_else(|| io::Error::other("cache path has no folder"))?;
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
  let tmp = temp_path(path);
  // A temp file already there belongs to a writer without the lock (it timed out): theirs
  // is left alone, and this token is served from memory.
  let mut file = create_private(&tmp, mode).map_err(|e| match e.kind() {
    io::ErrorKind::AlreadyExists => {
      io::Error::other("another write of the cache file is under way; not written")
    }
    _ => e,
  })?;
  let result = (|| {
    file.write_all(bytes)?;
    file.sync_all()?;
    let id = FileId::of(&file.metadata()?);
    drop(file);
    rename_over(&tmp, path)?;
    sync_dir(dir);
    Ok(id)
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
  fn a_write_never_touches_a_temp_file_it_did_not_create() {
    let d = temp_dir("write-theirs");
    let f = d.join("t.json");
    write_atomic(&f, b"old").unwrap();
    fs::write(temp_path(&f), b"theirs").unwrap();
    let e = write_atomic(&f, b"new").unwrap_err();
    assert_eq!(
      e.to_string(),
      "another write of the cache file is under way; not written"
    );
    assert_eq!(fs::read(&f).unwrap(), b"old");
    assert_eq!(fs::read(temp_path(&f)).unwrap(), b"theirs");
    assert_eq!(temp_path(&f), d.join(".t.json.tmp"));
    fs::remove_dir_all(&d).unwrap();
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
