//! Which proxy CreateToken goes through: `HTTPS_PROXY` / `https_proxy` for `https://`
//! endpoints, unless `NO_PROXY` / `no_proxy` matches the host.

use super::transport::Target;
use super::OidcError;
use crate::env::Env;
use ureq::{Proxy, ProxyProtocol};

/// The proxy for this endpoint, from the passed environment only: ureq's own default reads
/// the process environment, which in Node is not what the calling worker sees.
pub(super) fn proxy_for(target: &Target, env: &Env) -> Result<Option<Proxy>, OidcError> {
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

#[cfg(test)]
mod tests {
  use super::*;

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
}
