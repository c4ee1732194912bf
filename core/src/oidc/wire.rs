//! The bytes of CreateToken: the request body we send, and the answer we accept. An
//! answer is validated whole (a failed check fails the refresh, never half-takes it), its
//! secrets are zeroized once parsed, and any text kept from it is cut short and scrubbed
//! of the values we sent before it reaches a message.

use super::{CreateTokenRequest, CreateTokenResponse, OidcError};
use crate::files::{read_capped, CappedError};
use crate::secret::{zeroize_json, Secret, ZeroizingWriter};
use serde_json::{Map, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::Read;
use zeroize::{Zeroize, Zeroizing};

/// Largest `expiresIn` accepted (10 years of 366 days, in seconds): far beyond any real
/// token lifetime and small enough that `now + expiresIn` is always a valid date.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;

/// Longest text kept from the server or the network stack, in characters.
pub(super) const MAX_SERVER_TEXT_CHARS: usize = 200;

/// The CreateToken request body, exactly as sent (field order included). It holds the
/// client secret and the refresh token, so it is serialized from borrowed values straight
/// into a buffer that zeroizes every smaller copy it outgrows and is itself zeroized on drop.
/// Public for the allocator test (`core/tests/zeroize.rs`).
pub fn request_body(request: &CreateTokenRequest) -> Result<Zeroizing<Vec<u8>>, OidcError> {
  #[derive(serde::Serialize)]
  #[serde(rename_all = "camelCase")]
  struct Body<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    refresh_token: &'a str,
  }
  let (id, secret, token) = (
    request.client_id.expose(),
    request.client_secret.expose(),
    request.refresh_token.expose(),
  );
  // The keys, quotes and grant type take 79 bytes; only escaped characters need more.
  let mut out = ZeroizingWriter::with_capacity(id.len() + secret.len() + token.len() + 96);
  serde_json::to_writer(
    &mut out,
    &Body {
      client_id: id,
      client_secret: secret,
      grant_type: "refresh_token",
      refresh_token: token,
    },
  )
  .map_err(|_| OidcError::Refused("could not encode the CreateToken request".into()))?;
  Ok(out.into_bytes())
}

/// Reads a response body of at most `limit` bytes. The body may hold new tokens, so it is
/// read into a buffer that zeroizes what it outgrows and is zeroized on drop (a plain
/// `read_to_end` leaves every smaller copy in freed memory). Public for the allocator test.
pub fn read_body(reader: impl Read, limit: u64) -> Result<Zeroizing<Vec<u8>>, CappedError> {
  // Room for any usual answer (a few hundred bytes to a few KiB) before the first growth.
  read_capped(reader, limit, 8192).map(Zeroizing::new)
}

fn invalid(why: &str) -> OidcError {
  OidcError::InvalidResponse(why.to_string())
}

/// Validates a 2xx CreateToken body. Checks every field by hand: typed deserialization
/// errors quote the offending value, which here may be a token. Public for the fuzz tests.
pub fn parse_success(bytes: &[u8]) -> Result<CreateTokenResponse, OidcError> {
  let text = std::str::from_utf8(bytes).map_err(|_| invalid("body is not UTF-8"))?;
  let value: Value = serde_json::from_str(text).map_err(|_| invalid("body is not JSON"))?;
  let Value::Object(mut fields) = value else {
    let mut value = value;
    zeroize_json(&mut value);
    return Err(invalid("body is not a JSON object"));
  };
  let result = take_response(&mut fields);
  for value in fields.values_mut() {
    zeroize_json(value);
  }
  result
}

