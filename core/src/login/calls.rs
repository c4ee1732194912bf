//! The sign-in's SSO OIDC calls (docs/behaviour.md §10), over the refresh's transport
//! (`Route`: the endpoint checked, proxy, CA bundle, timeouts, retries of 5xx/429 and
//! connection errors, no redirects, a 1 MiB answer cap): RegisterClient
//! (`POST /client/register`), StartDeviceAuthorization (`POST /device_authorization`) and
//! CreateToken (`POST /token`) with the `authorization_code` and device-code grants, field
//! names as in botocore's `sso-oidc/2019-06-10/service-2.json`.
//!
//! Every answer is checked whole before any of it is used, its secrets are moved into
//! [`Secret`]s and the rest zeroized; a URL the browser will be sent to must be `https://`
//! (plain `http://` to loopback alone), of plain URL characters, so that a hostile server
//! cannot hand the opener a `file:` or `javascript:` URL or a shell metacharacter. Server
//! text in errors is cut short and scrubbed of every secret sent (`judge`).

use super::registration::Registration;
use super::store::cli_timestamp;
use crate::env::Env;
use crate::oidc::http::Request;
use crate::oidc::policy::Policy;
use crate::oidc::target::is_loopback;
use crate::oidc::transport::{judge, Route};
use crate::oidc::wire::{has_control, parse_success, take_secret};
use crate::oidc::{CreateTokenResponse, OidcError};
use crate::secret::{zeroize_json, Secret, ZeroizingWriter};
use chrono::{DateTime, Utc};
use http::Uri;
use serde_json::{Map, Value};
use std::time::Duration;
use zeroize::Zeroizing;

/// The polling interval when StartDeviceAuthorization names none (RFC 8628 §3.2; the CLI's
/// `_DEFAULT_INTERVAL`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The shortest interval taken from a server: `0` would poll as fast as the network goes.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval taken from a server; the overall timeout ends the wait anyway.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The longest URL handed to the browser.
pub const MAX_BROWSER_URL_CHARS: usize = 4096;

/// The longest user code shown.
pub const MAX_USER_CODE_CHARS: usize = 64;

/// The latest `clientSecretExpiresAt` taken (the end of year 9999, in epoch seconds).
const MAX_EPOCH_SECS: i64 = 253_402_300_799;

/// The operations, as messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
  /// `POST /client/register`.
  RegisterClient,
  /// `POST /device_authorization`.
  StartDeviceAuthorization,
  /// `POST /token`.
  CreateToken,
  /// The portal's `POST /logout`.
  Logout,
}

impl Call {
  /// The operation's name.
  pub fn name(self) -> &'static str {
    match self {
      Call::RegisterClient => "RegisterClient",
      Call::StartDeviceAuthorization => "StartDeviceAuthorization",
      Call::CreateToken => "CreateToken",
      Call::Logout => "Logout",
    }
  }
}

/// What RegisterClient is asked for.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterClient<'a> {
  /// `botocore-client-<session>` (or `-<epoch seconds>` for a legacy profile), as the CLI
  /// names its clients.
  pub client_name: &'a str,
  /// Always `public`.
  pub client_type: &'a str,
  /// The authorization-code flow's grant types.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub grant_types: Option<&'a [&'a str]>,
  /// `http://127.0.0.1/oauth/callback`: without the port, as the CLI registers it.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub redirect_uris: Option<&'a [&'a str]>,
  /// The start URL, for the authorization-code flow.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub issuer_url: Option<&'a str>,
  /// The scopes; left out when there are none.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub scopes: Option<&'a [String]>,
}

/// A device authorization under way.
#[derive(Debug)]
pub struct DeviceAuthorization {
  /// Sent with every CreateToken poll.
  pub device_code: Secret,
  /// What the user types.
  pub user_code: String,
  /// Where the user types it.
  pub verification_uri: String,
  /// The same with the code filled in (the verification URI when the server gives none).
  pub verification_uri_complete: String,
  /// How long to wait between polls.
  pub interval: Duration,
}

/// A CreateToken grant of the sign-in.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
  /// `authorization_code`, with the PKCE verifier and the redirect URI used.
  AuthCode {
    /// From the callback.
    code: &'a Secret,
    /// The PKCE verifier.
    verifier: &'a Secret,
    /// `http://127.0.0.1:<port>/oauth/callback`.
    redirect_uri: &'a str,
  },
  /// `urn:ietf:params:oauth:grant-type:device_code`.
  Device {
    /// From StartDeviceAuthorization.
    device_code: &'a Secret,
  },
}

/// SSO OIDC at one endpoint.
pub struct Oidc {
  route: Route,
  policy: Policy,
}

