//! Reading the user's files (the config file, a cache file, the CA bundle) so that no file
//! can hang or exhaust a load: opened without blocking (a FIFO with no writer would block
//! `open` forever), accepted only when what was opened is a regular file (a symlink to
//! one is fine; a FIFO, a device such as `/dev/zero` or a folder is not), and read up to
//! a cap. The buffer is sized from the file's length up front and zeroized whenever it
//! has to grow, since a cache file holds tokens.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use zeroize::Zeroize;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
  /// No file at the path.
  NotFound,
  /// Something other than a regular file is there.
  NotRegular,
  /// The file is larger than the cap.
  TooLarge,
  /// The OS refused (permissions, I/O error).
  Io(io::Error),
}

impl std::fmt::Display for ReadError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      ReadError::NotFound => f.write_str("no such file"),
      ReadError::NotRegular => f.write_str("not a regular file"),
      ReadError::TooLarge => f.write_str("too large"),
      ReadError::Io(e) => write!(f, "{e}"),
    }
  }
}

/// Opens `path` for reading without blocking on a FIFO or a device.
fn open_nonblocking(path: &Path) -> io::Result<File> {
  let mut options = OpenOptions::new();
  options.read(true);
  #[cfg(unix)]
  std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
  options.open(path)
}

/// What identifies one version of a file on disk: device, inode, size and modification
/// time to the nanosecond (on Windows, where there are no inodes, the creation time takes
/// the inode's place: a file renamed over another keeps its own). Two reads with equal
/// identities read the same bytes unless the file was rewritten in place within the
/// file system's time granularity and at the same size, which is why change detection
/// trusts an identity only to recognise its own writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
  dev: u64,
  ino: u64,
  size: u64,
  mtime_ns: i128,
}

impl FileId {
  /// The identity of the file `meta` describes.
  pub fn of(meta: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
      use std::os::unix::fs::MetadataExt;
      FileId {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
      }
    }
    #[cfg(windows)]
    {
      use std::os::windows::fs::MetadataExt;
      FileId {
        dev: 0,
        ino: meta.creation_time(),
        size: meta.len(),
        mtime_ns: i128::from(meta.last_write_time()) * 100,
      }
    }
    #[cfg(not(any(unix, windows)))]
    {
      let since = |t: io::Result<std::time::SystemTime>| {
        t.ok()
          .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
          .map_or(0, |d| d.as_nanos() as i128)
      };
      FileId {
        dev: 0,
        ino: since(meta.created()) as u64,
        size: meta.len(),
        mtime_ns: since(meta.modified()),
      }
    }
  }

  /// The identity of what is at `path` now (following a symlink), if anything.
  pub fn at(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| FileId::of(&m))
  }
}

/// The bytes of the regular file at `path`, at most `cap` of them.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
  read_identified(path, cap).map(|(bytes, _)| bytes)
}

/// [`read_regular`], with the identity of the file the bytes were read from (taken from
/// the open file, so it is that file's even if the path is replaced meanwhile).
pub fn read_identified(path: &Path, cap: u64) -> Result<(Vec<u8>, FileId), ReadError> {
  let file = open_nonblocking(path).map_err(|e| match e.kind() {
    io::ErrorKind::NotFound => ReadError::NotFound,
    // Windows refuses to open a folder as a file at all: say what it is, as on Unix.
    _ if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => ReadError::NotRegular,
    _ => ReadError::Io(e),
  })?;
  let meta = file.metadata().map_err(ReadError::Io)?;
  if !meta.is_file() {
    return Err(ReadError::NotRegular);
  }
  if meta.len() > cap {
    return Err(ReadError::TooLarge);
  }
  // A buffer one byte larger than the file: filling it means the file grew meanwhile.
  let expected = usize::try_from(meta.len()).unwrap_or(usize::MAX);
  let bytes = read_capped(file, cap, expected).map_err(|e| match e {
    CappedError::TooLarge => ReadError::TooLarge,
    CappedError::Io(e) => ReadError::Io(e),
  })?;
  Ok((bytes, FileId::of(&meta)))
}

/// Why [`read_capped`] gave up.
#[derive(Debug)]
pub enum CappedError {
  /// More than the cap.
  TooLarge,
  /// Reading failed.
  Io(io::Error),
}

