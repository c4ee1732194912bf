//! Windows: one `ReadDirectoryChangesW` per watched folder, issued with overlapped I/O and
//! checked without waiting (`GetOverlappedResult` with `bWait = FALSE`); a completed read
//! is parsed and issued again at once. The file system fills the buffer while it carries
//! out the change, so a check after a writer's call returned finds it.

use super::{Event, Kind, Notifier, WatchId};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
use windows_sys::Win32::Foundation::{
  CloseHandle, GetLastError, ERROR_IO_INCOMPLETE, ERROR_IO_PENDING, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
  CreateFileW, GetDriveTypeW, ReadDirectoryChangesW, FILE_ACTION_ADDED, FILE_ACTION_MODIFIED,
  FILE_ACTION_REMOVED, FILE_ACTION_RENAMED_NEW_NAME, FILE_ACTION_RENAMED_OLD_NAME,
  FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OVERLAPPED, FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_ATTRIBUTES, FILE_NOTIFY_CHANGE_CREATION, FILE_NOTIFY_CHANGE_FILE_NAME,
  FILE_NOTIFY_CHANGE_LAST_WRITE, FILE_NOTIFY_CHANGE_SIZE, FILE_NOTIFY_INFORMATION,
  FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::{CreateEventW, WaitForSingleObject};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

/// `GetDriveTypeW`'s answer for a network drive.
const DRIVE_REMOTE: u32 = 4;

const FILTER: u32 = FILE_NOTIFY_CHANGE_FILE_NAME
  | FILE_NOTIFY_CHANGE_LAST_WRITE
  | FILE_NOTIFY_CHANGE_SIZE
  | FILE_NOTIFY_CHANGE_CREATION
  | FILE_NOTIFY_CHANGE_ATTRIBUTES;

/// Bytes of notifications one read can hold; more at once is an overflow (all changed).
const BUFFER_BYTES: usize = 16 * 1024;

fn wide(path: &Path) -> Vec<u16> {
  path.as_os_str().encode_wide().chain([0]).collect()
}

pub(super) fn is_network_drive(dir: &Path) -> bool {
  // The root of the path's volume: `C:\`, or `\\server\share\` (always remote); a
  // verbatim path (`\\?\C:\…`, what canonicalize gives) names its drive after the prefix.
  let text = dir.to_string_lossy();
  let text = text.strip_prefix(r"\\?\").unwrap_or(&text);
  if text.starts_with("UNC\\") || text.starts_with("\\\\") || text.starts_with("//") {
    return true;
  }
  let root: Vec<u16> = text
    .chars()
    .take(2)
    .collect::<String>()
    .encode_utf16()
    .chain("\\\0".encode_utf16())
    .collect();
  // SAFETY: a NUL-terminated wide string we own.
  unsafe { GetDriveTypeW(root.as_ptr()) == DRIVE_REMOTE }
}

/// Whether this is Wine rather than Windows: Wine's ntdll exports `wine_get_version`.
fn is_wine() -> bool {
  static WINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
  *WINE.get_or_init(|| {
    let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: looking up an export by name in a module every process has loaded.
    unsafe {
      let module = GetModuleHandleW(ntdll.as_ptr());
      !module.is_null() && GetProcAddress(module, c"wine_get_version".as_ptr().cast()).is_some()
    }
  })
}

/// One folder's outstanding read. Boxed: the kernel writes into `buffer` and `overlapped`
/// at their addresses until the read completes or is cancelled.
struct Pending {
  dir: HANDLE,
  overlapped: OVERLAPPED,
  buffer: Box<[u64; BUFFER_BYTES / 8]>,
  issued: bool,
}

impl Pending {
  fn issue(&mut self) -> bool {
    // SAFETY: the handle is ours and open; buffer and overlapped live as long as `self`,
    // which is boxed and cancelled before it is dropped.
    let ok = unsafe {
      ReadDirectoryChangesW(
        self.dir,
        self.buffer.as_mut_ptr().cast(),
        BUFFER_BYTES as u32,
        0,
        FILTER,
        std::ptr::null_mut(),
        &mut self.overlapped,
        None,
      )
    };
    self.issued = ok != 0 || unsafe { GetLastError() } == ERROR_IO_PENDING;
    self.issued
  }
}

/// How long closing a watch waits for its cancelled read to end.
const CANCEL_WAIT_MS: u32 = 1000;

impl Pending {
  /// Cancels the read and closes the handles. The kernel writes into the buffer and the
  /// OVERLAPPED until the read has ended: if it has not ended within [`CANCEL_WAIT_MS`]
  /// (Wine does not always end a read on a folder that was deleted), both are leaked
  /// rather than freed under it.
  fn close(mut self: Box<Self>) {
    // SAFETY: our handles; the memory the read uses is freed only once it has ended.
    unsafe {
      // A read that already ended has its event set: the wait returns at once.
      let ended = !self.issued || {
        CancelIoEx(self.dir, &self.overlapped);
        WaitForSingleObject(self.overlapped.hEvent, CANCEL_WAIT_MS) == WAIT_OBJECT_0
      };
      CloseHandle(self.dir);
      if ended {
        CloseHandle(self.overlapped.hEvent);
        self.issued = false;
      } else {
        Box::leak(self);
      }
    }
  }
}

// SAFETY: the handles and buffer are used only through `&mut self`.
unsafe impl Send for Pending {}

#[derive(Default)]
pub(super) struct DirectoryChanges {
  folders: HashMap<WatchId, Box<Pending>>,
  next: WatchId,
}

impl Drop for DirectoryChanges {
  fn drop(&mut self) {
    for (_, pending) in self.folders.drain() {
      pending.close();
    }
  }
}

impl Notifier for DirectoryChanges {
  fn watch_folder(&mut self, dir: &Path) -> io::Result<WatchId> {
    let name = wide(dir);
    // SAFETY: a NUL-terminated wide path; the result is checked.
    let handle = unsafe {
      CreateFileW(
        name.as_ptr(),
        FILE_LIST_DIRECTORY,
        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
        std::ptr::null(),
        OPEN_EXISTING,
        FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED,
        std::ptr::null_mut(),
      )
    };
    if handle == INVALID_HANDLE_VALUE {
      return Err(io::Error::last_os_error());
    }
    // SAFETY: an unnamed manual-reset event; checked.
    let event = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
    if event.is_null() {
      let e = io::Error::last_os_error();
      // SAFETY: our handle.
      unsafe { CloseHandle(handle) };
      return Err(e);
    }
    // SAFETY: OVERLAPPED is plain data; zeroed is its documented initial state.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.hEvent = event;
    let mut pending = Box::new(Pending {
      dir: handle,
      overlapped,
      buffer: Box::new([0; BUFFER_BYTES / 8]),
      issued: false,
    });
    if !pending.issue() {
      let e = io::Error::last_os_error();
      pending.close();
      return Err(e);
    }
    self.next += 1;
    self.folders.insert(self.next, pending);
    Ok(self.next)
  }

  fn exact(&self) -> bool {
    !is_wine()
  }

  fn forget(&mut self, watch: WatchId) {
    if let Some(pending) = self.folders.remove(&watch) {
      pending.close();
    }
  }

  fn drain(&mut self, events: &mut Vec<Event>) {
    for (watch, pending) in &mut self.folders {
      if !pending.issued {
        events.push(Event {
          watch: *watch,
          name: None,
          kind: Kind::FolderGone,
        });
        continue;
      }
      let mut bytes = 0u32;
      // SAFETY: our handle and overlapped; bWait = FALSE never blocks.
      let done = unsafe { GetOverlappedResult(pending.dir, &pending.overlapped, &mut bytes, 0) };
      if done == 0 {
        // SAFETY: reading the thread's last error.
        if unsafe { GetLastError() } == ERROR_IO_INCOMPLETE {
          continue;
        }
        // The folder went away or the handle broke.
        pending.issued = false;
        events.push(Event {
          watch: *watch,
          name: None,
          kind: Kind::FolderGone,
        });
        continue;
      }
      if bytes == 0 {
        // More changes than the buffer held.
        events.push(Event {
          watch: *watch,
          name: None,
          kind: Kind::Overflow,
        });
      } else {
        parse(*watch, &pending.buffer[..], bytes as usize, events);
      }
      if !pending.issue() {
        events.push(Event {
          watch: *watch,
          name: None,
          kind: Kind::FolderGone,
        });
      }
    }
  }
}

fn parse(watch: WatchId, buffer: &[u64], len: usize, events: &mut Vec<Event>) {
  // SAFETY: the kernel wrote `len` bytes of FILE_NOTIFY_INFORMATION records, each aligned.
  let bytes = unsafe { std::slice::from_raw_parts(buffer.as_ptr().cast::<u8>(), len) };
  let mut at = 0usize;
  loop {
    let header = std::mem::size_of::<FILE_NOTIFY_INFORMATION>();
    if at + header > len {
      return;
    }
    // SAFETY: a whole record header lies at `at`.
    let info: FILE_NOTIFY_INFORMATION =
      unsafe { std::ptr::read_unaligned(bytes.as_ptr().add(at).cast()) };
    let name_at = at + std::mem::offset_of!(FILE_NOTIFY_INFORMATION, FileName);
    let name_len = info.FileNameLength as usize;
    if name_at + name_len <= len {
      let units: Vec<u16> = bytes[name_at..name_at + name_len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
      let kind = match info.Action {
        FILE_ACTION_ADDED | FILE_ACTION_RENAMED_NEW_NAME => Kind::Replaced,
        FILE_ACTION_REMOVED | FILE_ACTION_RENAMED_OLD_NAME => Kind::Removed,
        FILE_ACTION_MODIFIED => Kind::Modified,
        _ => Kind::Unknown,
      };
      events.push(Event {
        watch,
        name: if kind == Kind::Unknown {
          None
        } else {
          Some(OsString::from_wide(&units))
        },
        kind,
      });
    }
    if info.NextEntryOffset == 0 {
      return;
    }
    at += info.NextEntryOffset as usize;
  }
}
