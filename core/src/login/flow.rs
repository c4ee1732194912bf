//! One sign-in, start to end (docs/behaviour.md §10): the plan, the registration (the
//! cached one while it lasts, else RegisterClient), the user's authorization (the browser
//! back at the loopback listener with a code, or the device flow's polling), CreateToken,
//! and only then the files. Everything up to the token runs under the caller's timeout;
//! dropping the future at any point before the writes (an abort, Ctrl-C) closes the
//! listener and leaves every file as it was.

use super::blocking;
use super::calls::{Call, DeviceAuthorization, Grant, Oidc, RegisterClient};
use super::device;
use super::error::LoginError;
use super::listener::{Callback, Listener};
use super::pkce::{authorize_url, new_state, Authorize, Pkce};
use super::plan::{LoginOptions, Plan};
use super::registration::{document, read_reusable, Flow, Registration, AUTH_CODE_GRANT_TYPES};
use super::store::{save, token_document, NewToken};
use crate::clock::Clock;
use crate::env::Env;
use crate::oidc::policy::Policy;
use crate::oidc::{CreateTokenResponse, OidcError};
use chrono::{DateTime, SubsecRound, Utc};
use std::path::PathBuf;
use std::sync::Mutex;

/// What the user must see to authorize the sign-in: the authorize page (authorization-code
/// flow), or the verification page and the code to type there (device flow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
  /// The flow under way.
  pub flow: Flow,
  /// Where to go: the verification page, or the authorize URL.
  pub verification_uri: String,
  /// The same with the user code filled in (the authorize URL for the code flow).
  pub verification_uri_complete: String,
  /// The device flow's code.
  pub user_code: Option<String>,
  /// The authorize URL of the code flow.
  pub authorize_url: Option<String>,
}

/// A finished sign-in. The token is in its file, not here.
#[derive(Debug, Clone)]
pub struct LoggedIn {
  /// When the new token expires.
  pub expires_at: DateTime<Utc>,
  /// `sso_start_url`, as configured.
  pub start_url: String,
  /// The token file written.
  pub cache_path: PathBuf,
  /// The flow used.
  pub flow: Flow,
  /// A new client registration was made (else the cached one was used).
  pub registered: bool,
  /// What went wrong on the side (a registration file that could not be written).
  pub warnings: Vec<String>,
}

/// Signs `options.profile` in; `on_prompt` is called once, when the user must act.
pub async fn login(
  options: LoginOptions,
  env: Env,
  clock: &dyn Clock,
  policy: Policy,
  on_prompt: &(dyn Fn(&Prompt) + Send + Sync),
) -> Result<LoggedIn, LoginError> {
  let after = options.timeout;
  let exchanged = tokio::time::timeout(after, exchange(options, env, clock, policy, on_prompt))
    .await
    .map_err(|_| LoginError::TimedOut { after })??;
  write(exchanged).await
}

/// Everything before the files are written.
struct Exchanged {
  plan: Plan,
  registration: Registration,
  /// A registration from RegisterClient, to be cached.
  registered: bool,
  token: CreateTokenResponse,
  expires_at: DateTime<Utc>,
}

async fn exchange(
  options: LoginOptions,
  env: Env,
  clock: &dyn Clock,
  policy: Policy,
  on_prompt: &(dyn Fn(&Prompt) + Send + Sync),
) -> Result<Exchanged, LoginError> {
  let plan = {
    let env = env.clone();
    blocking(move || Plan::new(&env, &options)).await??
  };
  let oidc = Oidc::to(&plan.endpoint, &env, policy).map_err(LoginError::Refused)?;
  // Bound first, as the CLI does: a port that cannot be had fails before any request.
  let listener = match plan.flow {
    Flow::AuthCode => Some(
      Listener::bind()
        .await
        .map_err(|e| LoginError::Listener(e.to_string()))?,
    ),
    Flow::DeviceCode => None,
  };
  let (registration, registered) = registration(&plan, &oidc, clock).await?;
  let (token, sent_at) = match listener {
    Some(listener) => {
      authorization_code(&plan, &oidc, &registration, listener, clock, on_prompt).await?
    }
    None => device_code(&plan, &oidc, &registration, clock, on_prompt).await?,
  };
  // Whole seconds, as the file holds it: what the caller hears is what every reader sees.
  let expires_at = sent_at
    .checked_add_signed(chrono::Duration::seconds(token.expires_in))
    .map(|t| t.trunc_subsecs(0))
    .ok_or_else(|| LoginError::Internal("the token's expiry is out of range".into()))?;
  Ok(Exchanged {
    plan,
    registration,
    registered,
    token,
    expires_at,
  })
}

/// The cached registration for this flow while it lasts, else a new one.
async fn registration(
  plan: &Plan,
  oidc: &Oidc,
  clock: &dyn Clock,
) -> Result<(Registration, bool), LoginError> {
  let now = clock.now();
  let (path, flow) = (plan.registration_path.clone(), plan.flow);
  if let Some(cached) = blocking(move || read_reusable(&path, flow, now)).await? {
    return Ok((cached, false));
  }
  let source = &plan.profile.source;
  // botocore `_generate_client_name`: the session, or the time for a legacy profile.
  let client_name = format!(
    "botocore-client-{}",
    source
      .session_name()
      .map_or_else(|| now.timestamp().to_string(), str::to_string)
  );
  let scopes = plan.registered_scopes();
  let redirect = ["http://127.0.0.1/oauth/callback"];
  let code_flow = plan.flow == Flow::AuthCode;
  let request = RegisterClient {
    client_name: &client_name,
    client_type: "public",
    grant_types: code_flow.then_some(&AUTH_CODE_GRANT_TYPES[..]),
    // Registered without the port, which changes on every sign-in (RFC 8252 §7.3).
    redirect_uris: code_flow.then_some(&redirect[..]),
    issuer_url: code_flow.then_some(source.start_url()),
    scopes: (!scopes.is_empty()).then_some(&scopes[..]),
  };
  let registration = oidc
    .register(&request)
    .await
    .map_err(|error| LoginError::Oidc {
      call: Call::RegisterClient,
      error,
    })?;
  Ok((registration, true))
}

