//! Signing out as `aws sso logout` does (docs/behaviour.md §10; `awscli/customizations/
//! sso/logout.py`, CLI 2.36.7): for each token file (a JSON object with `accessToken`) in
//! `~/.aws/sso/cache`, the portal's Logout (`POST /logout`, the token in the
//! `x-amz-sso_bearer_token` header, on `https://portal.sso.{region}.{dns suffix}` or
//! `AWS_ENDPOINT_URL_SSO`) when the file names its region, then the file removed; then the
//! CLI's cached role credentials (`~/.aws/cli/cache`, `"ProviderType": "sso"`). Registration
//! files stay. With a profile, only that profile's token file is signed out.
//!
//! Where the CLI stops at a Logout that cannot connect and keeps the file, the file is
//! removed anyway and the failure reported: the user asked for the token to be gone.
//! Each file is removed under its lock, so that a refresh in another process cannot write
//! it back just after.

use super::blocking;
use super::calls::Call;
use super::error::LoginError;
use super::plan::read_profile;
use crate::cache::{lock_path, FileLock, MAX_CACHE_FILE_BYTES};
use crate::env::Env;
use crate::error::Error;
use crate::files::read_regular;
use crate::oidc::endpoint::{service_endpoint, Owner, Variants, SSO_PORTAL};
use crate::oidc::http::Request;
use crate::oidc::policy::Policy;
use crate::oidc::transport::{judge, Route};
use crate::oidc::OidcError;
use crate::refresh::LOCK_WAIT;
use crate::secret::{zeroize_json, Secret};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokio::task::JoinSet;
use zeroize::Zeroize;

/// What a caller asks of one sign-out.
#[derive(Debug, Clone, Default)]
pub struct LogoutOptions {
  /// Only this profile's token file; every token file when `None`, as the CLI.
  pub profile: Option<String>,
}

/// A finished sign-out.
#[derive(Debug, Clone, Default)]
pub struct LoggedOut {
  /// The files removed: token files, then the CLI's cached SSO role credentials.
  pub removed: Vec<PathBuf>,
  /// What did not go as it should without stopping the sign-out: a Logout the portal
  /// refused or that could not be sent.
  pub warnings: Vec<String>,
}

/// Signs out as the module says. Fails only when the cache folder cannot be listed, the
/// profile cannot be read, or a token file could not be removed (after every other file
/// was dealt with).
pub async fn logout(
  options: LogoutOptions,
  env: Env,
  policy: Policy,
) -> Result<LoggedOut, LoginError> {
  let found = {
    let env = env.clone();
    blocking(move || token_files(&env, options.profile.as_deref())).await??
  };
  let mut tasks = JoinSet::new();
  for file in found.files {
    let (env, variants) = (env.clone(), found.variants);
    tasks.spawn(sign_out(file, env, variants, policy));
  }
  let mut out = LoggedOut::default();
  let mut failure = None;
  while let Some(done) = tasks.join_next().await {
    let done = done.map_err(|_| LoginError::Internal("a sign-out task did not run".into()))?;
    out.warnings.extend(done.warning);
    match done.removed {
      Ok(Some(path)) => out.removed.push(path),
      Ok(None) => {}
      Err(e) => failure = failure.or(Some(e)),
    }
  }
  out.removed.sort();
  if let Some(e) = failure {
    return Err(e);
  }
  if let Some(dir) = found.credentials_dir {
    let (removed, warnings) = blocking(move || sweep_credentials(&dir)).await?;
    out.removed.extend(removed);
    out.warnings.extend(warnings);
  }
  Ok(out)
}

/// A token file to sign out.
struct TokenFile {
  path: PathBuf,
  token: Option<Secret>,
  region: Option<String>,
}

struct Found {
  files: Vec<TokenFile>,
  variants: Variants,
  /// `~/.aws/cli/cache`, swept on a sign-out of everything.
  credentials_dir: Option<PathBuf>,
}

fn token_files(env: &Env, profile: Option<&str>) -> Result<Found, LoginError> {
  let home = env.home_dir().ok_or(Error::NoHomeDir)?;
  let Some(profile) = profile else {
    let dir = home.join(".aws").join("sso").join("cache");
    let entries = match std::fs::read_dir(&dir) {
      Ok(entries) => entries,
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
        return Ok(Found {
          files: Vec::new(),
          variants: Variants::from(env, None, None),
          credentials_dir: Some(home.join(".aws").join("cli").join("cache")),
        })
      }
      Err(e) => {
        return Err(LoginError::CacheDir {
          path: dir,
          cause: e.to_string(),
        })
      }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    return Ok(Found {
      files: paths.iter().filter_map(|p| token_file(p)).collect(),
      variants: Variants::from(env, None, None),
      credentials_dir: Some(home.join(".aws").join("cli").join("cache")),
    });
  };
  let profile = read_profile(env, profile)?;
  Ok(Found {
    files: token_file(&profile.token_path).into_iter().collect(),
    variants: profile.variants,
    credentials_dir: None,
  })
}

