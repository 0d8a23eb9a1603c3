//! Personal access tokens: the secret a program sends as `Authorization: Bearer`, what it may
//! do, and the name its owner gave it. Only the token's hash is ever stored.

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// What recognises a Folio token in a leak (and in a secret scanner's rules).
const PREFIX: &str = "folio_";
/// 32 characters of 62: 190 bits, from the OS-seeded CSPRNG.
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
const TOKEN_CHARS: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `folio_` + 32 random characters of `[0-9A-Za-z]` + a 6-character checksum (the CRC32 of
/// the random part in base62, left-padded with `0`), as GitHub's tokens are: a scanner can
/// tell a real leaked token from look-alike text without asking Folio.
pub struct AccessToken(String);

impl AccessToken {
    pub fn generate() -> Self {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(RANDOM_CHARS)
            .map(char::from)
            .collect();
        let checksum = checksum(random.as_bytes());
        let mut text = String::with_capacity(TOKEN_CHARS);
        text.push_str(PREFIX);
        text.push_str(&random);
        text.extend(checksum.iter().map(|&b| char::from(b)));
        Self(text)
    }

    /// `None` unless `text` has exactly a token's shape and a correct checksum. Every check
    /// runs whatever the others found (no early return after the length), so the time taken
    /// says nothing about how close a guess came; and no database is asked about text that
    /// cannot be a token.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != TOKEN_CHARS {
            return None;
        }
        let (prefix, rest) = bytes.split_at(PREFIX.len());
        let (random, check) = rest.split_at(RANDOM_CHARS);
        let prefix_ok = prefix == PREFIX.as_bytes();
        let alphabet_ok = rest
            .iter()
            .fold(true, |ok, b| ok & b.is_ascii_alphanumeric());
        let expected = checksum(random);
        let check_ok = expected
            .iter()
            .zip(check)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        (prefix_ok & alphabet_ok & check_ok).then(|| Self(text.to_owned()))
    }

    /// The token itself: shown once to its owner, sent by programs, never stored.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Lowercase hex SHA-256 of the whole token: the only thing the database keeps. A fast
    /// hash is enough, as the token has 190 random bits.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Redacted, so a token never reaches a log through `{:?}`.
impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken({PREFIX}[redacted])")
    }
}

/// CRC32 of `random`, in base62, left-padded with `0` to 6 characters (62^6 > 2^32, so it
/// always fits).
fn checksum(random: &[u8]) -> [u8; CHECKSUM_CHARS] {
    let mut n = crc32fast::hash(random);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// What a token may do. `Write` includes `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Whether a token of this scope may do what needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        match (self, needed) {
            (Scope::Write, _) => true,
            (Scope::Read, Scope::Read) => true,
            (Scope::Read, Scope::Write) => false,
        }
    }
}

