//! Settings from the environment (and `.env`), with the defaults of the contract.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use crate::db::{DatabaseUrl, PoolOptions};
use crate::mail::{MailSettings, OutboxOptions, SmtpUrl};
use crate::proxy::TrustedProxies;
pub use crate::telemetry::LogFormat;

/// Everything the app needs to start. Built once from the environment; tests build it directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
    pub db_pool: PoolOptions,
    pub media_dir: PathBuf,
    /// Where pictures are kept: the folder under `media_dir`, or a bucket.
    pub media_store: MediaStore,
    /// A base URL (CDN, public bucket) that `<img src>` points at instead of `/media`.
    pub media_public_url: Option<String>,
    pub max_upload_bytes: usize,
    pub secret_key_file: PathBuf,
    /// The session key itself (`FOLIO_SECRET_KEY`), which takes the place of the file.
    pub secret_key: Option<SessionKey>,
    pub cookie_secure: bool,
    pub trusted_proxies: TrustedProxies,
    /// Where the Prometheus endpoint listens; off when `None`.
    pub metrics_bind: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// Where people reach the site (`https://example.org`), for absolute links in link
    /// previews; `None`: `http://` and the address the server listens on.
    pub public_url: Option<String>,
    /// Accounts one client address may create in an hour; 0 is no limit.
    pub signups_per_hour: u32,
    /// Pictures one account may send in an hour (form and API together); 0 is no limit.
    pub uploads_per_hour: u32,
    /// How mail is sent.
    pub mail: MailSettings,
    /// HTTP worker threads; `None` lets actix pick (one per core).
    pub workers: Option<usize>,
    /// How long an upload body may pause between chunks before it is cut off.
    pub upload_idle_timeout: Duration,
    /// How long a whole upload body may take.
    pub upload_deadline: Duration,
}

/// Where pictures are kept.
#[derive(Debug, Clone)]
pub enum MediaStore {
    /// `$FOLIO_MEDIA_DIR/profile_pics/`.
    Folder,
    /// `FOLIO_MEDIA_STORE=s3://BUCKET[/PREFIX]`.
    S3(S3Settings),
}

/// An S3-compatible bucket and how to reach it (the standard `AWS_*` variables).
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix without leading or trailing slashes; empty for none.
    pub prefix: String,
    /// `AWS_ENDPOINT_URL`: a non-AWS service (MinIO, s3s-fs, R2…); AWS itself when unset.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
    /// `AWS_ALLOW_HTTP=true`: an endpoint without TLS.
    pub allow_http: bool,
}

impl S3Settings {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub fn parse_location(text: &str) -> Result<(String, String), String> {
        let rest = text
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| format!("'{text}' is not s3://BUCKET or s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if !bucket_ok {
            return Err(format!(
                "'{bucket}' is not a bucket name (3-63 characters of a-z 0-9 . -)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
        {
            return Err(format!("'{prefix}' is not a key prefix"));
        }
        Ok((bucket.to_owned(), prefix.to_owned()))
    }
}

/// `http(s)://host[:port]`, with nothing after the host but an optional `/`: every link Folio
/// writes starts at the site's root. Returned without the trailing slash.
fn parse_public_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then(|| String::from(url).trim_end_matches('/').to_owned())
}

/// A session key of at least 64 bytes, as `FOLIO_SECRET_KEY` gives it (base64). Debug output
/// never shows it.
#[derive(Clone)]
pub struct SessionKey(SecretString);

impl SessionKey {
    pub const MIN_BYTES: usize = 64;

    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = decode_base64(text.trim()).ok_or("is not base64")?;
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!(
                "is {} bytes; it must be at least {} (e.g. openssl rand -base64 64)",
                bytes.len(),
                Self::MIN_BYTES
            ));
        }
        Ok(Self(SecretString::from(text.trim().to_owned())))
    }

    pub fn bytes(&self) -> Vec<u8> {
        decode_base64(self.0.expose_secret()).unwrap_or_default()
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([REDACTED])")
    }
}

/// Standard or URL-safe alphabet, padded or not, line breaks allowed (as `openssl rand
/// -base64 64` prints it).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

/// A setting that cannot be used; its `Display` is the one line shown at start.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct SettingError {
    pub name: &'static str,
    pub message: String,
}

