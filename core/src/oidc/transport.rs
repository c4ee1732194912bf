//! CreateToken over HTTPS. The request carries the refresh token and the client secret, so
//! it is built around where they may go: only to the configured endpoint (redirects are
//! not followed), only over TLS (plain `http://` is allowed for loopback test servers
//! alone), through the proxy the user configured, and never back out through an error
//! message. Everything is bounded: connect and attempt timeouts, at most three attempts and
//! a 1 MiB response body, so a hostile or broken server cannot hang a refresh.

use super::http::{send, Answer, Context, Request};
use super::policy::{Policy, PRODUCTION};
use super::proxy::proxy_for;
use super::target::Target;
use super::wire::{parse_error, parse_success, request_body};
use super::{BoxFuture, CreateTokenRequest, CreateTokenResponse, OidcError, Transport};
use crate::env::Env;

/// The real transport.
///
/// Behaviour, per [`Transport::create_token`] call:
/// - `POST {endpoint}/token` with the JSON body of the refresh_token grant, unsigned, no
///   redirects followed (a 3xx is `Http { status, .. }`).
/// - `https://` only, except `http://` to `localhost`, `127.0.0.0/8` or `[::1]`; anything
///   else is [`OidcError::Refused`] before any connection is made.
/// - Trust: the system store plus the PEM certificates in `AWS_CA_BUNDLE` (Mozilla's roots
///   if the system store is empty and no bundle is set). Proxy: `HTTPS_PROXY` /
///   `https_proxy` for `https://` endpoints unless `NO_PROXY` / `no_proxy` matches the host;
///   never for `http://` loopback endpoints. Only the passed [`Env`] is read.
/// - [`super::policy::CONNECT_TIMEOUT`] and [`super::policy::ATTEMPT_TIMEOUT`] per attempt,
///   up to [`super::policy::MAX_ATTEMPTS`] attempts with the backoff between them: about
///   31 s in the worst case. No thread waits meanwhile.
#[derive(Debug, Default)]
pub struct HttpsTransport;

impl Transport for HttpsTransport {
  fn create_token<'a>(
    &'a self,
    endpoint: &'a str,
    request: &'a CreateTokenRequest,
    env: &'a Env,
  ) -> BoxFuture<'a, Result<CreateTokenResponse, OidcError>> {
    Box::pin(send_create_token(endpoint, request, env, &PRODUCTION))
  }
}

/// What an exchange over `endpoint` needs: the checked target, its proxy and CA bundle.
pub(crate) struct Route {
  pub(crate) target: Target,
  pub(crate) proxy: Option<super::proxy::Proxy>,
  pub(crate) ca_bundle: Option<String>,
}

impl Route {
  /// `what` names the secret that plain http would expose, for the refusal.
  pub(crate) fn to(endpoint: &str, env: &Env, what: &str) -> Result<Route, OidcError> {
    let target = Target::parse(endpoint, what)?;
    let proxy = proxy_for(&target, env)?;
    let ca_bundle = (target.https || proxy.as_ref().is_some_and(|p| p.https))
      .then(|| env.get("AWS_CA_BUNDLE").map(str::to_string))
      .flatten();
    Ok(Route {
      target,
      proxy,
      ca_bundle,
    })
  }

  /// Sends one request on this route (with its retries).
  pub(crate) async fn send(
    &self,
    request: Request<'_>,
    policy: &Policy,
    secrets: &[&str],
  ) -> Result<Answer, OidcError> {
    let context = Context {
      target: &self.target,
      proxy: self.proxy.as_ref(),
      policy,
      secrets,
    };
    send(
      request,
      self.proxy.as_ref(),
      self.ca_bundle.as_deref(),
      &context,
    )
    .await
  }
}

/// The outcome of an answer to a JSON call: 2xx bodies go to `parse`, a 3xx is a redirect
/// not followed, anything else the service's error.
pub(crate) fn judge<T>(
  answer: Answer,
  secrets: &[&str],
  parse: impl FnOnce(&[u8]) -> Result<T, OidcError>,
) -> Result<T, OidcError> {
  match answer.status {
    200..=299 => match &answer.body {
      Some(bytes) => parse(bytes),
      None => Err(OidcError::InvalidResponse(
        "response body over 1 MiB".into(),
      )),
    },
    status @ 300..=399 => Err(OidcError::Http {
      status,
      error: None,
      description: Some("redirect not followed".into()),
    }),
    // An oversized error body still leaves the status and the header.
    status => Err(parse_error(
      status,
      answer.body.as_ref().map(|b| b.as_slice()),
      answer.error_type.as_deref(),
      secrets,
    )),
  }
}

pub(crate) async fn send_create_token(
  endpoint: &str,
  request: &CreateTokenRequest,
  env: &Env,
  policy: &Policy,
) -> Result<CreateTokenResponse, OidcError> {
  let route = Route::to(endpoint, env, "the refresh token")?;
  let secrets = [
    request.client_secret.expose(),
    request.refresh_token.expose(),
    request.client_id.expose(),
  ];
  // Zeroized once sent.
  let body = request_body(request)?;
  let answer = route
    .send(
      Request {
        target: &route.target,
        method: http::Method::POST,
        path: "/token",
        headers: &[],
        body: Some(body),
      },
      policy,
      &secrets,
    )
    .await?;
  judge(answer, &secrets, parse_success)
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