fn take_response(fields: &mut Map<String, Value>) -> Result<CreateTokenResponse, OidcError> {
  let access_token = take_secret(fields, "accessToken")
    .ok()
    .flatten()
    .filter(|t| !t.is_empty())
    .ok_or_else(|| invalid("accessToken missing or not a non-empty string"))?;
  if has_control(access_token.expose()) {
    return Err(invalid("accessToken contains control characters"));
  }
  let expires_in = match fields.get("expiresIn") {
    Some(Value::Number(n)) => n.as_i64().filter(|s| *s > 0),
    _ => None,
  }
  .ok_or_else(|| invalid("expiresIn missing or not a positive whole number"))?;
  if expires_in > MAX_EXPIRES_IN_SECS {
    return Err(invalid("expiresIn is over 10 years"));
  }
  // null is how some JSON encoders write an absent optional field.
  let refresh_token = take_secret(fields, "refreshToken")
    .map_err(|_| invalid("refreshToken is not a string"))?
    .filter(|t| !t.is_empty());
  if refresh_token
    .as_ref()
    .is_some_and(|t| has_control(t.expose()))
  {
    return Err(invalid("refreshToken contains control characters"));
  }
  if !matches!(
    fields.get("tokenType"),
    None | Some(Value::Null) | Some(Value::String(_))
  ) {
    return Err(invalid("tokenType is not a string"));
  }
  Ok(CreateTokenResponse {
    access_token,
    expires_in,
    refresh_token,
  })
}

/// Moves a string field into a [`Secret`] (zeroized on drop); `Err` when it is not a string.
fn take_secret(fields: &mut Map<String, Value>, key: &str) -> Result<Option<Secret>, ()> {
  match fields.remove(key) {
    None | Some(Value::Null) => Ok(None),
    Some(Value::String(s)) => Ok(Some(Secret::new(s))),
    Some(mut other) => {
      zeroize_json(&mut other);
      Err(())
    }
  }
}

/// A header value may not hold CR, LF or NUL; a token that does would break the requests
/// that later carry it.
fn has_control(s: &str) -> bool {
  s.chars().any(char::is_control)
}

/// The error of a 4xx/5xx answer: from `{"error", "error_description"}` (or AWS's
/// `__type`/`message`), falling back to the `x-amzn-ErrorType` header, whose part before `:`
/// is the error code; server text sanitised against `secrets`, all of one answer's text
/// together (see [`sanitize_all`]). Public for the fuzz tests.
pub fn parse_error(
  status: u16,
  body: Option<&[u8]>,
  header: Option<&str>,
  secrets: &[&str],
) -> OidcError {
  let mut json = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
  let [json_error, header_error, description] = {
    let fields = match &json {
      Some(Value::Object(fields)) => Some(fields),
      _ => None,
    };
    let text = |keys: &[&str]| {
      fields
        .and_then(|f| keys.iter().find_map(|k| f.get(*k).and_then(Value::as_str)))
        .unwrap_or("")
    };
    let texts = [
      text(&["error", "__type", "code"]),
      header.and_then(|h| h.split(':').next()).unwrap_or(""),
      text(&["error_description", "message", "Message"]),
    ];
    let mut clean = sanitize_all(&texts, secrets)
      .into_iter()
      .map(|s| Some(s).filter(|s| !s.is_empty()));
    [(); 3].map(|()| clean.next().flatten())
  };
  if let Some(value) = json.as_mut() {
    zeroize_json(value);
  }
  let error = json_error
    .map(|e| match e.rsplit_once('#') {
      Some((_, name)) if !name.is_empty() => name.to_string(),
      _ => e,
    })
    .or(header_error);
  OidcError::Http {
    status,
    error,
    description,
  }
}

/// Shortest run of a secret's characters that counts as a copy of it: a secret shorter than
/// this counts only whole. Long enough that ordinary text never matches by chance.
const MIN_RUN: usize = 12;

/// Characters of one text that are looked at. What follows is cut off unseen (the cut marked
/// with `...`, and the characters just before it held back): the shown text is 200
/// characters, and this bounds the work on a hostile 1 MiB error body.
const MAX_SCANNED_CHARS: usize = 16 * 1024;

/// What replaces each run of characters found to be a copy of a secret.
const MASK: &str = "***";

