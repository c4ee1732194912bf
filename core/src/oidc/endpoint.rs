//! Where CreateToken goes (docs/behaviour.md §5): `AWS_ENDPOINT_URL_SSO_OIDC`, else the
//! host the SSO OIDC endpoint rule set gives for the region, its partition and the FIPS and
//! dual-stack settings; the sign-in's calls and the portal's Logout (§10) go by the same
//! rules ([`service_endpoint`]). The request carries the refresh token and the client
//! secret, so a region that is not a host label is refused before any URL is built, and the
//! built URL's host is checked to be exactly the one the rules name.

use super::OidcError;
use crate::env::Env;
use http::Uri;

/// One partition of the AWS partition data: its region pattern and its DNS suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
  /// `aws`, `aws-cn`, ...
  pub name: &'static str,
  /// Region prefixes that select this partition (the data's `regionRegex`, which is
  /// `^<prefix>-\w+-\d+$` for every partition).
  prefixes: &'static [&'static str],
  /// `dnsSuffix`.
  pub dns_suffix: &'static str,
  /// `dualStackDnsSuffix`.
  pub dual_stack_dns_suffix: &'static str,
}

/// The partitions of `botocore/data/partitions.json` (version 1.1, as of botocore's tree
/// of 2026-08-07; the same data as smithy's and SDK v3's `partitions.json`). Every
/// partition there supports FIPS and dual-stack. Regions named in the data but not
/// matching a pattern (`aws-global` and the like) are not SSO OIDC regions.
pub const PARTITIONS: &[Partition] = &[
  Partition {
    name: "aws",
    prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
    dns_suffix: "amazonaws.com",
    dual_stack_dns_suffix: "api.aws",
  },
  Partition {
    name: "aws-cn",
    prefixes: &["cn"],
    dns_suffix: "amazonaws.com.cn",
    dual_stack_dns_suffix: "api.amazonwebservices.com.cn",
  },
  Partition {
    name: "aws-eusc",
    prefixes: &["eusc-de"],
    dns_suffix: "amazonaws.eu",
    dual_stack_dns_suffix: "api.amazonwebservices.eu",
  },
  Partition {
    name: "aws-iso",
    prefixes: &["us-iso"],
    dns_suffix: "c2s.ic.gov",
    dual_stack_dns_suffix: "api.aws.ic.gov",
  },
  Partition {
    name: "aws-iso-b",
    prefixes: &["us-isob"],
    dns_suffix: "sc2s.sgov.gov",
    dual_stack_dns_suffix: "api.aws.scloud",
  },
  Partition {
    name: "aws-iso-e",
    prefixes: &["eu-isoe"],
    dns_suffix: "cloud.adc-e.uk",
    dual_stack_dns_suffix: "api.cloud-aws.adc-e.uk",
  },
  Partition {
    name: "aws-iso-f",
    prefixes: &["us-isof"],
    dns_suffix: "csp.hci.ic.gov",
    dual_stack_dns_suffix: "api.aws.hci.ic.gov",
  },
  Partition {
    name: "aws-us-gov",
    prefixes: &["us-gov"],
    dns_suffix: "amazonaws.com",
    dual_stack_dns_suffix: "api.aws",
  },
];

/// The FIPS and dual-stack settings, from `AWS_USE_FIPS_ENDPOINT` /
/// `AWS_USE_DUALSTACK_ENDPOINT`, else the profile's `use_fips_endpoint` /
/// `use_dualstack_endpoint`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
  /// Use the FIPS endpoint.
  pub fips: bool,
  /// Use the dual-stack (IPv4 and IPv6) endpoint.
  pub dual_stack: bool,
}

