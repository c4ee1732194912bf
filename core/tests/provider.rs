//! Whole loads through the engine with a fake clock and a fake CreateToken, on real files
//! in a temporary home: every row of docs/behaviour.md §4 and §6 without Node or network.

mod support;

use serde_json::json;
use sso_token_core::cache::cache_path;
use sso_token_core::chrono::Duration;
use sso_token_core::{Clock, Env, LoadOptions, Step};
use std::fs;
use std::sync::Arc;
use support::*;

#[test]
fn valid_token_is_served_without_a_call() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 3600)));
  let oidc = Arc::new(FakeOidc::default());
  let got = load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  assert!(!got.refreshed);
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn token_inside_window_is_refreshed_and_written_back() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let before: Vec<String> = h.file().as_object().unwrap().keys().cloned().collect();
  let oidc = Arc::new(FakeOidc::answering(vec![ok(
    "new-token",
    3600,
    Some("rt-2"),
  )]));
  let got = load(&engine(&clock, &oidc), &h, "dev").unwrap();
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
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let oidc = Arc::new(FakeOidc::answering(vec![ok("new-token", 3600, None)]));
  load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(h.file()["refreshToken"], "rt-1");
}

#[test]
fn failed_refresh_serves_a_still_valid_token_and_leaves_the_file() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let before = fs::read(h.cache()).unwrap();
  let oidc = Arc::new(FakeOidc::answering(vec![invalid_grant()]));
  let got = load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  assert_eq!(
    got.refresh_note.map(|n| n.to_string()).as_deref(),
    Some("(invalid_grant, HTTP 400: Invalid refresh token provided)")
  );
  assert_eq!(fs::read(h.cache()).unwrap(), before);
}

#[test]
fn failed_refresh_of_an_expired_token_says_why() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, -5)));
  let oidc = Arc::new(FakeOidc::answering(vec![invalid_grant()]));
  let err = load(&engine(&clock, &oidc), &h, "dev").unwrap_err();
  assert_eq!(
    err.to_string(),
    "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)"
  );
}

#[test]
fn one_attempt_per_30_seconds_per_file() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 120)));
  let oidc = Arc::new(FakeOidc::answering(vec![
    invalid_grant(),
    invalid_grant(),
    invalid_grant(),
  ]));
  let coord = engine(&clock, &oidc);
  load(&coord, &h, "dev").unwrap();
  clock.advance(29);
  let got = load(&coord, &h, "dev").unwrap();
  assert_eq!(oidc.calls(), 1, "throttled");
  // Loads inside the throttle report the failure that started it.
  assert_eq!(
    got.refresh_note.map(|n| n.to_string()).as_deref(),
    Some("(invalid_grant, HTTP 400: Invalid refresh token provided)")
  );
  clock.advance(71);
  load(&coord, &h, "dev").unwrap();
  assert_eq!(oidc.calls(), 2);

  // Throttled once the token has expired: the error, with the last cause, and no call.
  clock.advance(21);
  let err = load(&coord, &h, "dev").unwrap_err().to_string();
  assert_eq!(oidc.calls(), 2);
  assert_eq!(
    err,
    "SSO Token refresh failed. Please log in using \"aws sso login\" (invalid_grant, HTTP 400: Invalid refresh token provided)"
  );
}

#[test]
fn a_clock_set_back_does_not_extend_the_throttle() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 120)));
  let oidc = Arc::new(FakeOidc::answering(vec![invalid_grant(), invalid_grant()]));
  let coord = engine(&clock, &oidc);
  load(&coord, &h, "dev").unwrap();
  clock.advance(-10);
  load(&coord, &h, "dev").unwrap();
  assert_eq!(oidc.calls(), 2);
}

