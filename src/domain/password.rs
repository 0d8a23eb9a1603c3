use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};

/// A new password: 8–128 characters and not one of the 10,000 most common passwords.
/// Held as a secret so it never lands in a log by accident.
#[derive(Debug)]
pub struct Password(SecretString);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("A password needs at least 8 characters.")]
    TooShort,
    #[error("A password can have at most 128 characters.")]
    TooLong,
    #[error("That password is one of the most common ones; choose another.")]
    Common,
}

/// The most common passwords of 8 or more characters, most common first (from the zxcvbn
/// frequency lists, MIT licence); shorter ones are refused by length anyway.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(input: String) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < Self::MIN {
            return Err(PasswordError::TooShort);
        }
        if chars > Self::MAX {
            return Err(PasswordError::TooLong);
        }
        if COMMON.contains(input.to_lowercase().as_str()) {
            return Err(PasswordError::Common);
        }
        Ok(Self(SecretString::from(input)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            Password::parse("ééééééé".into()).err(),
            Some(PasswordError::TooShort)
        );
        assert!(Password::parse("éééééééé".into()).is_ok());
        assert!(Password::parse("x".repeat(128)).is_ok());
        assert_eq!(
            Password::parse("x".repeat(129)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert_eq!(COMMON.len(), 10_000);
        for common in ["password", "PassWord", "12345678", "iloveyou", "qwertyuiop"] {
            assert_eq!(
                Password::parse(common.into()).err(),
                Some(PasswordError::Common),
                "{common}"
            );
        }
        assert!(Password::parse("correct horse battery staple".into()).is_ok());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("a very secret one".into()).expect("valid");
        assert!(!format!("{p:?}").contains("secret one"));
    }

    proptest! {
        #[test]
        fn accepted_passwords_are_in_range(s in "\\PC{0,140}") {
            if let Ok(p) = Password::parse(s) {
                prop_assert!((8..=128).contains(&p.expose().chars().count()));
            }
        }
    }
}