impl Variants {
  /// The environment wins over the profile's setting; a value counts as true when it is
  /// `true` in any case, as botocore reads it.
  pub fn from(env: &Env, fips: Option<&str>, dual_stack: Option<&str>) -> Variants {
    let flag = |name: &str, config: Option<&str>| {
      env
        .get(name)
        .or(config)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    Variants {
      fips: flag("AWS_USE_FIPS_ENDPOINT", fips),
      dual_stack: flag("AWS_USE_DUALSTACK_ENDPOINT", dual_stack),
    }
  }
}

/// Whether `region` can be a DNS label: letters, digits and hyphens, 1 to 63 of them, not
/// all digits, no hyphen first or last. The SDKs' own check (botocore
/// `validate_region_name`, SDK v3 `checkRegion`) is no wider.
pub fn is_valid_region(region: &str) -> bool {
  let bytes = region.as_bytes();
  (1..=63).contains(&bytes.len())
    && bytes
      .iter()
      .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    && !bytes.iter().all(u8::is_ascii_digit)
    && bytes.first() != Some(&b'-')
    && bytes.last() != Some(&b'-')
}

/// The partition of a valid region: the one whose `^<prefix>-\w+-\d+$` it matches (the most
/// specific prefix first, as the data lists `us-gov` apart from `us`), else `aws`, as the
/// rule set's `aws.partition` does.
pub fn partition_of(region: &str) -> &'static Partition {
  let matches = |prefix: &str| {
    let Some(rest) = region
      .strip_prefix(prefix)
      .and_then(|r| r.strip_prefix('-'))
    else {
      return false;
    };
    let Some((word, number)) = rest.rsplit_once('-') else {
      return false;
    };
    !word.is_empty()
      && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
      && !number.is_empty()
      && number.bytes().all(|b| b.is_ascii_digit())
  };
  PARTITIONS
    .iter()
    .flat_map(|p| p.prefixes.iter().map(move |prefix| (p, *prefix)))
    .filter(|(_, prefix)| matches(prefix))
    .max_by_key(|(_, prefix)| prefix.len())
    .map_or(&PARTITIONS[0], |(p, _)| p)
}

/// A service whose endpoint rule set this crate follows. SSO OIDC and the SSO portal
/// (Logout, docs/behaviour.md §10) have rule sets of the same shape: `{prefix}.{region}`
/// under the partition's DNS suffix, `{fips_prefix}.` with FIPS (GovCloud keeping the
/// plain one), and a service-specific endpoint variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
  /// The host's first labels: `oidc`, `portal.sso`.
  pub prefix: &'static str,
  /// The same with FIPS: `oidc-fips`, `portal.sso-fips`.
  pub fips_prefix: &'static str,
  /// The service-specific endpoint variable.
  pub variable: &'static str,
}

/// SSO OIDC: CreateToken, RegisterClient, StartDeviceAuthorization, the authorize page.
pub const SSO_OIDC: Service = Service {
  prefix: "oidc",
  fips_prefix: "oidc-fips",
  variable: "AWS_ENDPOINT_URL_SSO_OIDC",
};

/// The SSO portal: Logout.
pub const SSO_PORTAL: Service = Service {
  prefix: "portal.sso",
  fips_prefix: "portal.sso-fips",
  variable: "AWS_ENDPOINT_URL_SSO",
};

