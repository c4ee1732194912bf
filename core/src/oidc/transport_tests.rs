//! End-to-end tests of the transport against scripted loopback servers.
use super::super::policy::{with_jitter, MAX_RESPONSE_BYTES, RETRY_BACKOFF};
use super::super::redact::MAX_SERVER_TEXT_CHARS;
use super::super::target::is_loopback;
use super::super::test_server::*;
use super::super::tls::read_ca_bundle;
use super::super::wire::MAX_EXPIRES_IN_SECS;
use super::*;
use crate::secret::Secret;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One CreateToken, run to its end on this thread.
fn send_create_token(
  endpoint: &str,
  request: &CreateTokenRequest,
  env: &Env,
  policy: &Policy,
) -> Result<CreateTokenResponse, OidcError> {
  crate::runtime::block_on(super::send_create_token(endpoint, request, env, policy)).unwrap()
}

/// Short timeouts and no real backoff, so the suite stays fast.
const FAST: Policy = Policy {
  connect_timeout: Duration::from_secs(2),
  attempt_timeout: Duration::from_secs(3),
  backoff: [Duration::from_millis(1), Duration::from_millis(1)],
};

const CLIENT_ID: &str = "client-id-1";
const CLIENT_SECRET: &str = "client-secret-XYZ";
const REFRESH_TOKEN: &str = "refresh-token-ABC";

/// A self-signed CA made with `openssl req -x509 -newkey ec` for the bundle test.
const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBhjCCASugAwIBAgIURYFztVKcWFHJLLntzUZgrxfeSDcwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMb2lkYy10ZXN0LWNhMCAXDTI2MTEyNjE1MzUxOVoYDzIxMjYx
MTAyMTUzNTE5WjAXMRUwEwYDVQQDDAxvaWRjLXRlc3QtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAQHsIza/hJVQdt5rOehIbc1qsCMWJy8l5wFVvZqytffZTsy
cpDCKWdfLhO98AK4TgSEsVf60+kGpCuZv13sS3OJo1MwUTAdBgNVHQ4EFgQUOspn
zJMYbfTEK0G6xf7vWFKeo50wHwYDVR0jBBgwFoAUOspnzJMYbfTEK0G6xf7vWFKe
o50wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAhq39EgGQ8feG
CIWbVFIvVx7bCIslQbWGDwJVm/m0FHYCIQCZEHFf5OK+GApC9d0tP2vbZ6vVkluQ
Z0PzcQpUrCfDFA==
-----END CERTIFICATE-----
";

fn request() -> CreateTokenRequest {
  CreateTokenRequest {
    client_id: Secret::new(CLIENT_ID),
    client_secret: Secret::new(CLIENT_SECRET),
    refresh_token: Secret::new(REFRESH_TOKEN),
  }
}

fn call(endpoint: &str, env: &Env) -> Result<CreateTokenResponse, OidcError> {
  send_create_token(endpoint, &request(), env, &FAST)
}

fn no_env() -> Env {
  Env::default()
}

#[test]
fn sends_the_exact_request() {
  let server = serve(vec![ok_body()]);
  call(&server.endpoint(), &no_env()).unwrap();
  let requests = server.requests();
  assert_eq!(requests.len(), 1);
  let r = &requests[0];
  assert_eq!(r.head.lines().next().unwrap(), "POST /token HTTP/1.1");
  assert_eq!(r.header("content-type").unwrap(), "application/json");
  assert_eq!(
    r.header("user-agent").unwrap(),
    format!("sso-token-provider/{}", env!("CARGO_PKG_VERSION"))
  );
  assert_eq!(r.header("authorization"), None);
  assert_eq!(
    String::from_utf8(r.body.clone()).unwrap(),
    r#"{"clientId":"client-id-1","clientSecret":"client-secret-XYZ","grantType":"refresh_token","refreshToken":"refresh-token-ABC"}"#
  );
}

#[test]
fn body_escapes_odd_secret_characters() {
  let server = serve(vec![ok_body()]);
  let odd = CreateTokenRequest {
    client_id: Secret::new("id\"with\\quote"),
    client_secret: Secret::new("sécret\u{1}"),
    refresh_token: Secret::new("rt"),
  };
  send_create_token(&server.endpoint(), &odd, &no_env(), &FAST).unwrap();
  let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
  assert_eq!(body["clientId"], "id\"with\\quote");
  assert_eq!(body["clientSecret"], "sécret\u{1}");
  assert_eq!(body["grantType"], "refresh_token");
}

