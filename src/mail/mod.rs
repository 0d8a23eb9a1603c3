//! Mail: what Folio sends (`letters`), what each link does (`links`), and how mail leaves
//! (`delivery`): queued in the database's outbox inside the transaction it belongs to, then
//! sent off the request path by a sender thread, with retries.

mod delivery;
mod letters;
pub mod links;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};

pub use delivery::{Outbox, OutboxOptions, Transport};
pub use letters::Letters;
pub use links::DetailsChange;

/// How mail leaves Folio.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `FOLIO_SMTP_URL`; `None`: each mail is written as an `.eml` file into `dir`.
    pub smtp: Option<SmtpUrl>,
    /// `FOLIO_MAIL_FROM`.
    pub from: Mailbox,
    /// `FOLIO_MAIL_DIR`.
    pub dir: PathBuf,
    pub outbox: OutboxOptions,
}

impl MailSettings {
    pub fn parse_from(text: &str) -> Result<Mailbox, String> {
        text.trim()
            .parse::<Mailbox>()
            .map_err(|e| format!("'{text}' is not a sender like Folio <folio@example.org>: {e}"))
    }
}

/// Whether the server's connection starts in TLS or is upgraded with STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS when the server offers it (port 587 by default).
    StartTlsWhenOffered,
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Tls,
}

/// `smtp://[user:pass@]host[:port]` or `smtps://…`. Debug output and [`SmtpUrl::describe`]
/// never show the password.
#[derive(Clone)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<SecretString>,
}

impl SmtpUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        // The message never repeats the text: it may hold the password.
        let bad =
            |why: &str| format!("{why}; expected smtp://[user:pass@]host[:port] or smtps://…");
        let url = url::Url::parse(text.trim()).map_err(|_| bad("not a URL"))?;
        let security = match url.scheme() {
            "smtp" => SmtpSecurity::StartTlsWhenOffered,
            "smtps" => SmtpSecurity::Tls,
            _ => return Err(bad("the scheme is neither smtp nor smtps")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("nothing may follow the host and port"));
        }
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| bad("the user or password is not valid UTF-8"))
        };
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let password = url
            .password()
            .map(decode)
            .transpose()?
            .map(SecretString::from);
        if password.is_some() && user.is_none() {
            return Err(bad("a password without a user"));
        }
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::StartTlsWhenOffered => 587,
            SmtpSecurity::Tls => 465,
        });
        Ok(Self {
            security,
            host,
            port,
            user,
            password,
        })
    }

    /// For the log: the URL without the password.
    pub fn describe(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::StartTlsWhenOffered => "smtp",
            SmtpSecurity::Tls => "smtps",
        };
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{}:{}", self.host, self.port)
    }

    /// A server on this machine, where a password in clear crosses no network.
    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn password(&self) -> Option<&str> {
        self.password.as_ref().map(ExposeSecret::expose_secret)
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpUrl({})", self.describe())
    }
}

fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The default back-off and polling (tests set shorter ones).
impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(30),
            poll: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_name_the_server_and_hide_the_password() {
        let url = SmtpUrl::parse("smtp://mailer:s%40cr%3At@mail.example.org").expect("valid");
        assert_eq!(url.security, SmtpSecurity::StartTlsWhenOffered);
        assert_eq!((url.host.as_str(), url.port), ("mail.example.org", 587));
        assert_eq!(url.user.as_deref(), Some("mailer"));
        assert_eq!(url.password(), Some("s@cr:t"));
        assert_eq!(url.describe(), "smtp://mailer@mail.example.org:587");
        assert!(!format!("{url:?}").contains("cr"));

        let url = SmtpUrl::parse("smtps://mail.example.org").expect("valid");
        assert_eq!((url.security, url.port), (SmtpSecurity::Tls, 465));
        let url = SmtpUrl::parse("smtp://127.0.0.1:2525").expect("valid");
        assert_eq!(
            (url.host.as_str(), url.port, url.user),
            ("127.0.0.1", 2525, None)
        );
        let url = SmtpUrl::parse("smtp://[::1]:25").expect("valid");
        assert_eq!(url.host, "::1");
    }

    #[test]
    fn bad_smtp_urls_are_refused_without_repeating_them() {
        for bad in [
            "mail.example.org",
            "http://mail.example.org",
            "smtp://",
            "smtp://host/path",
            "smtp://host?tls=none",
            "smtp://:secretpw@host",
            "smtp://u:%FF%FE@host",
            "smtp://u:secretpw@host:99999",
        ] {
            let error = SmtpUrl::parse(bad).expect_err(bad);
            assert!(!error.contains("secretpw"), "{error}");
        }
    }

    #[test]
    fn senders_are_mailboxes() {
        let from = MailSettings::parse_from("Folio <folio@localhost>").expect("the default");
        assert_eq!(from.email.to_string(), "folio@localhost");
        assert!(MailSettings::parse_from("not an address").is_err());
        assert!(MailSettings::parse_from("Folio <folio@example.org>\r\nBcc: x@y").is_err());
    }
}
