//! The one-time links Folio mails: a random token in the link, only its hash in the database.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What a link is for. Each account has at most one live link of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `/password/reset/{token}`: choose a new password.
    Reset,
    /// `/email/confirm/{token}`: confirm an address, the account's own or a new one.
    Confirm,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Confirm => "confirm",
        }
    }
}

/// How long a link works after it is sent.
pub const LINK_LIFETIME_SECS: i64 = 60 * 60;

/// 32 random bytes (256 bits) from the OS-seeded CSPRNG, base64url: 43 characters.
const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

/// The secret that goes into a link, and nowhere else.
pub struct LinkToken(String);

impl LinkToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// The SHA-256 of a token, as hex: what the database keeps and looks links up by. A fast hash
/// is enough, as the token has 256 bits of entropy; nothing can be guessed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A hash as the database keeps it.
    pub(crate) fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hash of a token from a link, if the text has a token's shape at all (anything
    /// else cannot name a link, and is not worth a query).
    pub fn of_link(text: &str) -> Option<Self> {
        let shaped = text.len() == TOKEN_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(text)
                .is_ok_and(|b| b.len() == TOKEN_BYTES);
        shaped.then(|| Self::of(text))
    }
}

impl AsRef<str> for TokenHash {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_256_random_bits_and_its_link_finds_its_hash() {
        let token = LinkToken::generate();
        assert_eq!(token.as_str().len(), TOKEN_CHARS);
        assert_eq!(TokenHash::of_link(token.as_str()), Some(token.hash()));
        assert_ne!(token.as_str(), LinkToken::generate().as_str());
        assert_eq!(token.hash().as_ref().len(), 64);
        assert!(!token.hash().as_ref().contains(token.as_str()));
    }

    #[test]
    fn text_that_is_not_a_token_names_no_link() {
        let token = LinkToken::generate();
        let text = token.as_str();
        for bad in [
            "",
            "abc",
            &text[1..],
            &format!("{text}A"),
            &format!("{}+", &text[1..]),
            &format!("{}=", &text[1..]),
            &format!("{}%", &text[1..]),
            &format!("{}é", &text[2..]),
        ] {
            assert_eq!(TokenHash::of_link(bad), None, "{bad}");
        }
    }
}
