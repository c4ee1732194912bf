//! Whole loads through `Context::load` with a fake clock and a fake CreateToken, on real
//! files in a temporary home: every row of SPEC sections 4 and 6 without Node or network.

use serde_json::{json, Value};
use sso_token_core::cache::cache_path;
use sso_token_core::chrono::{DateTime, Duration, TimeZone, Utc};
use sso_token_core::oidc::{CreateTokenRequest, CreateTokenResponse, OidcError, Transport};
use sso_token_core::provider::{Clock, Context, Coordinator, LoadOptions, Loaded};
use sso_token_core::{Env, Error, Secret};
use std::collections::VecDeque;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
  fn new() -> Self {
    FakeClock(Mutex::new(
      Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap(),
    ))
  }
  fn advance(&self, secs: i64) {
    *self.0.lock().unwrap() += Duration::seconds(secs);
  }
}

impl Clock for FakeClock {
  fn now(&self) -> DateTime<Utc> {
    *self.0.lock().unwrap()
  }
}

#[derive(Default)]
struct FakeOidc {
  calls: AtomicUsize,
  answers: Mutex<VecDeque<Result<CreateTokenResponse, OidcError>>>,
  delay_ms: u64,
  /// Runs inside the call, as a user or another program would act meanwhile.
  during_call: Option<Box<dyn Fn() + Send + Sync>>,
  seen: Mutex<Vec<(String, String, String)>>,
}

impl FakeOidc {
  fn answering(answers: Vec<Result<CreateTokenResponse, OidcError>>) -> Self {
    FakeOidc {
      answers: Mutex::new(answers.into()),
      ..Default::default()
    }
  }
  fn calls(&self) -> usize {
    self.calls.load(Ordering::SeqCst)
  }
}

impl Transport for FakeOidc {
  fn create_token(
    &self,
    endpoint: &str,
    req: &CreateTokenRequest,
    _env: &Env,
  ) -> Result<CreateTokenResponse, OidcError> {
    self.calls.fetch_add(1, Ordering::SeqCst);
    self.seen.lock().unwrap().push((
      endpoint.to_string(),
      req.client_id.expose().to_string(),
      req.refresh_token.expose().to_string(),
    ));
    std::thread::sleep(std::time::Duration::from_millis(self.delay_ms));
    if let Some(f) = &self.during_call {
      f();
    }
    self
      .answers
      .lock()
      .unwrap()
      .pop_front()
      .unwrap_or(Err(OidcError::Transport("no answer scripted".into())))
  }
}

