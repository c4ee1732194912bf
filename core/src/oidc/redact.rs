//! Text from outside (a server's error, the network stack's message) made safe to show:
//! every copy of a secret we sent masked, even disguised (re-cased, percent-encoded,
//! base64, hex, split across fields, with invisible characters inside), control and
//! invisible characters neutralised, and the result cut short (docs/behaviour.md §4.4).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use zeroize::{Zeroize, Zeroizing};

/// Longest text kept from the server or the network stack, in characters.
pub(crate) const MAX_SERVER_TEXT_CHARS: usize = 200;

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
pub(crate) fn sanitize(text: &str, secrets: &[&str]) -> String {
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
pub(crate) fn sanitize_all(texts: &[&str], secrets: &[&str]) -> Vec<String> {
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

/// `bytes` in standard base64 with padding (RFC 4648 §4), as HTTP `Basic` credentials
/// are written.
pub(crate) fn base64_standard(bytes: &[u8]) -> Zeroizing<String> {
  let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(3) * 4));
  for chunk in bytes.chunks(3) {
    let n = chunk
      .iter()
      .enumerate()
      .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
    for i in 0..4 {
      if i <= chunk.len() {
        out.push(char::from(
          BASE64_STANDARD[((n >> (18 - 6 * i)) & 63) as usize],
        ));
      } else {
        out.push('=');
      }
    }
  }
  out
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
  fn base64_standard_pads_as_rfc_4648_says() {
    for (plain, encoded) in [
      ("", ""),
      ("f", "Zg=="),
      ("fo", "Zm8="),
      ("foo", "Zm9v"),
      ("foob", "Zm9vYg=="),
      ("fooba", "Zm9vYmE="),
      ("foobar", "Zm9vYmFy"),
    ] {
      assert_eq!(base64_standard(plain.as_bytes()).as_str(), encoded);
    }
  }

  #[test]
  fn sanitize_ignores_empty_secrets_and_trims() {
    assert_eq!(sanitize("  a\tb  ", &["", "zz"]), "a b");
    assert_eq!(sanitize("xxzzxx", &["zz"]), "xx***xx");
    assert_eq!(sanitize(&"a".repeat(200), &[]), "a".repeat(200));
  }
}
