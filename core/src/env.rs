//! The environment a load sees, passed in rather than read from the process.
//!
//! Node's `process.env` is per worker thread, so the JS layer hands over the variables it
//! sees; tests build an `Env` from a list. Empty strings count as unset, as in the SDKs.

use std::fmt;
use std::path::PathBuf;

/// Every variable a load may read. The JS layer passes exactly these, in this order.
pub const VARIABLES: [&str; 15] = [
  "HOME",
  "USERPROFILE",
  "HOMEDRIVE",
  "HOMEPATH",
  "AWS_CONFIG_FILE",
  "AWS_ENDPOINT_URL_SSO_OIDC",
  "AWS_ENDPOINT_URL_SSO",
  "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
  "AWS_USE_FIPS_ENDPOINT",
  "AWS_USE_DUALSTACK_ENDPOINT",
  "AWS_CA_BUNDLE",
  "HTTPS_PROXY",
  "https_proxy",
  "NO_PROXY",
  "no_proxy",
];

/// The values of [`VARIABLES`] a load sees. `Debug` names the variables that are set and
/// shows no value: `HTTPS_PROXY` may carry a password, and a home path a user name. Two
/// environments are equal when every variable has the same value: what a load found for
/// one holds for the other.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Env {
  values: Vec<Option<String>>,
}

impl Default for Env {
  /// Nothing set.
  fn default() -> Self {
    Env {
      values: vec![None; VARIABLES.len()],
    }
  }
}

impl fmt::Debug for Env {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let set: Vec<&str> = VARIABLES
      .into_iter()
      .filter(|name| self.get(name).is_some())
      .collect();
    f.debug_struct("Env").field("set", &set).finish()
  }
}

impl Env {
  /// Builds an environment from values given in the order of [`VARIABLES`].
  pub fn from_values<I, S>(values: I) -> Self
  where
    I: IntoIterator<Item = Option<S>>,
    S: Into<String>,
  {
    let mut values: Vec<Option<String>> = values.into_iter().map(|v| v.map(Into::into)).collect();
    values.resize(VARIABLES.len(), None);
    Env { values }
  }

  /// The process environment. Node's main thread keeps `process.env` in it; worker threads
  /// have copies of their own, so they pass their values with [`Env::from_values`].
  pub fn from_process() -> Self {
    Env::from_values(VARIABLES.iter().map(|name| std::env::var(name).ok()))
  }

  /// Builds an environment from `(name, value)` pairs; unknown names are ignored.
  pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
    Env::from_values(VARIABLES.iter().map(|name| {
      pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
    }))
  }

  /// The value of `name`, or `None` when unset or empty.
  pub fn get(&self, name: &str) -> Option<&str> {
    let index = VARIABLES.iter().position(|n| *n == name)?;
    self.values[index].as_deref().filter(|v| !v.is_empty())
  }

  /// `HOME`, then `USERPROFILE`, then `HOMEDRIVE` (default `C:/`) + `HOMEPATH`, then the OS
  /// home directory: the order of the v2 SDK's `getHomeDir`.
  pub fn home_dir(&self) -> Option<PathBuf> {
    if let Some(home) = self.get("HOME").or_else(|| self.get("USERPROFILE")) {
      return Some(PathBuf::from(home));
    }
    if let Some(path) = self.get("HOMEPATH") {
      let drive = self.get("HOMEDRIVE").unwrap_or("C:/");
      return Some(PathBuf::from(format!("{drive}{path}")));
    }
    std::env::home_dir()
  }

  /// `AWS_CONFIG_FILE`, else `<home>/.aws/config`.
  pub fn config_file(&self) -> Option<PathBuf> {
    match self.get("AWS_CONFIG_FILE") {
      Some(path) => Some(PathBuf::from(path)),
      None => self.home_dir().map(|h| h.join(".aws").join("config")),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn home_prefers_home_then_userprofile_then_homepath() {
    let e = Env::from_pairs(&[("HOME", "/h"), ("USERPROFILE", "/u")]);
    assert_eq!(e.home_dir().unwrap(), PathBuf::from("/h"));
    let e = Env::from_pairs(&[("HOME", ""), ("USERPROFILE", "/u")]);
    assert_eq!(e.home_dir().unwrap(), PathBuf::from("/u"));
    let e = Env::from_pairs(&[("HOMEPATH", "\\Users\\me")]);
    assert_eq!(e.home_dir().unwrap(), PathBuf::from("C:/\\Users\\me"));
    let e = Env::from_pairs(&[("HOMEDRIVE", "D:"), ("HOMEPATH", "\\me")]);
    assert_eq!(e.home_dir().unwrap(), PathBuf::from("D:\\me"));
  }

  #[test]
  fn debug_names_the_set_variables_and_shows_no_value() {
    let e = Env::from_pairs(&[
      ("HTTPS_PROXY", "http://user:hunter2@proxy.example:3128"),
      ("HOME", "/home/alice"),
      ("NO_PROXY", ""),
    ]);
    assert_eq!(format!("{e:?}"), r#"Env { set: ["HOME", "HTTPS_PROXY"] }"#);
    assert_eq!(
      format!("{e:#?}"),
      "Env {\n    set: [\n        \"HOME\",\n        \"HTTPS_PROXY\",\n    ],\n}"
    );
    assert_eq!(format!("{:?}", Env::default()), "Env { set: [] }");
  }

  #[test]
  fn config_file_honours_aws_config_file() {
    let e = Env::from_pairs(&[("HOME", "/h"), ("AWS_CONFIG_FILE", "/etc/aws.ini")]);
    assert_eq!(e.config_file().unwrap(), PathBuf::from("/etc/aws.ini"));
    let e = Env::from_pairs(&[("HOME", "/h"), ("AWS_CONFIG_FILE", "")]);
    assert_eq!(e.config_file().unwrap(), PathBuf::from("/h/.aws/config"));
  }
}
