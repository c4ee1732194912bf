//! SSO OIDC CreateToken over HTTPS (refresh_token grant).
//!
//! This request carries the refresh token and the client secret, so the transport is built
//! around where they may go: only to the configured endpoint (redirects are not followed),
//! only over TLS (plain `http://` is allowed for loopback test servers alone), through the
//! proxy the user configured, and never back out through an error message (every string
//! taken from the server or the network stack is cut short and scrubbed of the values we
//! sent). Everything is bounded: connect and attempt timeouts, at most three attempts and a
//! 1 MiB response body, so a hostile or broken server cannot hang or exhaust a libuv worker.
//!
//! INTERFACE (fixed; the provider depends on it). Implementation: see `UreqTransport`.

use crate::env::Env;
use crate::secret::Secret;
use serde_json::{Map, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};
use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Proxy, ProxyProtocol};
use zeroize::Zeroize;

/// What CreateToken needs from the cache file.
#[derive(Debug, Clone)]
pub struct CreateTokenRequest {
  pub client_id: Secret,
  pub client_secret: Secret,
  pub refresh_token: Secret,
}

/// A validated CreateToken answer.
#[derive(Debug, Clone)]
pub struct CreateTokenResponse {
  pub access_token: Secret,
  /// Whole seconds, > 0.
  pub expires_in: i64,
  pub refresh_token: Option<Secret>,
}

/// Why a refresh failed. `Display` is the cause shown after
/// `SSO Token refresh failed. Please log in using "aws sso login"`, e.g.
/// ` (invalid_grant, HTTP 400: Invalid refresh token provided)`, without the leading space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
  /// The server answered 4xx/5xx.
  Http {
    status: u16,
    error: Option<String>,
    description: Option<String>,
  },
  /// Connect, TLS, timeout, proxy, reset.
  Transport(String),
  /// 2xx with a body we refuse (not JSON, too large, missing or bad fields).
  InvalidResponse(String),
  /// We would not send the request (e.g. `http://` to a non-loopback host).
  Refused(String),
}

impl fmt::Display for OidcError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      OidcError::Http {
        status,
        error,
        description,
      } => match (error, description) {
        (Some(e), Some(d)) => write!(f, "({e}, HTTP {status}: {d})"),
        (Some(e), None) => write!(f, "({e}, HTTP {status})"),
        (None, Some(d)) => write!(f, "(HTTP {status}: {d})"),
        (None, None) => write!(f, "(HTTP {status})"),
      },
      OidcError::Transport(m) => write!(f, "({m})"),
      OidcError::InvalidResponse(m) => write!(f, "(invalid CreateToken response: {m})"),
      OidcError::Refused(m) => write!(f, "({m})"),
    }
  }
}

/// Sends CreateToken. A seam: tests of the provider pass a fake; production uses
/// [`UreqTransport`].
pub trait Transport: Send + Sync {
  fn create_token(
    &self,
    endpoint: &str,
    request: &CreateTokenRequest,
    env: &Env,
  ) -> Result<CreateTokenResponse, OidcError>;
}

/// The endpoint for a region: `AWS_ENDPOINT_URL_SSO_OIDC` unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, else `https://oidc.{region}.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions). Never `AWS_ENDPOINT_URL`.
pub fn endpoint_for(region: &str, env: &Env) -> String {
  let ignore = env
    .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
  if !ignore {
    if let Some(url) = env.get("AWS_ENDPOINT_URL_SSO_OIDC") {
      return url.trim_end_matches('/').to_string();
    }
  }
  let suffix = if region.starts_with("cn-") {
    "amazonaws.com.cn"
  } else {
    "amazonaws.com"
  };
  format!("https://oidc.{region}.{suffix}")
}

/// Longest time one attempt may spend establishing its connection: resolving a proxy's
/// name, TCP connect, proxy CONNECT and the TLS handshake together (5 seconds).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest time one attempt may take from start to the last byte of the response body,
/// connection included (10 seconds). ureq's `timeout_global` is per request, and each
/// attempt is one request.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts in total, the first included. Only 5xx, 429 and connection-level failures
/// are retried.
pub const MAX_ATTEMPTS: usize = 3;

/// Pause before the second and before the third attempt (100 ms, then 200 ms), each
/// lengthened by a random jitter of up to half of itself so that many processes that failed
/// together do not retry in lockstep.
pub const RETRY_BACKOFF: [Duration; MAX_ATTEMPTS - 1] =
  [Duration::from_millis(100), Duration::from_millis(200)];