impl Oidc {
  /// The endpoint checked (https, or plain http to loopback) before anything is sent.
  pub fn to(endpoint: &str, env: &Env, policy: Policy) -> Result<Oidc, OidcError> {
    Ok(Oidc {
      route: Route::to(endpoint, env, "the client secret")?,
      policy,
    })
  }

  /// `scheme://host[:port]` of the endpoint: where the authorize page is (the CLI keeps
  /// only these of the resolved endpoint).
  pub fn origin(&self) -> String {
    let target = &self.route.target;
    let scheme = if target.https { "https" } else { "http" };
    format!("{scheme}://{}", target.host_header)
  }

  async fn post<T>(
    &self,
    path: &str,
    body: Zeroizing<Vec<u8>>,
    secrets: &[&str],
    parse: impl FnOnce(&[u8]) -> Result<T, OidcError>,
  ) -> Result<T, OidcError> {
    let answer = self
      .route
      .send(
        Request {
          target: &self.route.target,
          method: http::Method::POST,
          path,
          headers: &[],
          body: Some(body),
        },
        &self.policy,
        secrets,
      )
      .await?;
    judge(answer, secrets, parse)
  }

  /// RegisterClient (it carries no secret).
  pub async fn register(&self, request: &RegisterClient<'_>) -> Result<Registration, OidcError> {
    self
      .post(
        "/client/register",
        encode(request)?,
        &[],
        parse_registration,
      )
      .await
  }

  /// StartDeviceAuthorization for `start_url`.
  pub async fn start_device_authorization(
    &self,
    registration: &Registration,
    start_url: &str,
  ) -> Result<DeviceAuthorization, OidcError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
      client_id: &'a str,
      client_secret: &'a str,
      start_url: &'a str,
    }
    let (id, secret) = (
      registration.client_id.expose(),
      registration.client_secret.expose(),
    );
    let body = encode(&Body {
      client_id: id,
      client_secret: secret,
      start_url,
    })?;
    self
      .post(
        "/device_authorization",
        body,
        &[secret, id],
        parse_device_authorization,
      )
      .await
  }

  /// One CreateToken with `grant`.
  pub async fn create_token(
    &self,
    registration: &Registration,
    grant: Grant<'_>,
  ) -> Result<CreateTokenResponse, OidcError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
      client_id: &'a str,
      client_secret: &'a str,
      grant_type: &'a str,
      #[serde(skip_serializing_if = "Option::is_none")]
      device_code: Option<&'a str>,
      #[serde(skip_serializing_if = "Option::is_none")]
      code: Option<&'a str>,
      #[serde(skip_serializing_if = "Option::is_none")]
      redirect_uri: Option<&'a str>,
      #[serde(skip_serializing_if = "Option::is_none")]
      code_verifier: Option<&'a str>,
    }
    let (id, secret) = (
      registration.client_id.expose(),
      registration.client_secret.expose(),
    );
    let mut body = Body {
      client_id: id,
      client_secret: secret,
      grant_type: "",
      device_code: None,
      code: None,
      redirect_uri: None,
      code_verifier: None,
    };
    let grant_secrets: [&str; 2] = match grant {
      Grant::AuthCode {
        code,
        verifier,
        redirect_uri,
      } => {
        body.grant_type = "authorization_code";
        body.code = Some(code.expose());
        body.code_verifier = Some(verifier.expose());
        body.redirect_uri = Some(redirect_uri);
        [code.expose(), verifier.expose()]
      }
      Grant::Device { device_code } => {
        body.grant_type = "urn:ietf:params:oauth:grant-type:device_code";
        body.device_code = Some(device_code.expose());
        [device_code.expose(), ""]
      }
    };
    let secrets = [secret, id, grant_secrets[0], grant_secrets[1]];
    let secrets: Vec<&str> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
    self
      .post("/token", encode(&body)?, &secrets, parse_success)
      .await
  }
}

/// A request body, serialized into a buffer that leaves no copy behind.
fn encode(body: &impl serde::Serialize) -> Result<Zeroizing<Vec<u8>>, OidcError> {
  let mut out = ZeroizingWriter::with_capacity(512);
  serde_json::to_writer(&mut out, body)
    .map_err(|_| OidcError::Refused("could not encode the request".into()))?;
  Ok(out.into_bytes())
}

fn invalid(why: &str) -> OidcError {
  OidcError::InvalidResponse(why.to_string())
}

/// The answer's fields, or why it is not a JSON object; every string of what is left is
/// zeroized by the caller through [`finish`].
fn object(bytes: &[u8]) -> Result<Map<String, Value>, OidcError> {
  let text = std::str::from_utf8(bytes).map_err(|_| invalid("body is not UTF-8"))?;
  match serde_json::from_str(text).map_err(|_| invalid("body is not JSON"))? {
    Value::Object(fields) => Ok(fields),
    mut other => {
      zeroize_json(&mut other);
      Err(invalid("body is not a JSON object"))
    }
  }
}