/// What a refused region belongs to, as a message names it.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
  /// `sso_region` of `[sso-session NAME]`.
  Session(&'a str),
  /// `sso_region` of a profile holding its own `sso_start_url`.
  Profile(&'a str),
  /// `region` of a token cache file.
  File(&'a std::path::Path),
}

impl Owner<'_> {
  /// `sso_region "<region>" of sso-session "<name>"`, and the like, escaped.
  fn name_region(&self, region: &str) -> String {
    let region = region.escape_debug();
    match self {
      Owner::Session(s) => format!(
        "sso_region \"{region}\" of sso-session \"{}\"",
        s.escape_debug()
      ),
      Owner::Profile(p) => format!(
        "sso_region \"{region}\" of profile \"{}\"",
        p.escape_debug()
      ),
      Owner::File(path) => format!(
        "region \"{region}\" of the cache file \"{}\"",
        path.display().to_string().escape_debug()
      ),
    }
  }
}

/// The endpoint for `region`: `AWS_ENDPOINT_URL_SSO_OIDC` unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, else the rule set's host. Never the global
/// `AWS_ENDPOINT_URL`: the refresh token and client secret do not follow an emulator
/// setting. `session` names the configuration in messages.
pub fn endpoint_for(
  region: &str,
  session: &str,
  variants: Variants,
  env: &Env,
) -> Result<String, OidcError> {
  service_endpoint(SSO_OIDC, region, Owner::Session(session), variants, env)
}

/// The endpoint of `service` for `region`: its variable unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, else the rule set's host; never the global
/// `AWS_ENDPOINT_URL`. `owner` names where the region came from in messages.
pub fn service_endpoint(
  service: Service,
  region: &str,
  owner: Owner<'_>,
  variants: Variants,
  env: &Env,
) -> Result<String, OidcError> {
  let ignore = env
    .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
  if let Some(url) = env.get(service.variable).filter(|_| !ignore) {
    // The rule set's own refusals: these variants are not promised of a custom endpoint.
    if variants.fips {
      return Err(OidcError::Refused(
        "Invalid Configuration: FIPS and custom endpoint are not supported".into(),
      ));
    }
    if variants.dual_stack {
      return Err(OidcError::Refused(
        "Invalid Configuration: Dualstack and custom endpoint are not supported".into(),
      ));
    }
    return Ok(url.trim_end_matches('/').to_string());
  }
  if !is_valid_region(region) {
    return Err(OidcError::Refused(format!(
      "{} is not a valid region name",
      owner.name_region(region)
    )));
  }
  let partition = partition_of(region);
  let Service {
    prefix,
    fips_prefix,
    ..
  } = service;
  let host = match (variants.fips, variants.dual_stack) {
    (true, true) => format!("{fips_prefix}.{region}.{}", partition.dual_stack_dns_suffix),
    // GovCloud's regular endpoints are FIPS endpoints already.
    (true, false) if partition.name == "aws-us-gov" => format!("{prefix}.{region}.amazonaws.com"),
    (true, false) => format!("{fips_prefix}.{region}.{}", partition.dns_suffix),
    (false, true) => format!("{prefix}.{region}.{}", partition.dual_stack_dns_suffix),
    (false, false) => format!("{prefix}.{region}.{}", partition.dns_suffix),
  };
  let url = format!("https://{host}");
  // Belt and braces: the URL must name exactly that host, on the default port.
  let parsed: Option<Uri> = url.parse().ok();
  let exact = parsed
    .as_ref()
    .and_then(Uri::authority)
    .is_some_and(|a| a.as_str() == host && a.host() == host && a.port().is_none());
  if !exact {
    return Err(OidcError::Refused(format!(
      "the endpoint for sso_region \"{}\" is not a valid URL",
      region.escape_debug()
    )));
  }
  Ok(url)
}

#[cfg(test)]
mod tests {
  use super::*;

  const PLAIN: Variants = Variants {
    fips: false,
    dual_stack: false,
  };

  fn url(region: &str, fips: bool, dual_stack: bool) -> String {
    endpoint_for(region, "s", Variants { fips, dual_stack }, &Env::default()).unwrap()
  }

  #[test]
  fn endpoint_for_prefers_the_service_variable() {
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/")]);
    assert_eq!(
      endpoint_for("us-east-1", "s", PLAIN, &env).unwrap(),
      "http://127.0.0.1:9"
    );
    let env = Env::from_pairs(&[
      ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9/"),
      ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
    ]);
    assert_eq!(
      endpoint_for("cn-north-1", "s", PLAIN, &env).unwrap(),
      "https://oidc.cn-north-1.amazonaws.com.cn"
    );
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(
      endpoint_for("us-east-1", "s", PLAIN, &env).unwrap(),
      "https://oidc.us-east-1.amazonaws.com"
    );
  }

  /// The rule set's own test cases (botocore `tests/functional/endpoint-rules/sso-oidc`),
  /// and one region of every other partition with every variant.
  #[test]
  fn every_partition_and_variant_as_the_rule_set_gives_them() {
    for (region, fips, ds, want) in [
      (
        "us-east-1",
        false,
        false,
        "https://oidc.us-east-1.amazonaws.com",
      ),
      (
        "us-east-1",
        true,
        true,
        "https://oidc-fips.us-east-1.api.aws",
      ),
      (
        "us-east-1",
        true,
        false,
        "https://oidc-fips.us-east-1.amazonaws.com",
      ),
      ("us-east-1", false, true, "https://oidc.us-east-1.api.aws"),
      (
        "eu-west-1",
        false,
        false,
        "https://oidc.eu-west-1.amazonaws.com",
      ),
      (
        "mx-central-1",
        false,
        false,
        "https://oidc.mx-central-1.amazonaws.com",
      ),
      (
        "cn-north-1",
        false,
        false,
        "https://oidc.cn-north-1.amazonaws.com.cn",
      ),
      (
        "cn-north-1",
        true,
        true,
        "https://oidc-fips.cn-north-1.api.amazonwebservices.com.cn",
      ),
      (
        "cn-north-1",
        true,
        false,
        "https://oidc-fips.cn-north-1.amazonaws.com.cn",
      ),
      (
        "cn-north-1",
        false,
        true,
        "https://oidc.cn-north-1.api.amazonwebservices.com.cn",
      ),
      (
        "us-gov-east-1",
        false,
        false,
        "https://oidc.us-gov-east-1.amazonaws.com",
      ),
      (
        "us-gov-west-1",
        false,
        false,
        "https://oidc.us-gov-west-1.amazonaws.com",
      ),
      (
        "us-gov-east-1",
        true,
        true,
        "https://oidc-fips.us-gov-east-1.api.aws",
      ),
      (
        "us-gov-east-1",
        true,
        false,
        "https://oidc.us-gov-east-1.amazonaws.com",
      ),
      (
        "us-gov-east-1",
        false,
        true,
        "https://oidc.us-gov-east-1.api.aws",
      ),
      (
        "us-iso-east-1",
        false,
        false,
        "https://oidc.us-iso-east-1.c2s.ic.gov",
      ),
      (
        "us-iso-east-1",
        true,
        false,
        "https://oidc-fips.us-iso-east-1.c2s.ic.gov",
      ),
      (
        "us-iso-east-1",
        false,
        true,
        "https://oidc.us-iso-east-1.api.aws.ic.gov",
      ),
      (
        "us-isob-east-1",
        false,
        false,
        "https://oidc.us-isob-east-1.sc2s.sgov.gov",
      ),
      (
        "us-isob-east-1",
        true,
        false,
        "https://oidc-fips.us-isob-east-1.sc2s.sgov.gov",
      ),
      (
        "us-isob-east-1",
        true,
        true,
        "https://oidc-fips.us-isob-east-1.api.aws.scloud",
      ),
      (
        "eu-isoe-west-1",
        false,
        false,
        "https://oidc.eu-isoe-west-1.cloud.adc-e.uk",
      ),
      (
        "eu-isoe-west-1",
        false,
        true,
        "https://oidc.eu-isoe-west-1.api.cloud-aws.adc-e.uk",
      ),
      (
        "us-isof-south-1",
        false,
        false,
        "https://oidc.us-isof-south-1.csp.hci.ic.gov",
      ),
      (
        "us-isof-south-1",
        true,
        false,
        "https://oidc-fips.us-isof-south-1.csp.hci.ic.gov",
      ),
      (
        "eusc-de-east-1",
        false,
        false,
        "https://oidc.eusc-de-east-1.amazonaws.eu",
      ),
      (
        "eusc-de-east-1",
        true,
        false,
        "https://oidc-fips.eusc-de-east-1.amazonaws.eu",
      ),
      (
        "eusc-de-east-1",
        false,
        true,
        "https://oidc.eusc-de-east-1.api.amazonwebservices.eu",
      ),
      // No pattern matches: the rule set's aws.partition falls back to `aws`.
      (
        "xx-future-1",
        false,
        false,
        "https://oidc.xx-future-1.amazonaws.com",
      ),
      (
        "eusc-fr-east-1",
        false,
        false,
        "https://oidc.eusc-fr-east-1.amazonaws.com",
      ),
    ] {
      assert_eq!(url(region, fips, ds), want, "{region} fips={fips} ds={ds}");
    }
  }

  /// The SSO rule set (botocore `data/sso/2019-06-10/endpoint-rule-set-1.json`): the same
  /// shape under `portal.sso`, with `AWS_ENDPOINT_URL_SSO`.
  #[test]
  fn the_portal_endpoint_follows_the_sso_rule_set() {
    let portal = |region: &str, fips, dual_stack, env: &Env| {
      service_endpoint(
        SSO_PORTAL,
        region,
        Owner::Profile("p"),
        Variants { fips, dual_stack },
        env,
      )
    };
    let none = Env::default();
    for (region, fips, ds, want) in [
      (
        "us-east-1",
        false,
        false,
        "https://portal.sso.us-east-1.amazonaws.com",
      ),
      (
        "us-east-1",
        true,
        false,
        "https://portal.sso-fips.us-east-1.amazonaws.com",
      ),
      (
        "us-east-1",
        false,
        true,
        "https://portal.sso.us-east-1.api.aws",
      ),
      (
        "us-east-1",
        true,
        true,
        "https://portal.sso-fips.us-east-1.api.aws",
      ),
      (
        "us-gov-west-1",
        true,
        false,
        "https://portal.sso.us-gov-west-1.amazonaws.com",
      ),
      (
        "cn-north-1",
        false,
        false,
        "https://portal.sso.cn-north-1.amazonaws.com.cn",
      ),
    ] {
      assert_eq!(portal(region, fips, ds, &none).unwrap(), want, "{region}");
    }
    let env = Env::from_pairs(&[
      ("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:7/"),
      ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9"),
    ]);
    assert_eq!(
      portal("us-east-1", false, false, &env).unwrap(),
      "http://127.0.0.1:7"
    );
    assert_eq!(
      service_endpoint(
        SSO_OIDC,
        "x",
        Owner::Profile("p"),
        Variants::default(),
        &env
      )
      .unwrap(),
      "http://127.0.0.1:9"
    );
    assert_eq!(
      portal("x y", false, false, &none).unwrap_err().to_string(),
      "(sso_region \"x y\" of profile \"p\" is not a valid region name)"
    );
    let file = std::path::Path::new("/h/t.json");
    assert_eq!(
      service_endpoint(
        SSO_PORTAL,
        "",
        Owner::File(file),
        Variants::default(),
        &none
      )
      .unwrap_err()
      .to_string(),
      "(region \"\" of the cache file \"/h/t.json\" is not a valid region name)"
    );
  }

  #[test]
  fn fips_or_dual_stack_with_a_custom_endpoint_are_refused_as_the_rule_set_does() {
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_SSO_OIDC", "https://example.com")]);
    let refused = |fips, dual_stack| {
      endpoint_for("us-east-1", "s", Variants { fips, dual_stack }, &env)
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
      refused(true, false),
      "(Invalid Configuration: FIPS and custom endpoint are not supported)"
    );
    assert_eq!(
      refused(false, true),
      "(Invalid Configuration: Dualstack and custom endpoint are not supported)"
    );
  }

  #[test]
  fn a_region_that_is_not_a_host_label_is_refused_naming_the_session() {
    for bad in [
      "x.evil.test#",
      "x.evil.test/",
      "evil.test:8443/",
      "us-east-1/..",
      "us-east-1.evil.test",
      "us-east-1 ",
      "",
      "-us-east-1",
      "us-east-1-",
      "12345",
      "us_east_1",
      "us-east-1@evil",
      "ü-east-1",
      &"a".repeat(64),
    ] {
      let e = endpoint_for(bad, "my sso", PLAIN, &Env::default()).unwrap_err();
      assert_eq!(
        e,
        OidcError::Refused(format!(
          "sso_region \"{}\" of sso-session \"my sso\" is not a valid region name",
          bad.escape_debug()
        )),
        "{bad:?}"
      );
    }
    assert!(is_valid_region(&"a".repeat(63)));
    assert!(is_valid_region("local1"));
  }

  #[test]
  fn a_hostile_region_is_shown_escaped() {
    let e = endpoint_for("x\u{202e}\u{1b}[2K", "s\n", PLAIN, &Env::default()).unwrap_err();
    assert_eq!(
      e.to_string(),
      "(sso_region \"x\\u{202e}\\u{1b}[2K\" of sso-session \"s\\n\" is not a valid region name)"
    );
  }

  #[test]
  fn the_settings_come_from_the_environment_first() {
    let env = Env::from_pairs(&[("AWS_USE_FIPS_ENDPOINT", "TRUE")]);
    assert_eq!(
      Variants::from(&env, Some("false"), Some("true")),
      Variants {
        fips: true,
        dual_stack: true
      }
    );
    let env = Env::from_pairs(&[("AWS_USE_DUALSTACK_ENDPOINT", "false")]);
    assert_eq!(Variants::from(&env, Some("yes"), Some("true")), PLAIN);
  }
}