#[test]
fn load_local_never_waits_and_settles_what_needs_no_network() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 120)));
  let oidc = Arc::new(FakeOidc {
    delay_ms: 300,
    ..FakeOidc::answering(vec![invalid_grant()])
  });
  let e = engine(&clock, &oidc);
  let opts = LoadOptions::new("dev");
  let start = std::time::Instant::now();
  let Step::Pending(pending) = e.load(&h.env, &opts) else {
    panic!("a due refresh is pending");
  };
  assert!(
    start.elapsed() < std::time::Duration::from_millis(200),
    "the local stage never waits"
  );
  pending.wait().unwrap();
  // Throttled now: settled locally with the old token.
  match e.load(&h.env, &opts) {
    Step::Done(Ok(l)) => assert_eq!(l.token.expose(), "old-token"),
    other => panic!("{other:?}"),
  }
  // A valid token never needs the network.
  let v = home(Some(token_expiring_in(&*clock, 3600)));
  assert!(matches!(e.load(&v.env, &opts), Step::Done(Ok(_))));
  assert_eq!(oidc.calls(), 1);
}

#[test]
fn the_throttle_of_one_session_does_not_delay_another() {
  let clock = FakeClock::new();
  let a = home(Some(token_expiring_in(&*clock, 120)));
  let b = home(Some(token_expiring_in(&*clock, 120)));
  let oidc = Arc::new(FakeOidc::answering(vec![
    invalid_grant(),
    ok("b-token", 3600, None),
  ]));
  let coord = engine(&clock, &oidc);
  load(&coord, &a, "dev").unwrap();
  let got = load(&coord, &b, "dev").unwrap();
  assert_eq!(got.token.expose(), "b-token");
  assert_eq!(oidc.calls(), 2);
}

#[test]
fn concurrent_loads_in_one_process_make_one_call() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let oidc = Arc::new(FakeOidc {
    delay_ms: 100,
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  });
  let coord = engine(&clock, &oidc);
  std::thread::scope(|s| {
    let handles: Vec<_> = (0..8)
      .map(|_| s.spawn(|| load(&coord, &h, "dev")))
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
    serde_json::to_vec(&token_expiring_in(&*clock, 60)).unwrap(),
  )
  .unwrap();
  std::os::unix::fs::symlink(&target, h.cache()).unwrap();
  let before = fs::read(&target).unwrap();
  let oidc = Arc::new(FakeOidc::answering(vec![ok("new-token", 3600, None)]));
  let coord = engine(&clock, &oidc);
  let got = load(&coord, &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "new-token");
  assert!(got.write_error.is_some());
  assert_eq!(fs::read(&target).unwrap(), before);
  // The next load in this process still has it, with no second call.
  let again = load(&coord, &h, "dev").unwrap();
  assert_eq!(again.token.expose(), "new-token");
  assert_eq!(oidc.calls(), 1);
}