/// Largest response body read, success or error (1 MiB). A larger success body fails the
/// refresh; a larger error body is ignored and the error taken from the headers.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Largest `expiresIn` accepted (10 years of 366 days, in seconds): far beyond any real
/// token lifetime and small enough that `now + expiresIn` is always a valid date.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;

/// Longest text kept from the server or the network stack, in characters.
const MAX_SERVER_TEXT_CHARS: usize = 200;

/// Largest `AWS_CA_BUNDLE` file read; real bundles are a few hundred KiB, and the cap stops
/// a path such as `/dev/zero` from hanging the load.
const MAX_CA_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Agents kept; the key changes only when the environment or the CA bundle file does.
const MAX_CACHED_AGENTS: usize = 16;

const USER_AGENT: &str = concat!("sso-token-provider/", env!("CARGO_PKG_VERSION"));

/// The real transport: ureq 3 over rustls.
///
/// Behaviour, per [`Transport::create_token`] call:
/// - `POST {endpoint}/token` with the JSON body of the refresh_token grant, unsigned, no
///   redirects followed (a 3xx is `Http { status, .. }`).
/// - `https://` only, except `http://` to `localhost`, `127.0.0.0/8` or `[::1]`; anything
///   else is [`OidcError::Refused`] before any connection is made.
/// - Trust: the system store plus the PEM certificates in `AWS_CA_BUNDLE` (Mozilla's roots
///   if the system store is empty and no bundle is set). Proxy: `HTTPS_PROXY` /
///   `https_proxy` for `https://` endpoints unless `NO_PROXY` / `no_proxy` matches the host;
///   never for `http://` loopback endpoints. Only the passed [`Env`] is read.
/// - [`CONNECT_TIMEOUT`] and [`ATTEMPT_TIMEOUT`] per attempt, up to [`MAX_ATTEMPTS`]
///   attempts with [`RETRY_BACKOFF`] between them: about 31 s in the worst case.
/// - The agent (TLS roots, proxy) is built once per environment and reused.
#[derive(Debug, Default)]
pub struct UreqTransport;

impl Transport for UreqTransport {
  fn create_token(
    &self,
    endpoint: &str,
    request: &CreateTokenRequest,
    env: &Env,
  ) -> Result<CreateTokenResponse, OidcError> {
    send_create_token(endpoint, request, env, &PRODUCTION)
  }
}

/// Timeouts and backoff, a seam so that tests neither wait 10 s for a silent server nor
/// sleep between retries.
#[derive(Clone, Copy, Debug)]
struct Policy {
  connect_timeout: Duration,
  attempt_timeout: Duration,
  backoff: [Duration; MAX_ATTEMPTS - 1],
}

const PRODUCTION: Policy = Policy {
  connect_timeout: CONNECT_TIMEOUT,
  attempt_timeout: ATTEMPT_TIMEOUT,
  backoff: RETRY_BACKOFF,
};

fn send_create_token(
  endpoint: &str,
  request: &CreateTokenRequest,
  env: &Env,
  policy: &Policy,
) -> Result<CreateTokenResponse, OidcError> {
  let target = Target::parse(endpoint)?;
  let proxy = proxy_for(&target, env)?;
  let ca_bundle = if target.https {
    env.get("AWS_CA_BUNDLE")
  } else {
    None
  };
  let agent = agent_for(target.https, ca_bundle, proxy.clone(), policy)?;
  let secrets = [
    request.client_secret.expose(),
    request.refresh_token.expose(),
    request.client_id.expose(),
  ];
  let context = Context {
    target: &target,
    proxy: proxy.as_ref(),
    policy,
    secrets: &secrets,
  };
  let mut body = request_body(request)?;
  let result = send_with_retries(&agent, &body, &context);
  body.zeroize();
  result
}

/// What an error message may mention about the exchange, and what it must not.
struct Context<'a> {
  target: &'a Target,
  proxy: Option<&'a Proxy>,
  policy: &'a Policy,
  /// Values we sent; never echoed back.
  secrets: &'a [&'a str],
}

impl Context<'_> {
  /// `host:port`, with the proxy when there is one (never its credentials).
  fn destination(&self) -> String {
    match self.proxy {
      Some(p) => format!(
        "{} via proxy {}:{}",
        self.target.authority,
        p.host(),
        p.port()
      ),
      None => self.target.authority.clone(),
    }
  }
}

