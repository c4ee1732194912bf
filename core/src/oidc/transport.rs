//! The real transport: ureq 3 over rustls. The request carries the refresh token and
//! the client secret, so it is built around where they may go: only to the configured
//! endpoint (redirects are not followed), only over TLS (plain `http://` is allowed for
//! loopback test servers alone), through the proxy the user configured, and never back
//! out through an error message. Everything is bounded: connect and attempt timeouts, at
//! most three attempts and a 1 MiB response body, so a hostile or broken server cannot
//! hang a refresh.

use super::proxy::proxy_for;
use super::tls::agent_for;
use super::wire::{parse_error, parse_success, read_body, request_body, sanitize};
use super::{CreateTokenRequest, CreateTokenResponse, OidcError, Transport};
use crate::env::Env;
use crate::files::CappedError;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use ureq::http::Uri;
use ureq::{Agent, Proxy};

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

pub(super) const USER_AGENT: &str = concat!("sso-token-provider/", env!("CARGO_PKG_VERSION"));

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
pub(super) struct Policy {
  pub(super) connect_timeout: Duration,
  pub(super) attempt_timeout: Duration,
  pub(super) backoff: [Duration; MAX_ATTEMPTS - 1],
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
  // Zeroized on drop.
  let body = request_body(request)?;
  send_with_retries(&agent, &body, &context)
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
pub(super) struct Target {
  /// `{endpoint}/token`.
  url: String,
  pub(super) https: bool,
  /// Lowercase, without the brackets of an IPv6 literal.
  pub(super) host: String,
  pub(super) port: u16,
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
  // Zeroized on drop: a success body holds the new tokens.
  let limited = read_body(response.body_mut().as_reader(), MAX_RESPONSE_BYTES);
  match status {
    200..=299 => match limited {
      Ok(bytes) => Outcome::Final(parse_success(&bytes)),
      Err(CappedError::TooLarge) => Outcome::Final(Err(OidcError::InvalidResponse(
        "response body over 1 MiB".into(),
      ))),
      // ureq hands its own errors (timeouts, resets) through the reader wrapped in io::Error.
      Err(CappedError::Io(e)) => transport_failure(ureq::Error::from(e), context),
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
      let error = parse_error(
        status,
        body.as_ref().map(|b| b.as_slice()),
        header,
        context.secrets,
      );
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

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
