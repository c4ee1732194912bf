//! macOS: one kqueue per process with `EVFILT_VNODE` filters on each watched folder (an
//! entry added, removed or renamed) and on each held file (written in place, deleted,
//! renamed). The vnode flags are turned into [`Kind`]s by [`kind_of`], which is plain logic
//! and tested on every platform; the system calls are built for macOS only.

use super::Kind;

// The vnode filter flags of <sys/event.h> (XNU), the same on every Apple platform.
const NOTE_DELETE: u32 = 0x1;
const NOTE_WRITE: u32 = 0x2;
const NOTE_EXTEND: u32 = 0x4;
const NOTE_ATTRIB: u32 = 0x8;
const NOTE_RENAME: u32 = 0x20;
const NOTE_REVOKE: u32 = 0x40;

/// The flags a watch asks for.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
const FFLAGS: u32 =
  NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_RENAME | NOTE_REVOKE;

/// What a vnode event means. On a folder, a write is an entry added, removed or renamed
/// (which one, kqueue does not say: [`Kind::Unknown`]); the folder deleted, renamed or
/// revoked ends its watch. On a file, a write, an extension or an attribute change is a
/// write in place; the file deleted or renamed means the name may now lead elsewhere.
pub(super) fn kind_of(folder: bool, fflags: u32) -> Option<Kind> {
  let gone = fflags & (NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE) != 0;
  let written = fflags & (NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB) != 0;
  match (folder, gone, written) {
    (true, true, _) => Some(Kind::FolderGone),
    (true, false, true) => Some(Kind::Unknown),
    (false, _, true) => Some(Kind::Modified),
    (false, true, false) => Some(Kind::Replaced),
    (_, false, false) => None,
  }
}

#[cfg(target_os = "macos")]
pub(super) use system::{is_network_fs, Kqueue};

#[cfg(target_os = "macos")]
mod system {
  use super::super::{Event, Notifier, WatchId};
  use super::{kind_of, FFLAGS};
  use std::collections::HashMap;
  use std::ffi::CString;
  use std::io;
  use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
  use std::os::unix::ffi::OsStrExt;
  use std::path::{Path, PathBuf};

  /// File system types whose events miss other machines' writes.
  const NETWORK_FS: [&str; 7] = [
    "nfs", "smbfs", "afpfs", "webdav", "cifs", "osxfuse", "macfuse",
  ];

