//! Argon2id hashing on the blocking pool, behind a semaphore: each hash takes ~19 MiB and a
//! core for a few milliseconds, so a login flood queues instead of exhausting memory or
//! starving page views.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::telemetry::spawn_blocking_with_tracing;

#[derive(Clone)]
pub struct Passwords {
    gate: Arc<Semaphore>,
    /// Verified against when the user is unknown, so that costs what a wrong password costs.
    dummy_hash: Arc<str>,
}

/// OWASP's recommended Argon2id parameters: m = 19 MiB, t = 2, p = 1.
fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::thread_rng());
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
        .to_string())
}

fn verify_blocking(hash: &str, password: &str) -> anyhow::Result<bool> {
    let parsed =
        PasswordHash::new(hash).map_err(|e| anyhow::anyhow!("stored hash is unreadable: {e}"))?;
    Ok(argon2()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

impl Passwords {
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        let dummy_hash = hash_blocking(&crate::auth::random_hex(16)).context("dummy hash")?;
        Ok(Self {
            gate: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        let _permit = self.gate.acquire().await.context("hashing gate closed")?;
        spawn_blocking_with_tracing(move || hash_blocking(password.expose_secret())).await?
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no user, so
    /// an unknown name and a wrong password take the same time.
    pub async fn verify(
        &self,
        hash: Option<String>,
        password: SecretString,
    ) -> anyhow::Result<bool> {
        let _permit = self.gate.acquire().await.context("hashing gate closed")?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches =
            spawn_blocking_with_tracing(move || verify_blocking(&hash, password.expose_secret()))
                .await??;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hash = hash_blocking("correct horse").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking(&hash, "correct horse").expect("verify"));
        assert!(!verify_blocking(&hash, "correct horsE").expect("verify"));
        assert_ne!(
            hash,
            hash_blocking("correct horse").expect("hash"),
            "salted"
        );
    }

    #[actix_web::test]
    async fn an_unknown_user_never_verifies() {
        let passwords = Passwords::new(1).expect("set up");
        let dummy = passwords.dummy_hash.to_string();
        assert!(
            !passwords
                .verify(None, SecretString::from("anything"))
                .await
                .expect("verify")
        );
        assert!(dummy.starts_with("$argon2id$"));
    }
}
