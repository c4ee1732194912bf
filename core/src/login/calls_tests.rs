//! The sign-in's calls: what is sent, and which answers are refused.
use super::*;
use crate::oidc::test_server::{json, serve};
use chrono::TimeZone;

const FAST: Policy = Policy {
  connect_timeout: Duration::from_secs(2),
  attempt_timeout: Duration::from_secs(3),
  backoff: [Duration::from_millis(1), Duration::from_millis(1)],
};

fn registration() -> Registration {
  Registration {
    client_id: Secret::new("cid-1"),
    client_secret: Secret::new("client-SECRET-value-1"),
    expires_at_text: "2026-10-20T08:00:00Z".into(),
    expires_at: Utc.with_ymd_and_hms(2026, 10, 20, 8, 0, 0).unwrap(),
  }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
  crate::runtime::block_on(f).unwrap()
}

#[test]
fn each_call_sends_the_services_path_and_fields() {
  let server = serve(vec![
    json(
      "200 OK",
      r#"{"clientId":"cid-1","clientSecret":"cs","clientIdIssuedAt":1,"clientSecretExpiresAt":1792483200}"#,
    ),
    json(
      "200 OK",
      r#"{"deviceCode":"dc","userCode":"ABCD-EFGH","verificationUri":"https://device.sso.us-east-1.amazonaws.com/","verificationUriComplete":"https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH","expiresIn":600,"interval":1}"#,
    ),
    json(
      "200 OK",
      r#"{"accessToken":"at","expiresIn":3600,"tokenType":"Bearer"}"#,
    ),
    json(
      "200 OK",
      r#"{"accessToken":"at","expiresIn":3600,"refreshToken":"rt"}"#,
    ),
  ]);
  let oidc = Oidc::to(&server.endpoint(), &Env::default(), FAST).unwrap();
  assert_eq!(oidc.origin(), server.endpoint());
  let scopes = ["sso:account:access".to_string()];
  let got = run(oidc.register(&RegisterClient {
    client_name: "botocore-client-s",
    client_type: "public",
    grant_types: Some(&["authorization_code", "refresh_token"]),
    redirect_uris: Some(&["http://127.0.0.1/oauth/callback"]),
    issuer_url: Some("https://d.awsapps.com/start"),
    scopes: Some(&scopes),
  }))
  .unwrap();
  assert_eq!(got.client_id.expose(), "cid-1");
  assert_eq!(got.expires_at_text, "2026-10-20T08:00:00Z");
  let reg = registration();
  let device = run(oidc.start_device_authorization(&reg, "https://d.awsapps.com/start")).unwrap();
  assert_eq!(device.device_code.expose(), "dc");
  assert_eq!(device.user_code, "ABCD-EFGH");
  assert_eq!(device.interval, Duration::from_secs(1));
  run(oidc.create_token(
    &reg,
    Grant::Device {
      device_code: &device.device_code,
    },
  ))
  .unwrap();
  let t = run(oidc.create_token(
    &reg,
    Grant::AuthCode {
      code: &Secret::new("the-code"),
      verifier: &Secret::new("the-verifier"),
      redirect_uri: "http://127.0.0.1:5/oauth/callback",
    },
  ))
  .unwrap();
  assert_eq!(t.refresh_token.unwrap().expose(), "rt");
  let sent: Vec<(String, String)> = server
    .requests()
    .iter()
    .map(|r| {
      (
        r.head.lines().next().unwrap().to_string(),
        String::from_utf8(r.body.clone()).unwrap(),
      )
    })
    .collect();
  assert_eq!(
    sent,
    [
      (
        "POST /client/register HTTP/1.1".into(),
        r#"{"clientName":"botocore-client-s","clientType":"public","grantTypes":["authorization_code","refresh_token"],"redirectUris":["http://127.0.0.1/oauth/callback"],"issuerUrl":"https://d.awsapps.com/start","scopes":["sso:account:access"]}"#.into()
      ),
      (
        "POST /device_authorization HTTP/1.1".into(),
        r#"{"clientId":"cid-1","clientSecret":"client-SECRET-value-1","startUrl":"https://d.awsapps.com/start"}"#.into()
      ),
      (
        "POST /token HTTP/1.1".into(),
        r#"{"clientId":"cid-1","clientSecret":"client-SECRET-value-1","grantType":"urn:ietf:params:oauth:grant-type:device_code","deviceCode":"dc"}"#.into()
      ),
      (
        "POST /token HTTP/1.1".into(),
        r#"{"clientId":"cid-1","clientSecret":"client-SECRET-value-1","grantType":"authorization_code","code":"the-code","redirectUri":"http://127.0.0.1:5/oauth/callback","codeVerifier":"the-verifier"}"#.into()
      ),
    ]
  );
}

