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

/// Checks every field by hand: typed deserialization errors quote the offending value,
/// which here may be a token.
fn parse_success(bytes: &[u8]) -> Result<CreateTokenResponse, OidcError> {
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

/// The error from `{"error", "error_description"}` (or AWS's `__type`/`message`), falling
/// back to the `x-amzn-ErrorType` header, whose part before `:` is the error code.
fn parse_error(
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
