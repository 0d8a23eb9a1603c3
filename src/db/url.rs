//! `DATABASE_URL`: which backend, chosen by the scheme and nothing else.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// A database Folio can open. The PostgreSQL URL may carry a password: it is kept secret and
/// [`DatabaseUrl::describe`] is what logs and errors show.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// A SQLite file, relative to the working directory.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, as libpq takes it.
    Postgres(SecretString),
}

/// Seconds libpq waits for a server that does not answer, unless the URL says otherwise:
/// without it a black-holed address would hold a start (or a pooled reconnect) for minutes.
const CONNECT_TIMEOUT_SECS: u32 = 5;

impl DatabaseUrl {
    /// `postgres://…` and `postgresql://…` are PostgreSQL; `sqlite://PATH`, `sqlite:PATH` and a
    /// bare path are SQLite. Anything else that starts like a URL scheme (`mysql://`, or the
    /// typo `postgres:folio.db`) is refused rather than taken as a file name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(scheme) = scheme_of(text) {
            match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => {
                    let rest = &text[scheme.len() + 1..];
                    if !rest.starts_with("//") {
                        return Err(format!(
                            "'{scheme}:' needs '//', as in postgres://user@host/db"
                        ));
                    }
                    return Ok(Self::Postgres(SecretString::from(text.to_owned())));
                }
                "sqlite" => {}
                _ => {
                    return Err(format!(
                        "unknown scheme '{scheme}:' (use postgres://… or a SQLite file path)"
                    ));
                }
            }
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        if path.is_empty() || path == ":memory:" || path.contains('?') {
            return Err(format!("'{text}' is not a SQLite file path"));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// What diesel's `establish` takes.
    pub(crate) fn connection_string(&self) -> String {
        match self {
            Self::Sqlite(path) => path.to_string_lossy().into_owned(),
            Self::Postgres(url) => {
                let url = url.expose_secret();
                if url.contains("connect_timeout=") {
                    url.to_owned()
                } else {
                    let separator = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{separator}connect_timeout={CONNECT_TIMEOUT_SECS}")
                }
            }
        }
    }

    /// The URL without its password, for messages: `postgresql://folio@db:5432/folio`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("'{}'", path.display()),
            Self::Postgres(url) => {
                let url = url.expose_secret();
                let Some((scheme, rest)) = url.split_once("://") else {
                    return "the PostgreSQL URL".to_owned();
                };
                let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
                let host = match authority.rsplit_once('@') {
                    Some((user_info, host)) => {
                        let user = user_info.split(':').next().unwrap_or_default();
                        format!("{user}@{host}")
                    }
                    None => authority.to_owned(),
                };
                let path = path.split('?').next().unwrap_or_default();
                format!("{scheme}://{host}{path}")
            }
        }
    }
}

/// The scheme of `text` if it starts like one (`letter (letter | digit | + - .)* ':'`). One
/// letter alone is not taken as a scheme.
fn scheme_of(text: &str) -> Option<&str> {
    let end = text.find(':')?;
    let scheme = &text[..end];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() > 1
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
    .then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_alone_chooses_the_backend() {
        for url in [
            "postgres://u@h/db",
            "postgresql://u:p@h:5433/db?sslmode=require",
        ] {
            assert!(DatabaseUrl::parse(url).expect(url).is_postgres(), "{url}");
        }
        for (text, path) in [
            ("folio.db", "folio.db"),
            ("data/f.db", "data/f.db"),
            ("sqlite://data/f.db", "data/f.db"),
            ("sqlite:f.db", "f.db"),
            ("/var/lib/folio/folio.db", "/var/lib/folio/folio.db"),
        ] {
            match DatabaseUrl::parse(text).expect(text) {
                DatabaseUrl::Sqlite(p) => assert_eq!(p, PathBuf::from(path)),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn typos_and_other_schemes_are_refused() {
        for text in [
            "postgres:folio.db",
            "postgresql:/tmp/x",
            "mysql://u@h/db",
            "postgress://u@h/db",
            "http://example.org",
            "",
            ":memory:",
            "sqlite://f.db?mode=memory",
        ] {
            assert!(DatabaseUrl::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn descriptions_never_carry_the_password() {
        let url =
            DatabaseUrl::parse("postgres://folio:s3cret@db.internal:5433/folio?sslmode=require")
                .expect("valid");
        assert_eq!(url.describe(), "postgres://folio@db.internal:5433/folio");
        let url = DatabaseUrl::parse("postgres://:p%40ss@h/db").expect("valid");
        assert!(!url.describe().contains("ss"), "{}", url.describe());
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn a_connect_timeout_is_added_unless_given() {
        let url = DatabaseUrl::parse("postgres://u@h/db").expect("valid");
        assert_eq!(
            url.connection_string(),
            "postgres://u@h/db?connect_timeout=5"
        );
        let url = DatabaseUrl::parse("postgres://u@h/db?sslmode=disable").expect("valid");
        assert_eq!(
            url.connection_string(),
            "postgres://u@h/db?sslmode=disable&connect_timeout=5"
        );
        let url = DatabaseUrl::parse("postgres://u@h/db?connect_timeout=1").expect("valid");
        assert_eq!(
            url.connection_string(),
            "postgres://u@h/db?connect_timeout=1"
        );
    }
}
