//! The member directory's request values: where a page starts (a sealed cursor), how long it
//! is, and what a search looks for. Each is parsed once, here; a bad one is the visitor's
//! mistake (a 400), never the server's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::search_key;
use crate::links::percent_encode;

type HmacSha256 = Hmac<Sha256>;

/// Seals and opens directory cursors. Derived from the session key, so every instance that
/// shares the key reads every other's cursors, and nobody else can make one.
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

/// The position after the last member a page showed: members older than this come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub before_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("That link to a page of members is damaged. Start again from the first page.")]
    BadCursor,
    #[error("A page shows 1 to 50 members.")]
    BadLimit,
}

impl PageError {
    /// The words of the 400 page.
    pub fn message(self) -> &'static str {
        match self {
            PageError::BadCursor => {
                "That link to a page of members is damaged or made up. Start again from the first page of the directory."
            }
            PageError::BadLimit => {
                "A page of the directory shows 1 to 50 members: use a limit in that range."
            }
        }
    }
}

const TAG_LEN: usize = 10;

impl CursorKey {
    pub fn derive(session_key: &[u8]) -> Self {
        // A key of its own, so a cursor can never stand in for anything the session key signs.
        let mut mac = HmacSha256::new_from_slice(session_key).expect("HMAC takes any key length");
        mac.update(b"folio directory cursor v1");
        let key = mac.finalize().into_bytes();
        Self(HmacSha256::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    /// URL-safe text: the id and a truncated MAC of it.
    pub fn seal(&self, cursor: Cursor) -> String {
        let id = cursor.before_id.to_be_bytes();
        let mut bytes = id.to_vec();
        bytes.extend_from_slice(&self.tag(&id)[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn open(&self, text: &str) -> Result<Cursor, PageError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| PageError::BadCursor)?;
        let (id, tag) = bytes.split_first_chunk::<8>().ok_or(PageError::BadCursor)?;
        if tag.len() != TAG_LEN {
            return Err(PageError::BadCursor);
        }
        let mut mac = self.0.clone();
        mac.update(id);
        // Constant time, so the tag cannot be guessed byte by byte.
        mac.verify_truncated_left(tag)
            .map_err(|_| PageError::BadCursor)?;
        let before_id = i64::from_be_bytes(*id);
        if before_id <= 0 {
            return Err(PageError::BadCursor);
        }
        Ok(Cursor { before_id })
    }

    fn tag(&self, id: &[u8]) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(id);
        mac.finalize().into_bytes().to_vec()
    }
}

/// How many members a page shows: 1–50, 20 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u8);

impl Limit {
    pub const DEFAULT: Limit = Limit(20);
    pub const MAX: u8 = 50;

    pub fn parse(text: Option<&str>) -> Result<Self, PageError> {
        let Some(text) = text else {
            return Ok(Self::DEFAULT);
        };
        match text.trim().parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(PageError::BadLimit),
        }
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }

    /// Whether the page's own URL needs `limit=`.
    pub fn is_default(self) -> bool {
        self == Self::DEFAULT
    }
}

/// What a search looks for: the start of a username or display name, ignoring case, as the
/// range `[from, until)` of search keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// As typed (trimmed), for the search box.
    pub text: String,
    pub from: String,
    pub until: String,
}

impl Prefix {
    /// Longer than any name: nothing can start with it.
    const MAX_CHARS: usize = 60;

    /// `None` for an empty search, which lists everyone. A leading `@` is how people write a
    /// username, so it is not part of the prefix.
    pub fn parse(text: Option<&str>) -> Option<Self> {
        // No name holds a control character (and PostgreSQL text cannot hold NUL); runs of
        // spaces are one space in a stored name.
        let text: String = text?
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text = text.as_str();
        let key = search_key(text.strip_prefix('@').unwrap_or(text).trim_start());
        if key.is_empty() {
            return None;
        }
        let key: String = key.chars().take(Self::MAX_CHARS).collect();
        Some(Self {
            text: text.chars().take(Self::MAX_CHARS).collect(),
            // Only a prefix of U+10FFFFs has no successor: then nothing longer than any key.
            until: successor(&key).unwrap_or_else(|| "\u{10FFFF}".repeat(Self::MAX_CHARS + 1)),
            from: key,
        })
    }

