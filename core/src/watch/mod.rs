//! Change detection (docs/behaviour.md §4.8): which of the files a load read have changed
//! on disk since, answered at the call, without reading the files and without a thread.
//!
//! A [`Notifier`] is the operating system's change notification for folders, polled without
//! blocking: inotify on Linux, kqueue `EVFILT_VNODE` on macOS (the folder and each held
//! file), `ReadDirectoryChangesW` with overlapped I/O on Windows. Events are queued by the
//! kernel when a write, rename or delete happens, so a poll sees every change that completed
//! before it. [`Watch`] turns them into a generation number per file: a load takes the
//! file's generation *before* it reads the file (the folder is watched from then on), and
//! memory is current while the generation is unchanged. A change that raced the read costs a
//! second read, never a missed one.
//!
//! Events that a write of our own caused (a refresh's rename over the cache file) are told
//! apart by the file's identity ([`FileId`]): a replacement whose identity is the one we
//! wrote or read is no change. A write in place (the AWS CLI's) is always a change.
//!
//! Where events cannot be trusted (a network file system, where other machines' writes
//! raise none; watching turned off; the OS refusing a watch), a file has no generation and
//! the caller reads the disk, as without change detection.

use crate::files::FileId;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
mod inotify;
#[cfg(any(target_os = "macos", test))]
mod kqueue;
#[cfg(windows)]
mod windows;

/// A watch of one folder, as the notifier numbers them.
pub type WatchId = u64;

/// What happened to an entry of a watched folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
  /// Written in place (data or metadata): always a change.
  Modified,
  /// Created or renamed into place: a change unless the file is one we know.
  Replaced,
  /// Deleted or renamed away: a change unless a file we know is there again.
  Removed,
  /// Something in the folder changed, the notifier cannot say what (`name` is `None`).
  Unknown,
  /// The folder itself was deleted or moved, or its watch ended: everything in it changed,
  /// and the watch must be set up again.
  FolderGone,
  /// Events were lost (a queue overflow): everything changed.
  Overflow,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
  /// The folder's watch; ignored for [`Kind::Overflow`].
  pub watch: WatchId,
  /// The entry's name in the folder, when the notifier knows it.
  pub name: Option<OsString>,
  /// What happened.
  pub kind: Kind,
}

/// An operating system's change notification, polled without blocking.
pub trait Notifier: Send {
  /// Starts watching the entries of folder `dir`.
  fn watch_folder(&mut self, dir: &Path) -> io::Result<WatchId>;
  /// Watches `file` (in the folder of `watch`) itself, for notifiers that report writes
  /// in place only per file (kqueue); a no-op elsewhere. Called again after the file was
  /// replaced, to watch the new one.
  fn watch_file(&mut self, _watch: WatchId, _file: &Path) -> io::Result<()> {
    Ok(())
  }
  /// Stops watching a folder (its watch ended, or it is set up anew).
  fn forget(&mut self, watch: WatchId);
  /// Appends the events queued since the last call, without waiting.
  fn drain(&mut self, events: &mut Vec<Event>);
  /// Whether a poll sees every change that completed before it. Where events come late
  /// (Wine relays them from inotify through wineserver: 0.2 to 10 ms here), they still
  /// tell a warm call that something changed, but a reload reads the disk.
  fn exact(&self) -> bool {
    true
  }
}

/// This platform's notifier, or why there is none.
pub fn system_notifier() -> Result<Box<dyn Notifier>, String> {
  #[cfg(target_os = "linux")]
  return inotify::Inotify::new()
    .map(|n| Box::new(n) as Box<dyn Notifier>)
    .map_err(|e| describe(&e));
  #[cfg(target_os = "macos")]
  return kqueue::Kqueue::new()
    .map(|n| Box::new(n) as Box<dyn Notifier>)
    .map_err(|e| describe(&e));
  #[cfg(windows)]
  return Ok(Box::new(windows::DirectoryChanges::default()));
  #[allow(unreachable_code)]
  Err("no change notification on this platform".into())
}

/// Why a watch could not be set up, in the words `sso-token` prints.
fn describe(e: &io::Error) -> String {
  #[cfg(target_os = "linux")]
  if e.raw_os_error() == Some(libc::ENOSPC) {
    return "the inotify watch limit is reached".into();
  }
  #[cfg(unix)]
  if e.raw_os_error() == Some(libc::EMFILE) {
    return "the inotify instance limit is reached".into();
  }
  e.to_string()
}

