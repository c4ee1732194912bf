//! The pure-Rust core of sso-token-provider: AWS config lookup, the SSO token cache, the
//! refresh decision and SSO OIDC CreateToken. Nothing here knows about Node.js; the napi
//! binding in the parent crate is a thin layer over [`Engine::load`].
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
pub mod oidc;
pub mod pool;
pub mod refresh;
pub mod secret;

pub use chrono;
pub use clock::{Clock, SystemClock};
pub use decide::Window;
pub use engine::{Engine, LoadOptions, Loaded, Patience, Pending, Refreshed, Step};
pub use env::Env;
pub use error::{Error, RefreshCause, ERROR_CODE};
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