/// Unicode's format characters (general category Cf, Unicode 15): zero-width characters,
/// the soft hyphen, bidi embeddings, overrides and isolates, tags. Invisible when printed,
/// so they are dropped from what we show and ignored when looking for a secret.
const FORMAT_CHARS: [(u32, u32); 21] = [
  (0x00AD, 0x00AD),
  (0x0600, 0x0605),
  (0x061C, 0x061C),
  (0x06DD, 0x06DD),
  (0x070F, 0x070F),
  (0x0890, 0x0891),
  (0x08E2, 0x08E2),
  (0x180E, 0x180E),
  (0x200B, 0x200F),
  (0x202A, 0x202E),
  (0x2060, 0x2064),
  (0x2066, 0x206F),
  (0xFEFF, 0xFEFF),
  (0xFFF9, 0xFFFB),
  (0x110BD, 0x110BD),
  (0x110CD, 0x110CD),
  (0x13430, 0x1343F),
  (0x1BCA0, 0x1BCA3),
  (0x1D173, 0x1D17A),
  (0xE0001, 0xE0001),
  (0xE0020, 0xE007F),
];

fn is_format(c: char) -> bool {
  let c = u32::from(c);
  c >= 0xAD && FORMAT_CHARS.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// U+2028 and U+2029 (Zl, Zp): line breaks to JavaScript and to many log viewers.
fn is_separator(c: char) -> bool {
  matches!(c, '\u{2028}' | '\u{2029}')
}

/// Characters a copy of a secret may have had slipped in: they do not break a match.
fn is_ignored(c: char) -> bool {
  c.is_control() || c.is_whitespace() || is_format(c) || is_separator(c)
}

/// Makes one text from outside safe to show; [`sanitize_all`] of that text alone.
pub(super) fn sanitize(text: &str, secrets: &[&str]) -> String {
  sanitize_all(&[text], secrets).pop().unwrap_or_default()
}

/// Makes the texts of one answer safe to show, one result per text:
///
/// 1. Every copy of a secret we sent becomes `***`. A copy is found after normalising both
///    sides: lowercased, with control, format, separator and whitespace characters ignored,
///    and in the text as written and with its `%XX` escapes decoded. It is the secret
///    itself, its base64 (standard or URL-safe, at any byte alignment, padding or not) or
///    its hex, or any run of [`MIN_RUN`] characters of one of these (a secret shorter than
///    that: only whole). A run may start in one text and end in another: a secret cut in
///    two across `error` and `error_description` is still found.
/// 2. Control characters and line or paragraph separators become spaces (no forged log
///    lines); format characters (zero-width, soft hyphen, bidi overrides) are dropped.
/// 3. Each text is cut to [`MAX_SERVER_TEXT_CHARS`] characters, `...` marking the cut,
///    and trimmed.
pub(super) fn sanitize_all(texts: &[&str], secrets: &[&str]) -> Vec<String> {
  let fields: Vec<Field> = texts.iter().map(|t| Field::new(t)).collect();
  let mut marks: Vec<Vec<i32>> = fields.iter().map(|f| vec![0; f.chars.len() + 1]).collect();
  let patterns = Patterns::new(secrets);
  if !patterns.is_empty() {
    let skeletons = [plain_skeleton, decoded_skeleton];
    for skeleton in skeletons {
      let all: Vec<Zeroizing<Vec<Entry>>> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| skeleton(&f.chars, i))
        .collect();
      patterns.mark_all(&all, &mut marks);
    }
  }
  fields
    .iter()
    .zip(&marks)
    .map(|(f, m)| f.render(m))
    .collect()
}

/// One text being sanitised: its first [`MAX_SCANNED_CHARS`] characters, zeroized on drop
/// (it may hold a secret).
struct Field {
  chars: Zeroizing<Vec<char>>,
  /// How many of `chars` may be shown.
  end: usize,
  truncated: bool,
}

