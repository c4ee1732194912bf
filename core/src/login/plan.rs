//! What a sign-in is asked for, and what the profile's configuration makes of it
//! (docs/behaviour.md §10): the flow (the device flow for `useDeviceCode` and for a profile
//! holding its own `sso_start_url`, as the AWS CLI decides), the endpoint, the registration
//! and token files.

use super::error::LoginError;
use super::registration::{parse_scopes, registration_key, Flow};
use crate::cache::cache_path;
use crate::config::{self, TokenSource};
use crate::env::Env;
use crate::error::{ConfigFile, Error};
use crate::oidc::endpoint::{service_endpoint, Owner, Variants, SSO_OIDC};
use std::path::PathBuf;
use std::time::Duration;

/// How long a sign-in waits for the user by default (the CLI's `_OVERALL_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest timeout accepted: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What a caller asks of one sign-in.
#[derive(Debug, Clone)]
pub struct LoginOptions {
  /// The profile to sign in.
  pub profile: String,
  /// The device flow even where the authorization-code flow would be used.
  pub use_device_code: bool,
  /// How long the whole exchange may take, from the first request to the token.
  pub timeout: Duration,
}

impl LoginOptions {
  /// `profile` with the defaults: the authorization-code flow, [`DEFAULT_TIMEOUT`].
  pub fn new(profile: impl Into<String>) -> Self {
    LoginOptions {
      profile: profile.into(),
      use_device_code: false,
      timeout: DEFAULT_TIMEOUT,
    }
  }

  /// A timeout given in milliseconds (JavaScript's `timeoutMs`): a whole number from 1 ms
  /// to [`MAX_TIMEOUT`].
  pub fn timeout_from_millis(ms: f64) -> Result<Duration, LoginError> {
    let max = MAX_TIMEOUT.as_millis() as f64;
    if ms.is_finite() && ms >= 1.0 && ms <= max && ms.fract() == 0.0 {
      return Ok(Duration::from_millis(ms as u64));
    }
    Err(LoginError::InvalidOption(format!(
      "The sign-in timeout must be a whole number of milliseconds from 1 to {max}"
    )))
  }
}

/// A profile's SSO settings, as a sign-in or a sign-out reads them.
#[derive(Debug, Clone)]
pub struct Profile {
  /// The profile's name.
  pub name: String,
  /// Its session (or its own start URL).
  pub source: TokenSource,
  /// `sso_registration_scopes` of its session, parsed; `None` when the line is absent (and
  /// for a profile holding its own `sso_start_url`, whose scopes the CLI never reads).
  pub scopes: Option<Vec<String>>,
  /// FIPS and dual-stack, from the environment and the profile.
  pub variants: Variants,
  /// The folder of the token and registration files.
  pub cache_dir: PathBuf,
  /// The token file.
  pub token_path: PathBuf,
}

/// Reads `profile`'s settings from the config file `env` names. Blocking (a file read).
pub fn read_profile(env: &Env, profile: &str) -> Result<Profile, LoginError> {
  let config_path = env.config_file().ok_or(Error::NoHomeDir)?;
  let home = env.home_dir().ok_or(Error::NoHomeDir)?;
  let text = config::read_config_text(&config_path)?;
  let resolved = config::resolve(&text, profile).map_err(|e| {
    e.in_config(ConfigFile {
      exists: config_path.is_file(),
      path: config_path.clone(),
      profile_from_env: false,
    })
  })?;
  let scopes = resolved
    .source
    .session_name()
    .and_then(|session| config::session_setting(&text, session, "sso_registration_scopes"))
    .map(|raw| parse_scopes(&raw));
  let token_path = cache_path(&home, resolved.source.cache_key());
  let cache_dir = token_path
    .parent()
    .map(PathBuf::from)
    .unwrap_or_else(|| home.join(".aws").join("sso").join("cache"));
  Ok(Profile {
    name: profile.to_string(),
    variants: Variants::from(
      env,
      resolved.use_fips_endpoint.as_deref(),
      resolved.use_dualstack_endpoint.as_deref(),
    ),
    source: resolved.source,
    scopes,
    cache_dir,
    token_path,
  })
}

/// A sign-in, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
  /// The profile.
  pub profile: Profile,
  /// How the user signs in.
  pub flow: Flow,
  /// The SSO OIDC endpoint.
  pub endpoint: String,
  /// The registration file.
  pub registration_path: PathBuf,
}

impl Plan {
  /// The sign-in of `options.profile`. Blocking (a file read).
  pub fn new(env: &Env, options: &LoginOptions) -> Result<Plan, LoginError> {
    let profile = read_profile(env, &options.profile)?;
    let source = &profile.source;
    let flow = if options.use_device_code || source.is_legacy() {
      Flow::DeviceCode
    } else {
      Flow::AuthCode
    };
    let owner = match source.session_name() {
      Some(session) => Owner::Session(session),
      None => Owner::Profile(&profile.name),
    };
    let endpoint = service_endpoint(SSO_OIDC, source.region(), owner, profile.variants, env)
      .map_err(LoginError::Refused)?;
    let key = registration_key(
      source.start_url(),
      source.region(),
      profile.scopes.as_deref(),
      source.session_name(),
    );
    let registration_path = profile.cache_dir.join(format!("{key}.json"));
    Ok(Plan {
      profile,
      flow,
      endpoint,
      registration_path,
    })
  }