fn ok(
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

struct Home {
  dir: PathBuf,
  env: Env,
}

impl Drop for Home {
  fn drop(&mut self) {
    let _ = fs::remove_dir_all(&self.dir);
  }
}

static HOMES: AtomicUsize = AtomicUsize::new(0);

/// A home with profile `dev` -> session `sess` (or a legacy profile `old`), and `token` as
/// the cache file of `sess`.
fn home(token: Option<Value>) -> Home {
  let n = HOMES.fetch_add(1, Ordering::SeqCst);
  let dir = std::env::temp_dir().join(format!("sso-provider-test-{}-{n}", std::process::id()));
  let _ = fs::remove_dir_all(&dir);
  fs::create_dir_all(dir.join(".aws/sso/cache")).unwrap();
  fs::write(
    dir.join(".aws/config"),
    "[profile dev]\nsso_session = sess\n[sso-session sess]\nsso_start_url = https://d.awsapps.com/start\nsso_region = eu-west-1\n[profile old]\nsso_start_url = https://old/start\nsso_region = us-east-1\n",
  )
  .unwrap();
  let env = Env::from_pairs(&[("HOME", dir.to_str().unwrap())]);
  let h = Home { dir, env };
  if let Some(t) = token {
    fs::write(h.cache(), serde_json::to_vec(&t).unwrap()).unwrap();
  }
  h
}

impl Home {
  fn cache(&self) -> PathBuf {
    cache_path(&self.dir, "sess")
  }
  fn file(&self) -> Value {
    serde_json::from_slice(&fs::read(self.cache()).unwrap()).unwrap()
  }
}

fn token_expiring_in(clock: &FakeClock, secs: i64) -> Value {
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

fn load(
  h: &Home,
  clock: &FakeClock,
  oidc: &FakeOidc,
  coord: &Coordinator,
  profile: &str,
) -> Result<Loaded, Error> {
  Context {
    env: &h.env,
    clock,
    transport: oidc,
    coordinator: coord,
  }
  .load(&LoadOptions::new(profile))
}

#[test]
fn valid_token_is_served_without_a_call() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 3600)));
  let oidc = FakeOidc::default();
  let got = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  assert!(!got.refreshed);
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn token_inside_window_is_refreshed_and_written_back() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let before: Vec<String> = h.file().as_object().unwrap().keys().cloned().collect();
  let oidc = FakeOidc::answering(vec![ok("new-token", 3600, Some("rt-2"))]);
  let got = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(got.token.expose(), "new-token");
  assert_eq!(got.expires_at, clock.now() + Duration::seconds(3600));
  assert!(got.refreshed && got.write_error.is_none());
  let (endpoint, client_id, rt) = oidc.seen.lock().unwrap()[0].clone();
  assert_eq!(endpoint, "https://oidc.eu-west-1.amazonaws.com");
  assert_eq!((client_id.as_str(), rt.as_str()), ("cid", "rt-1"));
  let file = h.file();
  assert_eq!(file["accessToken"], "new-token");
  assert_eq!(file["refreshToken"], "rt-2");
  assert_eq!(file["expiresAt"], "2026-06-01T13:00:00.000Z");
  let after: Vec<String> = file.as_object().unwrap().keys().cloned().collect();
  assert_eq!(before, after, "key order kept");
}

#[test]
fn response_without_refresh_token_keeps_the_old_one() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let oidc = FakeOidc::answering(vec![ok("new-token", 3600, None)]);
  load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(h.file()["refreshToken"], "rt-1");
}

fn invalid_grant() -> Result<CreateTokenResponse, OidcError> {
  Err(OidcError::Http {
    status: 400,
    error: Some("invalid_grant".into()),
    description: Some("Invalid refresh token provided".into()),
  })
}

#[test]
fn failed_refresh_serves_a_still_valid_token_and_leaves_the_file() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let before = fs::read(h.cache()).unwrap();
  let oidc = FakeOidc::answering(vec![invalid_grant()]);
  let got = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  assert_eq!(
    got.refresh_note.as_deref(),
    Some("(invalid_grant, HTTP 400: Invalid refresh token provided)")
  );
  assert_eq!(fs::read(h.cache()).unwrap(), before);
}

#[test]
fn failed_refresh_of_an_expired_token_says_why() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, -5)));
  let oidc = FakeOidc::answering(vec![invalid_grant()]);
  let err = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap_err();
  assert_eq!(
    err.to_string(),
    "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)"
  );
}

#[test]
fn one_attempt_per_30_seconds_per_file() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 120)));
  let oidc = FakeOidc::answering(vec![invalid_grant(), invalid_grant(), invalid_grant()]);
  let coord = Coordinator::default();
  load(&h, &clock, &oidc, &coord, "dev").unwrap();
  clock.advance(29);
  let got = load(&h, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(oidc.calls(), 1, "throttled");
  // Loads inside the throttle report the failure that started it.
  assert_eq!(
    got.refresh_note.as_deref(),
    Some("(invalid_grant, HTTP 400: Invalid refresh token provided)")
  );
  clock.advance(71);
  load(&h, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(oidc.calls(), 2);

  // Throttled once the token has expired: the error, with the last cause, and no call.
  clock.advance(21);
  let err = load(&h, &clock, &oidc, &coord, "dev")
    .unwrap_err()
    .to_string();
  assert_eq!(oidc.calls(), 2);
  assert_eq!(
    err,
    "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)"
  );
}

#[test]
fn a_clock_set_back_does_not_extend_the_throttle() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 120)));
  let oidc = FakeOidc::answering(vec![invalid_grant(), invalid_grant()]);
  let coord = Coordinator::default();
  load(&h, &clock, &oidc, &coord, "dev").unwrap();
  clock.advance(-10);
  load(&h, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(oidc.calls(), 2);
}

