//! Where CreateToken goes: the service variable, else the regional endpoint.

use crate::env::Env;

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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn endpoint_for_prefers_the_service_variable() {
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/")]);
    assert_eq!(endpoint_for("us-east-1", &env), "http://127.0.0.1:9");
    let env = Env::from_pairs(&[
      ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
      ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
    ]);
    assert_eq!(
      endpoint_for("cn-north-1", &env),
      "https://oidc.cn-north-1.amazonaws.com.cn"
    );
  }
}