/// Whether `dir` is on a file system whose change events miss other machines' writes.
fn remote(dir: &Path) -> bool {
  #[cfg(target_os = "linux")]
  return inotify::is_network_fs(dir);
  #[cfg(target_os = "macos")]
  return kqueue::is_network_fs(dir);
  #[cfg(windows)]
  return windows::is_network_drive(dir);
  #[allow(unreachable_code)]
  {
    let _ = dir;
    false
  }
}

/// A watched folder.
struct Folder {
  /// The notifier's watch; `None` with the reason when the folder is not watched.
  watch: Result<WatchId, String>,
}

/// A file a load read.
struct Tracked {
  generation: u64,
  /// The version of the file we hold in memory (read or written by us), if known.
  known: Option<FileId>,
}

/// The generation numbers of the files loads read.
pub struct Watch {
  notifier: Result<Box<dyn Notifier>, String>,
  /// Watching turned off, and why (`SSO_TOKEN_PROVIDER_WATCH=off`).
  off: Option<String>,
  folders: HashMap<PathBuf, Folder>,
  by_watch: HashMap<WatchId, PathBuf>,
  files: HashMap<PathBuf, Tracked>,
  /// Where a file behind a symlink really is: events there count for the linked path.
  aliases: HashMap<PathBuf, PathBuf>,
  /// Changes to tracked files ever seen: what a caller polls to learn that something did.
  changes: u64,
  events: Vec<Event>,
}

impl Watch {
  /// A registry over `notifier` (or over the reason there is none); `off` turns it off.
  pub fn new(notifier: Result<Box<dyn Notifier>, String>, off: Option<String>) -> Watch {
    Watch {
      notifier,
      off,
      folders: HashMap::new(),
      by_watch: HashMap::new(),
      files: HashMap::new(),
      aliases: HashMap::new(),
      changes: 0,
      events: Vec::new(),
    }
  }

  /// The system's notifier, unless `SSO_TOKEN_PROVIDER_WATCH` is `off`, `0`, `false` or
  /// `no` in the process environment.
  pub fn system() -> Watch {
    let off = std::env::var("SSO_TOKEN_PROVIDER_WATCH")
      .ok()
      .filter(|v| ["off", "0", "false", "no"].contains(&v.to_ascii_lowercase().as_str()))
      .map(|_| "turned off by SSO_TOKEN_PROVIDER_WATCH".to_string());
    let notifier = if off.is_some() {
      Err("off".into())
    } else {
      system_notifier()
    };
    Watch::new(notifier, off)
  }

  /// Starts tracking `path` before a load reads it: returns its generation, or `None` when
  /// changes to it cannot be seen (then memory is never trusted for it).
  pub fn track(&mut self, path: &Path) -> Option<u64> {
    self.drain();
    let dir = path.parent()?.to_path_buf();
    let watch = self.folder(&dir).ok()?;
    if !self.files.contains_key(path) {
      // A file that is a symlink changes where the link points, in a folder of its own (a
      // config kept in a dotfiles repository). A symlinked folder needs nothing: its watch
      // follows the link to the folder itself.
      let linked = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
      if let Some(real) = linked.then(|| std::fs::canonicalize(path).ok()).flatten() {
        if real != path {
          let real_watch = self.folder(real.parent()?).ok()?;
          self.aliases.insert(real.clone(), path.to_path_buf());
          self.watch_file(real_watch, &real);
        }
      }
      self.watch_file(watch, path);
      self.files.insert(
        path.to_path_buf(),
        Tracked {
          generation: 0,
          known: None,
        },
      );
    }
    self.files.get(path).map(|t| t.generation)
  }

  /// The generation of `path` now, `None` when it is not tracked or cannot be trusted.
  pub fn generation(&mut self, path: &Path) -> Option<u64> {
    self.drain();
    self.current(path)
  }

  /// The generation of `path` as of the last poll, `None` when it is not tracked or cannot
  /// be trusted.
  pub fn current(&self, path: &Path) -> Option<u64> {
    let dir = path.parent()?;
    self.folders.get(dir)?.watch.as_ref().ok()?;
    self.files.get(path).map(|t| t.generation)
  }

