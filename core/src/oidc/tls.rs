//! The TLS configuration requests are sent with: the system trust store plus
//! `AWS_CA_BUNDLE`, built once per bundle and reused.

use super::redact::sanitize;
use super::OidcError;
use crate::files::{read_regular, ReadError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

/// Largest `AWS_CA_BUNDLE` file read; real bundles are a few hundred KiB, and the cap stops
/// a path such as `/dev/zero` from hanging the load.
const MAX_CA_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Configurations kept; the key changes only when the CA bundle setting or file does.
const MAX_CACHED_CONFIGS: usize = 16;

/// The bundle by path and by modification time and size, so that an edited bundle is
/// picked up without restarting the process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CaBundleKey {
  path: String,
  modified: Option<SystemTime>,
  len: u64,
}

/// The client configuration for `ca_bundle` (the value of `AWS_CA_BUNDLE`, if set).
pub(crate) fn client_config(ca_bundle: Option<&str>) -> Result<Arc<ClientConfig>, OidcError> {
  let key = ca_bundle.map(ca_bundle_key).transpose()?;
  static CONFIGS: OnceLock<Mutex<HashMap<Option<CaBundleKey>, Arc<ClientConfig>>>> =
    OnceLock::new();
  let configs = || {
    CONFIGS
      .get_or_init(Default::default)
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
  };
  if let Some(config) = configs().get(&key) {
    return Ok(Arc::clone(config));
  }
  // Built without the lock: reading the system store and the bundle may be slow (a bundle
  // on a network share), and must not hold up every other session's request.
  let roots = root_certs(key.as_ref())?;
  let provider = Arc::new(rustls::crypto::ring::default_provider());
  let mut config = ClientConfig::builder_with_provider(provider)
    .with_safe_default_protocol_versions()
    .map_err(|e| OidcError::Transport(format!("TLS set-up failed: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
  config.alpn_protocols = vec![b"http/1.1".to_vec()];
  let config = Arc::new(config);
  let mut configs = configs();
  if configs.len() >= MAX_CACHED_CONFIGS {
    configs.clear();
  }
  Ok(Arc::clone(configs.entry(key).or_insert(config)))
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
fn root_certs(ca_bundle: Option<&CaBundleKey>) -> Result<RootCertStore, OidcError> {
  static SYSTEM: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
  let system = SYSTEM.get_or_init(|| rustls_native_certs::load_native_certs().certs);
  let mut roots = RootCertStore::empty();
  // A certificate of the store that rustls cannot use is skipped, as every TLS client does.
  roots.add_parsable_certificates(system.iter().cloned());
  if let Some(bundle) = ca_bundle {
    for cert in read_ca_bundle(&bundle.path)? {
      roots
        .add(cert)
        .map_err(|e| ca_bundle_error(&bundle.path, &format!("unusable certificate: {e}")))?;
    }
  } else if roots.is_empty() {
    // Without any root every handshake would fail; Node's own default is Mozilla's list.
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
  }
  Ok(roots)
}

/// The certificates of the PEM file at `path`.
pub(crate) fn read_ca_bundle(path: &str) -> Result<Vec<CertificateDer<'static>>, OidcError> {
  let pem = read_regular(std::path::Path::new(path), MAX_CA_BUNDLE_BYTES).map_err(|e| match e {
    ReadError::TooLarge => ca_bundle_error(path, "the file is over 16 MiB"),
    e => ca_bundle_error(path, &e.to_string()),
  })?;
  let mut certs = Vec::new();
  for item in CertificateDer::pem_slice_iter(&pem) {
    match item {
      Ok(cert) => certs.push(cert),
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

  #[test]
  fn configurations_are_reused_for_the_same_bundle() {
    let a = client_config(None).unwrap();
    let b = client_config(None).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
  }
}