impl Field {
  fn new(text: &str) -> Field {
    // A text has at least as many bytes as characters: no growth, no copy left behind.
    let mut chars = Zeroizing::new(Vec::with_capacity(text.len().min(MAX_SCANNED_CHARS)));
    chars.extend(text.chars().take(MAX_SCANNED_CHARS));
    let truncated = text.chars().nth(MAX_SCANNED_CHARS).is_some();
    let mut end = chars.len();
    if truncated {
      // What was cut off unseen may have continued a secret: the characters just before
      // the cut, up to a run's worth even when written as %XX escapes, are not shown.
      let mut held = 0;
      while end > 0 && held < 3 * (MIN_RUN - 1) {
        end -= 1;
        if !is_ignored(chars[end]) {
          held += 1;
        }
      }
    }
    Field {
      chars,
      end,
      truncated,
    }
  }

  /// The text to show, `marks` being the difference array of the masked characters.
  fn render(&self, marks: &[i32]) -> String {
    let mut shown = String::new();
    let mut depth = 0;
    let mut masking = false;
    for (i, &c) in self.chars[..self.end].iter().enumerate() {
      depth += marks[i];
      if depth > 0 {
        if !masking {
          shown.push_str(MASK);
          masking = true;
        }
        continue;
      }
      if is_format(c) {
        continue;
      }
      masking = false;
      shown.push(if c.is_control() || is_separator(c) {
        ' '
      } else {
        c
      });
    }
    let mut out: String = shown.chars().take(MAX_SERVER_TEXT_CHARS).collect();
    if self.truncated || shown.chars().nth(MAX_SERVER_TEXT_CHARS).is_some() {
      out.push_str("...");
    }
    out.trim().to_string()
  }
}

/// One character of a text's skeleton (lowercased, ignored characters left out), with the
/// characters of the text it came from: `first..=last` of text number `field`.
#[derive(Clone, Copy, Default)]
struct Entry {
  c: char,
  field: usize,
  first: usize,
  last: usize,
}

impl zeroize::DefaultIsZeroes for Entry {}

/// Characters of a skeleton built from `chars`: room enough for either skeleton, so that
/// neither grows (and leaves a copy behind).
fn skeleton_capacity(chars: &[char]) -> usize {
  chars
    .iter()
    .filter(|c| !is_ignored(**c))
    .map(|c| c.to_lowercase().count())
    .sum()
}

fn push_lowered(out: &mut Vec<Entry>, c: char, field: usize, first: usize, last: usize) {
  if !is_ignored(c) {
    out.extend(c.to_lowercase().map(|c| Entry {
      c,
      field,
      first,
      last,
    }));
  }
}

/// The text as written.
fn plain_skeleton(chars: &[char], field: usize) -> Zeroizing<Vec<Entry>> {
  let mut out = Zeroizing::new(Vec::with_capacity(skeleton_capacity(chars)));
  for (i, &c) in chars.iter().enumerate() {
    push_lowered(&mut out, c, field, i, i);
  }
  out
}

/// The text with its `%XX` escapes decoded (as UTF-8; bytes that are not are left out), each
/// decoded character standing for the escapes it came from.
fn decoded_skeleton(chars: &[char], field: usize) -> Zeroizing<Vec<Entry>> {
  let mut out = Zeroizing::new(Vec::with_capacity(skeleton_capacity(chars)));
  let mut bytes = Zeroizing::new(Vec::with_capacity(chars.len() / 3));
  let mut starts = Vec::with_capacity(chars.len() / 3);
  let mut i = 0;
  while i < chars.len() {
    if percent_byte(chars, i).is_none() {
      push_lowered(&mut out, chars[i], field, i, i);
      i += 1;
      continue;
    }
    bytes.clear();
    starts.clear();
    while let Some(b) = percent_byte(chars, i) {
      bytes.push(b);
      starts.push(i);
      i += 3;
    }
    let mut offset = 0;
    for chunk in bytes.utf8_chunks() {
      for (at, c) in chunk.valid().char_indices() {
        let first = starts[offset + at];
        let last = starts[offset + at + c.len_utf8() - 1] + 2;
        push_lowered(&mut out, c, field, first, last);
      }
      offset += chunk.valid().len() + chunk.invalid().len();
    }
  }
  out
}

