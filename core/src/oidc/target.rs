//! Where a request goes, checked before any byte is sent: only `https://`, except plain
//! `http://` to a loopback address (test servers, local tools), never a URL that carries
//! user information or a query string.

use super::redact::sanitize;
use super::OidcError;
use http::Uri;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A checked endpoint.
#[derive(Debug, Clone)]
pub struct Target {
  /// The endpoint's path without its trailing slash (`""` for the root).
  pub(crate) base_path: String,
  /// `https://` (else loopback `http://`).
  pub https: bool,
  /// Lowercase, without the brackets of an IPv6 literal.
  pub host: String,
  /// The port, the scheme's default when none is written.
  pub port: u16,
  /// `host:port`, the port always written (brackets kept), for messages.
  pub(crate) authority: String,
  /// The authority as written in the URL: the `Host` header.
  pub(crate) host_header: String,
}

impl Target {
  /// Checks `endpoint`; `what` names the secret a plain-http refusal would have exposed
  /// ("the refresh token").
  pub fn parse(endpoint: &str, what: &str) -> Result<Target, OidcError> {
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
        "refusing to send {what} over plain http to {}; use https",
        authority.host()
      )));
    }
    Ok(Target {
      base_path: uri.path().trim_end_matches('/').to_string(),
      https,
      host,
      port,
      authority: format!("{}:{port}", authority.host()),
      host_header: authority.as_str().to_string(),
    })
  }

  /// The URL of `path` (which starts with `/`) on this endpoint.
  pub fn url(&self, path: &str) -> String {
    let scheme = if self.https { "https" } else { "http" };
    format!("{scheme}://{}{}{path}", self.host_header, self.base_path)
  }

  /// The request target of `path` on this endpoint: the origin-form an HTTP/1.1 request
  /// line carries.
  pub(crate) fn origin_form(&self, path: &str) -> String {
    format!("{}{path}", self.base_path)
  }
}

/// Loopback only: a clear-text request then never leaves the machine.
pub fn is_loopback(host: &str) -> bool {
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
