//! No copy of a secret is left behind in freed memory by the code that handles secrets in
//! bulk: the CreateToken request body, the answer and the reading of it, the refreshed cache
//! document, and the reading of a cache file.
//!
//! The test binary's global allocator scans every block freed (a `realloc` frees the old
//! block too) for a marker that every secret here contains, and counts the copies it finds.
//! A buffer that grows by reallocation leaves its old, smaller copies behind, and a buffer
//! freed without being zeroized leaves the whole thing: both are counted.

use sso_token_core::cache::CachedToken;
use sso_token_core::chrono::{TimeZone, Utc};
use sso_token_core::files::{push_zeroizing, read_regular};
use sso_token_core::oidc::wire;
use sso_token_core::oidc::CreateTokenRequest;
use sso_token_core::Secret;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use zeroize::{Zeroize, Zeroizing};

const MARKER: &[u8] = b"ZZSECRETMARKERZZ";

/// Copies of [`MARKER`] found in freed blocks since the process started.
static HITS: AtomicUsize = AtomicUsize::new(0);

/// Scans what is freed; allocates nothing itself, so it cannot recurse.
struct Scanning;

/// Copies of the marker in the `len` bytes at `ptr`. Volatile reads: the block may hold
/// bytes never written (spare capacity), which the compiler must not reason about.
///
/// # Safety
/// `ptr..ptr + len` must be a live allocation.
unsafe fn count_markers(ptr: *const u8, len: usize) -> usize {
  let n = MARKER.len();
  let mut hits = 0;
  let mut i = 0;
  while i + n <= len {
    // SAFETY: i + n <= len, inside the block.
    let matched = (0..n).all(|k| unsafe { ptr.add(i + k).read_volatile() } == MARKER[k]);
    if matched {
      hits += 1;
      i += n;
    } else {
      i += 1;
    }
  }
  hits
}

// SAFETY: every call is forwarded to `System` with the same layout; the scan only reads the
// block before it is freed.
unsafe impl GlobalAlloc for Scanning {
  unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
    unsafe { System.alloc(layout) }
  }

  unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
    unsafe { System.alloc_zeroed(layout) }
  }

  unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
    let hits = unsafe { count_markers(ptr, layout.size()) };
    if hits > 0 {
      HITS.fetch_add(hits, Ordering::SeqCst);
    }
    unsafe { System.dealloc(ptr, layout) }
  }

  /// Always a new block, with the old one freed through [`Self::dealloc`]: the system
  /// allocator may or may not grow in place, and the code under test must be safe either way.
  unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller guarantees new_size, rounded up to the alignment, fits isize.
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    let new = unsafe { System.alloc(new_layout) };
    if !new.is_null() {
      unsafe {
        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
        self.dealloc(ptr, layout);
      }
    }
    new
  }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// One measurement at a time: the count is process-wide and the tests run in parallel.
static SERIAL: Mutex<()> = Mutex::new(());

/// Copies of the marker freed while `f` runs (and drops what it made).
fn freed_copies(f: impl FnOnce()) -> usize {
  let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
  let before = HITS.load(Ordering::SeqCst);
  f();
  HITS.load(Ordering::SeqCst) - before
}

/// A secret-like value of exactly `len` characters holding the marker, built in one
/// allocation of its final size and zeroized on drop, so that the test itself leaves no copy.
fn secret_text(tag: &str, len: usize) -> Zeroizing<String> {
  let mut s = Zeroizing::new(String::with_capacity(len));
  s.push_str(tag);
  s.push_str(std::str::from_utf8(MARKER).unwrap());
  while s.len() < len {
    let next = char::from(b'a' + (s.len() % 26) as u8);
    s.push(next);
  }
  s
}

/// The pieces joined in one allocation of the final size, zeroized on drop.
fn joined(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
  let mut out = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
  for part in parts {
    out.extend_from_slice(part);
  }
  out
}

#[test]
fn the_scanner_finds_a_copy_left_in_freed_memory_and_none_once_zeroized() {
  let leaked = freed_copies(|| {
    let plain = secret_text("AT-", 64).to_string();
    drop(plain);
  });
  assert_eq!(leaked, 1);
  let grown = freed_copies(|| {
    let mut v = Vec::with_capacity(MARKER.len());
    v.extend_from_slice(MARKER);
    v.extend_from_slice(&[b'x'; 100]);
    v.zeroize();
  });
  assert_eq!(grown, 1, "the block left behind by growing");
  assert_eq!(freed_copies(|| drop(secret_text("AT-", 64))), 0);
}

