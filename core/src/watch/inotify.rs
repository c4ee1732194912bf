//! Linux: one inotify instance per process, non-blocking, one watch per folder. inotify
//! queues an event inside the write, rename or unlink that causes it, so a read of the
//! instance after that call returned sees it.

use super::{Event, Kind, Notifier, WatchId};
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What a folder watch asks for: entries written, created, renamed or deleted, and the
/// folder itself going away. Reads (open, access, close without writing) are left out.
const MASK: u32 = libc::IN_MODIFY
  | libc::IN_ATTRIB
  | libc::IN_CLOSE_WRITE
  | libc::IN_CREATE
  | libc::IN_DELETE
  | libc::IN_MOVED_FROM
  | libc::IN_MOVED_TO
  | libc::IN_DELETE_SELF
  | libc::IN_MOVE_SELF
  | libc::IN_ONLYDIR;

/// statfs `f_type` of file systems whose events do not cover other machines' writes: NFS,
/// SMB, SMB2, CIFS, Coda, AFS, 9P (WSL's Windows drives among them), Ceph, FUSE (sshfs and
/// the like).
const NETWORK_FS: [i64; 9] = [
  0x6969, 0x517b, 0xfe534d42, 0xff534d42, 0x73757245, 0x5346414f, 0x01021997, 0x00c36400,
  0x65735546,
];

pub(super) fn is_network_fs(dir: &Path) -> bool {
  let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
    return false;
  };
  // SAFETY: statfs writes into the zeroed struct we own; the path is NUL-terminated.
  unsafe {
    let mut st: libc::statfs = std::mem::zeroed();
    libc::statfs(c.as_ptr(), &mut st) == 0 && NETWORK_FS.contains(&(st.f_type as i64))
  }
}

pub(super) struct Inotify {
  fd: OwnedFd,
}

impl Inotify {
  pub(super) fn new() -> io::Result<Inotify> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
      return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(Inotify {
      fd: unsafe { OwnedFd::from_raw_fd(fd) },
    })
  }
}

impl Notifier for Inotify {
  fn watch_folder(&mut self, dir: &Path) -> io::Result<WatchId> {
    let c = CString::new(dir.as_os_str().as_bytes())
      .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a NUL-terminated path and our own descriptor.
    let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
    if wd < 0 {
      return Err(io::Error::last_os_error());
    }
    Ok(wd as WatchId)
  }

  fn forget(&mut self, watch: WatchId) {
    // SAFETY: removing a watch descriptor of our instance; a stale one is refused.
    unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), watch as i32) };
  }

  fn drain(&mut self, events: &mut Vec<Event>) {
    // Room for many events with names of up to NAME_MAX; aligned for inotify_event.
    let mut buf = [0u64; 4096 / 8];
    loop {
      // SAFETY: reading into our own buffer of the given length.
      let n = unsafe {
        libc::read(
          self.fd.as_raw_fd(),
          buf.as_mut_ptr().cast(),
          std::mem::size_of_val(&buf),
        )
      };
      if n <= 0 {
        // EAGAIN: nothing queued. Any other error: nothing to read either.
        return;
      }
      parse(&buf, n as usize, events);
    }
  }
}

fn parse(buf: &[u64], len: usize, events: &mut Vec<Event>) {
  // SAFETY: the kernel filled `len` bytes of the buffer with whole inotify_event records.
  let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
  let header = std::mem::size_of::<libc::inotify_event>();
  let mut at = 0;
  while at + header <= len {
    // SAFETY: a whole header lies at `at`; read unaligned, as names pad records unevenly.
    let event: libc::inotify_event =
      unsafe { std::ptr::read_unaligned(bytes.as_ptr().add(at).cast()) };
    let name_len = event.len as usize;
    let name_bytes = &bytes[(at + header).min(len)..(at + header + name_len).min(len)];
    at += header + name_len;
    let name = {
      let end = name_bytes
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(name_bytes.len());
      (end > 0).then(|| OsString::from_vec(name_bytes[..end].to_vec()))
    };
    let mask = event.mask;
    let kind = if mask & libc::IN_Q_OVERFLOW != 0 {
      Kind::Overflow
    } else if mask
      & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED | libc::IN_UNMOUNT)
      != 0
    {
      Kind::FolderGone
    } else if mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
      Kind::Replaced
    } else if mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
      Kind::Removed
    } else {
      Kind::Modified
    };
    events.push(Event {
      watch: event.wd as WatchId,
      name: if kind == Kind::FolderGone { None } else { name },
      kind,
    });
  }
}
