//! The listener's refusals, judged alone and over real loopback connections.
use super::*;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr};

const STATE: &str = "0b6a52c4-2c8e-4a8e-9d0e-6f1f9a7c2b11";
const HOST: &str = "127.0.0.1:4242";

fn local() -> SocketAddr {
  SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000)
}

fn get(target: &str) -> String {
  format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: test")
}

fn refused(head: &str, peer: SocketAddr) -> &'static str {
  match judge(head.as_bytes(), peer, STATE, HOST) {
    Verdict::Refused(why) => why,
    Verdict::Taken(c) => panic!("taken: {c:?} from {head:?}"),
  }
}

#[test]
fn the_callback_with_its_state_gives_the_code() {
  let head = get(&format!("/oauth/callback?code=c%2Bd+e&state={STATE}"));
  match judge(head.as_bytes(), local(), STATE, HOST) {
    Verdict::Taken(Callback::Code(code)) => assert_eq!(code.expose(), "c+d e"),
    other => panic!("{other:?}"),
  }
  // Any loopback address, the Host in any case.
  let head = format!("GET /oauth/callback?state={STATE}&code=x HTTP/1.0\r\nhOsT:  127.0.0.1:4242 ");
  let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 1, 2, 3)), 1);
  assert!(matches!(
    judge(head.as_bytes(), peer, STATE, HOST),
    Verdict::Taken(Callback::Code(_))
  ));
}

#[test]
fn every_other_request_is_refused_with_its_reason() {
  let ok = format!("code=c&state={STATE}");
  let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)), 50000);
  let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)), 5);
  let path = format!("/oauth/callback?{ok}");
  for (head, peer, why) in [
    (get(&path), remote, "not a loopback address"),
    (get(&path), v6, "not a loopback address"),
    (get("/oauth/callback?code=c"), local(), "no state"),
    (
      get("/oauth/callback?code=c&state=0b6a52c4-2c8e-4a8e-9d0e-6f1f9a7c2b12"),
      local(),
      "the state does not match",
    ),
    (
      get("/oauth/callback?code=c&state="),
      local(),
      "the state does not match",
    ),
    (
      get(&format!("/oauth/callback?state={STATE}")),
      local(),
      "no code",
    ),
    (
      get(&format!("/oauth/callback?state={STATE}&code=")),
      local(),
      "no code",
    ),
    (
      get(&format!("/oauth/callback?{ok}&state={STATE}")),
      local(),
      "a parameter is repeated",
    ),
    (
      get(&format!("/oauth/callback?{ok}&code=d")),
      local(),
      "a parameter is repeated",
    ),
    (
      get("/oauth/callback?code=c&state=%zz"),
      local(),
      "bad percent-encoding",
    ),
    (
      get("/oauth/callback?code=c&state=%f"),
      local(),
      "bad percent-encoding",
    ),
    (
      get("/oauth/callback?code=%ff&state=x"),
      local(),
      "a parameter is not UTF-8",
    ),
    // Parameters of no meaning here are not looked at.
    (get("/oauth/callback?x=%zz&code=c"), local(), "no state"),
    (get(&format!("/favicon.ico?{ok}")), local(), "no such page"),
    (
      get(&format!("/oauth/callback/?{ok}")),
      local(),
      "no such page",
    ),
    (
      get(&format!("/OAUTH/callback?{ok}")),
      local(),
      "no such page",
    ),
    (
      format!("POST {path} HTTP/1.1\r\nHost: {HOST}"),
      local(),
      "only GET is answered",
    ),
    (
      format!("GET {path} HTTP/1.1\r\nHost: evil.example:4242"),
      local(),
      "unexpected Host",
    ),
    (
      format!("GET {path} HTTP/1.1\r\nHost: localhost:4242"),
      local(),
      "unexpected Host",
    ),
    (format!("GET {path} HTTP/1.1"), local(), "unexpected Host"),
    (
      format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nHost: {HOST}"),
      local(),
      "unexpected Host",
    ),
    (
      format!("GET {path} SPDY/3\r\nHost: {HOST}"),
      local(),
      "not an HTTP/1 request",
    ),
    (
      format!("GET {path}\r\nHost: {HOST}"),
      local(),
      "not an HTTP request",
    ),
    ("\u{0}\u{1}".to_string(), local(), "not an HTTP request"),
  ] {
    assert_eq!(refused(&head, peer), why, "{head:?}");
  }
  assert_eq!(
    match judge(b"GET /\xff HTTP/1.1", local(), STATE, HOST) {
      Verdict::Refused(why) => why,
      _ => "taken",
    },
    "the request is not UTF-8 text"
  );
}

