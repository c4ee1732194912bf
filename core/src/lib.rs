//! The pure-Rust core of sso-token-provider: AWS config lookup, the SSO token cache, the
//! refresh decision and SSO OIDC CreateToken. Nothing here knows about Node.js; the napi
//! binding in the parent crate is a thin layer over [`provider::Context::load`].

pub mod cache;
pub mod config;
pub mod decide;
pub mod env;
pub mod error;
pub mod ini;
pub mod lock;
pub mod oidc;
pub mod provider;
pub mod secret;

pub use chrono;
pub use env::Env;
pub use error::{Error, ERROR_CODE};
pub use provider::{Context, Coordinator, LoadOptions, Loaded, SystemClock};
pub use secret::Secret;