/// The endpoint, checked before any byte is sent.
#[derive(Debug)]
struct Target {
  /// `{endpoint}/token`.
  url: String,
  https: bool,
  /// Lowercase, without the brackets of an IPv6 literal.
  host: String,
  port: u16,
  /// `host:port` as written in the URL, for messages.
  authority: String,
}

impl Target {
  fn parse(endpoint: &str) -> Result<Target, OidcError> {
    // A URL with user information may carry a password: it is not quoted back.
    let shown = if endpoint.contains('@') {
      String::new()
    } else {
      format!(" \"{}\"", sanitize(endpoint, &[]))
    };
    let bad =
      |why: &str| OidcError::Refused(format!("the SSO OIDC endpoint{shown} is not usable: {why}"));
    let uri: Uri = endpoint
      .trim()
      .parse()
      .map_err(|_| bad("not a valid URL"))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
      Some("https") => true,
      Some("http") => false,
      _ => return Err(bad("it must start with https://")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
      return Err(bad("user information in the URL is not allowed"));
    }
    if uri.query().is_some() {
      return Err(bad("a query string is not allowed"));
    }
    let host = authority
      .host()
      .trim_start_matches('[')
      .trim_end_matches(']')
      .to_ascii_lowercase();
    if host.is_empty() {
      return Err(bad("no host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !https && !is_loopback(&host) {
      return Err(OidcError::Refused(format!(
        "refusing to send the refresh token over plain http to {}; use https",
        authority.host()
      )));
    }
    let scheme = if https { "https" } else { "http" };
    let path = uri.path().trim_end_matches('/');
    Ok(Target {
      url: format!("{scheme}://{}{path}/token", authority.as_str()),
      https,
      host,
      port,
      authority: format!("{}:{port}", authority.host()),
    })
  }
}

/// Loopback only: the clear-text request then never leaves the machine.
fn is_loopback(host: &str) -> bool {
  if host == "localhost" {
    return true;
  }
  if let Ok(v4) = host.parse::<Ipv4Addr>() {
    return v4.is_loopback();
  }
  if let Ok(v6) = host.parse::<Ipv6Addr>() {
    return v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
  }
  false
}

/// The proxy for this endpoint, from the passed environment only: ureq's own default reads
/// the process environment, which in Node is not what the calling worker sees.
fn proxy_for(target: &Target, env: &Env) -> Result<Option<Proxy>, OidcError> {
  if !target.https {
    return Ok(None);
  }
  let (name, raw) = match (env.get("HTTPS_PROXY"), env.get("https_proxy")) {
    (Some(v), _) => ("HTTPS_PROXY", v),
    (None, Some(v)) => ("https_proxy", v),
    (None, None) => return Ok(None),
  };
  let no_proxy = env.get("NO_PROXY").or_else(|| env.get("no_proxy"));
  if no_proxy.is_some_and(|list| no_proxy_matches(list, &target.host, target.port)) {
    return Ok(None);
  }
  // The value may hold a password, so it is never quoted back.
  let invalid = || OidcError::Transport(format!("{name} is not a valid proxy URL"));
  let proxy = Proxy::new(raw.trim()).map_err(|_| invalid())?;
  if !matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https) {
    return Err(OidcError::Transport(format!(
      "{name}: only http:// and https:// proxies are supported"
    )));
  }
  Ok(Some(proxy))
}

/// `NO_PROXY` as curl reads it: comma-separated entries, `*` for every host, a leading `.`
/// or `*.` ignored, an entry matching the host and its subdomains, an optional `:port`.
fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
  list
    .split(',')
    .map(str::trim)
    .filter(|entry| !entry.is_empty())
    .any(|entry| no_proxy_entry_matches(&entry.to_ascii_lowercase(), host, port))
}

