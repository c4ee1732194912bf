//! What the integration tests share: a fake clock, a scripted CreateToken, and a temporary
//! home with a config and a cache file.

#![allow(dead_code)] // each test file uses its own part of this

use serde_json::{json, Value};
use sso_token_core::cache::cache_path;
use sso_token_core::chrono::{DateTime, Duration, TimeZone, Utc};
use sso_token_core::oidc::{
  BoxFuture, CreateTokenRequest, CreateTokenResponse, OidcError, Transport,
};
use sso_token_core::watch::Watch;
use sso_token_core::{Clock, Engine, Env, Error, LoadOptions, Loaded, Patience, Secret};
use std::collections::VecDeque;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A clock that moves only when told.
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
  pub fn new() -> Arc<Self> {
    Arc::new(FakeClock(Mutex::new(
      Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap(),
    )))
  }
  pub fn advance(&self, secs: i64) {
    *self.0.lock().unwrap() += Duration::seconds(secs);
  }
}

impl Clock for FakeClock {
  fn now(&self) -> DateTime<Utc> {
    *self.0.lock().unwrap()
  }
}

/// A CreateToken that answers from a script (or always the same way), counts its calls and
/// records what it was sent.
#[derive(Default)]
pub struct FakeOidc {
  pub calls: AtomicUsize,
  pub answers: Mutex<VecDeque<Result<CreateTokenResponse, OidcError>>>,
  /// When the script is spent: this answer for every further call (else a transport error).
  pub always: Option<Result<CreateTokenResponse, OidcError>>,
  pub delay_ms: u64,
  /// Runs inside the call, as a user or another program would act meanwhile.
  pub during_call: Option<Box<dyn Fn() + Send + Sync>>,
  pub seen: Mutex<Vec<(String, String, String)>>,
}

impl FakeOidc {
  pub fn answering(answers: Vec<Result<CreateTokenResponse, OidcError>>) -> Self {
    FakeOidc {
      answers: Mutex::new(answers.into()),
      ..Default::default()
    }
  }
  pub fn calls(&self) -> usize {
    self.calls.load(Ordering::SeqCst)
  }
}

impl Transport for FakeOidc {
  fn create_token<'a>(
    &'a self,
    endpoint: &'a str,
    req: &'a CreateTokenRequest,
    _env: &'a Env,
  ) -> BoxFuture<'a, Result<CreateTokenResponse, OidcError>> {
    Box::pin(async move {
      self.calls.fetch_add(1, Ordering::SeqCst);
      self.seen.lock().unwrap().push((
        endpoint.to_string(),
        req.client_id.expose().to_string(),
        req.refresh_token.expose().to_string(),
      ));
      // As a server would: the wait holds no thread.
      tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
      if let Some(f) = &self.during_call {
        f();
      }
      let scripted = self.answers.lock().unwrap().pop_front();
      scripted
        .or_else(|| self.always.clone())
        .unwrap_or(Err(OidcError::Transport("no answer scripted".into())))
    })
  }
}

pub fn ok(
  token: &str,
  expires_in: i64,
  refresh: Option<&str>,
) -> Result<CreateTokenResponse, OidcError> {
  Ok(CreateTokenResponse {
    access_token: Secret::new(token),
    expires_in,
    refresh_token: refresh.map(Secret::new),
  })
}

pub fn invalid_grant() -> Result<CreateTokenResponse, OidcError> {
  Err(OidcError::Http {
    status: 400,
    error: Some("invalid_grant".into()),
    description: Some("Invalid refresh token provided".into()),
  })
}

/// A temporary home, removed when dropped.
pub struct Home {
  pub dir: PathBuf,
  pub env: Env,
}

impl Drop for Home {
  fn drop(&mut self) {
    let _ = fs::remove_dir_all(&self.dir);
  }
}

static HOMES: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty temporary folder for `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
  let n = HOMES.fetch_add(1, Ordering::SeqCst);
  let dir = std::env::temp_dir().join(format!("sso-{tag}-{}-{n}", std::process::id()));
  let _ = fs::remove_dir_all(&dir);
  fs::create_dir_all(&dir).unwrap();
  dir
}

/// A home with profile `dev` -> session `sess` (and a legacy profile `old`), and `token` as
/// the cache file of `sess`.
pub fn home(token: Option<Value>) -> Home {
  home_with_config(
    "[profile dev]\nsso_session = sess\n[sso-session sess]\nsso_start_url = https://d.awsapps.com/start\nsso_region = eu-west-1\n[profile old]\nsso_start_url = https://old/start\nsso_region = us-east-1\n",
    token,
  )
}

/// A home with `config`, and `token` as the cache file of session `sess`.
pub fn home_with_config(config: &str, token: Option<Value>) -> Home {
  let dir = temp_dir("home");
  fs::create_dir_all(dir.join(".aws/sso/cache")).unwrap();
  fs::write(dir.join(".aws/config"), config).unwrap();
  let env = Env::from_pairs(&[("HOME", dir.to_str().unwrap())]);
  let h = Home { dir, env };
  if let Some(t) = token {
    fs::write(h.cache(), serde_json::to_vec(&t).unwrap()).unwrap();
  }
  h
}

impl Home {
  pub fn cache(&self) -> PathBuf {
    cache_path(&self.dir, "sess")
  }
  pub fn file(&self) -> Value {
    serde_json::from_slice(&fs::read(self.cache()).unwrap()).unwrap()
  }
}

/// A refreshable cache document whose token expires `secs` after the clock's now.
pub fn token_expiring_in(clock: &dyn Clock, secs: i64) -> Value {
  json!({
    "startUrl": "https://d.awsapps.com/start",
    "region": "eu-west-1",
    "accessToken": "old-token",
    "expiresAt": (clock.now() + Duration::seconds(secs)).to_rfc3339(),
    "clientId": "cid",
    "clientSecret": "csecret",
    "registrationExpiresAt": (clock.now() + Duration::days(30)).to_rfc3339(),
    "refreshToken": "rt-1",
  })
}

/// No waiting on other tools' writes.
pub const NO_WAIT: Patience = Patience {
  torn_read: std::time::Duration::ZERO,
  rival_write: std::time::Duration::ZERO,
  lock: std::time::Duration::from_secs(35),
};

/// An engine over `clock` and `oidc` that never waits on other writers. On Windows it
/// watches nothing: a test removes its home while the engine may still hold the folder
/// handles a watch keeps open there (Wine then never finishes the removal); the Windows
/// notifier has tests of its own (core/src/watch/tests.rs).
pub fn engine(clock: &Arc<FakeClock>, oidc: &Arc<FakeOidc>) -> Arc<Engine> {
  let watch = if cfg!(windows) {
    Watch::new(Err("not watched in these tests".into()), None)
  } else {
    Watch::system()
  };
  Engine::with(clock.clone(), oidc.clone(), NO_WAIT, watch)
}

/// One whole load of `profile` in `h`, waiting for a refresh when one is due.
pub fn load(engine: &Arc<Engine>, h: &Home, profile: &str) -> Result<Loaded, Error> {
  engine.load_blocking(&h.env, &LoadOptions::new(profile))
}