#[test]
fn a_servers_error_never_echoes_a_secret_sent() {
  let server = serve(vec![json(
    "400 Bad Request",
    r#"{"error":"invalid_grant","error_description":"bad code the-code for client-SECRET-value-1 verifier the-verifier"}"#,
  )]);
  let oidc = Oidc::to(&server.endpoint(), &Env::default(), FAST).unwrap();
  let e = run(oidc.create_token(
    &registration(),
    Grant::AuthCode {
      code: &Secret::new("the-code"),
      verifier: &Secret::new("the-verifier"),
      redirect_uri: "http://127.0.0.1:5/oauth/callback",
    },
  ))
  .unwrap_err();
  assert_eq!(
    e.to_string(),
    "(invalid_grant, HTTP 400: bad code *** for *** verifier ***)"
  );
}

#[test]
fn hostile_registrations_are_refused_whole() {
  for (body, why) in [
    ("[1]", "body is not a JSON object"),
    ("{", "body is not JSON"),
    (
      r#"{"clientSecret":"s","clientSecretExpiresAt":5}"#,
      "clientId missing or not a non-empty string",
    ),
    (
      r#"{"clientId":"","clientSecret":"s","clientSecretExpiresAt":5}"#,
      "clientId missing or not a non-empty string",
    ),
    (
      r#"{"clientId":"c\r\nX: y","clientSecret":"s","clientSecretExpiresAt":5}"#,
      "clientId contains control characters",
    ),
    (
      r#"{"clientId":"c","clientSecret":{"a":1},"clientSecretExpiresAt":5}"#,
      "clientSecret missing or not a non-empty string",
    ),
    (
      r#"{"clientId":"c","clientSecret":"s"}"#,
      "clientSecretExpiresAt missing or not a time in epoch seconds",
    ),
    (
      r#"{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":"5"}"#,
      "clientSecretExpiresAt missing or not a time in epoch seconds",
    ),
    (
      r#"{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":1e300}"#,
      "clientSecretExpiresAt missing or not a time in epoch seconds",
    ),
    (
      r#"{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":-1}"#,
      "clientSecretExpiresAt missing or not a time in epoch seconds",
    ),
    (
      r#"{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":253402300800}"#,
      "clientSecretExpiresAt missing or not a time in epoch seconds",
    ),
  ] {
    assert_eq!(
      parse_registration(body.as_bytes()).unwrap_err(),
      OidcError::InvalidResponse(why.into()),
      "{body}"
    );
  }
}

#[test]
fn hostile_device_authorizations_are_refused_whole() {
  let ok = r#""deviceCode":"dc","userCode":"AB-CD","verificationUri":"https://d.example/""#;
  let parse = |extra: &str| parse_device_authorization(format!("{{{ok}{extra}}}").as_bytes());
  let got = parse("").unwrap();
  assert_eq!(got.interval, DEFAULT_INTERVAL);
  assert_eq!(got.verification_uri_complete, "https://d.example/");
  assert_eq!(parse(r#","interval":0"#).unwrap().interval, MIN_INTERVAL);
  assert_eq!(
    parse(r#","interval":100000"#).unwrap().interval,
    MAX_INTERVAL
  );
  for (extra, why) in [
    (
      r#","interval":-1"#,
      "interval is not a whole number of seconds",
    ),
    (
      r#","interval":"5""#,
      "interval is not a whole number of seconds",
    ),
    (
      r#","interval":1.5"#,
      "interval is not a whole number of seconds",
    ),
    (
      r#","verificationUriComplete":"javascript:alert(1)""#,
      "verificationUriComplete is not an https URL",
    ),
    (
      r#","verificationUriComplete":7"#,
      "verificationUriComplete is not a string",
    ),
    (
      r#","userCode":"\u001b[2J""#,
      "userCode missing or not a short printable string",
    ),
  ] {
    assert_eq!(
      parse(extra).unwrap_err(),
      OidcError::InvalidResponse(why.into()),
      "{extra}"
    );
  }
  for body in [
    r#"{"userCode":"A","verificationUri":"https://d.example/"}"#,
    r#"{"deviceCode":"dc","verificationUri":"https://d.example/"}"#,
    r#"{"deviceCode":"dc","userCode":"A"}"#,
    r#"{"deviceCode":"dc","userCode":"A","verificationUri":"file:///etc/passwd"}"#,
  ] {
    assert!(
      parse_device_authorization(body.as_bytes()).is_err(),
      "{body}"
    );
  }
}

#[test]
fn only_plain_https_urls_reach_the_browser() {
  for good in [
    "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
    "https://d-123.awsapps.com/start/#/device?user_code=X",
    "http://127.0.0.1:8080/device",
    "http://[::1]:1/x",
    "HTTPS://example.com",
  ] {
    assert_eq!(browser_url(good).as_deref(), Some(good), "{good}");
  }
  for bad in [
    "",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://example.com/",
    "https://",
    "https://x/ y",
    "https://x/\"&calc",
    "https://x/a\\b",
    "https://x/<script>",
    "https://user:pw@x/",
    "https://x/\u{202e}",
    "ms-settings:",
    &format!("https://x/{}", "a".repeat(MAX_BROWSER_URL_CHARS)),
  ] {
    assert_eq!(browser_url(bad), None, "{bad}");
  }
}