fn no_proxy_entry_matches(entry: &str, host: &str, port: u16) -> bool {
  if entry == "*" {
    return true;
  }
  let (name, entry_port) = split_host_port(entry);
  if entry_port.is_some_and(|p| p != port) {
    return false;
  }
  let name = name.trim_start_matches("*.").trim_start_matches('.');
  let name = name.trim_end_matches('.');
  if name.is_empty() {
    return false;
  }
  host == name
    || (host.len() > name.len()
      && host.ends_with(name)
      && host.as_bytes()[host.len() - name.len() - 1] == b'.')
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal.
fn split_host_port(entry: &str) -> (&str, Option<u16>) {
  if let Some(rest) = entry.strip_prefix('[') {
    return match rest.split_once(']') {
      Some((name, tail)) => (name, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
      None => (entry, None),
    };
  }
  if entry.matches(':').count() == 1 {
    if let Some((name, port)) = entry.rsplit_once(':') {
      if let Ok(port) = port.parse() {
        return (name, Some(port));
      }
    }
  }
  (entry, None)
}

/// Identifies an agent: everything that changes how it connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AgentKey {
  https: bool,
  ca_bundle: Option<CaBundleKey>,
  proxy: Option<Proxy>,
  connect_timeout: Duration,
  attempt_timeout: Duration,
}

/// The bundle by path and by modification time and size, so that an edited bundle is
/// picked up without restarting the process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CaBundleKey {
  path: String,
  modified: Option<SystemTime>,
  len: u64,
}

fn agent_for(
  https: bool,
  ca_bundle: Option<&str>,
  proxy: Option<Proxy>,
  policy: &Policy,
) -> Result<Agent, OidcError> {
  let ca_bundle = ca_bundle.map(ca_bundle_key).transpose()?;
  let key = AgentKey {
    https,
    ca_bundle,
    proxy,
    connect_timeout: policy.connect_timeout,
    attempt_timeout: policy.attempt_timeout,
  };
  static AGENTS: OnceLock<Mutex<HashMap<AgentKey, Agent>>> = OnceLock::new();
  let mut agents = AGENTS
    .get_or_init(Default::default)
    .lock()
    .unwrap_or_else(PoisonError::into_inner);
  if let Some(agent) = agents.get(&key) {
    return Ok(agent.clone());
  }
  let mut tls = TlsConfig::builder();
  if https {
    tls = tls.root_certs(root_certs(key.ca_bundle.as_ref())?);
  }
  let agent = Agent::config_builder()
    .http_status_as_error(false)
    .max_redirects(0)
    .user_agent(USER_AGENT)
    // Always set, even to None: ureq's default reads the process environment.
    .proxy(key.proxy.clone())
    .timeout_connect(Some(policy.connect_timeout))
    .timeout_global(Some(policy.attempt_timeout))
    .tls_config(tls.build())
    .build()
    .new_agent();
  if agents.len() >= MAX_CACHED_AGENTS {
    agents.clear();
  }
  agents.insert(key, agent.clone());
  Ok(agent)
}

fn ca_bundle_key(path: &str) -> Result<CaBundleKey, OidcError> {
  let meta = std::fs::metadata(path).map_err(|e| ca_bundle_error(path, &e.to_string()))?;
  Ok(CaBundleKey {
    path: path.to_string(),
    modified: meta.modified().ok(),
    len: meta.len(),
  })
}

fn ca_bundle_error(path: &str, why: &str) -> OidcError {
  OidcError::Transport(format!(
    "cannot use AWS_CA_BUNDLE file {}: {}",
    sanitize(path, &[]),
    sanitize(why, &[])
  ))
}

/// The system store plus the bundle. The system store is read once per process: it does
/// not change under a running program often enough to pay for re-reading it.
fn root_certs(ca_bundle: Option<&CaBundleKey>) -> Result<RootCerts, OidcError> {
  static SYSTEM: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
  let system = SYSTEM.get_or_init(|| {
    rustls_native_certs::load_native_certs()
      .certs
      .iter()
      .map(|der| Certificate::from_der(der.as_ref()).to_owned())
      .collect()
  });
  let Some(bundle) = ca_bundle else {
    if system.is_empty() {
      // Without any root every handshake would fail; Node's own default is Mozilla's list.
      return Ok(RootCerts::WebPki);
    }
    return Ok(RootCerts::new_with_certs(system));
  };
  let mut certs = system.clone();
  certs.extend(read_ca_bundle(&bundle.path)?);
  Ok(RootCerts::new_with_certs(&certs))
}

fn read_ca_bundle(path: &str) -> Result<Vec<Certificate<'static>>, OidcError> {
  let file = std::fs::File::open(path).map_err(|e| ca_bundle_error(path, &e.to_string()))?;
  let mut pem = Vec::new();
  file
    .take(MAX_CA_BUNDLE_BYTES + 1)
    .read_to_end(&mut pem)
    .map_err(|e| ca_bundle_error(path, &e.to_string()))?;
  if pem.len() as u64 > MAX_CA_BUNDLE_BYTES {
    return Err(ca_bundle_error(path, "the file is over 16 MiB"));
  }
  let mut certs = Vec::new();
  for item in ureq::tls::parse_pem(&pem) {
    match item {
      Ok(PemItem::Certificate(cert)) => certs.push(cert),
      Ok(_) => {} // a private key next to the certificates is not ours to use
      Err(_) => return Err(ca_bundle_error(path, "invalid PEM data")),
    }
  }
  if certs.is_empty() {
    return Err(ca_bundle_error(
      path,
      "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
    ));
  }
  Ok(certs)
}

