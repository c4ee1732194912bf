//! The SSO token cache (docs/behaviour.md §3 and §6): where a session's file is, what is
//! in it, how it is replaced, and the lock held while one process refreshes it.

pub mod lock;
pub mod token;
pub mod write;

pub use lock::{lock_path, FileLock};
pub use token::{format_timestamp, parse_timestamp, CachedToken};
pub use write::{temp_path, write_atomic};

use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

pub use crate::limits::MAX_CACHE_FILE_BYTES;

/// `<home>/.aws/sso/cache/<sha1 hex of key>.json`.
pub fn cache_path(home: &Path, key: &str) -> PathBuf {
  let digest = Sha1::digest(key.as_bytes());
  home
    .join(".aws")
    .join("sso")
    .join("cache")
    .join(format!("{}.json", hex::encode(digest)))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sha1_vector() {
    assert_eq!(
      cache_path(Path::new("/h"), "admin"),
      PathBuf::from("/h/.aws/sso/cache/d033e22ae348aeb5660fc2140aec35850c4da997.json")
    );
  }
}
