//! One HTTP/1.1 exchange that holds no thread while it waits: tokio and hyper over rustls,
//! run on the crate's network thread (`crate::runtime`), so any number of requests can be in
//! flight at once. Every exchange gets a connection of its own (TCP, through a `CONNECT`
//! tunnel when a proxy is set, then TLS), bounded by the [`Policy`]'s connect and attempt
//! timeouts; a timeout drops the connection. Redirects are never followed, the answer's body
//! is read up to [`MAX_RESPONSE_BYTES`] into a buffer that is zeroized, and the request body
//! is zeroized when hyper lets go of it.
//!
//! What is not zeroized: hyper's read buffer and rustls' record buffers (their memory is
//! theirs), and header values (the logout's bearer token is marked sensitive, which keeps it
//! out of `Debug`).

use super::policy::{with_jitter, Policy, MAX_ATTEMPTS, MAX_RESPONSE_BYTES, USER_AGENT};
use super::proxy::Proxy;
use super::redact::sanitize;
use super::target::Target;
use super::tls::client_config;
use super::OidcError;
use crate::files::push_zeroizing;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use zeroize::{Zeroize, Zeroizing};

/// A byte stream of any of the layers (TCP, TLS over TCP, TLS inside a tunnel).
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type Stream = Box<dyn Io>;

/// A request body that is zeroized when the last reference to it goes.
struct Wiped(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Wiped {
  fn as_ref(&self) -> &[u8] {
    &self.0
  }
}

/// One request, as sent on every attempt.
pub(crate) struct Request<'a> {
  /// Where.
  pub target: &'a Target,
  /// `POST` or `GET`.
  pub method: http::Method,
  /// The path under the endpoint, starting with `/`; a query string may follow.
  pub path: &'a str,
  /// More headers; a sensitive one (a bearer token) is marked so.
  pub headers: &'a [(&'static str, &'a str, bool)],
  /// The JSON body, `None` for none.
  pub body: Option<Zeroizing<Vec<u8>>>,
}

/// An answer, whatever its status.
pub(crate) struct Answer {
  /// The HTTP status.
  pub status: u16,
  /// `x-amzn-ErrorType`, when present and text.
  pub error_type: Option<String>,
  /// The body, zeroized on drop; `None` when it was over [`MAX_RESPONSE_BYTES`].
  pub body: Option<Zeroizing<Vec<u8>>>,
}

/// What an exchange is allowed to name in an error, and what it must not.
pub(crate) struct Context<'a> {
  /// The checked endpoint.
  pub target: &'a Target,
  /// The proxy in use, if any.
  pub proxy: Option<&'a Proxy>,
  /// Timeouts and backoff.
  pub policy: &'a Policy,
  /// Values we send; never echoed back.
  pub secrets: &'a [&'a str],
}

impl Context<'_> {
  /// `host:port`, with the proxy when there is one (never its credentials).
  fn destination(&self) -> String {
    match self.proxy {
      Some(p) => format!("{} via proxy {}", self.target.authority, p.shown()),
      None => self.target.authority.clone(),
    }
  }
}

/// Why one attempt failed below HTTP.
#[derive(Debug)]
enum NetError {
  /// The connect phase did not end within the policy's connect timeout.
  ConnectTimeout,
  /// The whole attempt did not end within the policy's attempt timeout.
  AttemptTimeout,
  /// The name did not resolve.
  Resolve(String),
  /// Nobody listens there.
  Refused,
  /// The TLS handshake failed (a certificate problem, mostly): retrying will not help.
  Tls(io::Error),
  /// The proxy refused or broke the tunnel.
  Tunnel(String),
  /// The server spoke something other than HTTP/1.1, or broke off.
  Protocol(String),
  /// Another I/O error.
  Io(io::Error),
}

impl NetError {
  /// Whether another attempt may fare better: a certificate does not fix itself.
  fn retryable(&self) -> bool {
    !matches!(self, NetError::Tls(_))
  }

  fn message(&self, context: &Context<'_>) -> String {
    let dest = context.destination();
    let detail = |e: &dyn std::fmt::Display| sanitize(&e.to_string(), context.secrets);
    let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    match self {
      NetError::ConnectTimeout => format!(
        "connecting to {dest} timed out after {}",
        secs(context.policy.connect_timeout)
      ),
      NetError::AttemptTimeout => format!(
        "no complete answer from {dest} within {}",
        secs(context.policy.attempt_timeout)
      ),
      NetError::Resolve(host) => format!("could not resolve host {host}"),
      NetError::Refused => format!("connection to {dest} refused"),
      NetError::Tls(e) => format!("secure connection to {dest} failed: {}", detail(e)),
      NetError::Tunnel(why) => format!("the proxy did not connect to {dest}: {}", detail(why)),
      NetError::Protocol(why) => format!("bad HTTP answer from {dest}: {}", detail(why)),
      NetError::Io(e) => format!("connection to {dest} failed: {}", detail(e)),
    }
  }
}