/// The exact body, field order included, serialized from borrowed values so that no extra
/// copy of the secrets is made besides the buffer, which the caller zeroizes.
fn request_body(request: &CreateTokenRequest) -> Result<Vec<u8>, OidcError> {
  #[derive(serde::Serialize)]
  #[serde(rename_all = "camelCase")]
  struct Body<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    refresh_token: &'a str,
  }
  serde_json::to_vec(&Body {
    client_id: request.client_id.expose(),
    client_secret: request.client_secret.expose(),
    grant_type: "refresh_token",
    refresh_token: request.refresh_token.expose(),
  })
  .map_err(|_| OidcError::Refused("could not encode the CreateToken request".into()))
}

/// How one attempt ended.
enum Outcome {
  Final(Result<CreateTokenResponse, OidcError>),
  Retry(OidcError),
}

fn send_with_retries(
  agent: &Agent,
  body: &[u8],
  context: &Context<'_>,
) -> Result<CreateTokenResponse, OidcError> {
  let mut attempt = 1;
  loop {
    let error = match one_attempt(agent, body, context) {
      Outcome::Final(result) => return result,
      Outcome::Retry(error) => error,
    };
    if attempt >= MAX_ATTEMPTS {
      return Err(match error {
        OidcError::Transport(m) => {
          OidcError::Transport(format!("{m}; gave up after {attempt} attempts"))
        }
        other => other,
      });
    }
    std::thread::sleep(with_jitter(context.policy.backoff[attempt - 1]));
    attempt += 1;
  }
}

fn with_jitter(base: Duration) -> Duration {
  let spread = u64::try_from(base.as_nanos() / 2).unwrap_or(u64::MAX);
  if spread == 0 {
    return base;
  }
  // RandomState is seeded from the OS per process and varied per instance: enough
  // randomness to spread retries without a dependency on a random number crate.
  let random = RandomState::new().build_hasher().finish();
  base + Duration::from_nanos(random % spread)
}

fn one_attempt(agent: &Agent, body: &[u8], context: &Context<'_>) -> Outcome {
  let mut response = match agent
    .post(&context.target.url)
    .header("Content-Type", "application/json")
    .send(body)
  {
    Ok(response) => response,
    Err(e) => return transport_failure(e, context),
  };
  let status = response.status().as_u16();
  let limited = response
    .body_mut()
    .with_config()
    .limit(MAX_RESPONSE_BYTES)
    .read_to_vec();
  match status {
    200..=299 => match limited {
      Ok(mut bytes) => {
        let result = parse_success(&bytes);
        bytes.zeroize();
        Outcome::Final(result)
      }
      Err(ureq::Error::BodyExceedsLimit(_)) => Outcome::Final(Err(OidcError::InvalidResponse(
        "response body over 1 MiB".into(),
      ))),
      Err(e) => transport_failure(e, context),
    },
    300..=399 => Outcome::Final(Err(OidcError::Http {
      status,
      error: None,
      description: Some("redirect not followed".into()),
    })),
    _ => {
      let header = response
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok());
      // An unreadable or oversized error body still leaves the status and the header.
      let body = limited.ok();
      let error = parse_error(status, body.as_deref(), header, context.secrets);
      if status == 429 || (500..=599).contains(&status) {
        Outcome::Retry(error)
      } else {
        Outcome::Final(Err(error))
      }
    }
  }
}

