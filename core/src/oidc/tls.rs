//! The agents CreateToken is sent with: TLS roots (the system store plus `AWS_CA_BUNDLE`),
//! the proxy and the timeouts, built once per configuration and reused.

use super::transport::{Policy, USER_AGENT};
use super::wire::sanitize;
use super::OidcError;
use crate::files::{read_regular, ReadError};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Proxy};

/// Largest `AWS_CA_BUNDLE` file read; real bundles are a few hundred KiB, and the cap stops
/// a path such as `/dev/zero` from hanging the load.
const MAX_CA_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Agents kept; the key changes only when the environment or the CA bundle file does.
const MAX_CACHED_AGENTS: usize = 16;

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

pub(super) fn agent_for(
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
  let agents = || {
    AGENTS
      .get_or_init(Default::default)
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
  };
  if let Some(agent) = agents().get(&key) {
    return Ok(agent.clone());
  }
  // Built without the lock: reading the system store and the bundle may be slow (a bundle
  // on a network share), and must not hold up every other session's refresh.
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
  let mut agents = agents();
  if agents.len() >= MAX_CACHED_AGENTS {
    agents.clear();
  }
  Ok(agents.entry(key).or_insert(agent).clone())
}

fn ca_bundle_key(path: &str) -> Result<CaBundleKey, OidcError> {
  let meta = std::fs::metadata(path).map_err(|e| ca_bundle_error(path, &e.to_string()))?;
  if !meta.is_file() {
    return Err(ca_bundle_error(path, "not a regular file"));
  }
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

pub(super) fn read_ca_bundle(path: &str) -> Result<Vec<Certificate<'static>>, OidcError> {
  let pem = read_regular(std::path::Path::new(path), MAX_CA_BUNDLE_BYTES).map_err(|e| match e {
    ReadError::TooLarge => ca_bundle_error(path, "the file is over 16 MiB"),
    e => ca_bundle_error(path, &e.to_string()),
  })?;
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

#[cfg(test)]
mod tests {
  use super::*;

  const FAST: Policy = Policy {
    connect_timeout: Duration::from_secs(2),
    attempt_timeout: Duration::from_secs(3),
    backoff: [Duration::from_millis(1), Duration::from_millis(1)],
  };

  #[test]
  fn agents_are_reused_for_the_same_environment() {
    let a = agent_for(true, None, None, &FAST).unwrap();
    let b = agent_for(true, None, None, &FAST).unwrap();
    // Same configuration object: the cached agent was cloned, not rebuilt.
    assert!(std::ptr::eq(a.config(), b.config()));
  }
}
