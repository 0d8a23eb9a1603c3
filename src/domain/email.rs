/// An address of the form browsers accept for `<input type=email>` (the WHATWG rule), with a
/// dot in the domain, and a local part that is a dot-atom (no dot first, last or twice in a
/// row: browsers let those through, mail servers and lettre do not, and Folio must be able to
/// mail every address it keeps). ASCII only, so "unique ignoring case" is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address.")]
    Empty,
    #[error("An email address can have at most 254 characters.")]
    TooLong,
    #[error("Enter a valid email address, like name@example.com.")]
    Invalid,
}

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.len() > Self::MAX {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError::Invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if local_ok && domain_ok {
            Ok(Self(email.to_owned()))
        } else {
            Err(EmailError::Invalid)
        }
    }
}

/// Whether two stored addresses are one mailbox: addresses are ASCII by rule and unique
/// ignoring case, so a change of case is no change of address.
pub fn same_mailbox(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@mail.example.org",
            "X_Y@sub-domain.example",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        assert_eq!(Email::parse("  "), Err(EmailError::Empty));
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@@b.com",
            "a b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "<script>@x.com",
            "émile@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn generated_addresses_parse(
            local in "[a-z0-9_+-]{1,8}(\\.[a-z0-9_+-]{1,8}){0,2}",
            host in "[a-z0-9]{1,20}",
            tld in "[a-z]{2,6}",
        ) {
            let address = format!("{local}@{host}.{tld}");
            prop_assert!(Email::parse(&address).is_ok());
        }

        #[test]
        fn parsed_addresses_have_one_at_and_a_dotted_domain(s in "\\PC{0,60}") {
            if let Ok(e) = Email::parse(&s) {
                let e = e.as_ref();
                prop_assert_eq!(e.matches('@').count(), 1);
                prop_assert!(e.split('@').nth(1).is_some_and(|d| d.contains('.')));
                prop_assert!(e.is_ascii());
            }
        }

        /// Every address Folio keeps can be mailed.
        #[test]
        fn parsed_addresses_are_addresses_to_the_mailer(
            s in "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~@-]{1,40}",
        ) {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_ref().parse::<lettre::Address>().is_ok(), "{}", e.as_ref());
            }
        }
    }
}
