//! The pure-Rust core of sso-token-provider: AWS config lookup, the SSO token cache, the
//! refresh decision, SSO OIDC CreateToken and change detection. Nothing here knows about
//! Node.js; the napi binding in the parent crate is a thin layer over [`Engine::load`] and
//! [`Engine::lookup`].
//!
//! The behaviour the code cites (`docs/behaviour.md §N`) is written down in the
//! repository's `docs/behaviour.md`.

#![warn(missing_docs)]

pub mod cache;
pub mod clock;
pub mod config;
pub mod decide;
pub mod engine;
pub mod env;
pub mod error;
pub mod files;
pub mod limits;
pub mod login;
pub mod oidc;
pub mod refresh;
pub mod runtime;
pub mod secret;
pub mod watch;

pub use chrono;
pub use clock::{Clock, SystemClock};
pub use decide::Window;
pub use engine::{Engine, LoadOptions, Loaded, Lookup, Pending, Settled, Snapshot, Step};
pub use env::Env;
pub use error::{ConfigFile, Error, RefreshCause, ERROR_CODE};
pub use refresh::Patience;
pub use secret::Secret;

#[cfg(test)]
mod testing {
  /// A fresh, empty folder under the system's temp folder, named for the test and process.
  pub(crate) fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sso-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
  }
}
