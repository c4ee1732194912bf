//! Waiting for the user to approve a device authorization (RFC 8628 §3.4 and §3.5;
//! botocore `SSOTokenFetcher._poll_for_token`, docs/behaviour.md §10): CreateToken with the
//! device code, once before the prompt is shown (the client may be authorized already),
//! then every `interval`. `authorization_pending` means ask again, `slow_down` adds
//! [`SLOW_DOWN_STEP`] to the interval for good, `expired_token` and `access_denied` end the
//! sign-in, as does any other error. The overall timeout is the caller's.
//!
//! The attempt and the pause are passed in, so the transitions are tested without a server
//! or a clock.

use super::calls::Call;
use super::error::LoginError;
use crate::oidc::{CreateTokenResponse, OidcError};
use std::future::Future;
use std::time::Duration;

/// What `slow_down` adds to the interval (RFC 8628 §3.5; the CLI's `_SLOW_DOWN_DELAY`).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The longest interval `slow_down` can lead to.
pub const MAX_SLOWED_INTERVAL: Duration = Duration::from_secs(3600);

/// Polls until a token, a refusal or an error; `prompt` runs once, after the first attempt
/// found the authorization pending.
pub async fn poll<A, AF, S, SF>(
  mut attempt: A,
  mut pause: S,
  mut interval: Duration,
  prompt: impl FnOnce(),
) -> Result<CreateTokenResponse, LoginError>
where
  A: FnMut() -> AF,
  AF: Future<Output = Result<CreateTokenResponse, OidcError>>,
  S: FnMut(Duration) -> SF,
  SF: Future<Output = ()>,
{
  let mut prompt = Some(prompt);
  loop {
    match attempt().await {
      Ok(token) => return Ok(token),
      Err(e) if e.is_error("authorization_pending", "AuthorizationPendingException") => {}
      Err(e) if e.is_error("slow_down", "SlowDownException") => {
        interval = (interval + SLOW_DOWN_STEP).min(MAX_SLOWED_INTERVAL);
      }
      Err(e) if e.is_error("expired_token", "ExpiredTokenException") => {
        return Err(LoginError::DeviceAuthorizationExpired)
      }
      Err(e) if e.is_error("access_denied", "AccessDeniedException") => {
        return Err(LoginError::Denied(e.to_string()))
      }
      Err(error) => {
        return Err(LoginError::Oidc {
          call: Call::CreateToken,
          error,
        })
      }
    }
    if let Some(prompt) = prompt.take() {
      prompt();
    }
    pause(interval).await;
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::secret::Secret;
  use std::cell::RefCell;
  use std::collections::VecDeque;

  fn error(code: &str) -> Result<CreateTokenResponse, OidcError> {
    Err(OidcError::Http {
      status: 400,
      error: Some(code.into()),
      description: None,
    })
  }

  fn token() -> Result<CreateTokenResponse, OidcError> {
    Ok(CreateTokenResponse {
      access_token: Secret::new("at"),
      expires_in: 3600,
      refresh_token: None,
    })
  }

  /// Runs the poll over `answers`; what it ended with, the pauses taken, and when the
  /// prompt ran (after how many attempts).
  fn run(
    answers: Vec<Result<CreateTokenResponse, OidcError>>,
  ) -> (
    Result<CreateTokenResponse, LoginError>,
    Vec<u64>,
    Option<usize>,
  ) {
    let answers = RefCell::new(VecDeque::from(answers));
    let attempts = RefCell::new(0);
    let pauses = RefCell::new(Vec::new());
    let prompted = RefCell::new(None);
    let outcome = crate::runtime::block_on(poll(
      || {
        *attempts.borrow_mut() += 1;
        let next = answers
          .borrow_mut()
          .pop_front()
          .expect("an attempt too many");
        async move { next }
      },
      |d| {
        pauses.borrow_mut().push(d.as_secs());
        async {}
      },
      Duration::from_secs(2),
      || *prompted.borrow_mut() = Some(*attempts.borrow()),
    ))
    .unwrap();
    (outcome, pauses.into_inner(), prompted.into_inner())
  }

  #[test]
  fn a_client_already_authorized_gets_its_token_without_a_prompt() {
    let (outcome, pauses, prompted) = run(vec![token()]);
    assert!(outcome.is_ok());
    assert!(pauses.is_empty());
    assert_eq!(prompted, None);
  }

  #[test]
  fn pending_waits_the_interval_and_slow_down_lengthens_it_for_good() {
    let (outcome, pauses, prompted) = run(vec![
      error("authorization_pending"),
      error("AuthorizationPendingException"),
      error("slow_down"),
      error("authorization_pending"),
      error("SlowDownException"),
      token(),
    ]);
    assert_eq!(outcome.unwrap().access_token.expose(), "at");
    assert_eq!(pauses, [2, 2, 7, 7, 12]);
    assert_eq!(prompted, Some(1), "the prompt follows the first attempt");
  }

  #[test]
  fn expiry_refusal_and_other_errors_end_the_wait() {
    let (outcome, pauses, _) = run(vec![error("authorization_pending"), error("expired_token")]);
    assert_eq!(outcome.unwrap_err(), LoginError::DeviceAuthorizationExpired);
    assert_eq!(pauses, [2]);
    let (outcome, _, _) = run(vec![error("AccessDeniedException")]);
    let e = outcome.unwrap_err();
    assert_eq!(e.kind(), "LoginDenied");
    assert_eq!(
      e.to_string(),
      "Sign-in denied (AccessDeniedException, HTTP 400)"
    );
    let (outcome, _, _) = run(vec![error("invalid_client")]);
    assert_eq!(
      outcome.unwrap_err().to_string(),
      "Sign-in failed: CreateToken (invalid_client, HTTP 400)"
    );
    let (outcome, _, prompted) = run(vec![
      error("authorization_pending"),
      Err(OidcError::Transport("connection refused".into())),
    ]);
    assert_eq!(
      outcome.unwrap_err().to_string(),
      "Sign-in failed: CreateToken (connection refused)"
    );
    assert_eq!(prompted, Some(1));
  }
}