/// Reads `reader` to its end, at most `cap` bytes, straight into a buffer of
/// `expected + 1` bytes that grows (zeroizing what it leaves) only when that is filled.
/// The content may be secret: on failure the buffer is zeroized before it is dropped.
pub fn read_capped(reader: impl Read, cap: u64, expected: usize) -> Result<Vec<u8>, CappedError> {
  // One byte past the cap tells content of exactly `cap` bytes from a longer one.
  let mut limited = reader.take(cap.saturating_add(1));
  let mut bytes = vec![0u8; expected.saturating_add(1)];
  let mut filled = 0;
  let result = loop {
    if filled == bytes.len() {
      let more = bytes.len().max(4096);
      reserve_zeroizing(&mut bytes, more);
      bytes.resize(filled + more, 0);
    }
    match limited.read(&mut bytes[filled..]) {
      Ok(0) if filled as u64 > cap => break Err(CappedError::TooLarge),
      Ok(0) => break Ok(()),
      Ok(n) => filled += n,
      Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
      Err(e) => break Err(CappedError::Io(e)),
    }
  };
  bytes.truncate(filled);
  match result {
    Ok(()) => Ok(bytes),
    Err(e) => {
      bytes.zeroize();
      Err(e)
    }
  }
}

/// Makes room for `more` bytes after the content of `bytes`; when that needs a larger
/// allocation, the old one is zeroized before it is freed.
fn reserve_zeroizing(bytes: &mut Vec<u8>, more: usize) {
  if bytes.capacity() - bytes.len() < more {
    let mut grown = Vec::with_capacity((bytes.len() + more).max(bytes.capacity() * 2));
    grown.extend_from_slice(bytes);
    bytes.zeroize();
    *bytes = grown;
  }
}

/// Appends `more` to `bytes`; when that needs a larger allocation, the old one is zeroized
/// before it is freed, so no copy of the content is left behind in freed memory.
pub fn push_zeroizing(bytes: &mut Vec<u8>, more: &[u8]) {
  reserve_zeroizing(bytes, more.len());
  bytes.extend_from_slice(more);
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;
  use std::fs;

  #[test]
  fn reads_a_regular_file_and_follows_a_symlink_to_one() {
    let d = temp_dir("files-regular");
    fs::write(d.join("f"), b"hello").unwrap();
    assert_eq!(read_regular(&d.join("f"), 10).unwrap(), b"hello");
    #[cfg(unix)]
    {
      std::os::unix::fs::symlink(d.join("f"), d.join("link")).unwrap();
      assert_eq!(read_regular(&d.join("link"), 10).unwrap(), b"hello");
    }
    fs::remove_dir_all(&d).unwrap();
  }

  #[test]
  fn refuses_what_is_not_a_regular_file_or_over_the_cap() {
    let d = temp_dir("files-odd");
    assert!(matches!(read_regular(&d, 10), Err(ReadError::NotRegular)));
    assert!(matches!(
      read_regular(&d.join("none"), 10),
      Err(ReadError::NotFound)
    ));
    fs::write(d.join("big"), vec![b'x'; 11]).unwrap();
    assert!(matches!(
      read_regular(&d.join("big"), 10),
      Err(ReadError::TooLarge)
    ));
    assert_eq!(read_regular(&d.join("big"), 11).unwrap().len(), 11);
    fs::remove_dir_all(&d).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn a_fifo_or_a_device_is_refused_at_once() {
    let d = temp_dir("files-fifo");
    let fifo = d.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path we own; no memory is shared.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let start = std::time::Instant::now();
    assert!(matches!(
      read_regular(&fifo, 10),
      Err(ReadError::NotRegular)
    ));
    assert!(matches!(
      read_regular(Path::new("/dev/zero"), 10),
      Err(ReadError::NotRegular)
    ));
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    fs::remove_dir_all(&d).unwrap();
  }

  #[test]
  fn growing_keeps_the_content_and_capacity_doubles() {
    let mut v = Vec::with_capacity(2);
    push_zeroizing(&mut v, b"ab");
    push_zeroizing(&mut v, b"cde");
    assert_eq!(v, b"abcde");
    assert!(v.capacity() >= 5);
  }
}