/// The byte of a `%XX` escape at `chars[i]`.
fn percent_byte(chars: &[char], i: usize) -> Option<u8> {
  if chars.get(i) != Some(&'%') {
    return None;
  }
  let high = chars.get(i + 1)?.to_digit(16)?;
  let low = chars.get(i + 2)?.to_digit(16)?;
  u8::try_from(high * 16 + low).ok()
}

/// What counts as a copy of the secrets: keyed hashes of every [`MIN_RUN`]-character run of
/// their normalised forms (hashes, so that the set holds no secret), and the secrets shorter
/// than that, whole.
struct Patterns {
  keys: RandomState,
  runs: HashSet<u64, BuildHasherDefault<PreHashed>>,
  wholes: Vec<Zeroizing<Vec<char>>>,
}

/// The set's keys are keyed hashes already: hashing them again would only cost time.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
  fn finish(&self) -> u64 {
    self.0
  }

  fn write(&mut self, bytes: &[u8]) {
    for b in bytes {
      self.0 = self.0.rotate_left(8) ^ u64::from(*b);
    }
  }

  fn write_u64(&mut self, n: u64) {
    self.0 = n;
  }
}

impl Patterns {
  fn new(secrets: &[&str]) -> Patterns {
    let mut patterns = Patterns {
      keys: RandomState::new(),
      runs: HashSet::default(),
      wholes: Vec::new(),
    };
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
      let own = normalised(secret);
      if own.len() >= MIN_RUN {
        patterns.add_runs(&own);
      } else if !own.is_empty() {
        patterns.wholes.push(own);
      }
      // Only runs of the encodings: one shorter than a run (a short secret's) could be
      // anywhere in ordinary text.
      for form in encodings(secret.as_bytes()) {
        let form = normalised(&form);
        if form.len() >= MIN_RUN {
          patterns.add_runs(&form);
        }
      }
    }
    patterns
  }

  fn is_empty(&self) -> bool {
    self.runs.is_empty() && self.wholes.is_empty()
  }

  /// The keyed hash of one run, its characters hashed in one write (SipHash is much
  /// faster over one block than over twelve small ones).
  fn key(&self, chars: impl Iterator<Item = char>) -> u64 {
    let mut block = [0u8; 4 * MIN_RUN];
    for (slot, c) in block.chunks_exact_mut(4).zip(chars) {
      slot.copy_from_slice(&u32::from(c).to_le_bytes());
    }
    let mut hasher = self.keys.build_hasher();
    hasher.write(&block);
    block.zeroize();
    hasher.finish()
  }

  fn add_runs(&mut self, chars: &[char]) {
    for run in chars.windows(MIN_RUN) {
      let key = self.key(run.iter().copied());
      self.runs.insert(key);
    }
  }

  /// Marks the copies in each skeleton, and in each pair of texts' meeting ends (the last
  /// characters of one followed by the first of another, in either order).
  fn mark_all(&self, skeletons: &[Zeroizing<Vec<Entry>>], marks: &mut [Vec<i32>]) {
    for skeleton in skeletons {
      self.mark(skeleton, marks);
    }
    for (a, tail) in skeletons.iter().enumerate() {
      for (b, head) in skeletons.iter().enumerate() {
        if a == b || tail.is_empty() || head.is_empty() {
          continue;
        }
        let tail = &tail[tail.len().saturating_sub(MIN_RUN - 1)..];
        let head = &head[..head.len().min(MIN_RUN - 1)];
        let mut joint = Zeroizing::new(Vec::with_capacity(tail.len() + head.len()));
        joint.extend_from_slice(tail);
        joint.extend_from_slice(head);
        self.mark(&joint, marks);
      }
    }
  }

  fn mark(&self, skeleton: &[Entry], marks: &mut [Vec<i32>]) {
    if !self.runs.is_empty() {
      for run in skeleton.windows(MIN_RUN) {
        if self.runs.contains(&self.key(run.iter().map(|e| e.c))) {
          mark_span(run, marks);
        }
      }
    }
    for whole in &self.wholes {
      for run in skeleton.windows(whole.len()) {
        if run.iter().zip(whole.iter()).all(|(e, c)| e.c == *c) {
          mark_span(run, marks);
        }
      }
    }
  }
}

