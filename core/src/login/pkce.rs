//! The authorization-code flow's secrets and its URL (docs/behaviour.md §10), as the AWS
//! CLI makes them (`SSOTokenFetcherAuth.__init__` and `_get_authorization_uri`, CLI
//! 2.36.7): a PKCE verifier of 64 characters drawn from `[A-Za-z0-9-._~]`, its S256
//! challenge (RFC 7636), a random state in the form of a UUID v4, and the authorize URL
//! with the CLI's parameters in the CLI's order. Randomness comes from the operating system
//! (`ring::rand::SystemRandom`).

use crate::secret::Secret;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

/// The characters of a verifier: RFC 7636's unreserved set, as the CLI draws from it.
const VERIFIER_CHARS: &[u8; 66] =
  b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// Characters in a verifier (RFC 7636 allows 43 to 128; the CLI uses 64).
pub const VERIFIER_LEN: usize = 64;

/// The operating system gave no random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness;

fn random_bytes(out: &mut [u8]) -> Result<(), NoRandomness> {
  SystemRandom::new().fill(out).map_err(|_| NoRandomness)
}

/// A PKCE pair: the verifier stays here until CreateToken, the challenge goes in the URL.
#[derive(Debug)]
pub struct Pkce {
  /// Sent with CreateToken only.
  pub verifier: Secret,
  /// base64url of the verifier's SHA-256, unpadded (43 characters).
  pub challenge: String,
}

impl Pkce {
  /// A new verifier, drawn uniformly (random bytes over 197 are drawn again, so that each
  /// of the 66 characters is as likely), and its challenge.
  pub fn new() -> Result<Pkce, NoRandomness> {
    let mut verifier = Zeroizing::new(String::with_capacity(VERIFIER_LEN));
    let mut pool = Zeroizing::new([0u8; 2 * VERIFIER_LEN]);
    while verifier.len() < VERIFIER_LEN {
      random_bytes(&mut pool[..])?;
      for &b in pool.iter() {
        // 198 = 3 * 66: the largest multiple of 66 a byte reaches.
        if b < 198 && verifier.len() < VERIFIER_LEN {
          verifier.push(char::from(VERIFIER_CHARS[usize::from(b % 66)]));
        }
      }
    }
    let challenge = challenge_of(&verifier);
    Ok(Pkce {
      verifier: Secret::new(verifier.as_str()),
      challenge,
    })
  }
}

/// The S256 challenge of `verifier`: base64url of its SHA-256 without padding.
pub fn challenge_of(verifier: &str) -> String {
  let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
  base64url(digest.as_ref())
}

/// base64url (RFC 4648 §5) without padding.
fn base64url(bytes: &[u8]) -> String {
  const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
  for chunk in bytes.chunks(3) {
    let n = chunk
      .iter()
      .enumerate()
      .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
    for i in 0..=chunk.len() {
      out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
    }
  }
  out
}

/// A new state: 16 random bytes written as a UUID v4 (`uuid.uuid4()` in the CLI), 36
/// lowercase characters.
pub fn new_state() -> Result<String, NoRandomness> {
  let mut b = [0u8; 16];
  random_bytes(&mut b)?;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  let hex = hex::encode(b);
  b.zeroize();
  Ok(format!(
    "{}-{}-{}-{}-{}",
    &hex[..8],
    &hex[8..12],
    &hex[12..16],
    &hex[16..20],
    &hex[20..]
  ))
}

/// `value` percent-encoded as Python's `quote(value, safe='-._~')`: everything but ASCII
/// letters, digits and `-._~` as `%XX` (uppercase) of its UTF-8 bytes.
pub fn percent_encode(value: &str) -> String {
  let mut out = String::with_capacity(value.len());
  for b in value.bytes() {
    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
      out.push(char::from(b));
    } else {
      out.push_str(&format!("%{b:02X}"));
    }
  }
  out
}

