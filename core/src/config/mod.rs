//! Finding a profile's SSO settings in the shared config file.
//!
//! Section names follow v2's `ini-loader`: `[profile NAME]` and `[NAME]` are profiles,
//! `[sso-session NAME]` are sessions, and the prefix is followed by exactly one whitespace
//! character (`/^profile\s/`). Where v2 crashed on `[default]` beside `[profile default]`,
//! the `profile` form is used whole and the bare one ignored, for any name.

pub mod ini;

#[cfg(doc)]
use crate::env::Env;
use crate::error::Error;
use crate::files::{read_regular, ReadError};
use ini::{is_js_space, Section};
use std::path::Path;

pub use crate::limits::MAX_CONFIG_FILE_BYTES;

/// Where a profile's token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
  /// `sso_session = NAME` pointing at `[sso-session NAME]`: refreshable tokens.
  Session {
    /// The session name, whose SHA-1 names the cache file.
    name: String,
    /// `sso_start_url`.
    start_url: String,
    /// `sso_region`.
    region: String,
  },
  /// `sso_start_url` in the profile itself: cache keyed by the start URL, never refreshed.
  Legacy {
    /// `sso_start_url`, exactly as written: it names the cache file.
    start_url: String,
    /// `sso_region`.
    region: String,
  },
}

impl TokenSource {
  /// The string whose SHA-1 names the cache file.
  pub fn cache_key(&self) -> &str {
    match self {
      TokenSource::Session { name, .. } => name,
      TokenSource::Legacy { start_url, .. } => start_url,
    }
  }

  /// `sso_region`.
  pub fn region(&self) -> &str {
    match self {
      TokenSource::Session { region, .. } | TokenSource::Legacy { region, .. } => region,
    }
  }

  /// `sso_start_url`.
  pub fn start_url(&self) -> &str {
    match self {
      TokenSource::Session { start_url, .. } | TokenSource::Legacy { start_url, .. } => start_url,
    }
  }

  /// The session name; `None` for a legacy profile.
  pub fn session_name(&self) -> Option<&str> {
    match self {
      TokenSource::Session { name, .. } => Some(name),
      TokenSource::Legacy { .. } => None,
    }
  }

  /// Whether the profile holds `sso_start_url` itself (never refreshed).
  pub fn is_legacy(&self) -> bool {
    matches!(self, TokenSource::Legacy { .. })
  }
}

/// `section` without `prefix` and the one whitespace character after it, if it has them.
fn strip_kind<'a>(section: &'a str, prefix: &str) -> Option<&'a str> {
  let rest = section.strip_prefix(prefix)?;
  let mut chars = rest.chars();
  let first = chars.next()?;
  is_js_space(first).then_some(chars.as_str())
}

/// Last value of `key` in `sections` (later sections and later lines win, as v2 merges).
/// Keys match whatever their case, as the AWS CLI (Python's configparser) and smithy-rs
/// read them; v2 and v3 were case-sensitive. Of `sso_session` and `SSO_SESSION` in one
/// section, the later line wins, like any repeated key.
fn last<'a>(sections: &[&Section<'a>], key: &str) -> Option<&'a str> {
  sections
    .iter()
    .rev()
    .find_map(|s| {
      ini::assignments(s.body)
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .last()
    })
    .map(|(_, v)| v)
}

/// Sections that exist: v2 only creates a section when it gets a key.
fn with_keys<'a, 'b>(sections: impl Iterator<Item = &'b Section<'a>>) -> Vec<&'b Section<'a>>
where
  'a: 'b,
{
  sections
    .filter(|s| ini::assignments(s.body).next().is_some())
    .collect()
}

/// Reads the config file at `path` (the environment's [`Env::config_file`]). A missing
/// file is an empty config.
pub fn read_config_text(path: &Path) -> Result<String, Error> {
  let path = path.to_path_buf();
  let unreadable = |path, cause: String| Error::UnreadableConfig { path, cause };
  match read_regular(&path, MAX_CONFIG_FILE_BYTES) {
    Ok(bytes) => String::from_utf8(bytes).map_err(|_| unreadable(path, "not UTF-8 text".into())),
    Err(ReadError::NotFound) => Ok(String::new()),
    Err(ReadError::TooLarge) => Err(Error::ConfigFileTooLarge { path }),
    Err(e) => Err(unreadable(path, e.to_string())),
  }
}

/// The value of `key` in the `[sso-session NAME]` sections of `text` (later sections and
/// lines win), a line with an empty value included as `Some("")`. Only the sign-in reads
/// settings this way: the AWS CLI takes an empty `sso_registration_scopes` as an empty list,
/// which names another registration than no scopes at all (docs/behaviour.md §10).
pub fn session_setting(text: &str, session: &str, key: &str) -> Option<String> {
  ini::sections(text)
    .iter()
    .filter(|s| strip_kind(s.name, "sso-session") == Some(session))
    .flat_map(|s| ini::entries(s.body))
    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
    .last()
    .map(|(_, v)| v.to_string())
}