/// Marks the characters a matched run stands for, in each text it touches, with whatever
/// was ignored between them: a secret with a zero-width character inside is one `***`.
fn mark_span(run: &[Entry], marks: &mut [Vec<i32>]) {
  let mut i = 0;
  while i < run.len() {
    let (field, first) = (run[i].field, run[i].first);
    let mut last = run[i].last;
    i += 1;
    while i < run.len() && run[i].field == field {
      last = last.max(run[i].last);
      i += 1;
    }
    if let Some(m) = marks.get_mut(field).filter(|m| last + 1 < m.len()) {
      m[first] += 1;
      m[last + 1] -= 1;
    }
  }
}

/// The secret, lowercased, without the characters matching ignores.
fn normalised(text: &str) -> Zeroizing<Vec<char>> {
  let wanted = text
    .chars()
    .filter(|c| !is_ignored(*c))
    .map(|c| c.to_lowercase().count())
    .sum();
  let mut out = Zeroizing::new(Vec::with_capacity(wanted));
  for c in text.chars().filter(|c| !is_ignored(*c)) {
    out.extend(c.to_lowercase());
  }
  out
}

const BASE64_STANDARD: &[u8; 64] =
  b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL_SAFE: &[u8; 64] =
  b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// How the secret may be written encoded: base64 in both alphabets at each of the three
/// byte alignments it can have inside a longer encoded value, and hex.
fn encodings(bytes: &[u8]) -> Vec<Zeroizing<String>> {
  let mut forms = Vec::with_capacity(7);
  for alphabet in [BASE64_STANDARD, BASE64_URL_SAFE] {
    for lead in 0..3 {
      forms.push(base64_core(bytes, lead, alphabet));
    }
  }
  let mut hex = Zeroizing::new(String::with_capacity(bytes.len() * 2));
  for b in bytes {
    for nibble in [b >> 4, b & 0xF] {
      hex.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
    }
  }
  forms.push(hex);
  forms
}

