//! The one-shot loopback listener the browser returns to in the authorization-code flow
//! (docs/behaviour.md §10): `http://127.0.0.1:<port>/oauth/callback`, bound to 127.0.0.1
//! alone on a port the system picks.
//!
//! Whatever can reach a loopback port (another local user, a web page in the user's own
//! browser) may send it requests, so only one request is taken: a `GET` of exactly
//! `/oauth/callback`, with `Host: 127.0.0.1:<port>`, from a loopback address, carrying the
//! login's own `state` once. Anything else gets a 400 and the listener keeps waiting; the
//! first request that passes ends it (a code, or the authorization server's `error`), and
//! the listener closes with it, so a second request finds no one listening. Requests are
//! read concurrently (a browser opens spare connections; one that never speaks must not
//! hold up the real one), each within [`REQUEST_TIMEOUT`] and [`MAX_REQUEST_BYTES`].

use crate::oidc::redact::sanitize;
use crate::secret::Secret;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use zeroize::Zeroizing;

/// The path the browser is sent back to (the CLI's `redirect_uri`).
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// How long one connection may take to send its request (the CLI's `_REQUEST_TIMEOUT`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request read: the callback's request line and a browser's headers fit in a
/// few KiB.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Connections read at once; further ones are closed unread until one ends.
pub const MAX_CONNECTIONS: usize = 32;

/// What the browser brought back.
#[derive(Debug)]
pub enum Callback {
  /// The authorization code.
  Code(Secret),
  /// The authorization server's `error` (and `error_description`), sanitised.
  Error {
    /// `error`, e.g. `access_denied`.
    error: String,
    /// `error_description`, when given.
    description: Option<String>,
  },
}

/// How one request was judged: taken, or refused with the reason the 400 says.
#[derive(Debug)]
pub enum Verdict {
  /// The login's callback.
  Taken(Callback),
  /// Not it: answered 400, and the listener keeps waiting.
  Refused(&'static str),
}

/// A bound listener.
#[derive(Debug)]
pub struct Listener {
  tcp: TcpListener,
  port: u16,
}

impl Listener {
  /// Binds 127.0.0.1 on a port the system picks.
  pub async fn bind() -> io::Result<Listener> {
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = tcp.local_addr()?.port();
    Ok(Listener { tcp, port })
  }

  /// The port bound.
  pub fn port(&self) -> u16 {
    self.port
  }

  /// `http://127.0.0.1:<port>/oauth/callback`.
  pub fn redirect_uri(&self) -> String {
    format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
  }

  /// Waits for the callback carrying `state`, answering every other request with a 400.
  /// The listener and every connection still open are closed when this returns or is
  /// dropped.
  pub async fn wait(self, state: &str) -> io::Result<Callback> {
    let expect = Arc::new(Expect {
      state: state.to_string(),
      host: format!("127.0.0.1:{}", self.port),
    });
    let mut connections = JoinSet::new();
    loop {
      let event = poll_fn(|cx| {
        if let Poll::Ready(accepted) = self.tcp.poll_accept(cx) {
          return Poll::Ready(Event::Accepted(accepted));
        }
        match connections.poll_join_next(cx) {
          Poll::Ready(Some(served)) => Poll::Ready(Event::Served(served.ok().flatten())),
          _ => Poll::Pending,
        }
      })
      .await;
      match event {
        Event::Accepted(Ok((stream, peer))) => {
          // Past the cap a connection is dropped unread: the real callback comes in one of
          // the next, once the spare ones time out.
          if connections.len() < MAX_CONNECTIONS {
            connections.spawn(serve(stream, peer, Arc::clone(&expect)));
          }
        }
        // A peer that gave up before it was accepted.
        Event::Accepted(Err(e))
          if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
          ) => {}
        Event::Accepted(Err(e)) => return Err(e),
        Event::Served(Some(callback)) => return Ok(callback),
        Event::Served(None) => {}
      }
    }
  }
}

enum Event {
  Accepted(io::Result<(TcpStream, SocketAddr)>),
  Served(Option<Callback>),
}

/// What a request must carry.
#[derive(Debug)]
struct Expect {
  state: String,
  /// `127.0.0.1:<port>`: the only `Host` a browser sent to the redirect URI gives.
  host: String,
}

/// One connection: its request read, judged and answered, then closed.
async fn serve(mut stream: TcpStream, peer: SocketAddr, expect: Arc<Expect>) -> Option<Callback> {
  let head = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream))
    .await
    .ok()?;
  let verdict = match head {
    Ok(head) => judge(&head, peer, &expect.state, &expect.host),
    Err(why) => Verdict::Refused(why),
  };
  let answer = match &verdict {
    Verdict::Taken(Callback::Code(_)) => response("200 OK", "text/html; charset=utf-8", SIGNED_IN),
    Verdict::Taken(Callback::Error { .. }) => {
      response("400 Bad Request", "text/html; charset=utf-8", NOT_SIGNED_IN)
    }
    Verdict::Refused(why) => response(
      "400 Bad Request",
      "text/plain; charset=utf-8",
      &format!("Bad request: {why}\n"),
    ),
  };
  // The verdict stands whether or not the browser reads the answer.
  let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
  })
  .await;
  match verdict {
    Verdict::Taken(callback) => Some(callback),
    Verdict::Refused(_) => None,
  }
}