#[test]
fn expired_registration_makes_no_call() {
  let clock = FakeClock::new();
  let mut t = token_expiring_in(&*clock, -1);
  t["registrationExpiresAt"] = json!((clock.now() - Duration::days(1)).to_rfc3339());
  let h = home(Some(t));
  let oidc = Arc::new(FakeOidc::default());
  let err = load(&engine(&clock, &oidc), &h, "dev").unwrap_err();
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
    serde_json::to_vec(&token_expiring_in(&*clock, 60)).unwrap(),
  )
  .unwrap();
  let oidc = Arc::new(FakeOidc::default());
  let got = load(&engine(&clock, &oidc), &h, "old").unwrap();
  assert_eq!(got.token.expose(), "old-token");
  clock.advance(61);
  let err = load(&engine(&clock, &oidc), &h, "old").unwrap_err();
  assert_eq!(
    err.to_string(),
    "SSO Token for profile \"old\" has expired. Please log in using \"aws sso login\" for profile \"old\"."
  );
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn endpoint_override_and_its_off_switch() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let oidc = Arc::new(FakeOidc::answering(vec![
    ok("a", 3600, None),
    ok("b", 3600, None),
  ]));
  let env = Env::from_pairs(&[
    ("HOME", h.dir.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
  ]);
  // A new engine per load: no throttle or in-process token carries over.
  let load_with = |env: &Env| {
    engine(&clock, &oidc)
      .load_blocking(env, &LoadOptions::new("dev"))
      .unwrap()
  };
  load_with(&env);
  fs::write(
    h.cache(),
    serde_json::to_vec(&token_expiring_in(&*clock, 60)).unwrap(),
  )
  .unwrap();
  let ignoring = Env::from_pairs(&[
    ("HOME", h.dir.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
  ]);
  load_with(&ignoring);
  let seen = oidc.seen.lock().unwrap();
  assert_eq!(seen[0].0, "http://127.0.0.1:9");
  assert_eq!(seen[1].0, "https://oidc.eu-west-1.amazonaws.com");
}

#[test]
fn a_valid_token_missing_refresh_keys_is_served_inside_the_window() {
  let clock = FakeClock::new();
  let mut t = token_expiring_in(&*clock, 60);
  t.as_object_mut().unwrap().remove("clientSecret");
  let h = home(Some(t.clone()));
  let oidc = Arc::new(FakeOidc::default());
  assert_eq!(
    load(&engine(&clock, &oidc), &h, "dev")
      .unwrap()
      .token
      .expose(),
    "old-token"
  );
  clock.advance(61);
  assert_eq!(
    load(&engine(&clock, &oidc), &h, "dev")
      .unwrap_err()
      .to_string(),
    "Key \"clientSecret\" not present in SSO Token, and the token has expired; log in again with \"aws sso login --profile dev\""
  );
  assert_eq!(oidc.calls(), 0);
}

#[test]
fn a_cache_file_deleted_or_replaced_during_the_refresh_is_left_alone() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let path = h.cache();
  let oidc = Arc::new(FakeOidc {
    during_call: Some(Box::new({
      let path = path.clone();
      move || fs::remove_file(&path).unwrap()
    })),
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  });
  let got = load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "new-token");
  assert!(got.write_error.is_some());
  assert!(!path.exists(), "a logged-out session is not brought back");

  let h = home(Some(token_expiring_in(&*clock, 60)));
  let path = h.cache();
  let relogin = json!({"accessToken": "from-login", "expiresAt": (clock.now() + Duration::hours(8)).to_rfc3339()});
  let oidc = Arc::new(FakeOidc {
    during_call: Some(Box::new({
      let path = path.clone();
      let relogin = relogin.clone();
      move || fs::write(&path, serde_json::to_vec(&relogin).unwrap()).unwrap()
    })),
    ..FakeOidc::answering(vec![ok("new-token", 3600, None)])
  });
  load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(h.file(), relogin, "a fresh login is not overwritten");
}

#[test]
fn after_invalid_grant_a_token_another_tool_wrote_meanwhile_is_used() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, -5)));
  let path = h.cache();
  let theirs = json!({"accessToken": "their-token", "expiresAt": (clock.now() + Duration::hours(1)).to_rfc3339(), "refreshToken": "rt-2"});
  // Their CreateToken won (the server rotated rt-1 away); their write lands after ours failed.
  let oidc = Arc::new(FakeOidc {
    during_call: Some(Box::new({
      let (path, theirs) = (path.clone(), theirs.clone());
      move || {
        let (path, theirs) = (path.clone(), theirs.clone());
        std::thread::spawn(move || {
          std::thread::sleep(std::time::Duration::from_millis(50));
          fs::write(&path, serde_json::to_vec(&theirs).unwrap()).unwrap();
        });
      }
    })),
    ..FakeOidc::answering(vec![invalid_grant()])
  });
  let patient = sso_token_core::Patience {
    rival_write: std::time::Duration::from_millis(500),
    ..NO_WAIT
  };
  let e = sso_token_core::Engine::with(
    clock.clone(),
    oidc.clone(),
    patient,
    sso_token_core::watch::Watch::system(),
  );
  let got = load(&e, &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "their-token");
  assert!(got.refreshed);
  assert_eq!(oidc.calls(), 1);
  assert_eq!(h.file(), theirs, "their file is left as they wrote it");
}

