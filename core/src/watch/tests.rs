//! The registry's rules with a scripted notifier (every platform), and the system's own
//! notifier on real files.

use super::*;
use std::sync::{Arc, Mutex};

/// A notifier that reports what the test queues.
#[derive(Clone, Default)]
struct Scripted {
  queue: Arc<Mutex<Vec<Event>>>,
  folders: Arc<Mutex<Vec<PathBuf>>>,
  files: Arc<Mutex<Vec<PathBuf>>>,
}

impl Scripted {
  fn push(&self, kind: Kind, name: Option<&str>) {
    self.queue.lock().unwrap().push(Event {
      watch: 1,
      name: name.map(OsString::from),
      kind,
    });
  }
}

impl Notifier for Scripted {
  fn watch_folder(&mut self, dir: &Path) -> io::Result<WatchId> {
    self.folders.lock().unwrap().push(dir.to_path_buf());
    Ok(self.folders.lock().unwrap().len() as WatchId)
  }
  fn watch_file(&mut self, _watch: WatchId, file: &Path) -> io::Result<()> {
    self.files.lock().unwrap().push(file.to_path_buf());
    Ok(())
  }
  fn forget(&mut self, _watch: WatchId) {}
  fn drain(&mut self, events: &mut Vec<Event>) {
    events.append(&mut self.queue.lock().unwrap());
  }
}

fn scripted(dir: &Path) -> (Watch, Scripted, PathBuf) {
  let notifier = Scripted::default();
  let watch = Watch::new(Ok(Box::new(notifier.clone())), None);
  let file = dir.join("t.json");
  std::fs::write(&file, b"one").unwrap();
  (watch, notifier, file)
}