#[test]
fn load_local_never_waits_and_settles_what_needs_no_network() {
  use sso_token_core::provider::Step;
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 120)));
  let oidc = FakeOidc::answering(vec![invalid_grant()]);
  let coord = Coordinator::default();
  let ctx = Context {
    env: &h.env,
    clock: &clock,
    transport: &oidc,
    coordinator: &coord,
  };
  let opts = LoadOptions::new("dev");
  assert!(matches!(ctx.load_local(&opts), Step::NeedsNetwork { .. }));
  assert_eq!(oidc.calls(), 0, "load_local never calls out");
  ctx.load(&opts).unwrap();
  // Throttled now: settled locally with the old token.
  match ctx.load_local(&opts) {
    Step::Done(Ok(l)) => assert_eq!(l.token.expose(), "old-token"),
    other => panic!("{other:?}"),
  }
  // A valid token never needs the network.
  let v = home(Some(token_expiring_in(&clock, 3600)));
  let ctx = Context { env: &v.env, ..ctx };
  assert!(matches!(ctx.load_local(&opts), Step::Done(Ok(_))));
  assert_eq!(oidc.calls(), 1);
}

#[test]
fn the_throttle_of_one_session_does_not_delay_another() {
  let clock = FakeClock::new();
  let a = home(Some(token_expiring_in(&clock, 120)));
  let b = home(Some(token_expiring_in(&clock, 120)));
  let oidc = FakeOidc::answering(vec![invalid_grant(), ok("b-token", 3600, None)]);
  let coord = Coordinator::default();
  load(&a, &clock, &oidc, &coord, "dev").unwrap();
  let got = load(&b, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(got.token.expose(), "b-token");
  assert_eq!(oidc.calls(), 2);
}

#[test]
fn concurrent_loads_in_one_process_make_one_call() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let oidc = FakeOidc {
    delay_ms: 100,
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  };
  let coord = Coordinator::default();
  std::thread::scope(|s| {
    let handles: Vec<_> = (0..8)
      .map(|_| s.spawn(|| load(&h, &clock, &oidc, &coord, "dev")))
      .collect();
    for handle in handles {
      assert_eq!(handle.join().unwrap().unwrap().token.expose(), "new-token");
    }
  });
  assert_eq!(oidc.calls(), 1);
}

