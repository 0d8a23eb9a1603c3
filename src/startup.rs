//! Builds the application from settings: storage, key, listener, middleware and routes.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use actix_session::SessionMiddleware;
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, Condition, DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::auth::{
    DbSessionStore, IDLE_TIMEOUT_SECS, Passwords, PrivateCookies, reject_cross_site,
};
use crate::avatar::{Avatars, Limits, PictureStore, PictureUrls};
use crate::compress::vary_on_encoding;
use crate::config::{MediaStore, SettingError, Settings, one_line};
use crate::db::Db;
use crate::directory::CursorKey;
use crate::error::{catch_session_errors, release_error_slot};
use crate::error_pages::error_pages;
use crate::head::head_as_get;
use crate::mail::{Letters, Outbox, Transport};
use crate::metrics;
use crate::routes::{self, UploadConfig};
use crate::static_files;
use crate::telemetry::RequestSpan;

/// No inline script or style; images only from here (and `data:`/`blob:` for previews, and
/// the origin of `FOLIO_MEDIA_PUBLIC_URL` when pictures are served from there); our own
/// scripts may talk to this origin only (the picture form's upload with progress).
fn content_security_policy(media_public_url: Option<&str>) -> String {
    let media_origin = media_public_url
        .and_then(|url| {
            let (scheme, rest) = url.split_once("://")?;
            let host = rest.split('/').next()?;
            Some(format!(" {scheme}://{host}"))
        })
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{media_origin}; connect-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

pub struct Application {
    port: u16,
    server: Server,
    metrics_port: Option<u16>,
    metrics_server: Option<Server>,
}

impl Application {
    /// Opens everything the settings name and binds the listener. Each failure names the
    /// setting at fault.
    pub async fn build(settings: Settings) -> Result<Self, SettingError> {
        let db = Db::open_with(&settings.database, settings.db_pool)
            .map_err(|e| SettingError::new("DATABASE_URL", one_line(&format!("{e:#}"))))?;
        let store = open_store(&settings).await?;
        let key = match &settings.secret_key {
            Some(key) => Key::try_from(key.bytes().as_slice())
                .map_err(|e| SettingError::new("FOLIO_SECRET_KEY", e.to_string()))?,
            None => load_or_create_key(&settings.secret_key_file).map_err(|e| {
                SettingError::new(
                    "FOLIO_SECRET_KEY_FILE",
                    format!("'{}': {e}", settings.secret_key_file.display()),
                )
            })?,
        };
        let listener = TcpListener::bind(settings.bind).map_err(|e| {
            SettingError::new(
                "FOLIO_BIND",
                format!("cannot listen on {}: {e}", settings.bind),
            )
        })?;
        let address = listener
            .local_addr()
            .map_err(|e| SettingError::new("FOLIO_BIND", e.to_string()))?;

        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let passwords =
            Passwords::new(cores).map_err(|e| SettingError::new("startup", format!("{e:#}")))?;
        // One picture more than cores: the cores stay busy while a finished upload writes its
        // file and the next one is handed the permit. Measured with examples/loadtest on 2
        // cores: 12 MP uploads 56 -> 60/s, p99 unchanged, peak RSS +3 MB.
        let avatars = Avatars::new(store, cores + 1, Limits::default());
        let upload = UploadConfig {
            max_bytes: settings.max_upload_bytes,
            idle_timeout: settings.upload_idle_timeout,
            deadline: settings.upload_deadline,
        };
        let (metrics_port, metrics_server) = match settings.metrics_bind {
            None => (None, None),
            Some(bind) => {
                let fail = |e: String| SettingError::new("FOLIO_METRICS_BIND", e);
                let listener = TcpListener::bind(bind)
                    .map_err(|e| fail(format!("cannot listen on {bind}: {e}")))?;
                let port = listener
                    .local_addr()
                    .map_err(|e| fail(e.to_string()))?
                    .port();
                let server =
                    metrics::serve(listener, db.clone()).map_err(|e| fail(format!("{e:#}")))?;
                tracing::info!("metrics on http://{}:{port}/metrics", bind.ip());
                (Some(port), Some(server))
            }
        };
        let transport = open_mail(&settings)?;
        let server = serve(
            listener, db, avatars, passwords, upload, key, transport, &settings,
        )
        .map_err(|e| SettingError::new("FOLIO_BIND", e.to_string()))?;
        tracing::info!("database {}", settings.database.describe());
        // Scripts wait for this line and read the address at its end: keep it last.
        tracing::info!("listening on http://{address}");
        Ok(Self {
            port: address.port(),
            server,
            metrics_port,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics endpoint, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// For stopping the server from outside (tests; SIGTERM/SIGINT are handled already).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server stops (a signal or [`Application::handle`]); the metrics
    /// endpoint stops with it.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let Some(metrics) = self.metrics_server else {
            return self.server.await;
        };
        let metrics_handle = metrics.handle();
        let main = async {
            let result = self.server.await;
            metrics_handle.stop(true).await;
            result
        };
        let (result, _) = futures_util::future::join(main, metrics).await;
        result
    }
}

/// Where mail goes: the SMTP server of `FOLIO_SMTP_URL`, or `.eml` files in `FOLIO_MAIL_DIR`.
fn open_mail(settings: &Settings) -> Result<Transport, SettingError> {
    let mail = &settings.mail;
    match &mail.smtp {
        Some(url) => {
            let transport =
                Transport::smtp(url).map_err(|e| SettingError::new("FOLIO_SMTP_URL", e))?;
            tracing::info!("mail through {}", url.describe());
            Ok(transport)
        }
        None => {
            let transport = Transport::files(&mail.dir).map_err(|e| {
                SettingError::new(
                    "FOLIO_MAIL_DIR",
                    format!("cannot use '{}': {e}", mail.dir.display()),
                )
            })?;
            tracing::info!(
                "FOLIO_SMTP_URL is unset: mails are written as .eml files into {}",
                mail.dir.display()
            );
            Ok(transport)
        }
    }
}

// One argument per thing the server is made of; bundling them would only hide that.
#[allow(clippy::too_many_arguments)]
fn serve(
    listener: TcpListener,
    db: Db,
    avatars: Avatars,
    passwords: Passwords,
    upload: UploadConfig,
    key: Key,
    transport: Transport,
    settings: &Settings,
) -> io::Result<Server> {
    let address = listener.local_addr()?;
    if settings.public_url.is_none() && address.ip().is_unspecified() {
        tracing::warn!(
            "FOLIO_PUBLIC_URL is unset: link previews and mailed links will name \
             http://{address}; set it to the address people reach the site at"
        );
    }
    let site = routes::Site {
        public_url: match &settings.public_url {
            Some(url) => url.clone(),
            // Browsers refuse WebAuthn on an IP address, and treat localhost as secure: on the
            // loopback bind, passkeys work as the site is started.
            None if address.ip().is_loopback() => format!("http://localhost:{}", address.port()),
            None => format!("http://{address}"),
        },
        signups_per_hour: settings.signups_per_hour,
    };
    let cookie_secure = settings.cookie_secure;
    let metrics_on = settings.metrics_bind.is_some();
    let csp = content_security_policy(settings.media_public_url.as_deref());
    let proxies = web::Data::new(settings.trusted_proxies.clone());
    let urls = web::Data::new(PictureUrls::new(settings.media_public_url.as_deref()));
    let db = web::Data::new(db);
    let ops = web::Data::new(crate::ops::Context {
        db: db.get_ref().clone(),
        avatars: avatars.clone(),
        uploads_per_hour: settings.uploads_per_hour,
        sealer: crate::auth::Sealer::derive(key.master(), "totp secret"),
        walks: std::sync::Arc::new(crate::db::members::RecentWalks::new(4096)),
    });
    let libravatar = web::Data::new(crate::libravatar::Libravatar::new(
        db.get_ref().clone(),
        avatars.clone(),
    ));
    let avatars = web::Data::new(avatars);
    let passwords = web::Data::new(passwords);
    let upload = web::Data::new(upload);
    let relying = web::Data::new(crate::ops::passkeys::Relying::new(&site.public_url));
    let site = web::Data::new(site);
    let cursors = web::Data::new(CursorKey::derive(key.master()));
    let api_document = web::Data::new(
        api::Document::build(&site.public_url)
            .map_err(|e| io::Error::other(format!("the API's document: {e}")))?,
    );
    let api_links = web::Data::new(api::Links {
        site: site.get_ref().clone(),
        urls: urls.get_ref().clone(),
    });
    let private_cookies = web::Data::new(PrivateCookies::new(key.clone(), cookie_secure));
    let outbox = web::Data::new(Outbox::start(
        db.get_ref().clone(),
        transport,
        Letters::new(settings.mail.from.clone(), &site.public_url),
        settings.mail.from.clone(),
        settings.mail.outbox,
    )?);

    static_files::prepare();
    let mut server = HttpServer::new(move || {
        let sessions =
            SessionMiddleware::builder(DbSessionStore::new(db.get_ref().clone()), key.clone())
                // `__Host-` binds the cookie to this host over HTTPS: only valid with Secure.
                .cookie_name(
                    if cookie_secure {
                        "__Host-folio_session"
                    } else {
                        "folio_session"
                    }
                    .into(),
                )
                .cookie_secure(cookie_secure)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".into())
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(CookieDuration::seconds(IDLE_TIMEOUT_SECS))
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                )
                .build();

        App::new()
            .wrap(from_fn(head_as_get))
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", csp.as_str()))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("X-Frame-Options", "DENY")),
            )
            .wrap(ErrorHandlers::new().default_handler(error_pages))
            // Outside the error pages, which give bodies that it then compresses.
            .wrap(Compress::default())
            .wrap(from_fn(vary_on_encoding))
            .wrap(Condition::new(metrics_on, from_fn(metrics::track_requests)))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(proxies.clone())
            .app_data(urls.clone())
            .app_data(db.clone())
            .app_data(avatars.clone())
            .app_data(libravatar.clone())
            .app_data(ops.clone())
            .app_data(passwords.clone())
            .app_data(upload.clone())
            .app_data(site.clone())
            .app_data(relying.clone())
            .app_data(cursors.clone())
            .app_data(private_cookies.clone())
            .app_data(outbox.clone())
            .app_data(api_document.clone())
            .app_data(api_links.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(16 * 1024)
                    .error_handler(|err, _| {
                        actix_web::error::InternalError::from_response(
                            err,
                            HttpResponse::BadRequest().finish(),
                        )
                        .into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                actix_web::error::InternalError::from_response(
                    err,
                    HttpResponse::BadRequest().finish(),
                )
                .into()
            }))
            // Files and the health check need no session: served before the session
            // middleware, which would need the database to read a cookie's session.
            .route("/healthz", web::get().to(routes::healthz))
            .route("/static/{file}", web::get().to(static_files::serve))
            .route(
                "/media/profile_pics/{name}",
                web::get().to(routes::serve_picture),
            )
            .route("/avatars/{file}", web::get().to(routes::initials_avatar))
            // Libravatar and Gravatar: other sites ask for members' pictures by address.
            .route("/avatar/{hash}", web::get().to(routes::libravatar_avatar))
            // The API reads no session: a cookie never authenticates it.
            .configure(api::mount)
            .service(
                web::scope("")
                    .wrap(from_fn(release_error_slot))
                    .wrap(sessions)
                    .wrap(from_fn(reject_cross_site))
                    .wrap(from_fn(catch_session_errors))
                    .configure(routes::configure)
                    .route("/api/docs", web::get().to(api::docs_page)),
            )
            .default_service(web::to(routes::not_found))
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The picture store the settings name, checked: a folder that takes files, or a bucket that
/// exists and accepts the credentials.
pub async fn open_store(settings: &Settings) -> Result<PictureStore, SettingError> {
    let (setting, store) = match &settings.media_store {
        MediaStore::Folder => (
            "FOLIO_MEDIA_DIR",
            PictureStore::folder(&settings.media_dir).map_err(|e| {
                SettingError::new(
                    "FOLIO_MEDIA_DIR",
                    format!("cannot use '{}': {e}", settings.media_dir.display()),
                )
            })?,
        ),
        MediaStore::S3(s3) => (
            "FOLIO_MEDIA_STORE",
            PictureStore::s3(s3)
                .map_err(|e| SettingError::new("FOLIO_MEDIA_STORE", one_line(&e.to_string())))?,
        ),
    };
    store
        .check()
        .await
        .map_err(|e| SettingError::new(setting, one_line(&e)))?;
    tracing::info!("pictures in {}", store.describe());
    Ok(store)
}

/// The cookie key: 64 random bytes kept as hex in a file made on first start (mode 0600), so
/// sessions survive a restart. Instances starting at the same moment on a shared folder all
/// end up with the one key that was published first: each writes its own key completely under
/// a temporary name and links it into place, which fails if another got there before.
fn load_or_create_key(path: &Path) -> io::Result<Key> {
    match read_key(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let key = Key::generate();
    let hex: String = key.master().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let temp = std::path::PathBuf::from(temp);
    let published = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(hex.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::hard_link(&temp, path)
    })();
    let _ = fs::remove_file(&temp);
    match published {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new session key");
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e),
    }
}

fn read_key(path: &Path) -> io::Result<Key> {
    let text = fs::read_to_string(path)?;
    parse_key(text.trim()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "not a Folio key (128 hex digits); delete it to make a new one",
        )
    })
}

fn parse_key(hex: &str) -> Option<Key> {
    if hex.len() != 128 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..64)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    Key::try_from(bytes?.as_slice()).ok()
}
