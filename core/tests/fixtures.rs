//! The cases of `test-data/` (see its README) through the engine: each home copied to a
//! temporary folder, a fake clock, a CreateToken that must not be called.

mod support;

use serde_json::Value;
use sso_token_core::{Env, LoadOptions};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::*;

fn copy_tree(from: &Path, to: &Path) {
  fs::create_dir_all(to).unwrap();
  for entry in fs::read_dir(from).unwrap() {
    let entry = entry.unwrap();
    let target = to.join(entry.file_name());
    if entry.file_type().unwrap().is_dir() {
      copy_tree(&entry.path(), &target);
    } else {
      fs::copy(entry.path(), &target).unwrap();
    }
  }
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
  let mut out = Vec::new();
  if let Ok(entries) = fs::read_dir(dir) {
    for entry in entries {
      let path = entry.unwrap().path();
      if path.is_dir() {
        out.extend(files_under(&path));
      } else {
        out.push((path.clone(), fs::read(&path).unwrap()));
      }
    }
  }
  out.sort();
  out
}

fn cases() -> Vec<PathBuf> {
  let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-data");
  let mut out = Vec::new();
  for group in fs::read_dir(&root).unwrap() {
    let group = group.unwrap().path();
    if group.is_dir() {
      out.extend(fs::read_dir(&group).unwrap().map(|c| c.unwrap().path()));
    }
  }
  out.sort();
  out
}

fn run(case: &Path) -> Result<(), String> {
  let expect: Value = serde_json::from_slice(&fs::read(case.join("expect.json")).unwrap()).unwrap();
  let home = temp_dir("fixture");
  copy_tree(&case.join("home"), &home);
  let mut pairs = vec![("HOME".to_string(), home.display().to_string())];
  if let Some(env) = expect["env"].as_object() {
    for (k, v) in env {
      pairs.push((k.clone(), v.as_str().unwrap().to_string()));
    }
  }
  let borrowed: Vec<(&str, &str)> = pairs
    .iter()
    .map(|(k, v)| (k.as_str(), v.as_str()))
    .collect();
  let env = Env::from_pairs(&borrowed);
  // v2's default-profile rule lives in the JS layer; the runner applies it the same way.
  let aws_profile = pairs
    .iter()
    .rev()
    .find(|(k, _)| k == "AWS_PROFILE")
    .map(|(_, v)| v.as_str());
  let given = expect["profile"].as_str().filter(|p| !p.is_empty());
  let from_env = aws_profile.filter(|p| !p.is_empty());
  let profile = given.or(from_env).unwrap_or("default");
  let opts = LoadOptions {
    profile_from_env: given.is_none() && from_env.is_some(),
    ..LoadOptions::new(profile)
  };
  let config_file = env.config_file().unwrap().display().to_string();
  let cache_dir = home.join(".aws/sso/cache");
  let before = files_under(&home);
  let clock = FakeClock::new();
  let oidc = Arc::new(FakeOidc::default());
  let got = engine(&clock, &oidc).load_blocking(&env, &opts);
  let after = files_under(&home);
  let _ = fs::remove_dir_all(&home);
  if oidc.calls() != 0 {
    return Err("made a CreateToken call".into());
  }
  if before != after {
    return Err("changed a file".into());
  }
  match (&got, expect["error"].as_str()) {
    (Err(e), Some(want)) => {
      let cache_file = before
        .iter()
        .find(|(p, _)| p.starts_with(&cache_dir))
        .map(|(p, _)| p.display().to_string())
        .unwrap_or_default();
      let want = want
        .replace("{cacheFile}", &cache_file)
        .replace("{configFile}", &config_file);
      (e.to_string() == want)
        .then_some(())
        .ok_or(format!("error {e:?}, want {want:?}"))
    }
    (Ok(l), None) => {
      let want_expiry =
        sso_token_core::cache::parse_timestamp(expect["expiresAt"].as_str().unwrap()).unwrap();
      // Milliseconds: what JavaScript sees of it.
      let ok = l.token.expose() == expect["token"].as_str().unwrap()
        && l.expires_at.timestamp_millis() == want_expiry.timestamp_millis();
      ok.then_some(()).ok_or(format!(
        "loaded an unexpected token (expiry {})",
        l.expires_at
      ))
    }
    (Err(e), None) => Err(format!("failed: {e}")),
    (Ok(_), Some(want)) => Err(format!("loaded a token, want {want:?}")),
  }
}

#[test]
fn every_test_data_case_loads_as_it_expects() {
  let cases = cases();
  assert!(cases.len() >= 60, "{} cases", cases.len());
  let failures: Vec<String> = cases
    .iter()
    .filter_map(|case| {
      run(case)
        .err()
        .map(|why| format!("{}: {why}", case.display()))
    })
    .collect();
  assert!(failures.is_empty(), "{}", failures.join("\n"));
}