/// Maps a ureq failure to a message naming the host and cause, and decides whether another
/// attempt can help: certificate and configuration problems do not go away by retrying.
fn transport_failure(error: ureq::Error, context: &Context<'_>) -> Outcome {
  use ureq::Error as E;
  let dest = context.destination();
  let detail = |e: &dyn fmt::Display| sanitize(&e.to_string(), context.secrets);
  let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
  let (message, retry) = match &error {
    E::Timeout(ureq::Timeout::Connect) => (
      format!(
        "connecting to {dest} timed out after {}",
        secs(context.policy.connect_timeout)
      ),
      true,
    ),
    E::Timeout(_) => (
      format!(
        "no complete answer from {dest} within {}",
        secs(context.policy.attempt_timeout)
      ),
      true,
    ),
    E::Io(e) => match e.kind() {
      std::io::ErrorKind::ConnectionRefused => (format!("connection to {dest} refused"), true),
      std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
        (format!("connection to {dest} timed out"), true)
      }
      // rustls reports certificate and handshake failures as InvalidData.
      std::io::ErrorKind::InvalidData => (
        format!("secure connection to {dest} failed: {}", detail(e)),
        false,
      ),
      _ => (format!("connection to {dest} failed: {}", detail(e)), true),
    },
    E::HostNotFound => (
      format!("could not resolve host {}", context.target.host),
      true,
    ),
    E::ConnectionFailed => (format!("connection to {dest} failed"), true),
    E::ConnectProxyFailed(why) => (
      format!("the proxy did not connect to {dest}: {}", detail(why)),
      true,
    ),
    E::Protocol(e) => (format!("bad HTTP answer from {dest}: {}", detail(e)), true),
    E::BodyStalled => (format!("the answer from {dest} stalled"), true),
    E::Tls(_) | E::Pem(_) | E::Rustls(_) | E::TlsRequired => (
      format!("secure connection to {dest} failed: {}", detail(&error)),
      false,
    ),
    E::InvalidProxyUrl => ("the proxy URL is not valid".to_string(), false),
    _ => (
      format!("request to {dest} failed: {}", detail(&error)),
      false,
    ),
  };
  let error = OidcError::Transport(message);
  if retry {
    Outcome::Retry(error)
  } else {
    Outcome::Final(Err(error))
  }
}

fn invalid(why: &str) -> OidcError {
  OidcError::InvalidResponse(why.to_string())
}

/// Validates a 2xx CreateToken body. Checks every field by hand: typed deserialization
/// errors quote the offending value, which here may be a token. Public for the fuzz tests.
pub fn parse_success(bytes: &[u8]) -> Result<CreateTokenResponse, OidcError> {
  let text = std::str::from_utf8(bytes).map_err(|_| invalid("body is not UTF-8"))?;
  let value: Value = serde_json::from_str(text).map_err(|_| invalid("body is not JSON"))?;
  let Value::Object(mut fields) = value else {
    let mut value = value;
    scrub(&mut value);
    return Err(invalid("body is not a JSON object"));
  };
  let result = take_response(&mut fields);
  for value in fields.values_mut() {
    scrub(value);
  }
  result
}

fn take_response(fields: &mut Map<String, Value>) -> Result<CreateTokenResponse, OidcError> {
  let access_token = take_secret(fields, "accessToken")
    .ok()
    .flatten()
    .filter(|t| !t.is_empty())
    .ok_or_else(|| invalid("accessToken missing or not a non-empty string"))?;
  if has_control(access_token.expose()) {
    return Err(invalid("accessToken contains control characters"));
  }
  let expires_in = match fields.get("expiresIn") {
    Some(Value::Number(n)) => n.as_i64().filter(|s| *s > 0),
    _ => None,
  }
  .ok_or_else(|| invalid("expiresIn missing or not a positive whole number"))?;
  if expires_in > MAX_EXPIRES_IN_SECS {
    return Err(invalid("expiresIn is over 10 years"));
  }
  // null is how some JSON encoders write an absent optional field.
  let refresh_token = take_secret(fields, "refreshToken")
    .map_err(|_| invalid("refreshToken is not a string"))?
    .filter(|t| !t.is_empty());
  if refresh_token
    .as_ref()
    .is_some_and(|t| has_control(t.expose()))
  {
    return Err(invalid("refreshToken contains control characters"));
  }
  if !matches!(
    fields.get("tokenType"),
    None | Some(Value::Null) | Some(Value::String(_))
  ) {
    return Err(invalid("tokenType is not a string"));
  }
  Ok(CreateTokenResponse {
    access_token,
    expires_in,
    refresh_token,
  })
}

/// Moves a string field into a [`Secret`] (zeroized on drop); `Err` when it is not a string.
fn take_secret(fields: &mut Map<String, Value>, key: &str) -> Result<Option<Secret>, ()> {
  match fields.remove(key) {
    None | Some(Value::Null) => Ok(None),
    Some(Value::String(s)) => Ok(Some(Secret::new(s))),
    Some(mut other) => {
      scrub(&mut other);
      Err(())
    }
  }
}