/// The file at `path` if it is a token file (the CLI's `'accessToken' in contents`), with
/// what its Logout needs; a folder, a broken file or a registration file is not.
fn token_file(path: &Path) -> Option<TokenFile> {
  let mut bytes = read_regular(path, MAX_CACHE_FILE_BYTES).ok()?;
  let parsed = serde_json::from_slice::<Value>(&bytes);
  bytes.zeroize();
  let mut value = parsed.ok()?;
  let file = match &value {
    Value::Object(doc) if doc.contains_key("accessToken") => {
      let text = |key: &str| {
        doc
          .get(key)
          .and_then(Value::as_str)
          .filter(|s| !s.is_empty())
      };
      Some(TokenFile {
        path: path.to_path_buf(),
        token: text("accessToken").map(Secret::new),
        region: text("region").map(str::to_string),
      })
    }
    _ => None,
  };
  zeroize_json(&mut value);
  file
}

struct SignedOut {
  /// The file removed (`None`: someone else removed it first).
  removed: Result<Option<PathBuf>, LoginError>,
  warning: Option<String>,
}

/// One file: its Logout when it names a region, then the file removed under its lock.
async fn sign_out(file: TokenFile, env: Env, variants: Variants, policy: Policy) -> SignedOut {
  let warning = match (&file.token, &file.region) {
    (Some(token), Some(region)) => portal_logout(&file.path, token, region, &env, variants, policy)
      .await
      .err()
      .map(|e| {
        format!(
          "{} of \"{}\" failed {e}; the file is removed anyway",
          Call::Logout.name(),
          file.path.display()
        )
      }),
    _ => None,
  };
  let path = file.path.clone();
  let removed = blocking(move || remove_locked(&path))
    .await
    .and_then(|removed| removed);
  SignedOut { removed, warning }
}

async fn portal_logout(
  path: &Path,
  token: &Secret,
  region: &str,
  env: &Env,
  variants: Variants,
  policy: Policy,
) -> Result<(), OidcError> {
  let endpoint = service_endpoint(SSO_PORTAL, region, Owner::File(path), variants, env)?;
  let route = Route::to(&endpoint, env, "the access token")?;
  let secrets = [token.expose()];
  let answer = route
    .send(
      Request {
        target: &route.target,
        method: http::Method::POST,
        path: "/logout",
        headers: &[("x-amz-sso_bearer_token", token.expose(), true)],
        body: None,
      },
      &policy,
      &secrets,
    )
    .await?;
  judge(answer, &secrets, |_| Ok(()))
}

/// Removes `path` under its lock; `Ok(None)` when it was gone already.
fn remove_locked(path: &Path) -> Result<Option<PathBuf>, LoginError> {
  // A refresh holding the lock writes only over the file it started from: once it lets
  // go, it finds the file gone and writes nothing. Without the lock (held past the wait)
  // the file is removed all the same.
  let _lock = FileLock::acquire(&lock_path(path), LOCK_WAIT)
    .ok()
    .flatten();
  match std::fs::remove_file(path) {
    Ok(()) => Ok(Some(path.to_path_buf())),
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
    Err(e) => Err(LoginError::Remove {
      path: path.to_path_buf(),
      cause: e.to_string(),
    }),
  }
}

/// The CLI's `SSOCredentialSweeper`: files of `dir` holding `"ProviderType": "sso"`, and
/// why any of them could not be removed.
fn sweep_credentials(dir: &Path) -> (Vec<PathBuf>, Vec<String>) {
  let (mut removed, mut warnings) = (Vec::new(), Vec::new());
  let Ok(entries) = std::fs::read_dir(dir) else {
    return (removed, warnings);
  };
  for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
    let Ok(mut bytes) = read_regular(&path, MAX_CACHE_FILE_BYTES) else {
      continue;
    };
    let parsed = serde_json::from_slice::<Value>(&bytes);
    bytes.zeroize();
    let Ok(mut value) = parsed else {
      continue;
    };
    let sso = value.get("ProviderType").and_then(Value::as_str) == Some("sso");
    zeroize_json(&mut value);
    if !sso {
      continue;
    }
    match std::fs::remove_file(&path) {
      Ok(()) => removed.push(path),
      Err(e) => warnings.push(format!(
        "the cached SSO credentials \"{}\" could not be removed: {e}",
        path.display()
      )),
    }
  }
  removed.sort();
  (removed, warnings)
}