  pub(in super::super) fn is_network_fs(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
      return false;
    };
    // SAFETY: statfs fills the zeroed struct we own; the path is NUL-terminated.
    unsafe {
      let mut st: libc::statfs = std::mem::zeroed();
      if libc::statfs(c.as_ptr(), &mut st) != 0 {
        return false;
      }
      let name = std::ffi::CStr::from_ptr(st.f_fstypename.as_ptr());
      NETWORK_FS.contains(&name.to_string_lossy().as_ref())
    }
  }

  /// One open descriptor per watched vnode (`O_EVTONLY`: it does not keep a volume busy).
  struct Vnode {
    /// Held open for the filter's life: closing it removes the filter.
    _fd: OwnedFd,
    /// The folder watch this belongs to.
    watch: WatchId,
    /// The file's name in the folder; `None` for the folder itself.
    name: Option<std::ffi::OsString>,
  }

  pub(in super::super) struct Kqueue {
    kq: OwnedFd,
    vnodes: HashMap<u64, Vnode>,
    files: HashMap<PathBuf, u64>,
    next: u64,
  }

  impl Kqueue {
    pub(in super::super) fn new() -> io::Result<Kqueue> {
      // SAFETY: plain syscall; the result is checked.
      let kq = unsafe { libc::kqueue() };
      if kq < 0 {
        return Err(io::Error::last_os_error());
      }
      // SAFETY: a fresh descriptor that nothing else owns.
      let kq = unsafe { OwnedFd::from_raw_fd(kq) };
      Ok(Kqueue {
        kq,
        vnodes: HashMap::new(),
        files: HashMap::new(),
        next: 1,
      })
    }

    fn add(
      &mut self,
      path: &Path,
      watch: Option<WatchId>,
      name: Option<std::ffi::OsString>,
    ) -> io::Result<u64> {
      let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
      // SAFETY: a NUL-terminated path; the result is checked.
      let fd = unsafe { libc::open(c.as_ptr(), libc::O_EVTONLY | libc::O_CLOEXEC) };
      if fd < 0 {
        return Err(io::Error::last_os_error());
      }
      // SAFETY: a fresh descriptor that nothing else owns.
      let fd = unsafe { OwnedFd::from_raw_fd(fd) };
      let id = self.next;
      self.next += 1;
      // SAFETY: a zeroed kevent filled with valid values, registered on our kqueue.
      let rc = unsafe {
        let mut change: libc::kevent = std::mem::zeroed();
        change.ident = fd.as_raw_fd() as usize;
        change.filter = libc::EVFILT_VNODE;
        change.flags = libc::EV_ADD | libc::EV_CLEAR;
        change.fflags = FFLAGS;
        change.udata = id as *mut libc::c_void;
        libc::kevent(
          self.kq.as_raw_fd(),
          &change,
          1,
          std::ptr::null_mut(),
          0,
          std::ptr::null(),
        )
      };
      if rc < 0 {
        return Err(io::Error::last_os_error());
      }
      self.vnodes.insert(
        id,
        Vnode {
          _fd: fd,
          watch: watch.unwrap_or(id),
          name,
        },
      );
      Ok(id)
    }
  }

  impl Notifier for Kqueue {
    fn watch_folder(&mut self, dir: &Path) -> io::Result<WatchId> {
      self.add(dir, None, None)
    }

    fn watch_file(&mut self, watch: WatchId, file: &Path) -> io::Result<()> {
      // The old vnode (replaced, deleted) is dropped; its descriptor closed, its filter gone.
      if let Some(old) = self.files.remove(file) {
        self.vnodes.remove(&old);
      }
      let name = file.file_name().map(|n| n.to_os_string());
      let id = self.add(file, Some(watch), name)?;
      self.files.insert(file.to_path_buf(), id);
      Ok(())
    }

    fn forget(&mut self, watch: WatchId) {
      self.vnodes.retain(|_, v| v.watch != watch);
      let vnodes = &self.vnodes;
      self.files.retain(|_, id| vnodes.contains_key(id));
    }

    fn drain(&mut self, events: &mut Vec<Event>) {
      loop {
        // SAFETY: kevent fills at most 64 zeroed records we own; a zero timeout polls.
        let (out, n) = unsafe {
          let mut out: [libc::kevent; 64] = std::mem::zeroed();
          let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
          };
          let n = libc::kevent(
            self.kq.as_raw_fd(),
            std::ptr::null(),
            0,
            out.as_mut_ptr(),
            64,
            &zero,
          );
          (out, n)
        };
        if n <= 0 {
          return;
        }
        for ev in &out[..n as usize] {
          let id = ev.udata as u64;
          let Some(vnode) = self.vnodes.get(&id) else {
            continue;
          };
          let folder = vnode.name.is_none();
          if let Some(kind) = kind_of(folder, ev.fflags) {
            events.push(Event {
              watch: vnode.watch,
              name: vnode.name.clone(),
              kind,
            });
          }
        }
        if (n as usize) < 64 {
          return;
        }
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn folder_writes_are_unknown_entries_and_a_folder_gone_ends_its_watch() {
    assert_eq!(kind_of(true, NOTE_WRITE), Some(Kind::Unknown));
    assert_eq!(kind_of(true, NOTE_WRITE | NOTE_EXTEND), Some(Kind::Unknown));
    for gone in [
      NOTE_DELETE,
      NOTE_RENAME,
      NOTE_REVOKE,
      NOTE_RENAME | NOTE_WRITE,
    ] {
      assert_eq!(kind_of(true, gone), Some(Kind::FolderGone), "{gone:#x}");
    }
  }

  #[test]
  fn file_writes_in_place_are_changes_and_a_file_gone_is_a_replacement_to_check() {
    for written in [
      NOTE_WRITE,
      NOTE_EXTEND,
      NOTE_ATTRIB,
      NOTE_WRITE | NOTE_DELETE,
    ] {
      assert_eq!(
        kind_of(false, written),
        Some(Kind::Modified),
        "{written:#x}"
      );
    }
    for gone in [NOTE_DELETE, NOTE_RENAME, NOTE_REVOKE] {
      assert_eq!(kind_of(false, gone), Some(Kind::Replaced), "{gone:#x}");
    }
    assert_eq!(kind_of(false, 0x10), None); // NOTE_LINK alone
  }
}
