//! Whole sign-ins and sign-outs against scripted loopback servers, in a temporary home; the
//! test plays the browser.
use super::*;
use crate::clock::SystemClock;
use crate::oidc::policy::Policy;
use crate::oidc::test_server::{json, serve, Server};
use crate::testing::temp_dir;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FAST: Policy = Policy {
  connect_timeout: Duration::from_secs(2),
  attempt_timeout: Duration::from_secs(3),
  backoff: [Duration::from_millis(1), Duration::from_millis(1)],
};

const CONFIG: &str = "[profile dev]\nsso_session = admin\n\
[sso-session admin]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-west-2\n\
[profile old]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-west-2\n";

/// The token file of session `admin`: `d033…` is sha1("admin").
const SESSION_TOKEN: &str = ".aws/sso/cache/d033e22ae348aeb5660fc2140aec35850c4da997.json";

fn home(tag: &str) -> PathBuf {
  let home = temp_dir(tag);
  std::fs::create_dir_all(home.join(".aws")).unwrap();
  std::fs::write(home.join(".aws/config"), CONFIG).unwrap();
  home
}

fn env(home: &Path, server: &Server) -> Env {
  Env::from_pairs(&[
    ("HOME", home.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO_OIDC", &server.endpoint()),
    ("AWS_ENDPOINT_URL_SSO", &server.endpoint()),
  ])
}

fn registered() -> crate::oidc::test_server::Reply {
  json(
    "200 OK",
    r#"{"clientId":"cid-1","clientSecret":"cs-1","clientSecretExpiresAt":4102444800}"#,
  )
}

fn token_reply() -> crate::oidc::test_server::Reply {
  json(
    "200 OK",
    r#"{"accessToken":"at-1","expiresIn":3600,"refreshToken":"rt-1","tokenType":"Bearer"}"#,
  )
}

/// The value of `name` in `url`'s query, percent-decoded.
fn param(url: &str, name: &str) -> String {
  let query = url.split_once('?').unwrap().1;
  let raw = query
    .split('&')
    .find_map(|p| p.strip_prefix(&format!("{name}=")))
    .unwrap();
  let mut out = Vec::new();
  let bytes = raw.as_bytes();
  let mut i = 0;
  while i < bytes.len() {
    if bytes[i] == b'%' {
      out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
      i += 3;
    } else {
      out.push(bytes[i]);
      i += 1;
    }
  }
  String::from_utf8(out).unwrap()
}

/// Plays the browser coming back from the authorize page with `code`.
fn come_back(prompt: &Prompt, code: &str) {
  let url = prompt.authorize_url.clone().unwrap();
  let code = code.to_string();
  std::thread::spawn(move || {
    let redirect = param(&url, "redirect_uri");
    let authority = redirect
      .strip_prefix("http://")
      .unwrap()
      .split('/')
      .next()
      .unwrap()
      .to_string();
    let mut s = std::net::TcpStream::connect(&authority).unwrap();
    let target = format!("/oauth/callback?code={code}&state={}", param(&url, "state"));
    write!(s, "GET {target} HTTP/1.1\r\nHost: {authority}\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
  });
}

fn sign_in(
  options: LoginOptions,
  env: Env,
  on_prompt: impl Fn(&Prompt) + Send + Sync,
) -> Result<LoggedIn, LoginError> {
  crate::runtime::block_on(login(options, env, &SystemClock, FAST, &on_prompt)).unwrap()
}

fn body(server: &Server, i: usize) -> serde_json::Value {
  serde_json::from_slice(&server.requests()[i].body).unwrap()
}

#[test]
fn the_code_flow_registers_authorizes_and_writes_the_clis_files() {
  let home = home("login-code");
  let server = serve(vec![registered(), token_reply()]);
  let prompts = std::sync::Mutex::new(Vec::new());
  let done = sign_in(LoginOptions::new("dev"), env(&home, &server), |p| {
    prompts.lock().unwrap().push(p.clone());
    come_back(p, "the-code");
  })
  .unwrap();
  assert_eq!(done.flow, Flow::AuthCode);
  assert!(done.registered);
  assert_eq!(done.cache_path, home.join(SESSION_TOKEN));
  let prompts = prompts.into_inner().unwrap();
  assert_eq!(prompts.len(), 1);
  let url = prompts[0].authorize_url.clone().unwrap();
  assert!(
    url.starts_with(&format!(
      "{}/authorize?response_type=code&client_id=cid-1&redirect_uri=http%3A%2F%2F127.0.0.1%3A",
      server.endpoint()
    )),
    "{url}"
  );
  assert_eq!(prompts[0].verification_uri, url);
  assert_eq!(prompts[0].user_code, None);
  assert_eq!(param(&url, "scopes"), "sso:account:access");
  assert_eq!(param(&url, "code_challenge_method"), "S256");
  let register = body(&server, 0);
  assert_eq!(register["clientName"], "botocore-client-admin");
  assert_eq!(
    register["redirectUris"][0],
    "http://127.0.0.1/oauth/callback"
  );
  assert_eq!(register["issuerUrl"], "https://d-abc123.awsapps.com/start");
  let token = body(&server, 1);
  assert_eq!(token["grantType"], "authorization_code");
  assert_eq!(token["code"], "the-code");
  assert_eq!(token["redirectUri"], param(&url, "redirect_uri"));
  assert_eq!(
    pkce::challenge_of(token["codeVerifier"].as_str().unwrap()),
    param(&url, "code_challenge")
  );
  let written = std::fs::read_to_string(home.join(SESSION_TOKEN)).unwrap();
  let expires = store::cli_timestamp(done.expires_at);
  assert_eq!(
    written,
    format!(
      r#"{{"startUrl": "https://d-abc123.awsapps.com/start", "region": "us-west-2", "accessToken": "at-1", "expiresAt": "{expires}", "clientId": "cid-1", "clientSecret": "cs-1", "registrationExpiresAt": "2100-01-01T00:00:00Z", "refreshToken": "rt-1"}}"#
    )
  );
  let key = registration::registration_key(
    "https://d-abc123.awsapps.com/start",
    "us-west-2",
    None,
    Some("admin"),
  );
  assert_eq!(
    std::fs::read_to_string(home.join(format!(".aws/sso/cache/{key}.json"))).unwrap(),
    r#"{"clientId": "cid-1", "clientSecret": "cs-1", "expiresAt": "2100-01-01T00:00:00Z", "scopes": ["sso:account:access"], "grantTypes": ["authorization_code", "refresh_token"]}"#
  );
  // The provider reads what was written.
  let loaded = crate::Engine::global()
    .load_blocking(
      &Env::from_pairs(&[("HOME", home.to_str().unwrap())]),
      &crate::LoadOptions::new("dev"),
    )
    .unwrap();
  assert_eq!(loaded.token.expose(), "at-1");

  // Again: the cached registration is used, no RegisterClient.
  let again = serve(vec![token_reply()]);
  let done = sign_in(LoginOptions::new("dev"), env(&home, &again), |p| {
    come_back(p, "c2")
  })
  .unwrap();
  assert!(!done.registered);
  assert_eq!(again.requests().len(), 1);
  assert_eq!(body(&again, 0)["clientId"], "cid-1");
  std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_legacy_profile_signs_in_with_the_device_flow_and_no_prompt_when_already_authorized() {
  let home = home("login-device");
  let server = serve(vec![
    registered(),
    json(
      "200 OK",
      r#"{"deviceCode":"dc","userCode":"AB-CD","verificationUri":"https://device.example/","verificationUriComplete":"https://device.example/?user_code=AB-CD","expiresIn":600,"interval":1}"#,
    ),
    json("200 OK", r#"{"accessToken":"at-2","expiresIn":60}"#),
  ]);
  let done = sign_in(LoginOptions::new("old"), env(&home, &server), |_| {
    panic!("no prompt: the first attempt succeeded")
  })
  .unwrap();
  assert_eq!(done.flow, Flow::DeviceCode);
  let register = body(&server, 0);
  assert!(register["clientName"]
    .as_str()
    .unwrap()
    .starts_with("botocore-client-1"));
  assert_eq!(register.as_object().unwrap().len(), 2, "{register}");
  assert_eq!(
    body(&server, 1)["startUrl"],
    "https://d-abc123.awsapps.com/start"
  );
  let written = std::fs::read_to_string(
    home.join(".aws/sso/cache/40a89917e3175433e361b710a9d43528d7f1890a.json"),
  )
  .unwrap();
  assert!(written.starts_with(r#"{"startUrl": "https://d-abc123.awsapps.com/start", "region": "us-west-2", "accessToken": "at-2", "#), "{written}");
  assert!(!written.contains("refreshToken"));
  assert_eq!(
    std::fs::read_to_string(
      home.join(".aws/sso/cache/d75f79f67bab3f92a2b1450471c0c2574de0dca4.json")
    )
    .unwrap(),
    r#"{"clientId": "cid-1", "clientSecret": "cs-1", "expiresAt": "2100-01-01T00:00:00Z"}"#
  );
  std::fs::remove_dir_all(&home).unwrap();
}

/// Files under `home`'s cache folder.
fn cache_files(home: &Path) -> Vec<String> {
  let mut names: Vec<String> = std::fs::read_dir(home.join(".aws/sso/cache"))
    .map(|d| {
      d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
    })
    .unwrap_or_default();
  names.sort();
  names
}

#[test]
fn a_cancelled_sign_in_closes_its_listener_and_writes_nothing() {
  let home = home("login-cancel");
  let server = serve(vec![registered()]);
  let (port_tx, port_rx) = std::sync::mpsc::channel();
  let (done_tx, done_rx) = std::sync::mpsc::channel();
  let running = start(
    LoginOptions::new("dev"),
    env(&home, &server),
    move |p| {
      let redirect = param(p.authorize_url.as_deref().unwrap(), "redirect_uri");
      let port: u16 = redirect
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/oauth/callback")
        .parse()
        .unwrap();
      port_tx.send(port).unwrap();
    },
    move |outcome| done_tx.send(outcome.map(|_| ())).unwrap(),
  );
  let port = port_rx.recv_timeout(Duration::from_secs(10)).unwrap();
  assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
  running.cancel();
  let outcome = done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
  assert_eq!(outcome.unwrap_err(), LoginError::Aborted);
  let refused = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
  assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
  assert!(cache_files(&home).is_empty(), "{:?}", cache_files(&home));
  running.cancel();
  std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_sign_in_that_outlasts_its_timeout_fails_and_writes_nothing() {
  let home = home("login-timeout");
  let server = serve(vec![registered()]);
  let options = LoginOptions {
    timeout: Duration::from_millis(300),
    ..LoginOptions::new("dev")
  };
  let e = sign_in(options, env(&home, &server), |_| {}).unwrap_err();
  assert_eq!(e.kind(), "LoginTimedOut");
  assert_eq!(
    e.to_string(),
    "Sign-in timed out after 0.3 s without an authorization; sign in again"
  );
  assert!(cache_files(&home).is_empty());
  std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn logout_calls_the_portal_with_each_token_then_removes_the_token_files_only() {
  let home = home("logout");
  let cache = home.join(".aws/sso/cache");
  std::fs::create_dir_all(&cache).unwrap();
  let write = |name: &str, text: &str| std::fs::write(cache.join(name), text).unwrap();
  write(
    "a.json",
    r#"{"accessToken":"tok-a","region":"us-east-1","expiresAt":"x"}"#,
  );
  write("b.json", r#"{"accessToken":"tok-b","expiresAt":"x"}"#);
  write(
    "reg.json",
    r#"{"clientId":"c","clientSecret":"s","expiresAt":"x"}"#,
  );
  write("broken.json", "{");
  let creds = home.join(".aws/cli/cache");
  std::fs::create_dir_all(&creds).unwrap();
  std::fs::write(
    creds.join("sso.json"),
    r#"{"ProviderType":"sso","Credentials":{}}"#,
  )
  .unwrap();
  std::fs::write(creds.join("role.json"), r#"{"ProviderType":"assume-role"}"#).unwrap();
  let server = serve(vec![json("200 OK", "{}")]);
  let out = crate::runtime::block_on(logout(LogoutOptions::default(), env(&home, &server), FAST))
    .unwrap()
    .unwrap();
  assert_eq!(
    out.removed,
    [
      cache.join("a.json"),
      cache.join("b.json"),
      creds.join("sso.json")
    ]
  );
  assert!(out.warnings.is_empty(), "{:?}", out.warnings);
  let requests = server.requests();
  assert_eq!(requests.len(), 1, "no Logout for a file without region");
  assert_eq!(
    requests[0].head.lines().next().unwrap(),
    "POST /logout HTTP/1.1"
  );
  assert_eq!(
    requests[0].header("x-amz-sso_bearer_token").as_deref(),
    Some("tok-a")
  );
  assert_eq!(requests[0].header("content-type"), None);
  assert_eq!(cache_files(&home), ["broken.json", "reg.json"]);
  assert!(creds.join("role.json").exists());
  std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn logout_of_a_profile_removes_its_file_even_when_the_portal_cannot_be_reached() {
  let home = home("logout-profile");
  let cache = home.join(".aws/sso/cache");
  std::fs::create_dir_all(&cache).unwrap();
  std::fs::write(
    home.join(SESSION_TOKEN),
    r#"{"accessToken":"tok","region":"us-east-1"}"#,
  )
  .unwrap();
  std::fs::write(cache.join("other.json"), r#"{"accessToken":"x"}"#).unwrap();
  let nobody = format!("http://127.0.0.1:{}", crate::oidc::test_server::free_port());
  let env = Env::from_pairs(&[
    ("HOME", home.to_str().unwrap()),
    ("AWS_ENDPOINT_URL_SSO", &nobody),
  ]);
  let options = LogoutOptions {
    profile: Some("dev".into()),
  };
  let out = crate::runtime::block_on(logout(options, env, FAST))
    .unwrap()
    .unwrap();
  assert_eq!(out.removed, [home.join(SESSION_TOKEN)]);
  assert_eq!(out.warnings.len(), 1);
  assert!(
    out.warnings[0].starts_with(&format!(
      "Logout of \"{}\" failed (connection to 127.0.0.1:",
      home.join(SESSION_TOKEN).display()
    )),
    "{}",
    out.warnings[0]
  );
  assert!(out.warnings[0].ends_with("; the file is removed anyway"));
  assert!(!out.warnings[0].contains("tok"));
  assert_eq!(cache_files(&home), ["other.json"]);
  std::fs::remove_dir_all(&home).unwrap();
}
