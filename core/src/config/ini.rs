//! The INI rules of the v2 SDK's `AWS.util.ini.parse`, reproduced exactly.
//!
//! v2's rules differ from most INI libraries (a `#` only starts a comment at the start of a
//! line or after whitespace, a value may contain `=`, keys are case-sensitive, a key with an
//! empty value is dropped, a section without keys does not exist), so this is a small parser
//! of our own rather than `rust-ini`. It borrows from the input: a 1.4 MB config with 10,000
//! sections parses without copying a single key or value.

/// JavaScript's `\s` and `String.prototype.trim` set: v2 splits comments and trims with it,
/// and it is wider than Rust's `char::is_whitespace` (it includes U+FEFF, the BOM).
pub fn is_js_space(c: char) -> bool {
  matches!(
    c,
    '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
      ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
  )
}

fn trim_js(s: &str) -> &str {
  s.trim_matches(is_js_space)
}

/// Cuts the line at the first `;` or `#` that starts the line or follows whitespace
/// (v2: `line.split(/(^|\s)[;#]/)[0]`).
fn strip_comment(line: &str) -> &str {
  let bytes = line.as_bytes();
  let mut from = 0;
  // Both markers are ASCII, so every hit is a char boundary; only the char before it
  // needs decoding, and only when it is not ASCII.
  while let Some(off) = bytes[from..].iter().position(|&b| b == b';' || b == b'#') {
    let i = from + off;
    if line[..i].chars().next_back().is_none_or(is_js_space) {
      return &line[..i];
    }
    from = i + 1;
  }
  line
}

/// The section name if `line` is a section header (`[name]` once comments are cut and the
/// line trimmed), `Some("")` for `[]`.
fn header(line: &str) -> Option<&str> {
  // Cheap test first: most lines of a big config are assignments.
  if !line.trim_start_matches(is_js_space).starts_with('[') {
    return None;
  }
  let line = trim_js(strip_comment(line));
  (line.len() >= 2 && line.ends_with(']')).then(|| &line[1..line.len() - 1])
}

/// One `[name]` header and the text up to the next header. A config is split into these
/// without looking inside the bodies, so only the sections a load needs are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
  /// The text between the brackets, verbatim.
  pub name: &'a str,
  /// Everything after the header line, up to the next header.
  pub body: &'a str,
}

/// The sections of `text` in file order. Repeated names are not merged here: callers read
/// bodies in order, so the last key wins, as in v2's merge. Text before the first header
/// and the body of `[]` belong to no section, as in v2.
pub fn sections(text: &str) -> Vec<Section<'_>> {
  let mut out: Vec<Section> = Vec::new();
  let mut current: Option<(&str, usize)> = None;
  // Only a line whose first non-blank character is `[` can be a header, so the text is
  // searched for `[` (memchr speed) rather than walked line by line: in a generated config
  // of 5,000 profiles most lines hold none. v2 splits on /\r?\n/: a lone \r stays in the
  // line, and trimming removes it.
  let bytes = text.as_bytes();
  let mut from = 0;
  while let Some(offset) = memchr::memchr(b'[', &bytes[from..]) {
    let bracket = from + offset;
    let start = memchr::memrchr(b'\n', &bytes[..bracket]).map_or(0, |n| n + 1);
    let end = memchr::memchr(b'\n', &bytes[bracket..]).map_or(text.len(), |n| bracket + n);
    from = (end + 1).min(text.len());
    if !text[start..bracket].chars().all(is_js_space) {
      continue;
    }
    if let Some(name) = header(&text[start..end]) {
      if let Some((prev, body_start)) = current.take() {
        out.push(Section {
          name: prev,
          body: &text[body_start..start],
        });
      }
      current = (!name.is_empty()).then_some((name, from));
    }
    if end == text.len() {
      break;
    }
  }
  if let Some((name, body_start)) = current {
    out.push(Section {
      name,
      body: &text[body_start..],
    });
  }
  out
}

/// The `(key, value)` assignments of a section body, in order.
pub fn assignments(body: &str) -> impl Iterator<Item = (&str, &str)> {
  // v2 drops a key with an empty value.
  entries(body).filter(|(_, value)| !value.is_empty())
}

