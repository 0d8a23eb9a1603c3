/// 3–30 characters of `A–Z a–z 0–9 _ . -`. Unique ignoring case (the database enforces that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Choose a username.")]
    Empty,
    #[error("A username needs at least 3 characters.")]
    TooShort,
    #[error("A username can have at most 30 characters.")]
    TooLong,
    #[error("Use only letters A–Z, digits, and _ . - in a username.")]
    BadCharacter,
}

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 30;

    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(UsernameError::Empty);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(UsernameError::BadCharacter);
        }
        // All ASCII from here, so bytes are characters.
        match name.len() {
            n if n < Self::MIN => Err(UsernameError::TooShort),
            n if n > Self::MAX => Err(UsernameError::TooLong),
            _ => Ok(Self(name.to_owned())),
        }
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_allowed_alphabet_and_lengths() {
        for ok in ["abc", "A_b.c-9", &"x".repeat(30), "  padded  "] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Username::parse(" alice ").map(|u| u.as_ref().to_owned()),
            Ok("alice".into())
        );
    }

    #[test]
    fn refuses_with_the_reason() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse("ab"), Err(UsernameError::TooShort));
        assert_eq!(
            Username::parse(&"x".repeat(31)),
            Err(UsernameError::TooLong)
        );
        for bad in [
            "a b c",
            "<script>",
            "ali@ce",
            "émile",
            "a/b/c",
            "tab\there",
            "nul\0ok",
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(UsernameError::BadCharacter),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn anything_of_the_alphabet_in_range_parses(s in "[A-Za-z0-9_.-]{3,30}") {
            prop_assert_eq!(Username::parse(&s).map(|u| u.as_ref().to_owned()), Ok(s));
        }

        #[test]
        fn parsed_names_always_obey_the_rule(s in "\\PC{0,40}") {
            if let Ok(u) = Username::parse(&s) {
                let u = u.as_ref();
                prop_assert!((3..=30).contains(&u.len()));
                prop_assert!(u.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
            }
        }
    }
}