/// Sends `request` with up to [`MAX_ATTEMPTS`] attempts: again after a connection-level
/// failure, a 429 or a 5xx, never after another answer. The last 429/5xx answer is
/// returned as it is once the attempts are spent.
pub(crate) async fn send(
  mut request: Request<'_>,
  proxy: Option<&Proxy>,
  ca_bundle: Option<&str>,
  context: &Context<'_>,
) -> Result<Answer, OidcError> {
  let tls = if request.target.https || proxy.is_some_and(|p| p.https) {
    Some(client_config(ca_bundle)?)
  } else {
    None
  };
  let body = request
    .body
    .take()
    .map(|b| Bytes::from_owner(Wiped(b)))
    .unwrap_or_default();
  let mut attempt = 1;
  loop {
    let one = tokio::time::timeout(
      context.policy.attempt_timeout,
      exchange(&request, &body, proxy, tls.as_ref(), context),
    )
    .await
    .unwrap_or(Err(NetError::AttemptTimeout));
    let failure = match one {
      Ok(answer) if answer.status == 429 || (500..=599).contains(&answer.status) => {
        if attempt >= MAX_ATTEMPTS {
          return Ok(answer);
        }
        None
      }
      Ok(answer) => return Ok(answer),
      Err(e) if !e.retryable() => return Err(OidcError::Transport(e.message(context))),
      Err(e) => Some(e),
    };
    if attempt >= MAX_ATTEMPTS {
      let message = failure.map_or_else(String::new, |e| e.message(context));
      return Err(OidcError::Transport(format!(
        "{message}; gave up after {attempt} attempts"
      )));
    }
    tokio::time::sleep(with_jitter(context.policy.backoff[attempt - 1])).await;
    attempt += 1;
  }
}

/// One attempt: connect (under the connect timeout), send, read the whole answer.
async fn exchange(
  request: &Request<'_>,
  body: &Bytes,
  proxy: Option<&Proxy>,
  tls: Option<&Arc<rustls::ClientConfig>>,
  context: &Context<'_>,
) -> Result<Answer, NetError> {
  let stream = tokio::time::timeout(
    context.policy.connect_timeout,
    connect(request.target, proxy, tls),
  )
  .await
  .unwrap_or(Err(NetError::ConnectTimeout))?;
  let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
    .await
    .map_err(protocol)?;
  let mut driver = Driver {
    connection: pin!(connection),
    ended: false,
  };
  let mut builder = http::Request::builder()
    .method(request.method.clone())
    .uri(request.target.origin_form(request.path))
    .header(http::header::HOST, &request.target.host_header)
    .header(http::header::USER_AGENT, USER_AGENT)
    .header(http::header::ACCEPT, "application/json");
  if !body.is_empty() {
    builder = builder.header(http::header::CONTENT_TYPE, "application/json");
  }
  for (name, value, sensitive) in request.headers {
    let mut value = http::HeaderValue::from_str(value)
      .map_err(|_| NetError::Protocol("a header value is not valid".into()))?;
    value.set_sensitive(*sensitive);
    builder = builder.header(*name, value);
  }
  let http_request = builder
    .body(Full::new(body.clone()))
    .map_err(|_| NetError::Protocol("the request could not be built".into()))?;
  let response = driver
    .run(sender.send_request(http_request))
    .await?
    .map_err(protocol)?;
  let status = response.status().as_u16();
  let error_type = response
    .headers()
    .get("x-amzn-ErrorType")
    .and_then(|v| v.to_str().ok())
    .map(str::to_string);
  let mut incoming = response.into_body();
  let mut bytes = Zeroizing::new(Vec::new());
  let mut over = false;
  loop {
    let Some(frame) = driver.run(incoming.frame()).await? else {
      break;
    };
    let frame = frame.map_err(protocol)?;
    if let Some(data) = frame.data_ref() {
      if bytes.len() as u64 + data.len() as u64 > MAX_RESPONSE_BYTES {
        // Stop here: the rest is not read, and dropping the connection ends the stream.
        over = true;
        break;
      }
      push_zeroizing(&mut bytes, data);
    }
  }
  Ok(Answer {
    status,
    error_type,
    body: if over {
      bytes.zeroize();
      None
    } else {
      Some(bytes)
    },
  })
}

/// Drives a hyper connection (the actual reads and writes) while a request future waits on
/// it, in the same task: nothing is spawned, so dropping the attempt drops the socket.
struct Driver<C> {
  connection: std::pin::Pin<C>,
  ended: bool,
}

