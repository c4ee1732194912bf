//! Which proxy a request goes through: `HTTPS_PROXY` / `https_proxy` for `https://`
//! endpoints, unless `NO_PROXY` / `no_proxy` matches the host.

use super::target::Target;
use super::OidcError;
use crate::env::Env;
use crate::secret::Secret;
use http::Uri;

/// A proxy to tunnel through with `CONNECT`.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
  /// `https://` (TLS to the proxy itself), else `http://`.
  pub https: bool,
  /// Lowercase, without the brackets of an IPv6 literal.
  pub host: String,
  /// The port (the scheme's default when none is written: 443, else 80).
  pub port: u16,
  /// `Basic` credentials from the URL's user information, already base64-encoded.
  pub(crate) authorization: Option<Secret>,
}

impl std::fmt::Debug for Proxy {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    // Never the credentials.
    write!(f, "Proxy({}:{})", self.host, self.port)
  }
}

impl Proxy {
  /// `host:port`, for messages (never the credentials).
  pub fn shown(&self) -> String {
    if self.host.contains(':') {
      format!("[{}]:{}", self.host, self.port)
    } else {
      format!("{}:{}", self.host, self.port)
    }
  }
}

/// The proxy for this endpoint, from the passed environment only (in Node, the process
/// environment is not what the calling worker sees).
pub(crate) fn proxy_for(target: &Target, env: &Env) -> Result<Option<Proxy>, OidcError> {
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
  parse_proxy(raw.trim(), name).map(Some)
}

/// `[http|https]://[user[:password]@]host[:port][/]`; a bare `host:port` is `http://`, as
/// curl reads it. The value may hold a password, so it is never quoted back.
fn parse_proxy(raw: &str, name: &str) -> Result<Proxy, OidcError> {
  let invalid = || OidcError::Transport(format!("{name} is not a valid proxy URL"));
  let (scheme, rest) = match raw.split_once("://") {
    Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
    None => ("http".to_string(), raw),
  };
  let https = match scheme.as_str() {
    "http" => false,
    "https" => true,
    _ => {
      return Err(OidcError::Transport(format!(
        "{name}: only http:// and https:// proxies are supported"
      )))
    }
  };
  let authority = rest.split('/').next().unwrap_or_default();
  let (userinfo, hostport) = match authority.rsplit_once('@') {
    Some((userinfo, hostport)) => (Some(userinfo), hostport),
    None => (None, authority),
  };
  let uri: Uri = format!("http://{hostport}/")
    .parse()
    .map_err(|_| invalid())?;
  let parsed = uri.authority().ok_or_else(invalid)?;
  let host = parsed
    .host()
    .trim_start_matches('[')
    .trim_end_matches(']')
    .to_ascii_lowercase();
  if host.is_empty() {
    return Err(invalid());
  }
  // Written out rather than taken from the parser, which drops a port it cannot read.
  let written_port = match hostport.rsplit_once(']') {
    Some((_, tail)) => tail.strip_prefix(':'),
    None => hostport.rsplit_once(':').map(|(_, p)| p),
  };
  let port = match written_port {
    None => {
      if https {
        443
      } else {
        80
      }
    }
    Some(p) => p.parse::<u16>().map_err(|_| invalid())?,
  };
  let authorization = match userinfo {
    Some(userinfo) => {
      let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
      let mut plain = percent_decoded(user).ok_or_else(invalid)?;
      plain.push(b':');
      plain.extend_from_slice(&percent_decoded(password).ok_or_else(invalid)?);
      let encoded = super::redact::base64_standard(&plain);
      zeroize::Zeroize::zeroize(&mut plain);
      Some(Secret::new(encoded.as_str()))
    }
    None => None,
  };
  Ok(Proxy {
    https,
    host,
    port,
    authorization,
  })
}

/// `%XX` escapes decoded; `None` for a broken escape.
fn percent_decoded(s: &str) -> Option<Vec<u8>> {
  let bytes = s.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut i = 0;
  while i < bytes.len() {
    if bytes[i] == b'%' {
      let hex = s.get(i + 1..i + 3)?;
      out.push(u8::from_str_radix(hex, 16).ok()?);
      i += 3;
    } else {
      out.push(bytes[i]);
      i += 1;
    }
  }
  Some(out)
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
  fn proxy_urls_as_curl_reads_them() {
    let p = parse_proxy("http://u%40x:p%3Aw@Proxy.Example:3128", "HTTPS_PROXY").unwrap();
    assert_eq!(
      (p.https, p.host.as_str(), p.port),
      (false, "proxy.example", 3128)
    );
    // "u@x:p:w" in base64.
    assert_eq!(p.authorization.unwrap().expose(), "dUB4OnA6dw==");
    let p = parse_proxy("https://[::1]", "HTTPS_PROXY").unwrap();
    assert_eq!((p.https, p.host.as_str(), p.port), (true, "::1", 443));
    assert_eq!(p.shown(), "[::1]:443");
    let p = parse_proxy("proxy:8080", "HTTPS_PROXY").unwrap();
    assert_eq!(
      (p.https, p.port, p.authorization.is_none()),
      (false, 8080, true)
    );
    for bad in [
      "http://[bad",
      "http://",
      "http://u:%zz@h:1",
      "http://h:99999",
    ] {
      assert_eq!(
        parse_proxy(bad, "HTTPS_PROXY"),
        Err(OidcError::Transport(
          "HTTPS_PROXY is not a valid proxy URL".into()
        )),
        "{bad}"
      );
    }
    assert_eq!(
      format!("{:?}", parse_proxy("http://user:hunter2@h:1", "X").unwrap()),
      "Proxy(h:1)"
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
}
