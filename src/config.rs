//! Settings from the environment (and `.env`), with the defaults of the contract.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the app needs to start. Built once from the environment; tests build it directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// Path of the SQLite file.
    pub database_path: PathBuf,
    pub media_dir: PathBuf,
    pub max_upload_bytes: usize,
    pub secret_key_file: PathBuf,
    pub cookie_secure: bool,
    /// HTTP worker threads; `None` lets actix pick (one per core).
    pub workers: Option<usize>,
    /// How long an upload body may pause between chunks before it is cut off.
    pub upload_idle_timeout: Duration,
    /// How long a whole upload body may take.
    pub upload_deadline: Duration,
}

/// A setting that cannot be used; its `Display` is the one line shown at start.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct SettingError {
    pub name: &'static str,
    pub message: String,
}

impl SettingError {
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }
}

pub const SETTINGS_HELP: &str = "\
Settings (environment variables; a .env file may supply them too):
  FOLIO_BIND              listen address [default: 127.0.0.1:8080]; port 0 picks a free one
  DATABASE_URL            SQLite file path [default: folio.db]
  FOLIO_MEDIA_DIR         uploaded pictures go to $FOLIO_MEDIA_DIR/profile_pics [default: media]
  FOLIO_MAX_UPLOAD_BYTES  largest accepted picture file [default: 5242880]
  FOLIO_SECRET_KEY_FILE   key that signs session cookies, created on first start [default: folio.key]
  FOLIO_COOKIE_SECURE     true behind HTTPS: Secure cookies with the __Host- prefix [default: false]
  RUST_LOG                log filter [default: info]";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so the parsing rules can be tested without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let bind_text = get("FOLIO_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text.trim().parse::<SocketAddr>().map_err(|_| {
            SettingError::new(
                "FOLIO_BIND",
                format!("'{bind_text}' is not an address like 127.0.0.1:8080"),
            )
        })?;

        let database_path =
            parse_database_url(&get("DATABASE_URL").unwrap_or_else(|| "folio.db".into()))?;

        let max_text = get("FOLIO_MAX_UPLOAD_BYTES").unwrap_or_else(|| "5242880".into());
        let max_upload_bytes = match max_text.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(SettingError::new(
                    "FOLIO_MAX_UPLOAD_BYTES",
                    format!("'{max_text}' is not a positive number of bytes"),
                ));
            }
        };

        let cookie_secure = match get("FOLIO_COOKIE_SECURE").as_deref().map(str::trim) {
            None => false,
            Some(v) if ["true", "1", "yes"].contains(&v.to_ascii_lowercase().as_str()) => true,
            Some(v) if ["false", "0", "no"].contains(&v.to_ascii_lowercase().as_str()) => false,
            Some(v) => {
                return Err(SettingError::new(
                    "FOLIO_COOKIE_SECURE",
                    format!("'{v}' is neither true nor false"),
                ));
            }
        };

        Ok(Self {
            bind,
            database_path,
            media_dir: get("FOLIO_MEDIA_DIR")
                .unwrap_or_else(|| "media".into())
                .into(),
            max_upload_bytes,
            secret_key_file: get("FOLIO_SECRET_KEY_FILE")
                .unwrap_or_else(|| "folio.key".into())
                .into(),
            cookie_secure,
            workers: None,
            upload_idle_timeout: Duration::from_secs(20),
            upload_deadline: Duration::from_secs(120),
        })
    }

    pub fn profile_pics_dir(&self) -> PathBuf {
        self.media_dir.join("profile_pics")
    }
}

fn parse_database_url(url: &str) -> Result<PathBuf, SettingError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(SettingError::new(
            "DATABASE_URL",
            "PostgreSQL is not supported yet; give a SQLite file path",
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path == ":memory:" || path.contains('?') {
        return Err(SettingError::new(
            "DATABASE_URL",
            format!("'{url}' is not a SQLite file path"),
        ));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_path, PathBuf::from("folio.db"));
        assert_eq!(s.media_dir, PathBuf::from("media"));
        assert_eq!(s.max_upload_bytes, 5 * 1024 * 1024);
        assert_eq!(s.secret_key_file, PathBuf::from("folio.key"));
        assert!(!s.cookie_secure);
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (name, value) in [
            ("FOLIO_BIND", "localhost"),
            ("FOLIO_MAX_UPLOAD_BYTES", "5MB"),
            ("FOLIO_MAX_UPLOAD_BYTES", "0"),
            ("FOLIO_COOKIE_SECURE", "maybe"),
            ("DATABASE_URL", "postgres://x"),
            ("DATABASE_URL", ":memory:"),
        ] {
            let err = settings(&[(name, value)]).expect_err(value);
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn sqlite_prefixes_are_accepted() {
        let s = settings(&[("DATABASE_URL", "sqlite://data/f.db")]).expect("valid");
        assert_eq!(s.database_path, PathBuf::from("data/f.db"));
        let s = settings(&[("FOLIO_COOKIE_SECURE", "TRUE"), ("FOLIO_BIND", "0.0.0.0:0")])
            .expect("valid");
        assert!(s.cookie_secure);
        assert_eq!(s.bind.port(), 0);
    }
}