#[test]
fn the_authorization_servers_error_with_the_state_ends_the_wait_sanitised() {
  let head = get(&format!(
    "/oauth/callback?error=access_denied&error_description=No%0D%0Aforged+line%E2%80%AE&state={STATE}"
  ));
  match judge(head.as_bytes(), local(), STATE, HOST) {
    Verdict::Taken(Callback::Error { error, description }) => {
      assert_eq!(error, "access_denied");
      assert_eq!(description.as_deref(), Some("No  forged line"));
    }
    other => panic!("{other:?}"),
  }
  // Without the state an error is anyone's: refused, the login waits on.
  let head = get("/oauth/callback?error=access_denied");
  assert_eq!(refused(&head, local()), "no state");
}

/// One raw request to `port`; the status line and body of the answer.
fn send(port: u16, raw: &str) -> (String, String) {
  let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
  s.write_all(raw.as_bytes()).unwrap();
  let mut answer = String::new();
  s.read_to_string(&mut answer).unwrap();
  let (head, body) = answer.split_once("\r\n\r\n").unwrap();
  (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn over_sockets_refusals_are_answered_400_and_the_right_callback_closes_the_port() {
  let (sender, receiver) = std::sync::mpsc::channel();
  let (port_tx, port_rx) = std::sync::mpsc::channel();
  let waiter = std::thread::spawn(move || {
    crate::runtime::block_on(async move {
      let listener = Listener::bind().await.unwrap();
      port_tx.send(listener.port()).unwrap();
      let outcome = listener.wait(STATE).await;
      sender.send(()).unwrap();
      outcome
    })
    .unwrap()
  });
  let port = port_rx.recv().unwrap();
  let host = format!("127.0.0.1:{port}");
  let request = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
  // A connection that never speaks does not hold up the others.
  let _idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
  let (status, body) = send(port, &request("/oauth/callback?code=c&state=wrong"));
  assert_eq!(status, "HTTP/1.1 400 Bad Request");
  assert_eq!(body, "Bad request: the state does not match\n");
  let (status, _) = send(
    port,
    &request(&format!("/favicon.ico?code=c&state={STATE}")),
  );
  assert_eq!(status, "HTTP/1.1 400 Bad Request");
  // One byte over the cap, all of it read before the answer (no reset for unread bytes).
  let big = "GET / HTTP/1.1\r\nHost: ";
  let big = format!("{big}{}", "x".repeat(MAX_REQUEST_BYTES + 1 - big.len()));
  let (status, body) = send(port, &big);
  assert_eq!(status, "HTTP/1.1 400 Bad Request");
  assert_eq!(body, "Bad request: the request is too large\n");
  assert!(receiver.try_recv().is_err(), "still waiting");
  let (status, body) = send(
    port,
    &request(&format!("/oauth/callback?code=the-code&state={STATE}")),
  );
  assert_eq!(status, "HTTP/1.1 200 OK");
  assert!(body.contains("Signed in"), "{body}");
  match waiter.join().unwrap().unwrap() {
    Callback::Code(code) => assert_eq!(code.expose(), "the-code"),
    other => panic!("{other:?}"),
  }
  // One-shot: a second request finds no one listening.
  let again = std::net::TcpStream::connect(("127.0.0.1", port));
  assert_eq!(again.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn the_listener_takes_no_ipv6_connection() {
  let port = crate::runtime::block_on(async {
    let listener = Listener::bind().await.unwrap();
    let port = listener.port();
    // The address bound is IPv4 loopback only.
    assert_eq!(
      listener.tcp.local_addr().unwrap(),
      SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    );
    let v6 = std::net::TcpStream::connect((Ipv6Addr::LOCALHOST, port));
    assert!(v6.is_err(), "::1 reached the listener");
    port
  })
  .unwrap();
  assert_ne!(port, 0);
}