    pub fn chars(&self) -> usize {
        self.from.chars().count()
    }
}

/// A page of the directory as asked for: `q`, `after` and `limit`, each parsed once, for the
/// page and the API alike.
#[derive(Debug, Clone)]
pub struct Page {
    pub prefix: Option<Prefix>,
    pub after: Option<Cursor>,
    pub limit: Limit,
}

impl Page {
    pub fn parse(
        q: Option<&str>,
        after: Option<&str>,
        limit: Option<&str>,
        cursors: &CursorKey,
    ) -> Result<Self, PageError> {
        Ok(Self {
            prefix: Prefix::parse(q),
            after: after.map(|a| cursors.open(a)).transpose()?,
            limit: Limit::parse(limit)?,
        })
    }

    /// This search with this limit at `path`, from `after` (from the first member when `None`).
    pub fn url(&self, path: &str, after: Option<&str>) -> String {
        let mut params = Vec::new();
        if let Some(prefix) = &self.prefix {
            params.push(format!("q={}", percent_encode(&prefix.text, b"")));
        }
        if let Some(after) = after {
            params.push(format!("after={after}"));
        }
        if !self.limit.is_default() {
            params.push(format!("limit={}", self.limit.get()));
        }
        if params.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", params.join("&"))
        }
    }
}

/// The least string greater than every string that starts with `prefix`, in code point (and
/// so UTF-8 byte) order: the prefix with its last character that can grow grown by one.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> CursorKey {
        CursorKey::derive(&[7; 64])
    }

    #[test]
    fn cursors_open_to_what_was_sealed() {
        for id in [1, 42, 999_999, i64::MAX] {
            let sealed = key().seal(Cursor { before_id: id });
            assert!(sealed.len() <= 24, "{sealed}");
            assert_eq!(key().open(&sealed), Ok(Cursor { before_id: id }));
        }
    }

    #[test]
    fn tampered_or_foreign_cursors_are_refused() {
        let sealed = key().seal(Cursor { before_id: 1234 });
        let other_key = CursorKey::derive(&[8; 64]);
        assert_eq!(other_key.open(&sealed), Err(PageError::BadCursor));
        for bad in [
            "",
            "x",
            "!!!!",
            "AAAAAAAAAAAAAAAAAAAAAA",
            &sealed[..sealed.len() - 1],
        ] {
            assert_eq!(key().open(bad), Err(PageError::BadCursor), "{bad}");
        }
        // Another id with this id's tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("base64");
        bytes[7] ^= 1;
        assert_eq!(
            key().open(&URL_SAFE_NO_PAD.encode(bytes)),
            Err(PageError::BadCursor)
        );
    }

    #[test]
    fn limits_are_one_to_fifty() {
        assert_eq!(Limit::parse(None), Ok(Limit::DEFAULT));
        assert_eq!(Limit::parse(Some("1")).map(Limit::get), Ok(1));
        assert_eq!(Limit::parse(Some("50")).map(Limit::get), Ok(50));
        for bad in ["0", "51", "-1", "", "ten", "1e2", "256", "20.0"] {
            assert_eq!(Limit::parse(Some(bad)), Err(PageError::BadLimit), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_ranges_of_keys() {
        let p = Prefix::parse(Some(" @Ada ")).expect("a prefix");
        assert_eq!((p.from.as_str(), p.until.as_str()), ("ada", "adb"));
        assert_eq!(p.text, "@Ada");
        assert_eq!(Prefix::parse(Some("  ")), None);
        assert_eq!(Prefix::parse(Some("\0")), None);
        let spaced = Prefix::parse(Some("Ada \u{3000} Lo\0v")).expect("a prefix");
        assert_eq!(spaced.from, "ada lov");
        assert_eq!(Prefix::parse(Some("@")), None);
        assert_eq!(Prefix::parse(None), None);
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}"), None);
    }

    proptest! {
        #[test]
        fn every_extension_of_a_prefix_lies_in_its_range(prefix in "\\PC{1,6}", rest in "\\PC{0,6}") {
            if let Some(p) = Prefix::parse(Some(&prefix)) {
                let key = format!("{}{}", p.from, search_key(&rest));
                prop_assert!(key.as_str() >= p.from.as_str());
                prop_assert!(key.as_str() < p.until.as_str());
            }
        }
    }
}
