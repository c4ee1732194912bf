//! A scripted HTTP/1.1 responder on 127.0.0.1 for the transport tests: one connection per
//! reply, every raw request recorded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub enum Reply {
  /// Raw bytes, then close.
  Send(Vec<u8>),
  /// Read the request, then say nothing for a long time.
  Hang,
  /// Announce and stream this many bytes until the client goes away.
  Stream(usize),
}

pub fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
  let mut head = format!(
    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
    body.len()
  );
  for (name, value) in headers {
    head.push_str(&format!("{name}: {value}\r\n"));
  }
  head.push_str("\r\n");
  let mut bytes = head.into_bytes();
  bytes.extend_from_slice(body);
  Reply::Send(bytes)
}

pub fn json(status: &str, body: &str) -> Reply {
  http(
    status,
    &[("Content-Type", "application/json")],
    body.as_bytes(),
  )
}

pub fn ok_body() -> Reply {
  json(
    "200 OK",
    r#"{"accessToken":"new-access","expiresIn":3600,"refreshToken":"new-refresh","tokenType":"Bearer"}"#,
  )
}

#[derive(Clone, Debug)]
pub struct Recorded {
  pub head: String,
  pub body: Vec<u8>,
}

impl Recorded {
  pub fn header(&self, name: &str) -> Option<String> {
    self.head.lines().skip(1).find_map(|line| {
      let (k, v) = line.split_once(':')?;
      k.trim()
        .eq_ignore_ascii_case(name)
        .then(|| v.trim().to_string())
    })
  }
}

/// A one-connection-per-reply HTTP/1.1 responder on 127.0.0.1 that records each raw
/// request; once the script is spent it closes the listener, so an extra attempt is
/// refused and shows up in the result.
pub struct Server {
  pub port: u16,
  requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
  pub fn endpoint(&self) -> String {
    format!("http://127.0.0.1:{}", self.port)
  }
  pub fn requests(&self) -> Vec<Recorded> {
    self.requests.lock().unwrap().clone()
  }
}

pub fn serve(replies: Vec<Reply>) -> Server {
  let listener = TcpListener::bind("127.0.0.1:0").unwrap();
  let port = listener.local_addr().unwrap().port();
  let requests = Arc::new(Mutex::new(Vec::new()));
  let recorded = Arc::clone(&requests);
  thread::spawn(move || {
    for reply in replies {
      let Ok((stream, _)) = listener.accept() else {
        return;
      };
      let recorded = Arc::clone(&recorded);
      // One thread per connection so that a hanging reply does not block the next one.
      thread::spawn(move || handle(stream, reply, &recorded));
    }
  });
  Server { port, requests }
}

fn handle(mut stream: TcpStream, reply: Reply, recorded: &Mutex<Vec<Recorded>>) {
  stream
    .set_read_timeout(Some(Duration::from_secs(5)))
    .unwrap();
  let Some(request) = read_request(&mut stream) else {
    return;
  };
  recorded.lock().unwrap().push(request);
  match reply {
    Reply::Send(bytes) => {
      let _ = stream.write_all(&bytes);
      let _ = stream.flush();
    }
    Reply::Hang => thread::sleep(Duration::from_secs(8)),
    Reply::Stream(total) => {
      let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n{{\"a\":\"");
      if stream.write_all(head.as_bytes()).is_err() {
        return;
      }
      let chunk = vec![b'x'; 64 * 1024];
      let mut sent = 0;
      while sent < total && stream.write_all(&chunk).is_ok() {
        sent += chunk.len();
      }
    }
  }
}

fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
  let mut buf = Vec::new();
  let mut chunk = [0u8; 4096];
  let head_end = loop {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
      break i + 4;
    }
    let n = stream.read(&mut chunk).ok()?;
    if n == 0 {
      return None;
    }
    buf.extend_from_slice(&chunk[..n]);
  };
  let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
  let mut recorded = Recorded {
    head,
    body: buf[head_end..].to_vec(),
  };
  let length: usize = recorded
    .header("content-length")
    .and_then(|v| v.parse().ok())
    .unwrap_or(0);
  while recorded.body.len() < length {
    let n = stream.read(&mut chunk).ok()?;
    if n == 0 {
      break;
    }
    recorded.body.extend_from_slice(&chunk[..n]);
  }
  Some(recorded)
}

pub fn free_port() -> u16 {
  let listener = TcpListener::bind("127.0.0.1:0").unwrap();
  listener.local_addr().unwrap().port()
}