/// What the authorize URL carries.
#[derive(Debug)]
pub struct Authorize<'a> {
  /// `scheme://host[:port]` of the SSO OIDC endpoint (any path dropped, as the CLI does).
  pub origin: &'a str,
  /// The registration's client id.
  pub client_id: &'a str,
  /// The listener's `http://127.0.0.1:<port>/oauth/callback`.
  pub redirect_uri: &'a str,
  /// The state the listener expects back.
  pub state: &'a str,
  /// The scopes registered.
  pub scopes: &'a [String],
  /// The PKCE challenge.
  pub challenge: &'a str,
}

/// `{origin}/authorize?response_type=code&client_id=…&redirect_uri=…&state=…&
/// code_challenge_method=S256&scopes=…&code_challenge=…`: the CLI's parameters in its
/// order, the scopes space-separated in one `scopes` parameter.
pub fn authorize_url(a: &Authorize<'_>) -> String {
  let scopes = a.scopes.join(" ");
  let params = [
    ("response_type", "code"),
    ("client_id", a.client_id),
    ("redirect_uri", a.redirect_uri),
    ("state", a.state),
    ("code_challenge_method", "S256"),
    ("scopes", &scopes),
    ("code_challenge", a.challenge),
  ];
  let query: Vec<String> = params
    .iter()
    .map(|(k, v)| format!("{k}={}", percent_encode(v)))
    .collect();
  format!("{}/authorize?{}", a.origin, query.join("&"))
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::collections::HashSet;

  /// RFC 7636 appendix B.
  #[test]
  fn the_challenge_is_rfc_7636s_s256() {
    assert_eq!(
      challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
  }

  #[test]
  fn verifiers_are_64_allowed_characters_new_each_time_with_their_challenge() {
    let mut seen = HashSet::new();
    let mut used = HashSet::new();
    for _ in 0..200 {
      let p = Pkce::new().unwrap();
      let v = p.verifier.expose();
      assert_eq!(v.len(), VERIFIER_LEN);
      assert!(v.bytes().all(|b| VERIFIER_CHARS.contains(&b)), "{v}");
      assert_eq!(p.challenge, challenge_of(v));
      assert_eq!(p.challenge.len(), 43);
      used.extend(v.bytes());
      assert!(seen.insert(v.to_string()), "a verifier came twice");
    }
    // 12,800 draws from 66 characters: every one of them turns up.
    assert_eq!(used.len(), 66);
    assert_eq!(
      format!("{:?}", Pkce::new().unwrap())
        .matches("redacted")
        .count(),
      1
    );
  }

  #[test]
  fn states_are_uuid_v4_text_new_each_time() {
    let mut seen = HashSet::new();
    for _ in 0..200 {
      let s = new_state().unwrap();
      assert_eq!(s.len(), 36);
      let groups: Vec<&str> = s.split('-').collect();
      assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
      );
      assert!(s
        .bytes()
        .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
      assert_eq!(&s[14..15], "4");
      assert!("89ab".contains(&s[19..20]), "{s}");
      assert!(seen.insert(s));
    }
  }

  /// The encoding of the CLI's functional test (`tests/functional/sso/test_login.py`).
  #[test]
  fn the_authorize_url_has_the_clis_parameters_in_its_order() {
    let scopes = ["sso:foo".to_string(), "sso:bar".to_string()];
    let url = authorize_url(&Authorize {
      origin: "https://oidc.us-west-2.amazonaws.com",
      client_id: "cid/+=",
      redirect_uri: "http://127.0.0.1:55555/oauth/callback",
      state: "s-1",
      scopes: &scopes,
      challenge: "ch_-",
    });
    assert_eq!(
      url,
      "https://oidc.us-west-2.amazonaws.com/authorize?response_type=code&client_id=cid%2F%2B%3D\
       &redirect_uri=http%3A%2F%2F127.0.0.1%3A55555%2Foauth%2Fcallback&state=s-1\
       &code_challenge_method=S256&scopes=sso%3Afoo%20sso%3Abar&code_challenge=ch_-"
    );
    assert_eq!(percent_encode("é ~"), "%C3%A9%20~");
  }
}