  /// Records the identity of the version of `path` we hold (read, or written by us):
  /// a replacement found to be that same file is no change.
  pub fn know(&mut self, path: &Path, id: Option<FileId>) {
    if let Some(tracked) = self.files.get_mut(path) {
      tracked.known = id;
    }
    // A replaced file is a new one to watch (kqueue).
    let watch = path
      .parent()
      .and_then(|dir| self.folders.get(dir))
      .and_then(|f| f.watch.as_ref().ok().copied());
    if let Some(watch) = watch {
      self.watch_file(watch, path);
    }
  }

  /// Whether memory may answer a reload: the notifier sees every completed change at once.
  pub fn exact(&self) -> bool {
    self.notifier.as_ref().is_ok_and(|n| n.exact())
  }

  /// Drains the notifier and returns how many changes to tracked files were ever seen.
  pub fn poll(&mut self) -> u64 {
    self.drain();
    self.changes
  }

  /// Whether changes in `dir` would be seen, or why not (what `sso-token --json` reports).
  pub fn describe(&mut self, dir: &Path) -> Result<(), String> {
    self.folder(dir).map(|_| ())
  }

  fn watch_file(&mut self, watch: WatchId, file: &Path) {
    if let Ok(notifier) = self.notifier.as_mut() {
      let _ = notifier.watch_file(watch, file);
    }
  }

  /// The watch of `dir`, set up on first use.
  fn folder(&mut self, dir: &Path) -> Result<WatchId, String> {
    if let Some(folder) = self.folders.get(dir) {
      return folder.watch.clone();
    }
    let watch = if let Some(off) = &self.off {
      Err(off.clone())
    } else if remote(dir) {
      Err("a network file system: its change events miss other machines".to_string())
    } else {
      match self.notifier.as_mut() {
        Ok(notifier) => notifier.watch_folder(dir).map_err(|e| describe(&e)),
        Err(why) => Err(why.clone()),
      }
    };
    match &watch {
      Ok(id) => {
        self.by_watch.insert(*id, dir.to_path_buf());
      }
      // A folder that does not exist yet is tried again next time: it may be created.
      Err(_) if !dir.is_dir() => return watch,
      Err(_) => {}
    }
    self.folders.insert(
      dir.to_path_buf(),
      Folder {
        watch: watch.clone(),
      },
    );
    watch
  }

  fn drain(&mut self) {
    let Ok(notifier) = self.notifier.as_mut() else {
      return;
    };
    notifier.drain(&mut self.events);
    if self.events.is_empty() {
      return;
    }
    let events = std::mem::take(&mut self.events);
    for event in &events {
      self.apply(event);
    }
    self.events = events;
    self.events.clear();
  }

  fn apply(&mut self, event: &Event) {
    if event.kind == Kind::Overflow {
      let all: Vec<PathBuf> = self.files.keys().cloned().collect();
      for path in all {
        self.changed(&path);
      }
      return;
    }
    let Some(dir) = self.by_watch.get(&event.watch).cloned() else {
      return;
    };
    let in_dir: Vec<PathBuf> = match (&event.name, event.kind) {
      (Some(name), kind) if kind != Kind::FolderGone => vec![dir.join(name)],
      _ => self
        .files
        .keys()
        .chain(self.aliases.keys())
        .filter(|p| p.parent() == Some(dir.as_path()))
        .cloned()
        .collect(),
    };
    if event.kind == Kind::FolderGone {
      if let Ok(notifier) = self.notifier.as_mut() {
        notifier.forget(event.watch);
      }
      self.by_watch.remove(&event.watch);
      self.folders.remove(&dir);
    }
    for path in in_dir {
      let held = self.aliases.get(&path).cloned().unwrap_or(path.clone());
      let Some(tracked) = self.files.get(&held) else {
        continue;
      };
      let ours = matches!(event.kind, Kind::Replaced | Kind::Removed | Kind::Unknown)
        && tracked.known.is_some()
        && FileId::at(&held) == tracked.known;
      if ours {
        if event.kind != Kind::Unknown {
          // The file we know is at the path again: watch it (kqueue).
          if let Some(Ok(id)) = self.folders.get(&dir).map(|f| f.watch.clone()) {
            self.watch_file(id, &path);
          }
        }
        continue;
      }
      self.changed(&held);
    }
  }

  fn changed(&mut self, path: &Path) {
    if let Some(tracked) = self.files.get_mut(path) {
      tracked.generation += 1;
      tracked.known = None;
      self.changes += 1;
    }
  }
}

#[cfg(test)]
mod tests;
