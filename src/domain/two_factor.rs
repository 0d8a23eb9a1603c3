//! The second factor: an authenticator app's secret and its codes (RFC 6238 defaults: SHA-1,
//! 6 digits, 30 s steps), and single-use recovery codes. Only the sealed secret and the
//! recovery codes' hashes are ever stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

/// 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;

/// An authenticator app's shared secret.
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() == SECRET_BYTES).then_some(Self(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, account: &str) -> TOTP {
        // `new_unchecked`: the secret's length is ours (160 bits), and the account name may
        // hold characters totp-rs's checked constructor refuses (none of ours: usernames are
        // [A-Za-z0-9_-]).
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECS,
            self.0.clone(),
            Some("Folio".to_owned()),
            account.to_owned(),
        )
    }

    /// As a person types it into an app: base32, in groups of four.
    pub fn base32(&self) -> String {
        let text = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0);
        text.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `otpauth://totp/…` link apps read (also what the QR code holds).
    pub fn otpauth_url(&self, issuer_host: &str, username: &str) -> String {
        let mut totp = self.totp(username);
        totp.issuer = Some(format!("Folio ({issuer_host})"));
        totp.get_url()
    }

    /// The code of a 30 s step.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("").generate(step * STEP_SECS)
    }

    /// The step whose code `code` is, among the one before now, now and the one after (a
    /// clock a little off still works); `None` if it is none of them. Compared in constant
    /// time.
    pub fn matching_step(&self, code: &TotpCode, now_secs: u64) -> Option<u64> {
        let now = now_secs / STEP_SECS;
        let mut found = None;
        for step in [now.saturating_sub(1), now, now + 1] {
            let expected = self.code_at_step(step);
            let same = expected
                .bytes()
                .zip(code.0.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
                && expected.len() == code.0.len();
            if same && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// Six digits, as typed (spaces allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCode(String);

/// A recovery code as typed (dashes, spaces and case ignored).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

/// What a person typed where a code is asked for.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Totp(_) => f.write_str("Totp([redacted])"),
            Self::Recovery(_) => f.write_str("Recovery([redacted])"),
        }
    }
}

/// Recovery codes: 16 characters of a 32-letter alphabet (80 bits), shown in groups of four.
const RECOVERY_CHARS: usize = 16;
/// No 0/o, no 1/l: nothing to misread when copied by hand.
const RECOVERY_ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

impl SecondFactor {
    /// `None` for text that is neither six digits nor a recovery code's shape.
    pub fn parse(text: &str) -> Option<Self> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Self::Totp(TotpCode(compact)));
        }
        if compact.len() == RECOVERY_CHARS
            && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
        {
            return Some(Self::Recovery(RecoveryCode(compact)));
        }
        None
    }
}

impl RecoveryCode {
    /// Ten fresh codes.
    pub fn generate_set() -> Vec<RecoveryCode> {
        let mut rng = rand::thread_rng();
        (0..10)
            .map(|_| {
                let text = (0..RECOVERY_CHARS)
                    .map(|_| {
                        let i = (rng.next_u32() % 32) as usize;
                        char::from(RECOVERY_ALPHABET[i])
                    })
                    .collect();
                RecoveryCode(text)
            })
            .collect()
    }

    /// As shown: `abcd-efgh-jkmn-pqrs`.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Lowercase hex SHA-256: all the database keeps. A fast hash is enough for 80 random bits.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, with its 20-byte secret "12345678901234567890" (8 digits
        // there; the last six here).
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("20 bytes");
        assert_eq!(secret.code_at_step(59 / 30), "287082");
        assert_eq!(secret.code_at_step(1_111_111_109 / 30), "081804");
        assert_eq!(secret.code_at_step(2_000_000_000 / 30), "279037");
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000u64;
        let step = now / 30;
        for (offset, expected) in [(-1i64, true), (0, true), (1, true), (-2, false), (2, false)] {
            let s = (step as i64 + offset) as u64;
            let Some(SecondFactor::Totp(code)) = SecondFactor::parse(&secret.code_at_step(s))
            else {
                panic!("six digits parse");
            };
            assert_eq!(
                secret.matching_step(&code, now) == Some(s),
                expected,
                "{offset}"
            );
        }
    }

    #[test]
    fn what_is_typed_is_read_forgivingly_and_nothing_else() {
        assert!(matches!(
            SecondFactor::parse(" 123 456 "),
            Some(SecondFactor::Totp(_))
        ));
        let codes = RecoveryCode::generate_set();
        assert_eq!(codes.len(), 10);
        let shown = codes[0].display();
        assert_eq!(shown.len(), 19);
        let typed = shown.to_uppercase().replace('-', " ");
        assert!(
            matches!(SecondFactor::parse(&typed), Some(SecondFactor::Recovery(c)) if c == codes[0])
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcd",
            "abcd-efgh-jkmn-pqr1",
            "12345a",
        ] {
            assert_eq!(SecondFactor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_link_names_the_site_and_the_account() {
        let secret = TotpSecret::generate();
        let url = secret.otpauth_url("example.org", "ada");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains("ada"), "{url}");
        let b32 = secret.base32().replace(' ', "");
        assert!(url.contains(&format!("secret={b32}")), "{url}");
    }
}