#[test]
fn endpoint_path_and_trailing_slash_are_kept_tidy() {
  let server = serve(vec![ok_body()]);
  call(&format!("{}/prefix/", server.endpoint()), &no_env()).unwrap();
  let head = &server.requests()[0].head;
  assert!(head.starts_with("POST /prefix/token HTTP/1.1"), "{head}");
}

#[test]
fn parses_a_200_answer() {
  let server = serve(vec![ok_body()]);
  let r = call(&server.endpoint(), &no_env()).unwrap();
  assert_eq!(r.access_token.expose(), "new-access");
  assert_eq!(r.expires_in, 3600);
  assert_eq!(r.refresh_token.unwrap().expose(), "new-refresh");
}

#[test]
fn refresh_token_absent_null_or_empty_is_none() {
  for body in [
    r#"{"accessToken":"a","expiresIn":60}"#,
    r#"{"accessToken":"a","expiresIn":60,"refreshToken":null}"#,
    r#"{"accessToken":"a","expiresIn":60,"refreshToken":""}"#,
    r#"{"accessToken":"a","expiresIn":60,"tokenType":null,"idToken":"x"}"#,
  ] {
    let server = serve(vec![json("200 OK", body)]);
    let r = call(&server.endpoint(), &no_env()).unwrap();
    assert!(r.refresh_token.is_none(), "{body}");
    assert_eq!(r.expires_in, 60);
  }
}