#[test]
fn the_create_token_request_body_leaves_no_copy() {
  let client_secret = secret_text("CS-", 300);
  let refresh_token = secret_text("RT-", 900);
  // Control characters are written as \u00XX: six bytes each, past any size guess.
  let mut escaped = Zeroizing::new(String::with_capacity(MARKER.len() + 400));
  escaped.push_str(std::str::from_utf8(MARKER).unwrap());
  escaped.extend(std::iter::repeat_n('\u{1}', 400));
  for secret in [client_secret.as_str(), escaped.as_str()] {
    let hits = freed_copies(|| {
      let request = CreateTokenRequest {
        client_id: Secret::new("client-id-0123456789"),
        client_secret: Secret::new(secret),
        refresh_token: Secret::new(refresh_token.as_str()),
      };
      let body = wire::request_body(&request).unwrap();
      assert_eq!(count_in(&body), 2);
    });
    assert_eq!(hits, 0);
  }
}

#[test]
fn a_create_token_answer_leaves_no_copy() {
  let access = secret_text("AT-", 1200);
  let refresh = secret_text("RT-", 900);
  let id = secret_text("ID-", 700);
  let body = joined(&[
    b"{\"accessToken\":\"",
    access.as_bytes(),
    b"\",\"expiresIn\":3600,\"refreshToken\":\"",
    refresh.as_bytes(),
    b"\",\"idToken\":\"",
    id.as_bytes(),
    b"\",\"tokenType\":\"Bearer\"}",
  ]);
  let hits = freed_copies(|| {
    let answer = wire::parse_success(&body).unwrap();
    assert_eq!(answer.access_token.expose(), access.as_str());
  });
  assert_eq!(hits, 0);
}

#[test]
fn reading_a_response_body_leaves_no_copy() {
  // Many chunks, so that the buffer grows several times.
  let access = secret_text("AT-", 12000);
  let refresh = secret_text("RT-", 8000);
  let body = joined(&[
    b"{\"accessToken\":\"",
    access.as_bytes(),
    b"\",\"expiresIn\":3600,\"refreshToken\":\"",
    refresh.as_bytes(),
    b"\"}",
  ]);
  let hits = freed_copies(|| {
    // What core/src/oidc/http.rs does with each frame of an answer, as a connection hands
    // them out: a thousand bytes at a time.
    let mut read = Zeroizing::new(Vec::new());
    for chunk in body.chunks(1000) {
      push_zeroizing(&mut read, chunk);
    }
    assert_eq!(&read[..], &body[..]);
  });
  assert_eq!(hits, 0);
}

#[test]
fn a_refreshed_cache_document_leaves_no_copy() {
  let old_access = secret_text("AT-", 1200);
  let client_secret = secret_text("CS-", 300);
  let old_refresh = secret_text("RT-", 900);
  let new_access = secret_text("AT-", 1300);
  let new_refresh = secret_text("RT-", 950);
  let file = joined(&[
    b"{\"startUrl\":\"https://example.awsapps.com/start\",\"region\":\"us-east-1\",\"accessToken\":\"",
    old_access.as_bytes(),
    b"\",\"expiresAt\":\"2026-01-01T00:00:00Z\",\"clientId\":\"client-id-0123\",\"clientSecret\":\"",
    client_secret.as_bytes(),
    b"\",\"registrationExpiresAt\":\"2027-01-01T00:00:00Z\",\"refreshToken\":\"",
    old_refresh.as_bytes(),
    b"\",\"zzUnknownLast\":\"kept\"}",
  ]);
  let at = Utc.with_ymd_and_hms(2026, 6, 1, 13, 0, 0).unwrap();
  let hits = freed_copies(|| {
    let cached = CachedToken::parse(&file, Path::new("/c.json"), "dev").unwrap();
    let access = Secret::new(new_access.as_str());
    let refresh = Secret::new(new_refresh.as_str());
    let next = cached.with_refresh(&access, at, Some(&refresh));
    let bytes = next.to_bytes();
    // access, client secret and refresh token
    assert_eq!(count_in(&bytes), 3);
  });
  assert_eq!(hits, 0);
}

#[test]
fn reading_a_cache_file_leaves_no_copy() {
  let access = secret_text("AT-", 5000);
  let doc = joined(&[
    b"{\"accessToken\":\"",
    access.as_bytes(),
    b"\",\"expiresAt\":\"2026-01-01T00:00:00Z\"}",
  ]);
  let dir = std::env::temp_dir().join(format!("sso-zeroize-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let path = dir.join("token.json");
  std::fs::write(&path, &doc[..]).unwrap();
  let hits = freed_copies(|| {
    let mut bytes = read_regular(&path, 1024 * 1024).unwrap();
    assert_eq!(bytes.len(), doc.len());
    bytes.zeroize();
  });
  std::fs::remove_dir_all(&dir).unwrap();
  assert_eq!(hits, 0);
}

/// Copies of the marker in a live buffer.
fn count_in(bytes: &[u8]) -> usize {
  // SAFETY: a live slice.
  unsafe { count_markers(bytes.as_ptr(), bytes.len()) }
}