/// What a load needs from the config file for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
  /// Where the token comes from.
  pub source: TokenSource,
  /// The profile's `use_fips_endpoint`, as written.
  pub use_fips_endpoint: Option<String>,
  /// The profile's `use_dualstack_endpoint`, as written.
  pub use_dualstack_endpoint: Option<String>,
}

/// Resolves `profile` in config `text`: the file is split into sections once, and only
/// the bodies of the profile and its session are parsed.
pub fn resolve(text: &str, profile: &str) -> Result<Resolved, Error> {
  let sections = ini::sections(text);
  let chosen = profile_sections(&sections, profile);
  let source = token_source(&sections, &chosen, profile)?;
  let setting = |key| last(&chosen, key).map(str::to_string);
  Ok(Resolved {
    source,
    use_fips_endpoint: setting("use_fips_endpoint"),
    use_dualstack_endpoint: setting("use_dualstack_endpoint"),
  })
}

/// The sections of `profile`: `[profile NAME]` ones if any has keys, else `[NAME]` ones.
fn profile_sections<'a, 'b>(sections: &'b [Section<'a>], profile: &str) -> Vec<&'b Section<'a>> {
  let prefixed = with_keys(
    sections
      .iter()
      .filter(|s| strip_kind(s.name, "profile") == Some(profile)),
  );
  if !prefixed.is_empty() {
    return prefixed;
  }
  with_keys(sections.iter().filter(|s| {
    s.name == profile
      && strip_kind(s.name, "profile").is_none()
      && strip_kind(s.name, "sso-session").is_none()
  }))
}