impl<C> Driver<C>
where
  C: std::ops::DerefMut,
  C::Target: Future<Output = hyper::Result<()>>,
{
  async fn run<T>(&mut self, future: impl Future<Output = T>) -> Result<T, NetError> {
    let mut future = pin!(future);
    poll_fn(|cx| {
      if let Poll::Ready(value) = future.as_mut().poll(cx) {
        return Poll::Ready(Ok(value));
      }
      if !self.ended {
        match self.connection.as_mut().poll(cx) {
          Poll::Ready(Ok(())) => {
            // The connection is done; what it read is with the request now.
            self.ended = true;
            if let Poll::Ready(value) = future.as_mut().poll(cx) {
              return Poll::Ready(Ok(value));
            }
          }
          Poll::Ready(Err(e)) => return Poll::Ready(Err(protocol(e))),
          Poll::Pending => {}
        }
      }
      Poll::Pending
    })
    .await
  }
}

fn protocol(e: hyper::Error) -> NetError {
  // A reset or a read error below HTTP reads best as what it is.
  let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
  while let Some(s) = source {
    if let Some(io) = s.downcast_ref::<io::Error>() {
      return NetError::Io(io::Error::new(io.kind(), io.to_string()));
    }
    source = s.source();
  }
  NetError::Protocol(e.to_string())
}

/// The stream to `target`: TCP to it or to the proxy, the tunnel, TLS.
async fn connect(
  target: &Target,
  proxy: Option<&Proxy>,
  tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Stream, NetError> {
  let stream: Stream = match proxy {
    None => Box::new(tcp(&target.host, target.port).await?),
    Some(proxy) => {
      let mut to_proxy: Stream = Box::new(tcp(&proxy.host, proxy.port).await?);
      if proxy.https {
        to_proxy = handshake(to_proxy, &proxy.host, tls).await?;
      }
      tunnel(to_proxy, target, proxy).await?
    }
  };
  if target.https {
    return handshake(stream, &target.host, tls).await;
  }
  Ok(stream)
}

async fn tcp(host: &str, port: u16) -> Result<TcpStream, NetError> {
  let addresses = tokio::net::lookup_host((host, port))
    .await
    .map_err(|_| NetError::Resolve(host.to_string()))?;
  let mut last = None;
  for address in addresses {
    match TcpStream::connect(address).await {
      Ok(stream) => {
        let _ = stream.set_nodelay(true);
        return Ok(stream);
      }
      Err(e) => last = Some(e),
    }
  }
  Err(match last {
    Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => NetError::Refused,
    Some(e) => NetError::Io(e),
    None => NetError::Resolve(host.to_string()),
  })
}

async fn handshake(
  stream: Stream,
  host: &str,
  tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Stream, NetError> {
  let config = tls.ok_or_else(|| NetError::Protocol("no TLS configuration".into()))?;
  let name = ServerName::try_from(host.to_string()).map_err(|_| {
    NetError::Tls(io::Error::other(format!(
      "{host} is not a valid server name"
    )))
  })?;
  let stream = TlsConnector::from(Arc::clone(config))
    .connect(name, stream)
    .await
    .map_err(|e| match e.kind() {
      // rustls reports certificate and handshake failures as InvalidData.
      io::ErrorKind::InvalidData => NetError::Tls(e),
      _ => NetError::Io(e),
    })?;
  Ok(Box::new(stream))
}

/// The longest proxy answer to `CONNECT` read; a proxy's answer is a status line and a few
/// headers.
const MAX_TUNNEL_ANSWER_BYTES: usize = 16 * 1024;

/// `CONNECT host:port` through the proxy; the stream after the proxy's `200` is the tunnel.
async fn tunnel(mut stream: Stream, target: &Target, proxy: &Proxy) -> Result<Stream, NetError> {
  let mut ask = Zeroizing::new(format!(
    "CONNECT {0} HTTP/1.1\r\nHost: {0}\r\nUser-Agent: {USER_AGENT}\r\n",
    target.authority
  ));
  if let Some(credentials) = &proxy.authorization {
    ask.push_str("Proxy-Authorization: Basic ");
    ask.push_str(credentials.expose());
    ask.push_str("\r\n");
  }
  ask.push_str("\r\n");
  stream
    .write_all(ask.as_bytes())
    .await
    .map_err(NetError::Io)?;
  // Byte by byte up to the blank line, so that nothing of the tunnel is read here.
  let mut answer = Vec::with_capacity(256);
  while !answer.ends_with(b"\r\n\r\n") {
    if answer.len() >= MAX_TUNNEL_ANSWER_BYTES {
      return Err(NetError::Tunnel("its answer is too long".into()));
    }
    let mut byte = [0u8; 1];
    match stream.read(&mut byte).await {
      Ok(0) => return Err(NetError::Tunnel("it closed the connection".into())),
      Ok(_) => answer.push(byte[0]),
      Err(e) => return Err(NetError::Io(e)),
    }
  }
  let status_line = String::from_utf8_lossy(&answer);
  let status_line = status_line.lines().next().unwrap_or_default();
  let status = status_line.split_whitespace().nth(1).unwrap_or_default();
  if status != "200" {
    return Err(NetError::Tunnel(format!(
      "it answered \"{}\"",
      status_line.trim()
    )));
  }
  Ok(stream)
}