/// [`assignments`] with the lines whose value is empty (`key =`) kept, as `(key, "")`: the
/// AWS CLI (Python's configparser) reads those as empty values, which the sign-in needs for
/// `sso_registration_scopes` (docs/behaviour.md §10).
pub fn entries(body: &str) -> impl Iterator<Item = (&str, &str)> {
  body.split('\n').filter_map(|line| {
    let line = trim_js(strip_comment(line));
    // `=` first on the trimmed line would make the key empty.
    let eq = line.find('=')?;
    (eq != 0).then(|| (trim_js(&line[..eq]), trim_js(&line[eq + 1..])))
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  /// One `key = value` line, in file order, with the section it belongs to.
  #[derive(Debug, PartialEq, Eq)]
  struct Entry<'a> {
    section: &'a str,
    key: &'a str,
    value: &'a str,
  }

  fn e<'a>(section: &'a str, key: &'a str, value: &'a str) -> Entry<'a> {
    Entry {
      section,
      key,
      value,
    }
  }

  /// Every assignment of the file in order, with its section.
  fn parse(text: &str) -> Vec<Entry<'_>> {
    sections(text)
      .into_iter()
      .flat_map(|s| {
        assignments(s.body).map(move |(key, value)| Entry {
          section: s.name,
          key,
          value,
        })
      })
      .collect()
  }

  /// The line-by-line reading that `sections` must agree with.
  fn sections_line_by_line(text: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section> = Vec::new();
    let mut current: Option<(&str, usize)> = None;
    let mut pos = 0;
    for line in text.split('\n') {
      let start = pos;
      pos += line.len() + 1;
      if let Some(name) = header(line) {
        if let Some((prev, body_start)) = current.take() {
          out.push(Section {
            name: prev,
            body: &text[body_start..start],
          });
        }
        current = (!name.is_empty()).then_some((name, pos.min(text.len())));
      }
    }
    if let Some((name, body_start)) = current {
      out.push(Section {
        name,
        body: &text[body_start..],
      });
    }
    out
  }

  #[test]
  fn searching_for_brackets_finds_the_sections_a_line_by_line_reading_does() {
    let pieces = [
      "[s]",
      "[profile dev]",
      " [t] ; c",
      "\u{FEFF}[b]",
      "a = [x]",
      "[]",
      "[",
      "]",
      "k = v",
      "\u{A0}[nb]",
      "x[y]",
      "# [c]",
      "\r",
      "",
      "[u]#c",
      "\t[tab]",
    ];
    let mut seed = 7u64;
    for _ in 0..5000 {
      let mut text = String::new();
      for _ in 0..(seed % 9) {
        seed = seed
          .wrapping_mul(6364136223846793005)
          .wrapping_add(1442695040888963407);
        text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        if seed & 1 == 0 {
          text.push('\n');
        }
      }
      assert_eq!(sections(&text), sections_line_by_line(&text), "{text:?}");
    }
  }

  #[test]
  fn comments_start_a_line_or_follow_whitespace() {
    let text = "[s]\n; whole line\n# whole line\na = 1 ; trailing\nb = 2#kept\nc = x\t# tab\n";
    assert_eq!(
      parse(text),
      vec![e("s", "a", "1"), e("s", "b", "2#kept"), e("s", "c", "x")]
    );
  }

  #[test]
  fn crlf_and_lone_cr() {
    assert_eq!(
      parse("[s]\r\na = 1\r\nb = 2\r"),
      vec![e("s", "a", "1"), e("s", "b", "2")]
    );
  }

  #[test]
  fn bom_at_start_is_ignored() {
    assert_eq!(parse("\u{FEFF}[s]\na = 1"), vec![e("s", "a", "1")]);
  }

  #[test]
  fn value_may_contain_equals() {
    assert_eq!(
      parse("[s]\nurl = https://x/?a=b=c"),
      vec![e("s", "url", "https://x/?a=b=c")]
    );
  }

  #[test]
  fn empty_key_empty_value_and_no_equals_are_ignored() {
    assert_eq!(
      parse("[s]\n= v\nk =\nk = ;c\njustaword\nk2 = v2"),
      vec![e("s", "k2", "v2")]
    );
  }

  #[test]
  fn keys_are_case_sensitive_and_trimmed() {
    assert_eq!(
      parse("[s]\n  Key  =  A \nkey=b"),
      vec![e("s", "Key", "A"), e("s", "key", "b")]
    );
  }

  #[test]
  fn keys_before_any_section_or_after_empty_section_are_ignored() {
    assert_eq!(
      parse("a = 1\n[]\nb = 2\n[s]\nc = 3"),
      vec![e("s", "c", "3")]
    );
  }

  #[test]
  fn section_names_are_kept_verbatim_inside_brackets() {
    assert_eq!(
      parse("[sso-session my session]\na = 1\n [ spaced ] \nb = 2"),
      vec![
        e("sso-session my session", "a", "1"),
        e(" spaced ", "b", "2")
      ]
    );
  }

  #[test]
  fn header_lines_can_carry_comments() {
    assert_eq!(
      parse("  [s] ; c\na = 1\n[t]#c\nb = 2"),
      vec![e("s", "a", "1"), e("s", "b", "2")]
    );
  }

  #[test]
  fn js_whitespace_is_wider_than_ascii() {
    // U+00A0 before `#` starts a comment in v2; U+3000 is trimmed.
    assert_eq!(
      parse("[s]\na = v\u{A0}#c\nb =\u{3000}w\u{3000}"),
      vec![e("s", "a", "v"), e("s", "b", "w")]
    );
  }
}