/// Error causes (libpq's among them) may span lines; what a setting's error prints is one.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
  DATABASE_URL            SQLite file path, or postgres://user:pass@host/db [default: folio.db]
  FOLIO_MEDIA_DIR         uploaded pictures go to $FOLIO_MEDIA_DIR/profile_pics [default: media]
  FOLIO_MEDIA_STORE       s3://BUCKET[/PREFIX]: pictures in an S3-compatible bucket instead, reached
                          with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
                          AWS_SECRET_ACCESS_KEY (AWS_ALLOW_HTTP=true for plain http) [default: unset]
  FOLIO_MEDIA_PUBLIC_URL  base URL (CDN or public bucket) that <img src> points at instead of
                          /media [default: unset]
  FOLIO_MAX_UPLOAD_BYTES  largest accepted picture file [default: 5242880]
  FOLIO_SECRET_KEY_FILE   key that signs session cookies, created on first start [default: folio.key]
  FOLIO_SECRET_KEY        the session key itself (base64, at least 64 bytes), for instances
                          that share no disk; takes the place of FOLIO_SECRET_KEY_FILE
  FOLIO_COOKIE_SECURE     true behind HTTPS: Secure cookies with the __Host- prefix [default: false]
  FOLIO_TRUSTED_PROXIES   comma-separated addresses or CIDR ranges of the load balancers whose
                          X-Forwarded-For and X-Forwarded-Proto are believed [default: none]
  FOLIO_METRICS_BIND      address of the Prometheus endpoint (GET /metrics) [default: off]
  FOLIO_LOG_FORMAT        text or json (one object per line) [default: text]
  FOLIO_PUBLIC_URL        the address people reach the site at, for absolute links in link
                          previews [default: http:// and FOLIO_BIND]
  FOLIO_SIGNUPS_PER_HOUR  accounts one client address may create in an hour; 0: no limit [default: 20]
  FOLIO_UPLOADS_PER_HOUR  pictures one account may send in an hour, through the form and the
                          API together; 0: no limit [default: 30]
  FOLIO_SMTP_URL          smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://...:
                          the mail server [default: unset: mails are written as .eml files]
  FOLIO_MAIL_FROM         the sender of every mail [default: Folio <folio@localhost>]
  FOLIO_MAIL_DIR          where mails are written without FOLIO_SMTP_URL [default: mail]
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

        let database =
            DatabaseUrl::parse(&get("DATABASE_URL").unwrap_or_else(|| "folio.db".into()))
                .map_err(|e| SettingError::new("DATABASE_URL", e))?;

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

        let media_store = match get("FOLIO_MEDIA_STORE") {
            None => MediaStore::Folder,
            Some(text) => {
                let (bucket, prefix) = S3Settings::parse_location(&text)
                    .map_err(|e| SettingError::new("FOLIO_MEDIA_STORE", e))?;
                let allow_http = match get("AWS_ALLOW_HTTP").map(|v| v.trim().to_ascii_lowercase())
                {
                    None => false,
                    Some(v) if v == "true" || v == "1" => true,
                    Some(v) if v == "false" || v == "0" => false,
                    Some(v) => {
                        return Err(SettingError::new(
                            "AWS_ALLOW_HTTP",
                            format!("'{v}' is neither true nor false"),
                        ));
                    }
                };
                MediaStore::S3(S3Settings {
                    bucket,
                    prefix,
                    endpoint: get("AWS_ENDPOINT_URL")
                        .map(|v| v.trim().trim_end_matches('/').to_owned()),
                    region: get("AWS_REGION")
                        .or_else(|| get("AWS_DEFAULT_REGION"))
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: get("AWS_ACCESS_KEY_ID"),
                    secret_access_key: get("AWS_SECRET_ACCESS_KEY").map(SecretString::from),
                    session_token: get("AWS_SESSION_TOKEN").map(SecretString::from),
                    allow_http,
                })
            }
        };

        let media_public_url = get("FOLIO_MEDIA_PUBLIC_URL")
            .map(|text| {
                let base = text.trim().trim_end_matches('/');
                let ok = (base.starts_with("https://") || base.starts_with("http://"))
                    && base.len() > "https://".len()
                    && !base.contains(['?', '#', '"', '\'', '<', '>', ';', ','])
                    && !base.contains(char::is_whitespace);
                if ok {
                    Ok(base.to_owned())
                } else {
                    Err(SettingError::new(
                        "FOLIO_MEDIA_PUBLIC_URL",
                        format!(
                            "'{text}' is not an http(s) base URL like https://cdn.example.org/folio"
                        ),
                    ))
                }
            })
            .transpose()?;

        let public_url = get("FOLIO_PUBLIC_URL")
            .map(|text| {
                parse_public_url(&text).ok_or_else(|| {
                    SettingError::new(
                        "FOLIO_PUBLIC_URL",
                        format!("'{text}' is not a site address like https://example.org"),
                    )
                })
            })
            .transpose()?;

        let signups_text = get("FOLIO_SIGNUPS_PER_HOUR").unwrap_or_else(|| "20".into());
        let signups_per_hour = signups_text.trim().parse::<u32>().map_err(|_| {
            SettingError::new(
                "FOLIO_SIGNUPS_PER_HOUR",
                format!("'{signups_text}' is not a number of accounts (0 for no limit)"),
            )
        })?;

        let uploads_text = get("FOLIO_UPLOADS_PER_HOUR").unwrap_or_else(|| "30".into());
        let uploads_per_hour = uploads_text.trim().parse::<u32>().map_err(|_| {
            SettingError::new(
                "FOLIO_UPLOADS_PER_HOUR",
                format!("'{uploads_text}' is not a number of pictures (0 for no limit)"),
            )
        })?;

        let mail = MailSettings {
            smtp: get("FOLIO_SMTP_URL")
                .map(|text| SmtpUrl::parse(&text))
                .transpose()
                .map_err(|e| SettingError::new("FOLIO_SMTP_URL", e))?,
            from: MailSettings::parse_from(
                &get("FOLIO_MAIL_FROM").unwrap_or_else(|| "Folio <folio@localhost>".into()),
            )
            .map_err(|e| SettingError::new("FOLIO_MAIL_FROM", e))?,
            dir: get("FOLIO_MAIL_DIR")
                .unwrap_or_else(|| "mail".into())
                .into(),
            outbox: OutboxOptions::default(),
        };

        let secret_key = get("FOLIO_SECRET_KEY")
            .map(|text| SessionKey::parse(&text))
            .transpose()
            .map_err(|e| SettingError::new("FOLIO_SECRET_KEY", e))?;

        let trusted_proxies =
            TrustedProxies::parse(&get("FOLIO_TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|e| SettingError::new("FOLIO_TRUSTED_PROXIES", e))?;

        let metrics_bind = get("FOLIO_METRICS_BIND")
            .map(|text| {
                text.trim().parse::<SocketAddr>().map_err(|_| {
                    SettingError::new(
                        "FOLIO_METRICS_BIND",
                        format!("'{text}' is not an address like 127.0.0.1:9090"),
                    )
                })
            })
            .transpose()?;

        let log_format = match get("FOLIO_LOG_FORMAT").map(|v| v.trim().to_ascii_lowercase()) {
            None => LogFormat::Text,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) => {
                return Err(SettingError::new(
                    "FOLIO_LOG_FORMAT",
                    format!("'{v}' is neither text nor json"),
                ));
            }
        };

        Ok(Self {
            bind,
            database,
            db_pool: PoolOptions::default(),
            media_dir: get("FOLIO_MEDIA_DIR")
                .unwrap_or_else(|| "media".into())
                .into(),
            media_store,
            media_public_url,
            max_upload_bytes,
            secret_key_file: get("FOLIO_SECRET_KEY_FILE")
                .unwrap_or_else(|| "folio.key".into())
                .into(),
            secret_key,
            cookie_secure,
            trusted_proxies,
            metrics_bind,
            log_format,
            public_url,
            signups_per_hour,
            uploads_per_hour,
            mail,
            workers: None,
            upload_idle_timeout: Duration::from_secs(20),
            upload_deadline: Duration::from_secs(120),
        })
    }

    /// The folder of pictures when they are kept in a folder.
    pub fn profile_pics_dir(&self) -> PathBuf {
        self.media_dir.join("profile_pics")
    }
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
        assert!(
            matches!(&s.database, DatabaseUrl::Sqlite(p) if p == &PathBuf::from("folio.db")),
            "{:?}",
            s.database
        );
        assert!(s.secret_key.is_none());
        assert!(s.trusted_proxies.is_empty());
        assert!(s.metrics_bind.is_none());
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.media_dir, PathBuf::from("media"));
        assert_eq!(s.max_upload_bytes, 5 * 1024 * 1024);
        assert_eq!(s.secret_key_file, PathBuf::from("folio.key"));
        assert!(!s.cookie_secure);
        assert_eq!(s.public_url, None);
        assert_eq!(s.signups_per_hour, 20);
        assert_eq!(s.uploads_per_hour, 30);
    }

    #[test]
    fn public_urls_are_site_roots() {
        for (text, want) in [
            ("https://example.org", "https://example.org"),
            ("https://Example.org/", "https://example.org"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ] {
            let s = settings(&[("FOLIO_PUBLIC_URL", text)]).expect(text);
            assert_eq!(s.public_url.as_deref(), Some(want));
        }
        let s = settings(&[("FOLIO_SIGNUPS_PER_HOUR", "0")]).expect("0 is no limit");
        assert_eq!(s.signups_per_hour, 0);
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (name, value) in [
            ("FOLIO_BIND", "localhost"),
            ("FOLIO_MAX_UPLOAD_BYTES", "5MB"),
            ("FOLIO_MAX_UPLOAD_BYTES", "0"),
            ("FOLIO_COOKIE_SECURE", "maybe"),
            ("DATABASE_URL", "postgres:folio.db"),
            ("DATABASE_URL", "mysql://u@h/db"),
            ("DATABASE_URL", ":memory:"),
            ("FOLIO_SECRET_KEY", "c2hvcnQ="),
            ("FOLIO_SECRET_KEY", "not base64!"),
            ("FOLIO_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("FOLIO_METRICS_BIND", "9090"),
            ("FOLIO_LOG_FORMAT", "xml"),
            ("FOLIO_PUBLIC_URL", "example.org"),
            ("FOLIO_PUBLIC_URL", "ftp://example.org"),
            ("FOLIO_PUBLIC_URL", "https://example.org/folio"),
            ("FOLIO_PUBLIC_URL", "https://example.org/?x=1"),
            ("FOLIO_SIGNUPS_PER_HOUR", "-1"),
            ("FOLIO_UPLOADS_PER_HOUR", "many"),
            ("FOLIO_SIGNUPS_PER_HOUR", "lots"),
            ("FOLIO_MEDIA_STORE", "gs://bucket"),
            ("FOLIO_MEDIA_STORE", "s3://"),
            ("FOLIO_MEDIA_STORE", "s3://Not_A_Bucket"),
            ("FOLIO_MEDIA_STORE", "s3://bucket/a/../b"),
            ("FOLIO_MEDIA_PUBLIC_URL", "cdn.example.org"),
            ("FOLIO_MEDIA_PUBLIC_URL", "javascript:alert(1)"),
            (
                "FOLIO_MEDIA_PUBLIC_URL",
                "https://cdn.example.org; script-src *",
            ),
        ] {
            let err = settings(&[(name, value)]).expect_err(value);
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn sqlite_prefixes_are_accepted() {
        let s = settings(&[("DATABASE_URL", "sqlite://data/f.db")]).expect("valid");
        assert!(matches!(&s.database, DatabaseUrl::Sqlite(p) if p == &PathBuf::from("data/f.db")));
        let s = settings(&[("FOLIO_COOKIE_SECURE", "TRUE"), ("FOLIO_BIND", "0.0.0.0:0")])
            .expect("valid");
        assert!(s.cookie_secure);
        assert_eq!(s.bind.port(), 0);
    }

    #[test]
    fn instance_settings_are_read() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let s = settings(&[
            ("DATABASE_URL", "postgresql://folio:pw@db/folio"),
            ("FOLIO_SECRET_KEY", &key),
            ("FOLIO_TRUSTED_PROXIES", "10.0.0.0/8,::1"),
            ("FOLIO_METRICS_BIND", "127.0.0.1:9090"),
            ("FOLIO_LOG_FORMAT", "JSON"),
        ])
        .expect("valid");
        assert!(s.database.is_postgres());
        assert_eq!(
            s.secret_key.as_ref().map(SessionKey::bytes),
            Some(vec![7u8; 64])
        );
        assert!(
            !format!("{s:?}").contains(&key),
            "the key stays out of Debug"
        );
        assert!(
            !format!("{s:?}").contains("pw@"),
            "the password stays out of Debug"
        );
        assert!(!s.trusted_proxies.is_empty());
        assert_eq!(s.metrics_bind.map(|a| a.port()), Some(9090));
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn the_media_store_is_a_folder_or_a_bucket() {
        assert!(matches!(
            settings(&[]).expect("valid").media_store,
            MediaStore::Folder
        ));
        let s = settings(&[
            ("FOLIO_MEDIA_STORE", "s3://folio-pics/site/a/"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_ALLOW_HTTP", "true"),
            ("FOLIO_MEDIA_PUBLIC_URL", "https://cdn.example.org/folio/"),
        ])
        .expect("valid");
        let MediaStore::S3(s3) = &s.media_store else {
            panic!("{:?}", s.media_store);
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("folio-pics", "site/a")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.allow_http);
        assert!(
            !format!("{s:?}").contains("very-secret"),
            "secrets stay out of Debug"
        );
        assert_eq!(
            s.media_public_url.as_deref(),
            Some("https://cdn.example.org/folio")
        );
        let (bucket, prefix) = S3Settings::parse_location("s3://pics").expect("valid");
        assert_eq!((bucket.as_str(), prefix.as_str()), ("pics", ""));
    }
}