#[cfg(unix)]
#[test]
fn a_failed_write_serves_the_new_token_from_memory() {
  let clock = FakeClock::new();
  let h = home(None);
  // The cache file is a symlink: never written through.
  let target = h.dir.join("real-token.json");
  fs::write(
    &target,
    serde_json::to_vec(&token_expiring_in(&clock, 60)).unwrap(),
  )
  .unwrap();
  std::os::unix::fs::symlink(&target, h.cache()).unwrap();
  let before = fs::read(&target).unwrap();
  let oidc = FakeOidc::answering(vec![ok("new-token", 3600, None)]);
  let coord = Coordinator::default();
  let got = load(&h, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(got.token.expose(), "new-token");
  assert!(got.write_error.is_some());
  assert_eq!(fs::read(&target).unwrap(), before);
  // The next load in this process still has it, with no second call.
  let again = load(&h, &clock, &oidc, &coord, "dev").unwrap();
  assert_eq!(again.token.expose(), "new-token");
  assert_eq!(oidc.calls(), 1);
}

#[test]
fn expired_registration_makes_no_call() {
  let clock = FakeClock::new();
  let mut t = token_expiring_in(&clock, -1);
  t["registrationExpiresAt"] = json!((clock.now() - Duration::days(1)).to_rfc3339());
  let h = home(Some(t));
  let oidc = FakeOidc::default();
  let err = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap_err();
  assert_eq!(
    err.to_string(),
    "SSO Token refresh failed. Please log in using \"aws sso login\" (client registration expired)"
  );
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn legacy_profiles_are_never_refreshed() {
  let clock = FakeClock::new();
  let h = home(None);
  let legacy = cache_path(&h.dir, "https://old/start");
  fs::write(
    &legacy,
    serde_json::to_vec(&token_expiring_in(&clock, 60)).unwrap(),
  )
  .unwrap();
  let oidc = FakeOidc::default();
  let got = load(&h, &clock, &oidc, &Coordinator::default(), "old").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  clock.advance(61);
  let err = load(&h, &clock, &oidc, &Coordinator::default(), "old").unwrap_err();
  assert_eq!(
    err.to_string(),
    "SSO Token for profile \"old\" has expired. Please log in using \"aws sso login\" for profile \"old\"."
  );
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn endpoint_override_and_its_off_switch() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let oidc = FakeOidc::answering(vec![ok("a", 3600, None), ok("b", 3600, None)]);
  let env = Env::from_pairs(&[
    ("HOME", h.dir.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
  ]);
  let ctx = |env| Context {
    env,
    clock: &clock,
    transport: &oidc,
    coordinator: Box::leak(Box::default()),
  };
  ctx(&env).load(&LoadOptions::new("dev")).unwrap();
  fs::write(
    h.cache(),
    serde_json::to_vec(&token_expiring_in(&clock, 60)).unwrap(),
  )
  .unwrap();
  let ignoring = Env::from_pairs(&[
    ("HOME", h.dir.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
  ]);
  ctx(&ignoring).load(&LoadOptions::new("dev")).unwrap();
  let seen = oidc.seen.lock().unwrap();
  assert_eq!(seen[0].0, "http://127.0.0.1:9");
  assert_eq!(seen[1].0, "https://oidc.eu-west-1.amazonaws.com");
}

#[test]
fn a_valid_token_missing_refresh_keys_is_served_inside_the_window() {
  let clock = FakeClock::new();
  let mut t = token_expiring_in(&clock, 60);
  t.as_object_mut().unwrap().remove("clientSecret");
  let h = home(Some(t.clone()));
  let oidc = FakeOidc::default();
  assert_eq!(
    load(&h, &clock, &oidc, &Coordinator::default(), "dev")
      .unwrap()
      .token
      .expose(),
    "old-token"
  );
  clock.advance(61);
  assert_eq!(
    load(&h, &clock, &oidc, &Coordinator::default(), "dev")
      .unwrap_err()
      .to_string(),
    "Key \"clientSecret\" not present in SSO Token"
  );
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn a_cache_file_deleted_or_replaced_during_the_refresh_is_left_alone() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&clock, 60)));
  let path = h.cache();
  let oidc = FakeOidc {
    during_call: Some(Box::new({
      let path = path.clone();
      move || fs::remove_file(&path).unwrap()
    })),
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  };
  let got = load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(got.token.expose(), "new-token");
  assert!(got.write_error.is_some());
  assert!(!path.exists(), "a logged-out session is not brought back");

  let h = home(Some(token_expiring_in(&clock, 60)));
  let path = h.cache();
  let relogin = json!({"accessToken": "from-login", "expiresAt": (clock.now() + Duration::hours(8)).to_rfc3339()});
  let oidc = FakeOidc {
    during_call: Some(Box::new({
      let path = path.clone();
      let relogin = relogin.clone();
      move || fs::write(&path, serde_json::to_vec(&relogin).unwrap()).unwrap()
    })),
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  };
  load(&h, &clock, &oidc, &Coordinator::default(), "dev").unwrap();
  assert_eq!(h.file(), relogin, "a fresh login is not overwritten");
}