/// The base64 characters that depend on `bytes` alone when `lead` other bytes come before
/// them: those holding bits of a neighbour (the first one or two after a lead, the last when
/// the length does not fill it) or padding differ from one value to another.
fn base64_core(bytes: &[u8], lead: usize, alphabet: &[u8; 64]) -> Zeroizing<String> {
  let skip = [0, 2, 3][lead % 3];
  let mut out = Zeroizing::new(String::with_capacity((lead + bytes.len()) * 4 / 3 + 1));
  let (mut acc, mut bits, mut index) = (0u32, 0u32, 0usize);
  for &b in std::iter::repeat_n(&0u8, lead).chain(bytes) {
    acc = (acc << 8) | u32::from(b);
    bits += 8;
    while bits >= 6 {
      bits -= 6;
      if index >= skip {
        out.push(char::from(alphabet[((acc >> bits) & 63) as usize]));
      }
      index += 1;
    }
    acc &= (1 << bits) - 1;
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io;

  #[test]
  fn read_body_takes_exactly_the_limit_and_refuses_one_byte_more() {
    assert_eq!(&read_body(&b"abcd"[..], 4).unwrap()[..], b"abcd");
    assert!(matches!(
      read_body(&b"abcde"[..], 4),
      Err(CappedError::TooLarge)
    ));
    assert_eq!(&read_body(&b""[..], 0).unwrap()[..], b"");
    assert!(matches!(
      read_body(&b"x"[..], 0),
      Err(CappedError::TooLarge)
    ));
    let big = vec![b'x'; 50_000];
    assert_eq!(read_body(&big[..], u64::MAX).unwrap().len(), 50_000);
  }

  #[test]
  fn read_body_passes_on_read_errors_and_retries_interrupted_reads() {
    struct Flaky(u8);
    impl Read for Flaky {
      fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0 += 1;
        match self.0 {
          1 => Err(io::ErrorKind::Interrupted.into()),
          2 => {
            buf[0] = b'a';
            Ok(1)
          }
          _ => Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
        }
      }
    }
    let Err(CappedError::Io(e)) = read_body(Flaky(0), 10) else {
      panic!("expected an I/O error");
    };
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
  }

  const SECRET: &str = "cs-MLby5AU4BmVxtUsYCPa6MysEvDL97pwdU";

  #[test]
  fn odd_escapes_and_case_mappings_neither_panic_nor_shift_the_mask() {
    // Not UTF-8, cut short, not hex: left as written.
    for text in ["%ff%fe%C3", "abc%4", "%", "%%41", "%zz", "%C3%A9t%C3"] {
      assert_eq!(sanitize(text, &[SECRET]), text);
    }
    // U+0130 lowercases to two characters; the mask still starts after it.
    assert_eq!(
      sanitize(&format!("\u{130}{SECRET}!"), &[SECRET]),
      "\u{130}***!"
    );
    // A secret made of characters matching ignores entirely is no pattern at all.
    assert_eq!(sanitize("a b", &[" ", "\u{200B}"]), "a b");
    // Escaped UTF-8 is decoded before matching.
    let secret = "sécret-ünïcode-välue";
    let escaped: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
    assert_eq!(sanitize(&format!("[{escaped}]"), &[secret]), "[***]");
  }

  #[test]
  fn only_a_bounded_prefix_is_looked_at_and_the_rest_is_cut() {
    // A secret cut by the scan limit: its start is held back, not shown.
    let zw = "\u{200B}";
    for before in [5, 30, 33] {
      let text = format!("{}{SECRET}", zw.repeat(MAX_SCANNED_CHARS - before));
      assert_eq!(sanitize(&text, &[SECRET]), "...", "{before}");
      let escaped: String = SECRET.bytes().map(|b| format!("%{b:02X}")).collect();
      let text = format!("{}{escaped}", zw.repeat(MAX_SCANNED_CHARS - before));
      assert_eq!(sanitize(&text, &[SECRET]), "...", "{before}");
    }
    // Exactly the last 33 visible characters before the cut are held back.
    let text = format!(
      "{}{}{}more",
      zw.repeat(MAX_SCANNED_CHARS - 50),
      "v".repeat(17),
      "h".repeat(33)
    );
    assert_eq!(sanitize(&text, &[]), format!("{}...", "v".repeat(17)));
    // Nothing is held back from a text that fits.
    let text = format!(
      "ab{}{SECRET}",
      zw.repeat(MAX_SCANNED_CHARS - 2 - SECRET.len())
    );
    assert_eq!(sanitize(&text, &[SECRET]), "ab***");
  }

  #[test]
  fn sanitize_all_masks_across_texts_and_keeps_them_apart() {
    let (a, b) = SECRET.split_at(5);
    assert_eq!(
      sanitize_all(&[&format!("x {a}"), "", &format!("{b} y")], &[SECRET]),
      ["x ***", "", "*** y"]
    );
    assert_eq!(sanitize_all(&[], &[SECRET]), Vec::<String>::new());
  }

  #[test]
  fn sanitize_ignores_empty_secrets_and_trims() {
    assert_eq!(sanitize("  a\tb  ", &["", "zz"]), "a b");
    assert_eq!(sanitize("xxzzxx", &["zz"]), "xx***xx");
    assert_eq!(sanitize(&"a".repeat(200), &[]), "a".repeat(200));
  }
}