#[test]
fn a_failed_refresh_without_invalid_grant_still_takes_a_newer_token_already_there() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 60)));
  let path = h.cache();
  let oidc = Arc::new(FakeOidc {
    during_call: Some(Box::new(move || {
      let theirs = json!({"accessToken": "their-token", "expiresAt": "2999-01-01T00:00:00Z"});
      fs::write(&path, serde_json::to_vec(&theirs).unwrap()).unwrap();
    })),
    ..FakeOidc::answering(vec![Err(sso_token_core::oidc::OidcError::Transport(
      "reset".into(),
    ))])
  });
  let got = load(&engine(&clock, &oidc), &h, "dev").unwrap();
  assert_eq!(got.token.expose(), "their-token");
}

#[test]
fn inside_the_advisory_band_loads_answer_at_once_and_one_refresh_runs_behind() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 600)));
  let oidc = Arc::new(FakeOidc {
    delay_ms: 200,
    ..FakeOidc::answering(vec![ok("new-token", 3600, Some("rt-2"))])
  });
  let e = engine(&clock, &oidc);
  let (told, heard) = std::sync::mpsc::channel();
  e.on_settled(Box::new(move |path, settled| {
    let what = match &settled.result {
      Ok((token, ..)) => token.expose().to_string(),
      Err(e) => e.to_string(),
    };
    told.send((path.to_path_buf(), what)).unwrap();
  }));
  let opts = LoadOptions {
    window: sso_token_core::Window::from_secs_f64(300.0, 900.0).unwrap(),
    ..LoadOptions::new("dev")
  };
  let start = std::time::Instant::now();
  for _ in 0..20 {
    match e.load(&h.env, &opts) {
      Step::Done(Ok(l)) => assert_eq!(l.token.expose(), "old-token"),
      other => panic!("{other:?}"),
    }
  }
  assert!(
    start.elapsed() < std::time::Duration::from_millis(150),
    "no load waited"
  );
  let (path, what) = heard
    .recv_timeout(std::time::Duration::from_secs(5))
    .unwrap();
  assert_eq!((path, what.as_str()), (h.cache(), "new-token"));
  assert_eq!(oidc.calls(), 1);
  assert_eq!(h.file()["accessToken"], "new-token");
  match e.load(&h.env, &opts) {
    Step::Done(Ok(l)) => assert_eq!(l.token.expose(), "new-token"),
    other => panic!("{other:?}"),
  }
}

#[test]
fn a_failing_refresh_ahead_is_heard_by_listeners_and_by_no_load() {
  let clock = FakeClock::new();
  let h = home(Some(token_expiring_in(&*clock, 600)));
  let before = fs::read(h.cache()).unwrap();
  let oidc = Arc::new(FakeOidc::answering(vec![invalid_grant()]));
  let e = engine(&clock, &oidc);
  let (told, heard) = std::sync::mpsc::channel();
  e.on_settled(Box::new(move |_, settled| {
    told
      .send(!settled.refreshed && settled.note.is_some())
      .unwrap();
  }));
  let opts = LoadOptions {
    window: sso_token_core::Window::from_secs_f64(300.0, 900.0).unwrap(),
    ..LoadOptions::new("dev")
  };
  assert!(matches!(e.load(&h.env, &opts), Step::Done(Ok(_))));
  assert!(heard
    .recv_timeout(std::time::Duration::from_secs(5))
    .unwrap());
  // Throttled now: the next load in the band starts nothing and still answers.
  match e.load(&h.env, &opts) {
    Step::Done(Ok(l)) => assert_eq!(l.token.expose(), "old-token"),
    other => panic!("{other:?}"),
  }
  assert_eq!(oidc.calls(), 1);
  assert_eq!(fs::read(h.cache()).unwrap(), before);
}