#[test]
fn invalid_grant_is_reported_and_not_retried() {
  let server = serve(vec![
    json(
      "400 Bad Request",
      r#"{"error":"invalid_grant","error_description":"Invalid refresh token provided"}"#,
    ),
    ok_body(),
  ]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(
    e,
    OidcError::Http {
      status: 400,
      error: Some("invalid_grant".into()),
      description: Some("Invalid refresh token provided".into()),
    }
  );
  assert_eq!(
    e.to_string(),
    "(invalid_grant, HTTP 400: Invalid refresh token provided)"
  );
  assert_eq!(server.requests().len(), 1);
}

#[test]
fn unauthorized_falls_back_to_the_error_type_header() {
  let server = serve(vec![
    http(
      "401 Unauthorized",
      &[(
        "x-amzn-ErrorType",
        "UnauthorizedClientException:http://internal.amazon.com/coral/",
      )],
      b"<html>nope</html>",
    ),
    ok_body(),
  ]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(
    e,
    OidcError::Http {
      status: 401,
      error: Some("UnauthorizedClientException".into()),
      description: None,
    }
  );
  assert_eq!(e.to_string(), "(UnauthorizedClientException, HTTP 401)");
  assert_eq!(server.requests().len(), 1);
}

#[test]
fn aws_type_and_message_fields_are_understood() {
  let server = serve(vec![json(
    "403 Forbidden",
    r#"{"__type":"com.amazonaws.ssooidc#AccessDeniedException","message":"no"}"#,
  )]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(e.to_string(), "(AccessDeniedException, HTTP 403: no)");
}

#[test]
fn a_500_then_200_succeeds_on_the_second_attempt() {
  let server = serve(vec![
    json("500 Internal Server Error", r#"{"error":"internal"}"#),
    ok_body(),
  ]);
  let r = call(&server.endpoint(), &no_env()).unwrap();
  assert_eq!(r.access_token.expose(), "new-access");
  assert_eq!(server.requests().len(), 2);
}

#[test]
fn three_500s_give_up_after_exactly_three_attempts() {
  let server = serve(vec![
    json("500 Internal Server Error", "{}"),
    json("502 Bad Gateway", "not json"),
    http(
      "503 Service Unavailable",
      &[("x-amzn-ErrorType", "ServiceUnavailable")],
      b"",
    ),
    ok_body(),
  ]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(
    e,
    OidcError::Http {
      status: 503,
      error: Some("ServiceUnavailable".into()),
      description: None,
    }
  );
  assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_429_is_retried() {
  let server = serve(vec![
    json("429 Too Many Requests", r#"{"error":"slow_down"}"#),
    ok_body(),
  ]);
  assert!(call(&server.endpoint(), &no_env()).is_ok());
  assert_eq!(server.requests().len(), 2);
}

fn invalid_2xx(body: &[u8]) -> (OidcError, usize) {
  let server = serve(vec![
    http("200 OK", &[("Content-Type", "application/json")], body),
    ok_body(),
  ]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  (e, server.requests().len())
}

#[test]
fn bad_2xx_bodies_are_refused_without_retry_or_echo() {
  let cases: &[(&[u8], &str)] = &[
    (b"{not json", "body is not JSON"),
    (b"", "body is not JSON"),
    (b"\xff\xfe{}", "body is not UTF-8"),
    (b"[1,2]", "body is not a JSON object"),
    (br#""secret-ish""#, "body is not a JSON object"),
    (
      br#"{"expiresIn":60}"#,
      "accessToken missing or not a non-empty string",
    ),
    (
      br#"{"accessToken":"","expiresIn":60}"#,
      "accessToken missing or not a non-empty string",
    ),
    (
      br#"{"accessToken":42,"expiresIn":60}"#,
      "accessToken missing or not a non-empty string",
    ),
    (
      br#"{"accessToken":"a\r\nX-Evil: 1","expiresIn":60}"#,
      "accessToken contains control characters",
    ),
    (
      br#"{"accessToken":"tok-LEAK"}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":0}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":-5}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":3600.5}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":"3600"}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":null}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":99999999999999999999999}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":1e3}"#,
      "expiresIn missing or not a positive whole number",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":316224001}"#,
      "expiresIn is over 10 years",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":9223372036854775807}"#,
      "expiresIn is over 10 years",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":60,"refreshToken":7}"#,
      "refreshToken is not a string",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":60,"refreshToken":"a\u0000b"}"#,
      "refreshToken contains control characters",
    ),
    (
      br#"{"accessToken":"tok-LEAK","expiresIn":60,"tokenType":{"x":1}}"#,
      "tokenType is not a string",
    ),
  ];
  for (body, why) in cases {
    let (e, attempts) = invalid_2xx(body);
    let shown = String::from_utf8_lossy(body);
    assert_eq!(e, OidcError::InvalidResponse(why.to_string()), "{shown}");
    assert_eq!(attempts, 1, "{shown}");
    assert!(!e.to_string().contains("LEAK"));
  }
}

#[test]
fn an_out_of_range_float_is_refused_whatever_the_serde_json_features() {
  // Without `arbitrary_precision` serde_json rejects 1e400 while parsing; with it, the
  // number parses and fails the whole-number check. Either way: refused, no retry.
  let (e, attempts) = invalid_2xx(br#"{"accessToken":"a","expiresIn":1e400}"#);
  assert!(matches!(e, OidcError::InvalidResponse(_)), "{e:?}");
  assert_eq!(attempts, 1);
}

#[test]
fn expires_in_limit_is_inclusive() {
  let body = format!(r#"{{"accessToken":"a","expiresIn":{MAX_EXPIRES_IN_SECS}}}"#);
  let server = serve(vec![json("200 OK", &body)]);
  let r = call(&server.endpoint(), &no_env()).unwrap();
  assert_eq!(r.expires_in, MAX_EXPIRES_IN_SECS);
  // The cap must give a valid date from any plausible "now".
  let now = crate::clock::Clock::now(&crate::clock::SystemClock);
  assert!(now
    .checked_add_signed(chrono::Duration::seconds(r.expires_in))
    .is_some());
}

#[test]
fn a_body_of_exactly_1_mib_is_read_and_one_byte_more_is_not() {
  let head = r#"{"accessToken":"a","expiresIn":60}"#;
  let mut exact = head.as_bytes().to_vec();
  exact.resize(MAX_RESPONSE_BYTES as usize, b' ');
  let server = serve(vec![http("200 OK", &[], &exact)]);
  assert!(call(&server.endpoint(), &no_env()).is_ok());

  exact.push(b' ');
  let (e, attempts) = invalid_2xx(&exact);
  assert_eq!(
    e,
    OidcError::InvalidResponse("response body over 1 MiB".into())
  );
  assert_eq!(attempts, 1);
}

#[test]
fn a_2_mib_body_is_refused() {
  let (e, _) = invalid_2xx(&vec![b' '; 2 * 1024 * 1024]);
  assert_eq!(
    e.to_string(),
    "(invalid CreateToken response: response body over 1 MiB)"
  );
}

#[test]
fn a_50_mb_stream_is_cut_off_quickly() {
  let server = serve(vec![Reply::Stream(50 * 1024 * 1024), ok_body()]);
  let start = Instant::now();
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(
    e,
    OidcError::InvalidResponse("response body over 1 MiB".into())
  );
  assert!(
    start.elapsed() < Duration::from_secs(3),
    "{:?}",
    start.elapsed()
  );
  assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_oversized_error_body_still_gives_status_and_header() {
  let server = serve(vec![http(
    "400 Bad Request",
    &[("x-amzn-ErrorType", "InvalidGrantException")],
    &vec![b'{'; 2 * 1024 * 1024],
  )]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  assert_eq!(e.to_string(), "(InvalidGrantException, HTTP 400)");
}

#[test]
fn a_silent_server_times_out_after_three_bounded_attempts() {
  let server = serve(vec![Reply::Hang, Reply::Hang, Reply::Hang]);
  let policy = Policy {
    connect_timeout: Duration::from_millis(300),
    attempt_timeout: Duration::from_millis(300),
    backoff: [Duration::from_millis(1), Duration::from_millis(1)],
  };
  let start = Instant::now();
  let e = send_create_token(&server.endpoint(), &request(), &no_env(), &policy).unwrap_err();
  let elapsed = start.elapsed();
  let OidcError::Transport(message) = &e else {
    panic!("{e:?}");
  };
  assert!(
    message.contains("no complete answer from 127.0.0.1:"),
    "{message}"
  );
  assert!(message.contains("within 0.3 s"), "{message}");
  assert!(message.ends_with("gave up after 3 attempts"), "{message}");
  assert_eq!(server.requests().len(), 3);
  assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
  assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

#[test]
fn connection_refused_is_a_transport_error_after_three_attempts() {
  let port = free_port();
  let e = call(&format!("http://127.0.0.1:{port}"), &no_env()).unwrap_err();
  assert_eq!(
    e,
    OidcError::Transport(format!(
      "connection to 127.0.0.1:{port} refused; gave up after 3 attempts"
    ))
  );
}

#[test]
fn plain_http_off_loopback_is_refused_before_connecting() {
  for (endpoint, host) in [
    ("http://example.com", "example.com"),
    ("http://10.1.2.3:8080", "10.1.2.3"),
    ("http://localhost.evil.example", "localhost.evil.example"),
    ("HTTP://[2001:db8::1]:80", "[2001:db8::1]"),
    ("http://[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]"),
  ] {
    let start = Instant::now();
    let e = call(endpoint, &no_env()).unwrap_err();
    assert_eq!(
      e,
      OidcError::Refused(format!(
        "refusing to send the refresh token over plain http to {host}; use https"
      ))
    );
    assert!(start.elapsed() < Duration::from_millis(200));
  }
}

#[test]
fn loopback_hosts_are_recognised() {
  for host in [
    "localhost",
    "127.0.0.1",
    "127.255.0.9",
    "::1",
    "::ffff:127.0.0.1",
  ] {
    assert!(is_loopback(host), "{host}");
  }
  for host in [
    "localhost.",
    "128.0.0.1",
    "::2",
    "0.0.0.0",
    "example.com",
    "",
  ] {
    assert!(!is_loopback(host), "{host}");
  }
}

#[test]
fn http_to_ipv6_and_named_loopback_is_allowed() {
  // Not refused; whether it connects depends on what localhost resolves to here.
  let server = serve(vec![ok_body()]);
  match call(&format!("http://localhost:{}", server.port), &no_env()) {
    Ok(_) | Err(OidcError::Transport(_)) => {}
    Err(e) => panic!("{e:?}"),
  }
  let t = Target::parse("http://[::1]:9/", "the refresh token").unwrap();
  assert_eq!((t.host.as_str(), t.port, t.https), ("::1", 9, false));
  assert_eq!(t.url("/token"), "http://[::1]:9/token");
  assert_eq!(t.authority, "[::1]:9");
}

#[test]
fn unusable_endpoints_are_refused_clearly() {
  for (endpoint, why) in [
    ("not a url", "not a valid URL"),
    ("", "not a valid URL"),
    ("ftp://example.com", "it must start with https://"),
    (
      "oidc.us-east-1.amazonaws.com",
      "it must start with https://",
    ),
    ("https://example.com/?x=1", "a query string is not allowed"),
  ] {
    let e = call(endpoint, &no_env()).unwrap_err();
    let OidcError::Refused(message) = &e else {
      panic!("{endpoint}: {e:?}");
    };
    assert!(message.starts_with("the SSO OIDC endpoint"), "{message}");
    assert!(message.ends_with(why), "{message}");
  }
  let e = call("https://user:hunter2@example.com", &no_env()).unwrap_err();
  assert_eq!(
    e.to_string(),
    "(the SSO OIDC endpoint is not usable: user information in the URL is not allowed)"
  );
}

#[test]
fn redirects_are_not_followed() {
  for status in [
    "302 Found",
    "307 Temporary Redirect",
    "308 Permanent Redirect",
  ] {
    let elsewhere = serve(vec![ok_body()]);
    let location = format!("{}/token", elsewhere.endpoint());
    let server = serve(vec![
      http(status, &[("Location", &location)], b""),
      ok_body(),
    ]);
    let e = call(&server.endpoint(), &no_env()).unwrap_err();
    let code: u16 = status[..3].parse().unwrap();
    assert_eq!(
      e,
      OidcError::Http {
        status: code,
        error: None,
        description: Some("redirect not followed".into()),
      }
    );
    assert_eq!(server.requests().len(), 1);
    assert!(elsewhere.requests().is_empty());
  }
}

#[test]
fn secrets_echoed_by_the_server_are_masked() {
  let description =
    format!("bad secret {CLIENT_SECRET} for token {REFRESH_TOKEN}\r\nInjected: line\u{7}");
  let body = serde_json::json!({
    "error": format!("invalid_{CLIENT_SECRET}"),
    "error_description": description,
  })
  .to_string();
  let server = serve(vec![json("400 Bad Request", &body)]);
  let e = call(&server.endpoint(), &no_env()).unwrap_err();
  let shown = format!("{e} {e:?}");
  assert!(!shown.contains(CLIENT_SECRET), "{shown}");
  assert!(!shown.contains(REFRESH_TOKEN), "{shown}");
  assert!(!shown.contains('\n') && !shown.contains('\r') && !shown.contains('\u{7}'));
  assert_eq!(
    e.to_string(),
    "(invalid_***, HTTP 400: bad secret *** for token ***  Injected: line)"
  );
}

#[test]
fn long_server_text_is_cut() {
  let long = "é".repeat(5000);
  let body = serde_json::json!({"error": "e", "error_description": long}).to_string();
  let server = serve(vec![json("400 Bad Request", &body)]);
  let OidcError::Http { description, .. } = call(&server.endpoint(), &no_env()).unwrap_err() else {
    panic!("not Http");
  };
  let description = description.unwrap();
  assert_eq!(description.chars().count(), MAX_SERVER_TEXT_CHARS + 3);
  assert!(description.ends_with("..."));
}

fn https_endpoint() -> (String, u16) {
  let port = free_port();
  (format!("https://127.0.0.1:{port}"), port)
}

#[test]
fn a_missing_ca_bundle_is_a_clear_transport_error() {
  let (endpoint, _) = https_endpoint();
  let env = Env::from_pairs(&[("AWS_CA_BUNDLE", "/nonexistent/dir/ca.pem")]);
  let e = call(&endpoint, &env).unwrap_err();
  let OidcError::Transport(message) = &e else {
    panic!("{e:?}");
  };
  assert!(
    message.starts_with("cannot use AWS_CA_BUNDLE file /nonexistent/dir/ca.pem: "),
    "{message}"
  );
}

/// A file for one test, removed (with its folder, once empty) when dropped.
struct TempFile(std::path::PathBuf);

impl std::ops::Deref for TempFile {
  type Target = std::path::Path;
  fn deref(&self) -> &std::path::Path {
    &self.0
  }
}

impl Drop for TempFile {
  fn drop(&mut self) {
    let _ = std::fs::remove_file(&self.0);
    if let Some(dir) = self.0.parent() {
      let _ = std::fs::remove_dir(dir);
    }
  }
}

fn temp_file(name: &str, contents: &[u8]) -> TempFile {
  let dir = std::env::temp_dir().join(format!("oidc-test-{}-{name}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let path = dir.join(name);
  std::fs::write(&path, contents).unwrap();
  TempFile(path)
}

#[test]
fn a_ca_bundle_without_certificates_is_rejected() {
  let path = temp_file("garbage.pem", b"this is not a certificate\n");
  let (endpoint, _) = https_endpoint();
  let env = Env::from_pairs(&[("AWS_CA_BUNDLE", path.to_str().unwrap())]);
  let e = call(&endpoint, &env).unwrap_err();
  assert_eq!(
    e,
    OidcError::Transport(format!(
      "cannot use AWS_CA_BUNDLE file {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
      path.display()
    ))
  );
  let path = temp_file(
    "broken.pem",
    b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
  );
  let env = Env::from_pairs(&[("AWS_CA_BUNDLE", path.to_str().unwrap())]);
  let e = call(&endpoint, &env).unwrap_err();
  assert!(e.to_string().contains("invalid PEM data"), "{e}");
}

#[test]
fn a_valid_ca_bundle_is_loaded_and_the_request_proceeds() {
  let path = temp_file("ca.pem", TEST_CA_PEM.as_bytes());
  let (endpoint, port) = https_endpoint();
  let env = Env::from_pairs(&[("AWS_CA_BUNDLE", path.to_str().unwrap())]);
  let e = call(&endpoint, &env).unwrap_err();
  assert_eq!(
    e,
    OidcError::Transport(format!(
      "connection to 127.0.0.1:{port} refused; gave up after 3 attempts"
    ))
  );
  let certs = read_ca_bundle(path.to_str().unwrap()).unwrap();
  assert_eq!(certs.len(), 1);
}

/// A CONNECT proxy that records the request and answers 502.
fn refusing_proxy() -> Server {
  let reply = || http("502 Bad Gateway", &[], b"");
  serve(vec![reply(), reply(), reply()])
}

#[test]
fn https_goes_through_the_configured_proxy_even_to_loopback() {
  for name in ["HTTPS_PROXY", "https_proxy"] {
    let proxy = refusing_proxy();
    let (endpoint, port) = https_endpoint();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let env = Env::from_pairs(&[(name, proxy_url.as_str())]);
    let e = call(&endpoint, &env).unwrap_err();
    let OidcError::Transport(message) = &e else {
      panic!("{e:?}");
    };
    assert!(
      message.contains(&format!(
        "127.0.0.1:{port} via proxy 127.0.0.1:{}",
        proxy.port
      )),
      "{message}"
    );
    let requests = proxy.requests();
    assert_eq!(requests.len(), 3, "{message}");
    assert!(
      requests[0]
        .head
        .starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1")),
      "{}",
      requests[0].head
    );
    assert!(!requests[0].head.contains(CLIENT_SECRET));
  }
}

#[test]
fn upper_case_https_proxy_wins() {
  let proxy = refusing_proxy();
  let (endpoint, _) = https_endpoint();
  let good = format!("http://127.0.0.1:{}", proxy.port);
  let env = Env::from_pairs(&[
    ("HTTPS_PROXY", good.as_str()),
    ("https_proxy", "http://[bad"),
  ]);
  assert!(call(&endpoint, &env).is_err());
  assert_eq!(proxy.requests().len(), 3);
}

#[test]
fn no_proxy_bypasses_the_proxy() {
  for (name, list) in [
    ("NO_PROXY", "example.com, 127.0.0.1"),
    ("no_proxy", "*"),
    ("NO_PROXY", "127.0.0.1:{port}"),
  ] {
    let proxy = refusing_proxy();
    let (endpoint, port) = https_endpoint();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let list = list.replace("{port}", &port.to_string());
    let env = Env::from_pairs(&[("HTTPS_PROXY", proxy_url.as_str()), (name, list.as_str())]);
    let e = call(&endpoint, &env).unwrap_err();
    assert_eq!(
      e,
      OidcError::Transport(format!(
        "connection to 127.0.0.1:{port} refused; gave up after 3 attempts"
      ))
    );
    assert!(proxy.requests().is_empty());
  }
}

#[test]
fn plain_http_loopback_never_uses_the_proxy() {
  let proxy = refusing_proxy();
  let server = serve(vec![ok_body()]);
  let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
  let env = Env::from_pairs(&[("HTTPS_PROXY", proxy_url.as_str())]);
  assert!(call(&server.endpoint(), &env).is_ok());
  assert_eq!(server.requests().len(), 1);
  assert!(proxy.requests().is_empty());
}

#[test]
fn a_bad_proxy_url_is_reported_without_its_value() {
  let (endpoint, _) = https_endpoint();
  let env = Env::from_pairs(&[("HTTPS_PROXY", "http://user:hunter2@[bad")]);
  let e = call(&endpoint, &env).unwrap_err();
  assert_eq!(
    e,
    OidcError::Transport("HTTPS_PROXY is not a valid proxy URL".into())
  );
  let env = Env::from_pairs(&[("https_proxy", "socks5://127.0.0.1:1080")]);
  let e = call(&endpoint, &env).unwrap_err();
  assert_eq!(
    e,
    OidcError::Transport("https_proxy: only http:// and https:// proxies are supported".into())
  );
}

#[test]
fn jitter_stays_within_half_the_base() {
  for _ in 0..100 {
    let d = with_jitter(Duration::from_millis(100));
    assert!(d >= Duration::from_millis(100) && d < Duration::from_millis(150));
  }
  assert_eq!(with_jitter(Duration::ZERO), Duration::ZERO);
}

#[test]
fn production_policy_uses_the_documented_constants() {
  assert_eq!(PRODUCTION.connect_timeout, Duration::from_secs(5));
  assert_eq!(PRODUCTION.attempt_timeout, Duration::from_secs(10));
  assert_eq!(PRODUCTION.backoff, RETRY_BACKOFF);
  assert_eq!(MAX_RESPONSE_BYTES, 1_048_576);
}

// Disguised echoes (docs/behaviour.md §4.4): a server, or a proxy in front of it, that
// quotes a secret back altered must not get it into a message either.

/// Secrets of a realistic length: 36 characters, a multiple of 3, so that the base64 of
/// the whole value has no partial last character.
const LONG_SECRET: &str = "cs-MLby5AU4BmVxtUsYCPa6MysEvDL97pwdU";
const LONG_REFRESH: &str = "rt-yRqBWKFQO3uBWGjY4Mzy6GGVC3RorQj32";

fn long_request() -> CreateTokenRequest {
  CreateTokenRequest {
    client_id: Secret::new(CLIENT_ID),
    client_secret: Secret::new(LONG_SECRET),
    refresh_token: Secret::new(LONG_REFRESH),
  }
}

/// The message of a refresh the server answers with `reply`.
fn refused_with(reply: Reply) -> String {
  let server = serve(vec![reply]);
  send_create_token(&server.endpoint(), &long_request(), &no_env(), &FAST)
    .unwrap_err()
    .to_string()
}

fn answer_400(body: Value) -> String {
  refused_with(json("400 Bad Request", &body.to_string()))
}

/// Base64 written independently of the code under test, padded.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
  let mut out = String::new();
  for group in bytes.chunks(3) {
    let n = group
      .iter()
      .enumerate()
      .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
    for i in 0..=group.len() {
      out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
    }
    for _ in group.len()..3 {
      out.push('=');
    }
  }
  out
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn percent_all(s: &str) -> String {
  s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// No trace of `secret` in `shown`: no run of 12 characters, in any case, of the secret or
/// of its percent-encoding, base64 (both alphabets, three alignments) or hex; and no
/// character that hides text or breaks a line.
fn assert_no_trace(shown: &str, secret: &str) {
  let lower = shown.to_lowercase();
  let mut forms = vec![secret.to_string(), percent_all(secret), hex::encode(secret)];
  for alphabet in [STD, URL] {
    for lead in ["", "k", "kk"] {
      let encoded = base64(format!("{lead}{secret}").as_bytes(), alphabet);
      // Only the characters that depend on the secret alone.
      let skip = [0, 2, 3][lead.len()];
      let full = (lead.len() + secret.len()) * 8 / 6;
      forms.push(encoded[skip..full].to_string());
    }
  }
  for form in &forms {
    let form: Vec<char> = form.to_lowercase().chars().collect();
    for run in form.windows(12) {
      let run: String = run.iter().collect();
      assert!(!lower.contains(&run), "{run:?} of {secret} in {shown:?}");
    }
  }
  for c in [
    '\u{202E}', '\u{2028}', '\u{2029}', '\u{200B}', '\u{AD}', '\n', '\r',
  ] {
    assert!(!shown.contains(c), "{c:?} in {shown:?}");
  }
}

fn assert_clean(shown: &str) {
  assert_no_trace(shown, LONG_SECRET);
  assert_no_trace(shown, LONG_REFRESH);
}

#[test]
fn a_percent_encoded_secret_is_masked_whole_or_partial() {
  let partial = format!(
    "{}{}{}",
    &LONG_SECRET[..10],
    percent_all(&LONG_SECRET[10..20]).to_lowercase(),
    &LONG_SECRET[20..]
  );
  for encoded in [percent_all(LONG_SECRET), partial] {
    let shown = answer_400(serde_json::json!({
      "error": "invalid_grant",
      "error_description": format!("bad {encoded} given"),
    }));
    assert_eq!(
      shown, "(invalid_grant, HTTP 400: bad *** given)",
      "{encoded}"
    );
    assert_clean(&shown);
  }
}

#[test]
fn a_base64_secret_is_masked_in_either_alphabet_at_any_alignment() {
  let std = base64(LONG_SECRET.as_bytes(), STD);
  let url = base64(LONG_REFRESH.as_bytes(), URL);
  // MIME wraps base64 in lines.
  let wrapped: String = std
    .chars()
    .enumerate()
    .flat_map(|(i, c)| {
      (i > 0 && i % 16 == 0)
        .then_some("\r\n")
        .into_iter()
        .flat_map(str::chars)
        .chain([c])
    })
    .collect();
  for text in [std.clone(), url.trim_end_matches('=').to_string(), wrapped] {
    let shown = answer_400(serde_json::json!({"error": "e", "error_description": text}));
    assert_eq!(shown, "(e, HTTP 400: ***)", "{text}");
    assert_clean(&shown);
  }
  // Inside a longer encoded value the secret starts one or two bytes into a group: only
  // the characters that also hold bits of the neighbours (and the padding) stay.
  for (lead, skip) in [("k", 2), ("kk", 3)] {
    let encoded = base64(format!("{lead}{LONG_SECRET}").as_bytes(), STD);
    let full = (lead.len() + LONG_SECRET.len()) * 8 / 6;
    let shown = answer_400(serde_json::json!({"error": "e", "error_description": encoded}));
    assert_eq!(
      shown,
      format!("(e, HTTP 400: {}***{})", &encoded[..skip], &encoded[full..])
    );
    assert_clean(&shown);
  }
}

#[test]
fn a_secret_in_another_case_is_masked() {
  for text in [LONG_SECRET.to_uppercase(), LONG_REFRESH.to_lowercase()] {
    let shown =
      answer_400(serde_json::json!({"error": "e", "error_description": format!("x {text} y")}));
    assert_eq!(shown, "(e, HTTP 400: x *** y)");
    assert_clean(&shown);
  }
  // A secret shorter than 12 characters is masked whole, in any case.
  let shown = answer_400(serde_json::json!({"error": CLIENT_ID.to_uppercase()}));
  assert_eq!(shown, "(***, HTTP 400)");
}

#[test]
fn a_secret_with_invisible_or_line_breaking_characters_inside_is_one_mask() {
  for inside in [
    "\u{200B}", "\u{AD}", "\u{202E}", "\u{2028}", "\n", "\r\n", " ", "\u{0}",
  ] {
    let text = format!("x {}{inside}{} y", &LONG_SECRET[..18], &LONG_SECRET[18..]);
    let shown = answer_400(serde_json::json!({"error": "e", "error_description": text}));
    assert_eq!(shown, "(e, HTTP 400: x *** y)", "{inside:?}");
    assert_clean(&shown);
  }
}

#[test]
fn format_characters_are_dropped_and_separators_become_spaces() {
  let shown = answer_400(serde_json::json!({
    "error": "e\u{202E}rr\u{200B}",
    "error_description": "a\u{202E}b\u{2028}c\u{2029}d\u{AD}e\u{FEFF}\u{2066}f\u{7}g",
  }));
  assert_eq!(shown, "(err, HTTP 400: ab c def g)");
  assert_clean(&shown);
}

#[test]
fn a_secret_split_across_error_and_description_is_masked_in_both() {
  let shown = answer_400(serde_json::json!({
    "error": format!("invalid_{}", &LONG_SECRET[..6]),
    "error_description": format!("{} is wrong", &LONG_SECRET[6..]),
  }));
  assert_eq!(shown, "(invalid_***, HTTP 400: *** is wrong)");
  assert_clean(&shown);
  // The other way round: the end of the secret first.
  let shown = answer_400(serde_json::json!({
    "error": &LONG_REFRESH[30..],
    "error_description": format!("x {}", &LONG_REFRESH[..30]),
  }));
  assert_eq!(shown, "(***, HTTP 400: x ***)");
  assert_clean(&shown);
}

#[test]
fn twelve_characters_of_a_secret_are_masked_and_eleven_are_not() {
  for part in [
    &LONG_SECRET[..24],
    &LONG_SECRET[10..22],
    &LONG_REFRESH[24..],
  ] {
    let shown =
      answer_400(serde_json::json!({"error": "e", "error_description": format!("[{part}]")}));
    assert_eq!(shown, "(e, HTTP 400: [***])", "{part}");
    assert_clean(&shown);
  }
  // The rule's edge: 11 characters are ordinary text.
  let shown =
    answer_400(serde_json::json!({"error": "e", "error_description": &LONG_SECRET[3..14]}));
  assert_eq!(shown, format!("(e, HTTP 400: {})", &LONG_SECRET[3..14]));
}

#[test]
fn a_disguised_secret_in_the_error_type_header_is_masked() {
  let header = format!("Denied{}:{}", LONG_SECRET.to_uppercase(), LONG_REFRESH);
  let shown = refused_with(http("403 Forbidden", &[("x-amzn-ErrorType", &header)], b""));
  assert_eq!(shown, "(Denied***, HTTP 403)");
  assert_clean(&shown);
}

#[test]
fn ordinary_server_text_is_left_as_it_is() {
  let text = "Invalid refresh token provided (request 1f0c9a2e-77b3-4c1d-9e55-0123456789ab)";
  let shown = answer_400(serde_json::json!({"error": "invalid_grant", "error_description": text}));
  assert_eq!(shown, format!("(invalid_grant, HTTP 400: {text})"));
}

#[test]
fn the_cut_comes_after_masking() {
  // A secret straddling the 200-character cut is masked, not cut into a shown prefix.
  let text = format!("{}{}{}", "x".repeat(190), LONG_SECRET, "y".repeat(50));
  let shown = answer_400(serde_json::json!({"error": "e", "error_description": text}));
  assert_eq!(
    shown,
    format!("(e, HTTP 400: {}***{}...)", "x".repeat(190), "y".repeat(7))
  );
  assert_clean(&shown);
}