/// The token source of the profile made of `chosen`, with its session from `sections`.
fn token_source(
  sections: &[Section<'_>],
  chosen: &[&Section<'_>],
  profile: &str,
) -> Result<TokenSource, Error> {
  if chosen.is_empty() {
    return Err(Error::ProfileNotFound {
      profile: profile.into(),
      config: None,
    });
  }

  let missing_profile = |property| Error::MissingProfileProperty {
    profile: profile.into(),
    property,
  };
  let Some(session) = last(chosen, "sso_session") else {
    let start_url = last(chosen, "sso_start_url").ok_or_else(|| missing_profile("sso_session"))?;
    let region = last(chosen, "sso_region").ok_or_else(|| missing_profile("sso_region"))?;
    return Ok(TokenSource::Legacy {
      start_url: start_url.into(),
      region: region.into(),
    });
  };

  let session_entries = with_keys(
    sections
      .iter()
      .filter(|s| strip_kind(s.name, "sso-session") == Some(session)),
  );
  if session_entries.is_empty() {
    return Err(Error::SessionNotFound {
      session: session.into(),
      config: None,
    });
  }
  let missing_session = |property| Error::MissingSessionProperty {
    session: session.into(),
    property,
  };
  let start_url =
    last(&session_entries, "sso_start_url").ok_or_else(|| missing_session("sso_start_url"))?;
  let region = last(&session_entries, "sso_region").ok_or_else(|| missing_session("sso_region"))?;
  Ok(TokenSource::Session {
    name: session.into(),
    start_url: start_url.into(),
    region: region.into(),
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::env::Env;

  const SESSION: &str =
    "[sso-session my sso]\nsso_start_url = https://d.awsapps.com/start\nsso_region = eu-west-1\n";

  fn session(name: &str) -> TokenSource {
    TokenSource::Session {
      name: name.into(),
      start_url: "https://d.awsapps.com/start".into(),
      region: "eu-west-1".into(),
    }
  }

  #[test]
  fn profile_prefix_and_bare_names() {
    let text =
      format!("[profile dev]\nsso_session = my sso\n[default]\nsso_session = my sso\n{SESSION}");
    assert_eq!(resolve(&text, "dev").unwrap().source, session("my sso"));
    assert_eq!(resolve(&text, "default").unwrap().source, session("my sso"));
  }

  #[test]
  fn profile_default_wins_whole_over_bare_default() {
    let text = format!(
      "[default]\nsso_session = other\nregion = x\n[profile default]\nsso_session = my sso\n{SESSION}"
    );
    assert_eq!(resolve(&text, "default").unwrap().source, session("my sso"));
    // Whole: no key of [default] leaks in, even one [profile default] lacks.
    let text = "[default]\nsso_session = my sso\n[profile default]\nregion = x\n";
    assert_eq!(
      resolve(text, "default").unwrap_err().to_string(),
      "Profile \"default\" is missing required property \"sso_session\"."
    );
  }

  #[test]
  fn repeated_sections_merge_and_last_key_wins() {
    let text = format!(
      "[profile dev]\nsso_session = nope\n{SESSION}[profile dev]\nsso_session = my sso\n[sso-session my sso]\nsso_region = us-east-2\n"
    );
    let got = resolve(&text, "dev").unwrap().source;
    assert_eq!(got.region(), "us-east-2");
    assert_eq!(got.start_url(), "https://d.awsapps.com/start");
  }

  #[test]
  fn a_section_with_no_keys_does_not_exist() {
    let text = "[profile dev]\n; nothing\nsso_session =\n";
    assert_eq!(
      resolve(text, "dev").unwrap_err().to_string(),
      "Profile \"dev\" not found"
    );
    let text = "[profile dev]\nsso_session = s\n[sso-session s]\n";
    assert_eq!(
      resolve(text, "dev").unwrap_err().to_string(),
      "Sso session \"s\" not found"
    );
  }

  #[test]
  fn prefix_takes_exactly_one_whitespace_character() {
    let text = format!(
      "[profile  dev]\nsso_session = my sso\n[profile\tqa]\nsso_session = my sso\n{SESSION}"
    );
    assert!(resolve(&text, "dev").is_err());
    assert_eq!(resolve(&text, " dev").unwrap().source, session("my sso"));
    assert_eq!(resolve(&text, "qa").unwrap().source, session("my sso"));
  }

  #[test]
  fn sso_session_sections_are_not_profiles() {
    let text = SESSION.to_string();
    assert_eq!(
      resolve(&text, "sso-session my sso")
        .unwrap_err()
        .to_string(),
      "Profile \"sso-session my sso\" not found"
    );
  }

  #[test]
  fn missing_properties_name_the_session() {
    let text = "[profile dev]\nsso_session = s\n[sso-session s]\nsso_region = us-east-1\n";
    assert_eq!(
      resolve(text, "dev").unwrap_err().to_string(),
      "Sso session \"s\" is missing required property \"sso_start_url\"."
    );
    let text = "[profile dev]\nsso_session = s\n[sso-session s]\nsso_start_url = u\n";
    assert_eq!(
      resolve(text, "dev").unwrap_err().to_string(),
      "Sso session \"s\" is missing required property \"sso_region\"."
    );
    let text = "[profile dev]\nregion = us-east-1\n";
    assert_eq!(
      resolve(text, "dev").unwrap_err().to_string(),
      "Profile \"dev\" is missing required property \"sso_session\"."
    );
  }

  #[test]
  fn legacy_profiles_use_the_start_url() {
    let text =
      "[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-1\n";
    let got = resolve(text, "old").unwrap().source;
    assert!(got.is_legacy());
    assert_eq!(got.cache_key(), "https://old.awsapps.com/start");
    let text = "[profile old]\nsso_start_url = https://old.awsapps.com/start\n";
    assert_eq!(
      resolve(text, "old").unwrap_err().to_string(),
      "Profile \"old\" is missing required property \"sso_region\"."
    );
  }

  #[test]
  fn a_session_setting_keeps_an_empty_value_and_the_last_line() {
    let text = "[sso-session s]\nsso_registration_scopes = a, b\n[sso-session t]\nSSO_REGISTRATION_SCOPES =\n[sso-session s]\nsso_registration_scopes = c\n";
    assert_eq!(
      session_setting(text, "s", "sso_registration_scopes").as_deref(),
      Some("c")
    );
    assert_eq!(
      session_setting(text, "t", "sso_registration_scopes").as_deref(),
      Some("")
    );
    assert_eq!(session_setting(text, "u", "sso_registration_scopes"), None);
    assert_eq!(session_setting(text, "s", "sso_region"), None);
  }

  #[test]
  fn missing_config_file_is_empty() {
    let dir = std::env::temp_dir().join(format!("sso-cfg-missing-{}", std::process::id()));
    let env = Env::from_pairs(&[("HOME", dir.to_str().unwrap())]);
    let text = read_config_text(&env.config_file().unwrap()).unwrap();
    assert_eq!(
      resolve(&text, "dev").unwrap_err().to_string(),
      "Profile \"dev\" not found"
    );
  }

  #[test]
  fn a_directory_as_config_file_is_a_clear_error() {
    let dir = std::env::temp_dir();
    let env = Env::from_pairs(&[("AWS_CONFIG_FILE", dir.to_str().unwrap())]);
    let msg = read_config_text(&env.config_file().unwrap())
      .unwrap_err()
      .to_string();
    assert!(
      msg.starts_with(&format!(
        "Config file \"{}\" could not be read: ",
        dir.display()
      )),
      "{msg}"
    );
  }
}