#[test]
fn a_write_in_place_always_changes_the_generation() {
  let dir = crate::testing::temp_dir("watch-modified");
  let (mut watch, notifier, file) = scripted(&dir);
  let g = watch.track(&file).unwrap();
  watch.know(&file, FileId::at(&file));
  notifier.push(Kind::Modified, Some("t.json"));
  assert_eq!(watch.generation(&file), Some(g + 1));
  assert_eq!(watch.poll(), 1);
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_replacement_by_the_file_we_know_is_no_change_and_any_other_is() {
  let dir = crate::testing::temp_dir("watch-replaced");
  let (mut watch, notifier, file) = scripted(&dir);
  let g = watch.track(&file).unwrap();
  watch.know(&file, FileId::at(&file));
  notifier.push(Kind::Replaced, Some("t.json"));
  notifier.push(Kind::Unknown, None);
  assert_eq!(watch.generation(&file), Some(g), "our own file");
  // Another file renamed over it: a new identity.
  let other = dir.join("new");
  std::fs::write(&other, b"other content").unwrap();
  std::fs::rename(&other, &file).unwrap();
  notifier.push(Kind::Replaced, Some("t.json"));
  assert_eq!(watch.generation(&file), Some(g + 1));
  // Once changed, nothing is known: the next replacement is a change too, until a load
  // reads the file again.
  notifier.push(Kind::Unknown, None);
  assert_eq!(watch.generation(&file), Some(g + 2));
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_deleted_file_is_a_change_and_events_for_other_names_are_not() {
  let dir = crate::testing::temp_dir("watch-removed");
  let (mut watch, notifier, file) = scripted(&dir);
  let g = watch.track(&file).unwrap();
  watch.know(&file, FileId::at(&file));
  notifier.push(Kind::Modified, Some("t.json.lock"));
  notifier.push(Kind::Replaced, Some(".t.json.1.0.tmp"));
  assert_eq!(watch.generation(&file), Some(g));
  std::fs::remove_file(&file).unwrap();
  notifier.push(Kind::Removed, Some("t.json"));
  assert_eq!(watch.generation(&file), Some(g + 1));
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_lost_queue_or_a_folder_gone_changes_every_file_and_the_folder_is_watched_again() {
  let dir = crate::testing::temp_dir("watch-overflow");
  let (mut watch, notifier, file) = scripted(&dir);
  let g = watch.track(&file).unwrap();
  notifier.push(Kind::Overflow, None);
  assert_eq!(watch.generation(&file), Some(g + 1));
  notifier.push(Kind::FolderGone, None);
  // The folder's watch ended: nothing about the file can be trusted until tracked again.
  assert_eq!(watch.generation(&file), None);
  assert_eq!(watch.track(&file), Some(g + 2));
  assert_eq!(notifier.folders.lock().unwrap().len(), 2, "watched again");
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_notifier_or_with_watching_off_nothing_is_trusted() {
  let dir = crate::testing::temp_dir("watch-off");
  let file = dir.join("t.json");
  let mut none = Watch::new(Err("no notifier".into()), None);
  assert_eq!(none.track(&file), None);
  assert_eq!(none.describe(&dir), Err("no notifier".into()));
  let mut off = Watch::new(
    Ok(Box::new(Scripted::default())),
    Some("turned off by SSO_TOKEN_PROVIDER_WATCH".into()),
  );
  assert_eq!(off.track(&file), None);
  assert_eq!(
    off.describe(&dir),
    Err("turned off by SSO_TOKEN_PROVIDER_WATCH".into())
  );
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_are_watched_themselves_where_the_notifier_needs_it() {
  let dir = crate::testing::temp_dir("watch-files");
  let (mut watch, notifier, file) = scripted(&dir);
  watch.track(&file).unwrap();
  // After our own write the new file is watched (kqueue watches one inode at a time).
  watch.know(&file, FileId::at(&file));
  assert_eq!(
    notifier.files.lock().unwrap().as_slice(),
    [file.clone(), file]
  );
  std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_file_behind_a_symlink_changes_where_the_link_points() {
  let dir = crate::testing::temp_dir("watch-symlink");
  let real_dir = dir.join("dotfiles");
  std::fs::create_dir_all(&real_dir).unwrap();
  let real = real_dir.join("config");
  std::fs::write(&real, b"[profile a]").unwrap();
  let link = dir.join("config");
  std::os::unix::fs::symlink(&real, &link).unwrap();
  let notifier = Scripted::default();
  let mut watch = Watch::new(Ok(Box::new(notifier.clone())), None);
  let g = watch.track(&link).unwrap();
  assert_eq!(notifier.folders.lock().unwrap().len(), 2);
  // Watch 2 is the real folder.
  notifier.queue.lock().unwrap().push(Event {
    watch: 2,
    name: Some("config".into()),
    kind: Kind::Modified,
  });
  assert_eq!(watch.generation(&link), Some(g + 1));
  std::fs::remove_dir_all(&dir).unwrap();
}

/// The system's notifier: every write that returned before the poll is seen, in place or
/// by rename, and our own rename is not a change.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
#[test]
fn the_system_notifier_sees_every_completed_write_at_once() {
  let dir = crate::testing::temp_dir("watch-system");
  let file = dir.join("t.json");
  std::fs::write(&file, b"0").unwrap();
  let mut watch = Watch::new(system_notifier(), None);
  // Where events come late (Wine), each must still come, within a second.
  let patience = if watch.exact() {
    std::time::Duration::ZERO
  } else {
    std::time::Duration::from_secs(1)
  };
  let mut g = watch.track(&file).unwrap();
  watch.know(&file, FileId::at(&file));
  for round in 0..200 {
    if round % 2 == 0 {
      std::fs::write(&file, format!("{round}")).unwrap();
    } else {
      let tmp = dir.join(".t.json.tmp");
      std::fs::write(&tmp, format!("{round}")).unwrap();
      std::fs::rename(&tmp, &file).unwrap();
    }
    let deadline = std::time::Instant::now() + patience;
    let mut now = watch.generation(&file).unwrap();
    while now == g && std::time::Instant::now() < deadline {
      std::thread::sleep(std::time::Duration::from_millis(1));
      now = watch.generation(&file).unwrap();
    }
    assert!(now > g, "round {round}: the write was not seen");
    g = now;
    watch.know(&file, FileId::at(&file));
  }
  // Our own replacement, known before the poll: no change.
  let tmp = dir.join(".t.json.tmp");
  std::fs::write(&tmp, b"ours").unwrap();
  let ours = FileId::at(&tmp);
  std::fs::rename(&tmp, &file).unwrap();
  watch.know(&file, ours);
  std::thread::sleep(patience.min(std::time::Duration::from_millis(100)));
  assert_eq!(watch.generation(&file), Some(g));
  std::fs::remove_dir_all(&dir).unwrap();
}