/// A header value may not hold CR, LF or NUL; a token that does would break the requests
/// that later carry it.
fn has_control(s: &str) -> bool {
  s.chars().any(char::is_control)
}

/// Zeroizes the strings of a parsed body before it is dropped: it may hold tokens.
fn scrub(value: &mut Value) {
  match value {
    Value::String(s) => s.zeroize(),
    Value::Array(items) => items.iter_mut().for_each(scrub),
    Value::Object(fields) => fields.values_mut().for_each(scrub),
    _ => {}
  }
}

/// The error of a 4xx/5xx answer: from `{"error", "error_description"}` (or AWS's
/// `__type`/`message`), falling back to the `x-amzn-ErrorType` header, whose part before `:`
/// is the error code; server text sanitised against `secrets`. Public for the fuzz tests.
pub fn parse_error(
  status: u16,
  body: Option<&[u8]>,
  header: Option<&str>,
  secrets: &[&str],
) -> OidcError {
  let mut json = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
  let (mut error, mut description) = (None, None);
  if let Some(Value::Object(fields)) = &json {
    let text = |keys: &[&str]| {
      keys
        .iter()
        .find_map(|k| fields.get(*k).and_then(Value::as_str))
        .map(|s| sanitize(s, secrets))
        .filter(|s| !s.is_empty())
    };
    error = text(&["error", "__type", "code"]).map(|e| match e.rsplit_once('#') {
      Some((_, name)) if !name.is_empty() => name.to_string(),
      _ => e,
    });
    description = text(&["error_description", "message", "Message"]);
  }
  if let Some(value) = json.as_mut() {
    scrub(value);
  }
  if error.is_none() {
    error = header
      .and_then(|h| h.split(':').next())
      .map(|code| sanitize(code, secrets))
      .filter(|code| !code.is_empty());
  }
  OidcError::Http {
    status,
    error,
    description,
  }
}