/// What the owner calls a token ("laptop backup script"): 1–50 characters after trimming,
/// nothing invisible (no control, format or line-break characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub const MAX: usize = 50;

    /// `Err` holds the message shown beside the field.
    pub fn parse(s: &str) -> Result<Self, String> {
        let name: String = s.trim().nfc().collect();
        if name.is_empty() {
            return Err("Give the token a name, to tell it from your others.".into());
        }
        if !super::profile::all_visible(&name, false) {
            return Err(
                "Use only visible characters in a token name: no line breaks or invisible \
                 characters."
                    .into(),
            );
        }
        if name.chars().count() > Self::MAX {
            return Err(format!(
                "A token name can have at most {} characters.",
                Self::MAX
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a new token works: 1–366 days, or until it is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime(Option<u16>);

impl TokenLifetime {
    pub const MAX_DAYS: u16 = 366;

    /// The form's `expires_days`: a number of days, or empty for a token that never expires.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self(None));
        }
        match s.parse::<u16>() {
            Ok(days) if (1..=Self::MAX_DAYS).contains(&days) => Ok(Self(Some(days))),
            _ => Err(format!(
                "Choose how long the token works: 1 to {} days, or never expires.",
                Self::MAX_DAYS
            )),
        }
    }

    pub fn days(self) -> Option<u16> {
        self.0
    }

    /// When a token made at `now` stops working (Unix seconds), if ever.
    pub fn expires_at(self, now: i64) -> Option<i64> {
        self.0.map(|days| now + i64::from(days) * 24 * 60 * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_generated_token_has_the_shape_and_parses_back() {
        let token = AccessToken::generate();
        let text = token.expose();
        assert_eq!(text.len(), 44);
        assert!(text.starts_with("folio_"));
        assert!(text[6..].bytes().all(|b| b.is_ascii_alphanumeric()));
        let parsed = AccessToken::parse(text).expect("its own token parses");
        assert_eq!(parsed.expose(), text);
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(text, AccessToken::generate().expose());
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_whole_text_in_lowercase_hex() {
        let token = AccessToken::parse(&with_checksum(&"a".repeat(32))).expect("a token");
        let hash = token.hash();
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        let expected: String = Sha256::digest(token.expose().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, expected);
    }

    /// A token made from chosen random characters.
    fn with_checksum(random: &str) -> String {
        let check = checksum(random.as_bytes());
        format!(
            "folio_{random}{}",
            std::str::from_utf8(&check).expect("ASCII")
        )
    }

    #[test]
    fn the_checksum_is_crc32_in_base62_padded_with_zeros() {
        // CRC32("") is 0: all padding.
        assert_eq!(&checksum(b""), b"000000");
        // CRC32("123456789") = 0xCBF43926 = 3421780262 = "3jZRME" in base62.
        assert_eq!(&checksum(b"123456789"), b"3jZRME");
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn wrong_prefix_length_or_alphabet_is_refused() {
        let good = AccessToken::generate().expose().to_owned();
        let random = &good[6..38];
        for bad in [
            String::new(),
            "folio_".into(),
            good[..43].to_owned(),
            format!("{good}0"),
            format!("Folio_{}", &good[6..]),
            format!("folia_{}", &good[6..]),
            format!("ghp_{}", &good[4..]),
            format!(" {}", &good[1..]),
            with_checksum(&format!("{}-", &random[1..])),
            with_checksum(&format!("{}_", &random[1..])),
            with_checksum(&format!("{} ", &random[1..])),
            // Right length in bytes, not in characters.
            format!("folio_{}é{}", &random[2..], &good[38..]),
        ] {
            assert!(AccessToken::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let token = AccessToken::generate();
        let shown = format!("{token:?} {:#?}", token);
        assert!(!shown.contains(&token.expose()[6..]), "{shown}");
        assert!(!shown.contains(&token.expose()[6..20]), "{shown}");
    }

    proptest! {
        #[test]
        fn any_random_part_parses_with_its_checksum(random in "[0-9A-Za-z]{32}") {
            let text = with_checksum(&random);
            prop_assert_eq!(AccessToken::parse(&text).map(|t| t.expose().to_owned()), Some(text));
        }

        #[test]
        fn any_single_changed_character_is_caught(
            random in "[0-9A-Za-z]{32}",
            at in 0usize..44,
            replacement in "[0-9A-Za-z_]",
        ) {
            let text = with_checksum(&random);
            let mut changed = text.clone().into_bytes();
            changed[at] = replacement.as_bytes()[0];
            prop_assume!(changed != text.as_bytes());
            let changed = String::from_utf8(changed).expect("ASCII");
            prop_assert!(AccessToken::parse(&changed).is_none(), "{} passed", changed);
        }

        #[test]
        fn arbitrary_text_is_not_a_token(text in "\\PC{0,60}") {
            prop_assume!(!text.starts_with("folio_"));
            prop_assert!(AccessToken::parse(&text).is_none());
        }
    }

    #[test]
    fn write_includes_read_and_read_is_only_read() {
        assert!(Scope::Write.allows(Scope::Write));
        assert!(Scope::Write.allows(Scope::Read));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Write));
    }

    #[test]
    fn scopes_are_read_and_write_exactly() {
        for scope in [Scope::Read, Scope::Write] {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        for bad in ["", "READ", "Write", " read", "admin", "read,write"] {
            assert_eq!(Scope::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn token_names_are_1_to_50_visible_characters() {
        let ok = |s: &str| TokenName::parse(s).map(|n| n.as_str().to_owned());
        assert_eq!(ok("  ci deploy  "), Ok("ci deploy".into()));
        assert_eq!(ok("x"), Ok("x".into()));
        // Characters, not bytes: 50 three-byte characters fit.
        assert!(ok(&"字".repeat(50)).is_ok());
        assert!(ok(&"é".repeat(50)).is_ok());
        assert!(ok(&"字".repeat(51)).is_err());
        assert!(ok(&"x".repeat(50)).is_ok());
        assert!(ok(&"x".repeat(51)).is_err());
        for bad in [
            "",
            "   ",
            "\t",
            "a\nb",
            "a\u{7}b",
            "a\u{0}b",
            "a\u{202E}b",
            "a\rb",
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lifetimes_are_1_to_366_days_or_never() {
        assert_eq!(TokenLifetime::parse("").map(TokenLifetime::days), Ok(None));
        assert_eq!(
            TokenLifetime::parse("1").map(TokenLifetime::days),
            Ok(Some(1))
        );
        assert_eq!(
            TokenLifetime::parse("366").map(TokenLifetime::days),
            Ok(Some(366))
        );
        for bad in ["0", "367", "-1", "30.5", "never", "1e2", "99999999999"] {
            assert!(TokenLifetime::parse(bad).is_err(), "{bad:?}");
        }
        let week = TokenLifetime::parse("7").expect("7 days");
        assert_eq!(week.expires_at(1000), Some(1000 + 7 * 86_400));
        assert_eq!(
            TokenLifetime::parse("").expect("never").expires_at(1000),
            None
        );
    }
}