async fn authorization_code(
  plan: &Plan,
  oidc: &Oidc,
  registration: &Registration,
  listener: Listener,
  clock: &dyn Clock,
  on_prompt: &(dyn Fn(&Prompt) + Send + Sync),
) -> Result<(CreateTokenResponse, DateTime<Utc>), LoginError> {
  let pkce = Pkce::new().map_err(|_| LoginError::NoRandomness)?;
  let state = new_state().map_err(|_| LoginError::NoRandomness)?;
  let redirect_uri = listener.redirect_uri();
  let url = authorize_url(&Authorize {
    origin: &oidc.origin(),
    client_id: registration.client_id.expose(),
    redirect_uri: &redirect_uri,
    state: &state,
    scopes: &plan.registered_scopes(),
    challenge: &pkce.challenge,
  });
  on_prompt(&Prompt {
    flow: Flow::AuthCode,
    verification_uri: url.clone(),
    verification_uri_complete: url.clone(),
    user_code: None,
    authorize_url: Some(url),
  });
  let code = match listener
    .wait(&state)
    .await
    .map_err(|e| LoginError::Listener(e.to_string()))?
  {
    Callback::Code(code) => code,
    Callback::Error { error, description } if error == "access_denied" => {
      return Err(LoginError::Denied(format!(
        "by the authorization server (access_denied{})",
        description.map(|d| format!(": {d}")).unwrap_or_default()
      )))
    }
    Callback::Error { error, description } => {
      return Err(LoginError::Authorization { error, description })
    }
  };
  let sent_at = clock.now();
  let grant = Grant::AuthCode {
    code: &code,
    verifier: &pkce.verifier,
    redirect_uri: &redirect_uri,
  };
  match oidc.create_token(registration, grant).await {
    Ok(token) => Ok((token, sent_at)),
    Err(e) => Err(token_error(e)),
  }
}

/// A refused authorization-code CreateToken, named as the device flow names the same
/// errors.
fn token_error(error: OidcError) -> LoginError {
  if error.is_error("expired_token", "ExpiredTokenException") {
    LoginError::DeviceAuthorizationExpired
  } else if error.is_error("access_denied", "AccessDeniedException") {
    LoginError::Denied(error.to_string())
  } else {
    LoginError::Oidc {
      call: Call::CreateToken,
      error,
    }
  }
}

async fn device_code(
  plan: &Plan,
  oidc: &Oidc,
  registration: &Registration,
  clock: &dyn Clock,
  on_prompt: &(dyn Fn(&Prompt) + Send + Sync),
) -> Result<(CreateTokenResponse, DateTime<Utc>), LoginError> {
  let start_url = plan.profile.source.start_url();
  let DeviceAuthorization {
    device_code,
    user_code,
    verification_uri,
    verification_uri_complete,
    interval,
  } = oidc
    .start_device_authorization(registration, start_url)
    .await
    .map_err(|error| LoginError::Oidc {
      call: Call::StartDeviceAuthorization,
      error,
    })?;
  // When the attempt that succeeds was sent: the token's life is counted from there.
  let sent_at = Mutex::new(clock.now());
  let prompt = Prompt {
    flow: Flow::DeviceCode,
    verification_uri,
    verification_uri_complete,
    user_code: Some(user_code),
    authorize_url: None,
  };
  let token = device::poll(
    || {
      *sent_at.lock().unwrap_or_else(|p| p.into_inner()) = clock.now();
      oidc.create_token(
        registration,
        Grant::Device {
          device_code: &device_code,
        },
      )
    },
    tokio::time::sleep,
    interval,
    || on_prompt(&prompt),
  )
  .await?;
  let sent_at = *sent_at.lock().unwrap_or_else(|p| p.into_inner());
  Ok((token, sent_at))
}

/// The files: a new registration (a failure there only costs a registration next time),
/// then the token (a failure there fails the sign-in).
async fn write(done: Exchanged) -> Result<LoggedIn, LoginError> {
  blocking(move || {
    let Exchanged {
      plan,
      registration,
      registered,
      token,
      expires_at,
    } = done;
    let mut warnings = Vec::new();
    if registered {
      let bytes = document(&registration, plan.flow, &plan.registered_scopes());
      if let Err(e) = save(&plan.registration_path, &bytes) {
        warnings.push(format!(
          "the client registration could not be saved to \"{}\": {e}",
          plan.registration_path.display()
        ));
      }
    }
    let source = &plan.profile.source;
    let bytes = token_document(&NewToken {
      start_url: source.start_url(),
      region: source.region(),
      access_token: &token.access_token,
      expires_at,
      registration: &registration,
      refresh_token: token.refresh_token.as_ref(),
    });
    let path = plan.profile.token_path.clone();
    save(&path, &bytes).map_err(|e| LoginError::Write {
      path: path.clone(),
      cause: e.to_string(),
    })?;
    Ok(LoggedIn {
      expires_at,
      start_url: source.start_url().to_string(),
      cache_path: path,
      flow: plan.flow,
      registered,
      warnings,
    })
  })
  .await?
}