/// Makes text from outside safe to show: every secret we sent becomes `***`, control
/// characters become spaces (no forged log lines), and the result is cut to
/// [`MAX_SERVER_TEXT_CHARS`] characters.
fn sanitize(text: &str, secrets: &[&str]) -> String {
  let mut redacted = text.to_string();
  for secret in secrets.iter().filter(|s| !s.is_empty()) {
    if redacted.contains(secret) {
      let replaced = redacted.replace(secret, "***");
      redacted.zeroize();
      redacted = replaced;
    }
  }
  let mut out: String = redacted
    .chars()
    .map(|c| if c.is_control() { ' ' } else { c })
    .take(MAX_SERVER_TEXT_CHARS)
    .collect();
  if redacted.chars().nth(MAX_SERVER_TEXT_CHARS).is_some() {
    out.push_str("...");
  }
  redacted.zeroize();
  out.trim().to_string()
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io::Write;
  use std::net::{TcpListener, TcpStream};
  use std::sync::Arc;
  use std::thread;
  use std::time::Instant;

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

  enum Reply {
    /// Raw bytes, then close.
    Send(Vec<u8>),
    /// Read the request, then say nothing for a long time.
    Hang,
    /// Announce and stream this many bytes until the client goes away.
    Stream(usize),
  }

  fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut head = format!(
      "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
      body.len()
    );
    for (name, value) in headers {
      head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Send(bytes)
  }

  fn json(status: &str, body: &str) -> Reply {
    http(
      status,
      &[("Content-Type", "application/json")],
      body.as_bytes(),
    )
  }

  fn ok_body() -> Reply {
    json(
      "200 OK",
      r#"{"accessToken":"new-access","expiresIn":3600,"refreshToken":"new-refresh","tokenType":"Bearer"}"#,
    )
  }

  #[derive(Clone, Debug)]
  struct Recorded {
    head: String,
    body: Vec<u8>,
  }

  impl Recorded {
    fn header(&self, name: &str) -> Option<String> {
      self.head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
          .eq_ignore_ascii_case(name)
          .then(|| v.trim().to_string())
      })
    }
  }

  /// A one-connection-per-reply HTTP/1.1 responder on 127.0.0.1 that records each raw
  /// request; once the script is spent it closes the listener, so an extra attempt is
  /// refused and shows up in the result.
  struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
  }

  impl Server {
    fn endpoint(&self) -> String {
      format!("http://127.0.0.1:{}", self.port)
    }
    fn requests(&self) -> Vec<Recorded> {
      self.requests.lock().unwrap().clone()
    }
  }

  fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    thread::spawn(move || {
      for reply in replies {
        let Ok((stream, _)) = listener.accept() else {
          return;
        };
        let recorded = Arc::clone(&recorded);
        // One thread per connection so that a hanging reply does not block the next one.
        thread::spawn(move || handle(stream, reply, &recorded));
      }
    });
    Server { port, requests }
  }

  fn handle(mut stream: TcpStream, reply: Reply, recorded: &Mutex<Vec<Recorded>>) {
    stream
      .set_read_timeout(Some(Duration::from_secs(5)))
      .unwrap();
    let Some(request) = read_request(&mut stream) else {
      return;
    };
    recorded.lock().unwrap().push(request);
    match reply {
      Reply::Send(bytes) => {
        let _ = stream.write_all(&bytes);
        let _ = stream.flush();
      }
      Reply::Hang => thread::sleep(Duration::from_secs(8)),
      Reply::Stream(total) => {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n{{\"a\":\"");
        if stream.write_all(head.as_bytes()).is_err() {
          return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total && stream.write_all(&chunk).is_ok() {
          sent += chunk.len();
        }
      }
    }
  }

  fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
      if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        break i + 4;
      }
      let n = stream.read(&mut chunk).ok()?;
      if n == 0 {
        return None;
      }
      buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut recorded = Recorded {
      head,
      body: buf[head_end..].to_vec(),
    };
    let length: usize = recorded
      .header("content-length")
      .and_then(|v| v.parse().ok())
      .unwrap_or(0);
    while recorded.body.len() < length {
      let n = stream.read(&mut chunk).ok()?;
      if n == 0 {
        break;
      }
      recorded.body.extend_from_slice(&chunk[..n]);
    }
    Some(recorded)
  }

  fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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
    let now = chrono::Utc::now();
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
    let t = Target::parse("http://[::1]:9/").unwrap();
    assert_eq!((t.host.as_str(), t.port, t.https), ("::1", 9, false));
    assert_eq!(t.url, "http://[::1]:9/token");
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
    let OidcError::Http { description, .. } = call(&server.endpoint(), &no_env()).unwrap_err()
    else {
      panic!("not Http");
    };
    let description = description.unwrap();
    assert_eq!(description.chars().count(), MAX_SERVER_TEXT_CHARS + 3);
    assert!(description.ends_with("..."));
  }

  #[test]
  fn sanitize_ignores_empty_secrets_and_trims() {
    assert_eq!(sanitize("  a\tb  ", &["", "zz"]), "a b");
    assert_eq!(sanitize("xxzzxx", &["zz"]), "xx***xx");
    assert_eq!(sanitize(&"a".repeat(200), &[]), "a".repeat(200));
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
  fn no_proxy_matching_rules() {
    let m = no_proxy_matches;
    assert!(m("*", "anything.example", 443));
    assert!(m("example.com", "example.com", 443));
    assert!(m("example.com", "oidc.example.com", 443));
    assert!(m(".example.com", "example.com", 443));
    assert!(m("*.example.com", "a.b.example.com", 443));
    assert!(m(" foo , EXAMPLE.com ", "example.com", 443));
    assert!(!m("example.com", "badexample.com", 443));
    assert!(!m("example.com", "example.com.evil", 443));
    assert!(m("example.com:443", "example.com", 443));
    assert!(!m("example.com:8443", "example.com", 443));
    assert!(m("[::1]:443", "::1", 443));
    assert!(m("::1", "::1", 443));
    assert!(!m("[::1]:80", "::1", 443));
    assert!(!m("", "example.com", 443));
    assert!(!m(",,.", "example.com", 443));
    assert!(!m("*x", "example.com", 443));
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

  #[test]
  fn endpoint_for_prefers_the_service_variable() {
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/")]);
    assert_eq!(endpoint_for("us-east-1", &env), "http://127.0.0.1:9");
    let env = Env::from_pairs(&[
      ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
      ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
    ]);
    assert_eq!(
      endpoint_for("cn-north-1", &env),
      "https://oidc.cn-north-1.amazonaws.com.cn"
    );
  }

  #[test]
  fn agents_are_reused_for_the_same_environment() {
    let a = agent_for(true, None, None, &FAST).unwrap();
    let b = agent_for(true, None, None, &FAST).unwrap();
    // Same configuration object: the cached agent was cloned, not rebuilt.
    assert!(std::ptr::eq(a.config(), b.config()));
  }
}