  /// The scopes RegisterClient is asked for and the registration file records: the
  /// configured ones, and for the authorization-code flow `sso:account:access` when there
  /// are none (botocore `scopes or [_AUTH_GRANT_DEFAULT_SCOPE]`).
  pub fn registered_scopes(&self) -> Vec<String> {
    let configured = self.profile.scopes.clone().unwrap_or_default();
    match self.flow {
      Flow::AuthCode if configured.is_empty() => vec![super::registration::DEFAULT_SCOPE.into()],
      _ => configured,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::testing::temp_dir;

  fn env_for(home: &std::path::Path, config: &str) -> Env {
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws").join("config"), config).unwrap();
    Env::from_pairs(&[("HOME", home.to_str().unwrap())])
  }

  #[test]
  fn a_session_profile_signs_in_with_a_code_and_a_legacy_one_with_the_device_flow() {
    let home = temp_dir("login-plan");
    let env = env_for(
      &home,
      "[profile dev]\nsso_session = admin\n[sso-session admin]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-west-2\nsso_registration_scopes = sso:account:access\n\
       [profile old]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-west-2\n",
    );
    let plan = Plan::new(&env, &LoginOptions::new("dev")).unwrap();
    assert_eq!(plan.flow, Flow::AuthCode);
    assert_eq!(plan.endpoint, "https://oidc.us-west-2.amazonaws.com");
    assert_eq!(
      plan.registration_path,
      home.join(".aws/sso/cache/4e0b35ce126fbacfad7c16ce93ffe85ce6cafeed.json")
    );
    assert_eq!(
      plan.profile.token_path,
      home.join(".aws/sso/cache/d033e22ae348aeb5660fc2140aec35850c4da997.json")
    );
    let device = LoginOptions {
      use_device_code: true,
      ..LoginOptions::new("dev")
    };
    assert_eq!(Plan::new(&env, &device).unwrap().flow, Flow::DeviceCode);
    let old = Plan::new(&env, &LoginOptions::new("old")).unwrap();
    assert_eq!(old.flow, Flow::DeviceCode);
    assert_eq!(old.profile.scopes, None);
    assert_eq!(
      old.registration_path,
      home.join(".aws/sso/cache/d75f79f67bab3f92a2b1450471c0c2574de0dca4.json")
    );
    assert_eq!(
      old.profile.token_path,
      home.join(".aws/sso/cache/40a89917e3175433e361b710a9d43528d7f1890a.json")
    );
    assert!(old.registered_scopes().is_empty());
    std::fs::remove_dir_all(&home).unwrap();
  }

  #[test]
  fn scopes_default_only_for_the_code_flow_and_a_bad_region_is_refused_before_any_call() {
    let home = temp_dir("login-plan-scopes");
    let env = env_for(
      &home,
      "[profile dev]\nsso_session = s\n[sso-session s]\nsso_start_url = u\nsso_region = us-east-1\nsso_registration_scopes =\n\
       [profile bad]\nsso_session = b\n[sso-session b]\nsso_start_url = u\nsso_region = evil.example/x\n",
    );
    let plan = Plan::new(&env, &LoginOptions::new("dev")).unwrap();
    assert_eq!(plan.profile.scopes, Some(vec![]));
    assert_eq!(plan.registered_scopes(), ["sso:account:access"]);
    let e = Plan::new(&env, &LoginOptions::new("bad")).unwrap_err();
    assert_eq!(
      e.to_string(),
      "Sign-in failed (sso_region \"evil.example/x\" of sso-session \"b\" is not a valid region name)"
    );
    let e = Plan::new(&env, &LoginOptions::new("nope")).unwrap_err();
    assert_eq!(
      (e.kind(), e.to_string().as_str()),
      (
        "ProfileNotFound",
        format!(
          "Profile \"nope\" not found in config file \"{}\"",
          home.join(".aws/config").display()
        )
        .as_str()
      )
    );
    std::fs::remove_dir_all(&home).unwrap();
  }

  #[test]
  fn the_timeout_is_a_whole_number_of_milliseconds_up_to_a_day() {
    assert_eq!(
      LoginOptions::timeout_from_millis(1500.0).unwrap(),
      Duration::from_millis(1500)
    );
    for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 86_400_001.0] {
      let e = LoginOptions::timeout_from_millis(bad).unwrap_err();
      assert_eq!(e.kind(), "InvalidSetting");
      assert_eq!(
        e.to_string(),
        "The sign-in timeout must be a whole number of milliseconds from 1 to 86400000"
      );
    }
  }
}
