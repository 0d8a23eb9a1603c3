//! Secrets the database keeps but must not hold in plain text (an authenticator app's
//! secret): XChaCha20-Poly1305 under a key HKDF derives from the site key, bound to what they
//! belong to (the account), so a sealed value copied to another row does not open.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

/// Seals and opens; a cheap clone.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

const NONCE_BYTES: usize = 24;

impl Sealer {
    /// A key of its own for `purpose`, so nothing sealed here opens anything else the site
    /// key protects (sessions, cursors, private cookies).
    pub fn derive(site_key: &[u8], purpose: &str) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"folio seal v1"), site_key)
            .expand(purpose.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `plain`, bound to `context`, as URL-safe text: a random nonce and the ciphertext.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length we give it");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `seal` sealed with the same `context`; `None` for anything else.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Sealer;

    #[test]
    fn sealed_text_opens_only_with_its_key_and_context() {
        let sealer = Sealer::derive(&[7u8; 64], "totp");
        let sealed = sealer.seal(b"the secret", "user:1");
        assert!(!sealed.contains("the secret"));
        assert_ne!(
            sealed,
            sealer.seal(b"the secret", "user:1"),
            "fresh nonce each time"
        );
        assert_eq!(
            sealer.open(&sealed, "user:1").as_deref(),
            Some(&b"the secret"[..])
        );
        assert_eq!(sealer.open(&sealed, "user:2"), None);
        assert_eq!(
            Sealer::derive(&[8u8; 64], "totp").open(&sealed, "user:1"),
            None
        );
        assert_eq!(
            Sealer::derive(&[7u8; 64], "other").open(&sealed, "user:1"),
            None
        );
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            sealer.open(&String::from_utf8(tampered).expect("ascii"), "user:1"),
            None
        );
    }
}