fn finish<T>(mut fields: Map<String, Value>, result: Result<T, OidcError>) -> Result<T, OidcError> {
  for value in fields.values_mut() {
    zeroize_json(value);
  }
  result
}

/// A string field that must be there: non-empty, without control characters.
fn required_secret(fields: &mut Map<String, Value>, key: &str) -> Result<Secret, OidcError> {
  let missing = || invalid(&format!("{key} missing or not a non-empty string"));
  let value = take_secret(fields, key)
    .map_err(|_| missing())?
    .filter(|v| !v.is_empty())
    .ok_or_else(missing)?;
  if has_control(value.expose()) {
    return Err(invalid(&format!("{key} contains control characters")));
  }
  Ok(value)
}

fn whole_number(fields: &Map<String, Value>, key: &str) -> Option<i64> {
  match fields.get(key) {
    Some(Value::Number(n)) => n.as_i64(),
    _ => None,
  }
}

/// A RegisterClient answer: `clientId`, `clientSecret`, `clientSecretExpiresAt` (epoch
/// seconds), checked; the expiry written as the CLI writes it.
pub fn parse_registration(bytes: &[u8]) -> Result<Registration, OidcError> {
  let mut fields = object(bytes)?;
  let result = (|| {
    let client_id = required_secret(&mut fields, "clientId")?;
    let client_secret = required_secret(&mut fields, "clientSecret")?;
    let expires_at = whole_number(&fields, "clientSecretExpiresAt")
      .filter(|s| (1..=MAX_EPOCH_SECS).contains(s))
      .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
      .ok_or_else(|| invalid("clientSecretExpiresAt missing or not a time in epoch seconds"))?;
    Ok(Registration {
      client_id,
      client_secret,
      expires_at_text: cli_timestamp(expires_at),
      expires_at,
    })
  })();
  finish(fields, result)
}

/// A StartDeviceAuthorization answer, checked: the device code, a printable user code,
/// browser-safe URLs, and an interval within [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
pub fn parse_device_authorization(bytes: &[u8]) -> Result<DeviceAuthorization, OidcError> {
  let mut fields = object(bytes)?;
  let result = (|| {
    let device_code = required_secret(&mut fields, "deviceCode")?;
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let user_code = text("userCode")
      .filter(|c| !c.is_empty() && c.chars().count() <= MAX_USER_CODE_CHARS)
      .filter(|c| c.chars().all(|ch| ch.is_ascii_graphic() || ch == ' '))
      .ok_or_else(|| invalid("userCode missing or not a short printable string"))?
      .to_string();
    let url = |key: &str| -> Result<Option<String>, OidcError> {
      match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => browser_url(s)
          .map(Some)
          .ok_or_else(|| invalid(&format!("{key} is not an https URL"))),
        Some(_) => Err(invalid(&format!("{key} is not a string"))),
      }
    };
    let verification_uri =
      url("verificationUri")?.ok_or_else(|| invalid("verificationUri missing or not a string"))?;
    let verification_uri_complete =
      url("verificationUriComplete")?.unwrap_or_else(|| verification_uri.clone());
    let interval = match fields.get("interval") {
      None | Some(Value::Null) => DEFAULT_INTERVAL,
      Some(Value::Number(n)) => n
        .as_u64()
        .map(|s| Duration::from_secs(s).clamp(MIN_INTERVAL, MAX_INTERVAL))
        .ok_or_else(|| invalid("interval is not a whole number of seconds"))?,
      Some(_) => return Err(invalid("interval is not a whole number of seconds")),
    };
    Ok(DeviceAuthorization {
      device_code,
      user_code,
      verification_uri,
      verification_uri_complete,
      interval,
    })
  })();
  finish(fields, result)
}

/// `url` if a browser may be sent there: at most [`MAX_BROWSER_URL_CHARS`] characters of
/// RFC 3986 (no space, quote, angle bracket, backslash or control character), `https://`
/// or plain `http://` to a loopback host, with a host.
pub fn browser_url(url: &str) -> Option<String> {
  const ALLOWED: &[u8] = b"-._~:/?#[]@!$&'()*+,;=%";
  if url.is_empty()
    || url.len() > MAX_BROWSER_URL_CHARS
    || !url
      .bytes()
      .all(|b| b.is_ascii_alphanumeric() || ALLOWED.contains(&b))
  {
    return None;
  }
  let uri: Uri = url.parse().ok()?;
  let authority = uri.authority()?;
  if authority.as_str().contains('@') {
    return None;
  }
  let host = authority
    .host()
    .trim_start_matches('[')
    .trim_end_matches(']');
  match uri.scheme_str()?.to_ascii_lowercase().as_str() {
    "https" if !host.is_empty() => Some(url.to_string()),
    "http" if is_loopback(&host.to_ascii_lowercase()) => Some(url.to_string()),
    _ => None,
  }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