/// The request's head, up to its blank line; zeroized on drop (it holds the code).
async fn read_head(stream: &mut TcpStream) -> Result<Zeroizing<Vec<u8>>, &'static str> {
  let mut head = Zeroizing::new(Vec::with_capacity(2048));
  let mut chunk = Zeroizing::new([0u8; 2048]);
  loop {
    let n = stream
      .read(&mut chunk[..])
      .await
      .map_err(|_| "the request could not be read")?;
    if n == 0 {
      return Err("the request ended early");
    }
    if head.len() + n > MAX_REQUEST_BYTES {
      return Err("the request is too large");
    }
    crate::files::push_zeroizing(&mut head, &chunk[..n]);
    if let Some(end) = find(&head, b"\r\n\r\n") {
      head.truncate(end);
      return Ok(head);
    }
  }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
  haystack.windows(needle.len()).position(|w| w == needle)
}

/// Judges one request head (without its blank line) from `peer`.
pub fn judge(head: &[u8], peer: SocketAddr, state: &str, host: &str) -> Verdict {
  if !peer.ip().is_loopback() {
    return Verdict::Refused("not a loopback address");
  }
  let Ok(text) = std::str::from_utf8(head) else {
    return Verdict::Refused("the request is not UTF-8 text");
  };
  let mut lines = text.split("\r\n");
  let mut request_line = lines.next().unwrap_or_default().split(' ');
  let (Some(method), Some(target), Some(version), None) = (
    request_line.next(),
    request_line.next(),
    request_line.next(),
    request_line.next(),
  ) else {
    return Verdict::Refused("not an HTTP request");
  };
  if !version.starts_with("HTTP/1.") {
    return Verdict::Refused("not an HTTP/1 request");
  }
  if method != "GET" {
    return Verdict::Refused("only GET is answered");
  }
  let hosts: Vec<&str> = lines
    .filter_map(|line| line.split_once(':'))
    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
    .map(|(_, value)| value.trim())
    .collect();
  if hosts.len() != 1 || !hosts[0].eq_ignore_ascii_case(host) {
    return Verdict::Refused("unexpected Host");
  }
  let (path, query) = target.split_once('?').unwrap_or((target, ""));
  if path != CALLBACK_PATH {
    return Verdict::Refused("no such page");
  }
  let params = match Params::parse(query) {
    Ok(params) => params,
    Err(why) => return Verdict::Refused(why),
  };
  match params.state.as_deref() {
    None => return Verdict::Refused("no state"),
    Some(given) if !same(given.as_bytes(), state.as_bytes()) => {
      return Verdict::Refused("the state does not match")
    }
    Some(_) => {}
  }
  if let Some(error) = params.error {
    return Verdict::Taken(Callback::Error {
      error: sanitize(&error, &[]),
      description: params
        .error_description
        .map(|d| sanitize(&d, &[]))
        .filter(|d| !d.is_empty()),
    });
  }
  match params.code {
    Some(code) if !code.is_empty() => Verdict::Taken(Callback::Code(Secret::new(code.as_str()))),
    _ => Verdict::Refused("no code"),
  }
}

/// Compares without stopping at the first difference: how long the comparison takes says
/// nothing of how much of a guessed state was right.
fn same(a: &[u8], b: &[u8]) -> bool {
  a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The parameters of the callback's query, each at most once.
#[derive(Default)]
struct Params {
  state: Option<Zeroizing<String>>,
  code: Option<Zeroizing<String>>,
  error: Option<Zeroizing<String>>,
  error_description: Option<Zeroizing<String>>,
}

impl Params {
  fn parse(query: &str) -> Result<Params, &'static str> {
    let mut params = Params::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
      let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
      let slot = match decode(name)?.as_str() {
        "state" => &mut params.state,
        "code" => &mut params.code,
        "error" => &mut params.error,
        "error_description" => &mut params.error_description,
        _ => continue,
      };
      // Two values of one parameter: which one a check reads would be a guess.
      if slot.replace(decode(value)?).is_some() {
        return Err("a parameter is repeated");
      }
    }
    Ok(params)
  }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the result
/// must be UTF-8.
fn decode(s: &str) -> Result<Zeroizing<String>, &'static str> {
  let bytes = s.as_bytes();
  let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
  let mut i = 0;
  while i < bytes.len() {
    let b = match bytes[i] {
      b'+' => b' ',
      b'%' => {
        let hex = bytes.get(i + 1..i + 3).ok_or("bad percent-encoding")?;
        let hex = std::str::from_utf8(hex).map_err(|_| "bad percent-encoding")?;
        i += 2;
        u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding")?
      }
      b => b,
    };
    out.push(b);
    i += 1;
  }
  let text = std::str::from_utf8(&out).map_err(|_| "a parameter is not UTF-8")?;
  Ok(Zeroizing::new(text.to_string()))
}

/// What the browser shows once the code is taken. It loads nothing (the CSP says so), so
/// the callback URL, code included, is never sent on as a referrer.
const SIGNED_IN: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Signed in</title></head><body><h1>Signed in</h1><p>sso-token-provider has your \
sign-in. You can close this tab and return to the terminal.</p></body></html>\n";

/// What the browser shows after the authorization server's error: the terminal says why.
const NOT_SIGNED_IN: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Not signed in</title></head><body><h1>Not signed in</h1><p>The sign-in was not \
completed. The terminal says why.</p></body></html>\n";

fn response(status: &str, content_type: &str, body: &str) -> String {
  format!(
    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
     Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
     X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'\r\n\
     Connection: close\r\n\r\n{body}",
    body.len()
  )
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
