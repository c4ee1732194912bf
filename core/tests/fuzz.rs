//! Property tests over the three parsers that read outside input: the INI config, the token
//! cache file (with its timestamps) and the CreateToken response. Any input must end in a
//! value or an error, never a panic, in well under 100 ms, and never echo a secret.
//!
//! `cargo test` runs `FUZZ_CASES` (default 2,000) cases per target; set `FUZZ_CASES` for
//! long runs, e.g. `FUZZ_CASES=1000000 cargo test --release -p sso-token-core --test fuzz`.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sso_token_core::cache::{parse_timestamp, CachedToken};
use sso_token_core::config::{self, ini};
use sso_token_core::oidc::{parse_error, parse_success};
use std::path::Path;
use std::time::{Duration, Instant};

const MAX_PER_INPUT: Duration = Duration::from_millis(100);

fn cases() -> u32 {
  std::env::var("FUZZ_CASES")
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(2_000)
}

fn run<S: Strategy>(strategy: S, check: impl Fn(S::Value)) -> u32
where
  S::Value: std::fmt::Debug + Clone,
{
  let n = cases();
  let mut runner = TestRunner::new(Config {
    cases: n,
    failure_persistence: None,
    ..Config::default()
  });
  runner
    .run(&strategy, |input| {
      // The fastest of up to three runs: one slow run on a shared machine is a descheduled
      // thread, three are a slow input.
      let mut fastest = Duration::MAX;
      for _ in 0..3 {
        let start = Instant::now();
        check(input.clone());
        fastest = fastest.min(start.elapsed());
        if fastest < MAX_PER_INPUT {
          break;
        }
      }
      prop_assert!(fastest < MAX_PER_INPUT, "took {:?}", fastest);
      Ok(())
    })
    .unwrap();
  n
}

/// Lines built from the pieces that matter to the INI rules, so that the generator hits
/// sections, comments, `=` and odd whitespace far more often than random text would.
fn ini_text() -> impl Strategy<Value = String> {
  let piece = prop_oneof![
    Just("[profile dev]".to_string()),
    Just("[default]".to_string()),
    Just("[sso-session s]".to_string()),
    Just("[]".to_string()),
    Just("sso_session = s".to_string()),
    Just("sso_start_url = https://x/start".to_string()),
    Just("sso_region=us-east-1".to_string()),
    Just(" ; c".to_string()),
    Just("#".to_string()),
    Just("=".to_string()),
    Just("\u{FEFF}".to_string()),
    Just("\u{A0}".to_string()),
    Just("\r".to_string()),
    "[ -~]{0,12}",
    any::<String>(),
  ];
  prop::collection::vec(piece, 0..40).prop_map(|pieces| {
    pieces
      .into_iter()
      .enumerate()
      .map(|(i, p)| if i % 3 == 0 { format!("{p}\n") } else { p })
      .collect()
  })
}

#[test]
fn ini_parser_never_panics_and_keeps_its_invariants() {
  let n = run(ini_text(), |text| {
    for section in ini::sections(&text) {
      assert!(!section.name.is_empty());
      for (key, value) in ini::assignments(section.body) {
        assert!(!key.is_empty() && !value.is_empty());
        assert_eq!(key, key.trim_matches(ini::is_js_space));
        assert_eq!(value, value.trim_matches(ini::is_js_space));
        assert!(!key.contains('\n') && !value.contains('\n'));
      }
    }
    for profile in ["dev", "default", "s"] {
      let _ = config::resolve(&text, profile);
    }
  });
  eprintln!("ini: {n} cases");
}

fn token_bytes() -> impl Strategy<Value = Vec<u8>> {
  let field = prop_oneof![
    Just("\"accessToken\":\"AT-SECRET\"".to_string()),
    Just("\"expiresAt\":\"2026-01-01T00:00:00Z\"".to_string()),
    Just("\"expiresAt\":\"2026-01-01T00:00:00UTC\"".to_string()),
    "\"expiresAt\":\"[0-9TZ:+.-]{0,30}\"",
    Just("\"refreshToken\":\"RT-SECRET\"".to_string()),
    Just("\"clientSecret\":\"CS-SECRET\"".to_string()),
    Just("\"clientId\":null".to_string()),
    Just("\"x\":[1,{\"y\":2.5e400}]".to_string()),
    any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap() + ":1"),
  ];
  prop_oneof![
    prop::collection::vec(field, 0..8).prop_map(|f| format!("{{{}}}", f.join(",")).into_bytes()),
    prop::collection::vec(any::<u8>(), 0..200),
    (prop::collection::vec(any::<u8>(), 0..10), 0usize..60).prop_map(|(junk, cut)| {
      let mut doc =
        b"\xEF\xBB\xBF{\"accessToken\":\"AT-SECRET\",\"expiresAt\":\"2026-01-01T00:00:00Z\"}"
          .to_vec();
      doc.truncate(cut);
      doc.extend(junk);
      doc
    }),
  ]
}

#[test]
fn token_file_parser_never_panics_nor_echoes_secrets() {
  let n = run(token_bytes(), |bytes| {
    if let Err(e) = CachedToken::parse(&bytes, Path::new("/c.json"), "dev") {
      let msg = e.to_string();
      assert!(!msg.contains("SECRET"), "{msg}");
    }
  });
  eprintln!("token file: {n} cases");
}

#[test]
fn timestamp_parser_never_panics() {
  let n = run(prop_oneof!["[0-9TZUC:+. -]{0,40}", any::<String>()], |s| {
    let _ = parse_timestamp(&s);
  });
  eprintln!("timestamps: {n} cases");
}

fn response_bytes() -> impl Strategy<Value = Vec<u8>> {
  let field = prop_oneof![
    Just("\"accessToken\":\"AT-SECRET\"".to_string()),
    Just("\"accessToken\":\"\"".to_string()),
    Just("\"expiresIn\":3600".to_string()),
    "\"expiresIn\":-?[0-9]{1,25}(\\.[0-9]{1,3})?(e[0-9]{1,3})?",
    Just("\"refreshToken\":\"RT-SECRET\"".to_string()),
    Just("\"refreshToken\":7".to_string()),
    Just("\"tokenType\":\"Bearer\"".to_string()),
    Just("\"error\":\"invalid_grant CS-SECRET\"".to_string()),
    Just("\"error_description\":\"echo RT-SECRET\\u0000\"".to_string()),
    any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap() + ":null"),
  ];
  prop_oneof![
    prop::collection::vec(field, 0..8).prop_map(|f| format!("{{{}}}", f.join(",")).into_bytes()),
    prop::collection::vec(any::<u8>(), 0..200),
  ]
}

#[test]
fn create_token_response_parsers_never_panic_nor_echo_secrets() {
  let n = run(response_bytes(), |bytes| {
    match parse_success(&bytes) {
      Ok(r) => assert!(r.expires_in > 0 && !r.access_token.is_empty()),
      Err(e) => assert!(!e.to_string().contains("SECRET"), "{e}"),
    }
    let e = parse_error(
      400,
      Some(&bytes),
      Some("Boom:CS-SECRET"),
      &["CS-SECRET", "RT-SECRET"],
    );
    let shown = e.to_string();
    assert!(
      !shown.contains("CS-SECRET") && !shown.contains("RT-SECRET"),
      "{shown}"
    );
    assert!(shown.chars().count() < 600, "{shown}");
  });
  eprintln!("CreateToken responses: {n} cases");
}

mod whole_load {
  //! Any config and any cache file content through a whole load: the load ends in a token or
  //! an error, and the cache file changes only when a refresh succeeded and was written.

  use super::*;
  use crate::support::NO_WAIT;
  use crate::support::{ok, FakeOidc};
  use sso_token_core::oidc::OidcError;
  use sso_token_core::{Clock, Engine, Env, LoadOptions, SystemClock};
  use std::fs;
  use std::sync::atomic::{AtomicUsize, Ordering};
  use std::sync::Arc;

  fn answering(succeed: bool) -> Arc<FakeOidc> {
    Arc::new(FakeOidc {
      always: Some(if succeed {
        ok("fresh", 3600, None)
      } else {
        Err(OidcError::Transport("refused".into()))
      }),
      ..Default::default()
    })
  }

  fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
      Just("[profile dev]\nsso_session = s\n[sso-session s]\nsso_start_url = u\nsso_region = us-east-1\n".to_string()),
      Just("[profile dev]\nsso_start_url = s\nsso_region = us-east-1\n".to_string()),
      ini_text(),
    ]
  }

  fn cache_bytes() -> impl Strategy<Value = Vec<u8>> {
    let now = |secs: i64| {
      (SystemClock.now() + sso_token_core::chrono::Duration::seconds(secs)).to_rfc3339()
    };
    prop_oneof![
      (-400i64..4000, any::<bool>()).prop_map(move |(secs, refreshable)| {
        let extra = if refreshable {
          ",\"clientId\":\"c\",\"clientSecret\":\"CS-SECRET\",\"refreshToken\":\"RT-SECRET\""
        } else {
          ""
        };
        format!(
          "{{\"accessToken\":\"AT-SECRET\",\"expiresAt\":\"{}\"{extra}}}",
          now(secs)
        )
        .into_bytes()
      }),
      token_bytes(),
    ]
  }

  static RUNS: AtomicUsize = AtomicUsize::new(0);

  #[test]
  fn any_input_ends_in_a_token_or_an_error_and_the_file_changes_only_on_success() {
    let n = run(
      (config_text(), cache_bytes(), any::<bool>()),
      |(config, cache, answers)| {
        let dir = std::env::temp_dir().join(format!(
          "sso-fuzz-load-{}-{}",
          std::process::id(),
          RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let cache_dir = dir.join(".aws/sso/cache");
        fs::create_dir_all(&cache_dir).unwrap();
        fs::write(dir.join(".aws/config"), &config).unwrap();
        // Both keys a profile can point at: session `s` and legacy start URL `s`.
        let path = sso_token_core::cache::cache_path(&dir, "s");
        fs::write(&path, &cache).unwrap();
        let env = Env::from_pairs(&[("HOME", dir.to_str().unwrap())]);
        // No waiting on other writers: what is fuzzed here is the decision, not the clock.
        let engine = Engine::with(
          Arc::new(SystemClock),
          answering(answers),
          NO_WAIT,
          sso_token_core::watch::Watch::new(Err("not watched".into()), None),
        );
        let outcome = engine.load_blocking(&env, &LoadOptions::new("dev"));
        let after = fs::read(&path).unwrap();
        match &outcome {
          Ok(l) if l.refreshed && l.write_error.is_none() => {
            assert_eq!(l.token.expose(), "fresh");
            let doc: serde_json::Value = serde_json::from_slice(&after).unwrap();
            assert_eq!(doc["accessToken"], "fresh");
          }
          Ok(_) => assert_eq!(after, cache, "file changed without a successful refresh"),
          Err(e) => {
            assert_eq!(after, cache, "file changed by a failed load");
            assert!(!e.to_string().contains("SECRET"), "{e}");
            // No input reaches a bug's message (__test__/no-internal-error.test.js lists
            // the places).
            assert_ne!(e.kind(), "Internal", "{e}");
          }
        }
        fs::remove_dir_all(&dir).unwrap();
      },
    );
    eprintln!("whole loads: {n} cases");
  }
}
