//! `spawn_app()` and a browser-like client: keeps cookies, does not follow redirects.
//!
//! The same tests run on both backends: `tests/api` on SQLite, `tests/postgres` on a database
//! of its own in a throwaway PostgreSQL cluster (`tests/common/postgres.rs`). The test binary
//! says which through `crate::BACKEND`.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use diesel::prelude::*;
use folio::avatar::PictureStore;
use folio::config::{MediaStore, S3Settings, Settings};
use folio::db::{DatabaseUrl, Db, PoolOptions};
use folio::startup::Application;
use object_store::ObjectStore;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Client, Response, StatusCode, multipart, redirect::Policy};
use tempfile::TempDir;

#[path = "../common/postgres.rs"]
pub mod postgres;
#[path = "../common/s3.rs"]
pub mod s3;
#[path = "../common/smtp.rs"]
pub mod smtp;

pub const PASSWORD: &str = "a-long-unusual-pass";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test binary's apps keep pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Folder,
    /// A bucket of its own on this binary's `s3s-fs` server.
    S3,
}

/// A fresh bucket on this test binary's S3 server, as the settings name it; `None` when
/// `s3s-fs` is not installed (said once).
pub fn fresh_bucket() -> Option<MediaStore> {
    let server = s3::shared()?;
    Some(bucket_settings(server, &server.create_bucket(), ""))
}

pub fn bucket_settings(server: &s3::S3Server, bucket: &str, prefix: &str) -> MediaStore {
    MediaStore::S3(S3Settings {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        endpoint: Some(server.endpoint()),
        region: "us-east-1".into(),
        access_key_id: Some(s3::ACCESS_KEY.into()),
        secret_access_key: Some(s3::SECRET_KEY.into()),
        session_token: None,
        allow_http: true,
    })
}

/// Runs `future` to completion on a thread of its own, for the synchronous helpers below that
/// must talk to the bucket from inside a test's runtime.
fn block_on<F: std::future::Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(future)
            })
            .join()
            .expect("helper thread")
    })
}

/// A test's own PostgreSQL database, dropped when the last app using it goes.
pub struct PgDatabase {
    pub cluster: &'static postgres::Cluster,
    pub name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.cluster.drop_database(&self.name);
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The Prometheus endpoint's port, when the settings turned it on.
    pub metrics_port: Option<u16>,
    /// The browser: keeps cookies, never follows redirects.
    pub client: Client,
    pub jar: Arc<Jar>,
    pub settings: Settings,
    handle: ServerHandle,
    /// Database, media folder and key live here; removed when the app is dropped.
    pub dir: Arc<TempDir>,
    pub backend: Backend,
    /// The PostgreSQL database, when the backend is PostgreSQL.
    pub database: Option<Arc<PgDatabase>>,
    /// The tests' own handle on the database, opened on first use.
    db: Arc<OnceLock<Db>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with a chance to change settings first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let database = match crate::BACKEND {
        Backend::Sqlite => None,
        Backend::Postgres => Some(Arc::new(fresh_pg_database())),
    };
    let mut settings = test_settings(&dir, database.as_deref());
    if crate::STORE == Store::S3 {
        // Without s3s-fs the whole S3 test binary has nothing to run (said in one line).
        let Some(bucket) = fresh_bucket() else {
            std::process::exit(0);
        };
        settings.media_store = bucket;
    }
    customize(&mut settings);
    start(settings, dir, Arc::new(Jar::default()), database).await
}

/// An app that sends its mail to a real SMTP server of its own on loopback.
pub async fn spawn_app_with_mail() -> (TestApp, smtp::MailServer) {
    let server = smtp::MailServer::start();
    let url = folio::mail::SmtpUrl::parse(&server.url()).expect("an SMTP URL");
    let app = spawn_app_with(|s| s.mail.smtp = Some(url)).await;
    (app, server)
}

/// A new database in this test binary's PostgreSQL cluster. Without PostgreSQL installed the
/// whole PostgreSQL test binary has nothing to run: it has said so in one line (see
/// `postgres::shared`) and ends here, successfully, rather than fail every test.
pub fn fresh_pg_database() -> PgDatabase {
    let Some(cluster) = postgres::shared() else {
        std::process::exit(0);
    };
    PgDatabase {
        name: cluster.create_database(),
        cluster,
    }
}

/// Settings of a test app: a free port and everything in `dir` (or in `database`).
pub fn test_settings(dir: &TempDir, database: Option<&PgDatabase>) -> Settings {
    let mut settings = Settings::from_lookup(|_| None).expect("default settings");
    settings.bind = "127.0.0.1:0".parse().expect("address");
    settings.database = match database {
        None => DatabaseUrl::Sqlite(dir.path().join("folio.db")),
        Some(db) => DatabaseUrl::parse(&db.cluster.url(&db.name)).expect("a PostgreSQL URL"),
    };
    // Short waits, so that tests of an unreachable database answer quickly.
    settings.db_pool = PoolOptions {
        max_size: 8,
        connection_timeout: Duration::from_secs(2),
    };
    settings.media_dir = dir.path().join("media");
    settings.secret_key_file = dir.path().join("folio.key");
    settings.workers = Some(2);
    // Tests register many accounts from one address; the throttle's own tests turn it on.
    settings.signups_per_hour = 0;
    settings.uploads_per_hour = 0;
    // Without a mail server, mails are files here; retries come quickly.
    settings.mail.dir = dir.path().join("mail");
    settings.mail.outbox = folio::mail::OutboxOptions {
        retry_base: Duration::from_secs(1),
        poll: Duration::from_millis(200),
    };
    settings
}

async fn start(
    settings: Settings,
    dir: Arc<TempDir>,
    jar: Arc<Jar>,
    database: Option<Arc<PgDatabase>>,
) -> TestApp {
    // AVIF is decoded in a child process: the folio binary cargo built for these tests.
    folio::avatar::isolated::set_helper(env!("CARGO_BIN_EXE_folio").into());
    let app = Application::build(settings.clone())
        .await
        .expect("the app starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        client: browser(jar.clone()),
        jar,
        settings,
        handle,
        dir,
        backend: crate::BACKEND,
        database,
        db: Arc::new(OnceLock::new()),
    }
}

/// Connections idle for a second are not reused: the server closes them after 5 s (actix's
/// keep-alive), and a request sent on one it is closing that moment fails (hyper does not retry
/// as browsers do). On a loaded machine a test's pause can come near those 5 s.
const POOL_IDLE: Duration = Duration::from_secs(1);

pub fn browser(jar: Arc<Jar>) -> Client {
    Client::builder()
        .cookie_provider(jar)
        .redirect(Policy::none())
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .expect("client")
}

/// The value of the first hidden `csrf_token` field in a page.
pub fn csrf_token(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("the page has a csrf_token field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// The text of `<code id="new-token">`, if the page shows one.
pub fn shown_token(html: &str) -> Option<String> {
    let start = html.find(r#"id="new-token""#)?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(text[..text.find("</code>")?].trim().to_owned())
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The site's own address for `path` as it writes it in mails and link previews: without
    /// `FOLIO_PUBLIC_URL`, `localhost` and the port it listens on.
    pub fn public_url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.address.replacen("127.0.0.1", "localhost", 1)
        )
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The token of the form shown on `page` (fetching it as a browser would).
    pub async fn token_from(&self, page: &str) -> String {
        csrf_token(&self.get_html(page).await)
    }

    /// Posts `fields` as a form, exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Fetches `page`, takes its token and posts `fields` with it to `path`.
    pub async fn submit(&self, page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.token_from(page).await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Response {
        self.submit(
            "/register",
            "/register",
            &[
                ("username", username),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
    }

    /// Registers `username` (logged in afterwards) with `PASSWORD` and `<name>@example.com`.
    pub async fn sign_up(&self, username: &str) {
        let response = self
            .register(username, &format!("{username}@example.com"), PASSWORD)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "registering {username}"
        );
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("username", login), ("password", password)],
        )
        .await
    }

    /// Changes the password from the account page's form (new password typed twice).
    pub async fn change_password(&self, current: &str, new: &str) -> Response {
        self.submit(
            "/account",
            "/account/password",
            &[
                ("current_password", current),
                ("password", new),
                ("password_confirm", new),
            ],
        )
        .await
    }

    pub async fn logout(&self) -> Response {
        self.submit("/account", "/logout", &[]).await
    }

    /// Uploads `bytes` from the account page's form, the token first as a browser sends it.
    pub async fn upload_picture(&self, bytes: Vec<u8>, file_name: &str, mime: &str) -> Response {
        let token = self.token_from("/account").await;
        self.upload_with_token(&token, bytes, file_name, mime).await
    }

    pub async fn upload_with_token(
        &self,
        token: &str,
        bytes: Vec<u8>,
        file_name: &str,
        mime: &str,
    ) -> Response {
        let part = multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime)
            .expect("mime");
        let form = multipart::Form::new()
            .text("csrf_token", token.to_owned())
            .part("picture", part);
        self.client
            .post(self.url("/account/picture"))
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    /// Uploads `bytes` from the account page's form with more text fields (the chosen square).
    pub async fn upload_with_fields(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Response {
        let token = self.token_from("/account").await;
        let mut form = multipart::Form::new().text("csrf_token", token);
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        let part = multipart::Part::bytes(bytes)
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .expect("mime");
        self.client
            .post(self.url("/account/picture"))
            .multipart(form.part("picture", part))
            .send()
            .await
            .expect("upload")
    }

    /// Makes an access token of `scope` from the account page's card and reads it off the
    /// page after the 303, where it is shown once.
    pub async fn make_token(&self, scope: &str) -> String {
        let response = self
            .submit(
                "/account",
                "/account/tokens",
                &[
                    ("name", "a script"),
                    ("scope", scope),
                    ("expires_days", "30"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "token made");
        shown_token(&self.get_html("/account").await).expect("the new token is shown")
    }

    /// The session cookie as a `name=value` pair, to replay from another client.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.address.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find(|c| c.starts_with("folio_session=") || c.starts_with("__Host-folio_session="))
            .map(str::to_owned)
    }

    /// Another browser on the same server: same app, its own cookies.
    pub fn new_browser(&self) -> TestApp {
        let jar = Arc::new(Jar::default());
        TestApp {
            address: self.address.clone(),
            port: self.port,
            metrics_port: self.metrics_port,
            client: browser(jar.clone()),
            jar,
            settings: self.settings.clone(),
            handle: self.handle.clone(),
            dir: self.dir.clone(),
            backend: self.backend,
            database: self.database.clone(),
            db: self.db.clone(),
        }
    }

    /// Another browser on the same server, its own cookies, that names itself with
    /// `user_agent` on every request (as the sessions list shows it).
    pub fn new_browser_with_agent(&self, user_agent: &str) -> TestApp {
        let browser = self.new_browser();
        let client = Client::builder()
            .cookie_provider(browser.jar.clone())
            .redirect(Policy::none())
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(user_agent)
            .build()
            .expect("client");
        TestApp { client, ..browser }
    }

    /// A second browser, optionally starting with a given cookie.
    pub fn other_browser(&self, cookie: Option<&str>) -> (Client, Arc<Jar>) {
        let jar = Arc::new(Jar::default());
        if let Some(cookie) = cookie {
            jar.add_cookie_str(cookie, &self.address.parse().expect("url"));
        }
        (browser(jar.clone()), jar)
    }

    /// Stops this server and starts a new one on the same database, media folder and key,
    /// keeping the browser's cookies.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        self.another_instance().await
    }

    /// Another instance of the same site: the same database, media folder and key, its own
    /// port; the browser's cookies are shared (cookies do not tell ports apart), as behind a
    /// load balancer.
    pub async fn another_instance(&self) -> TestApp {
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().expect("address");
        start(
            settings,
            self.dir.clone(),
            self.jar.clone(),
            self.database.clone(),
        )
        .await
    }

    /// Stops this instance's server.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// The folder of pictures (a folder store's).
    pub fn pics_dir(&self) -> PathBuf {
        self.settings.profile_pics_dir()
    }

    /// The store the app uses, opened anew.
    pub fn store(&self) -> PictureStore {
        match &self.settings.media_store {
            MediaStore::Folder => PictureStore::folder(&self.settings.media_dir).expect("folder"),
            MediaStore::S3(s3) => PictureStore::s3(s3).expect("bucket"),
        }
    }

    /// The pictures in `profile_pics/` (or the bucket): each whole picture by its master's
    /// name (a master with the complete set of renditions an upload makes, or a master alone, as
    /// stored before renditions existed), and every other file by its own name, so a partial
    /// set, a lone rendition or a stray shows.
    pub fn picture_files(&self) -> BTreeSet<String> {
        whole_pictures(self.all_picture_files())
    }

    /// The exact set of files in `profile_pics/`, or of objects in the bucket (named from
    /// `profile_pics/` on; anything outside it by its whole key, so strays show too).
    pub fn all_picture_files(&self) -> BTreeSet<String> {
        match &self.settings.media_store {
            MediaStore::Folder => std::fs::read_dir(self.pics_dir())
                .expect("profile_pics exists")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect(),
            MediaStore::S3(s3) => {
                let bucket = raw_bucket(s3);
                let root = if s3.prefix.is_empty() {
                    "profile_pics/".to_owned()
                } else {
                    format!("{}/profile_pics/", s3.prefix)
                };
                block_on(async move {
                    use futures_util::StreamExt;
                    let mut names = BTreeSet::new();
                    let mut listing = bucket.list(None);
                    while let Some(meta) = listing.next().await {
                        let key = meta.expect("list the bucket").location.to_string();
                        names.insert(key.strip_prefix(&root).map_or(key.clone(), str::to_owned));
                    }
                    names
                })
            }
        }
    }

    /// The bytes stored under `name` in `profile_pics/`, read from the store itself.
    pub fn stored_bytes(&self, name: &str) -> Vec<u8> {
        match &self.settings.media_store {
            MediaStore::Folder => std::fs::read(self.pics_dir().join(name)).expect("read"),
            MediaStore::S3(s3) => {
                let (bucket, key) = (raw_bucket(s3), self.key_of(name));
                block_on(async move {
                    use object_store::ObjectStoreExt;
                    let got = bucket.get(&key).await.expect("get the object");
                    got.bytes().await.expect("its bytes").to_vec()
                })
            }
        }
    }

    /// Writes `bytes` under any `name` in `profile_pics/`, behind the app's back.
    pub fn put_raw(&self, name: &str, bytes: Vec<u8>) {
        match &self.settings.media_store {
            MediaStore::Folder => std::fs::write(self.pics_dir().join(name), bytes).expect("write"),
            MediaStore::S3(s3) => {
                let (bucket, key) = (raw_bucket(s3), self.key_of(name));
                block_on(async move {
                    use object_store::ObjectStoreExt;
                    bucket
                        .put(&key, bytes.into())
                        .await
                        .expect("put the object");
                });
            }
        }
    }

    /// Makes `name` in `profile_pics/` look `by` older. A bucket's objects take their time
    /// from s3s-fs's files, so those are aged.
    pub fn age(&self, name: &str, by: Duration) {
        let path = match &self.settings.media_store {
            MediaStore::Folder => self.pics_dir().join(name),
            MediaStore::S3(s3) => s3::shared()
                .expect("the S3 server")
                .bucket_dir(&s3.bucket)
                .join(self.key_of(name).to_string()),
        };
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {} to set its time: {e}", path.display()));
        file.set_modified(std::time::SystemTime::now() - by)
            .expect("set mtime");
    }

    fn key_of(&self, name: &str) -> object_store::path::Path {
        match &self.settings.media_store {
            MediaStore::S3(s3) if !s3.prefix.is_empty() => {
                format!("{}/profile_pics/{name}", s3.prefix).into()
            }
            _ => format!("profile_pics/{name}").into(),
        }
    }

    pub fn db(&self) -> Db {
        self.db
            .get_or_init(|| Db::open(&self.settings.database).expect("open the test database"))
            .clone()
    }

    /// The picture file the database points `username` at.
    pub fn picture_of(&self, name: &str) -> Option<String> {
        use folio::db::schema::users::dsl::*;
        let mut conn = self.db().conn().expect("conn");
        users
            .filter(username.eq(name))
            .select(picture)
            .first::<Option<String>>(&mut conn)
            .expect("user exists")
    }

    /// Every row of `users` as (username, email, password_hash, picture).
    pub fn users(&self) -> Vec<(String, String, String, Option<String>)> {
        use folio::db::schema::users::dsl::*;
        let mut conn = self.db().conn().expect("conn");
        users
            .order(id)
            .select((username, email, password_hash, picture))
            .load(&mut conn)
            .expect("users")
    }

    pub fn execute_sql(&self, sql: &str) {
        use diesel::connection::SimpleConnection;
        let mut conn = self.db().conn().expect("conn");
        conn.batch_execute(sql).expect("sql");
    }

    /// The first statement on SQLite, the second on PostgreSQL (triggers differ).
    pub fn execute_sql_for(&self, sqlite: &str, postgres: &str) {
        self.execute_sql(match self.backend {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        });
    }
}

/// The bucket itself, through a client of the tests' own (not the app's store).
fn raw_bucket(s3: &S3Settings) -> object_store::aws::AmazonS3 {
    use secrecy::ExposeSecret;
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_endpoint(s3.endpoint.as_deref().expect("an endpoint"))
        .with_access_key_id(s3.access_key_id.as_deref().expect("a key"))
        .with_secret_access_key(
            s3.secret_access_key
                .as_ref()
                .expect("a secret")
                .expose_secret(),
        )
        .with_allow_http(true)
        .build()
        .expect("a bucket client")
}

/// A PNG of one colour, for tests that need a picture but not its pixels.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Members straight into the database (no password hashing, no HTTP), oldest first: each
/// `(username, display name)`.
pub fn seed_members(app: &TestApp, members: &[(&str, Option<&str>)]) {
    use folio::db::users::{self, Registered, SignupLimit};
    use folio::domain::{AboutChange, DisplayName, Email, Username};
    let mut conn = app.db().conn().expect("conn");
    let limit = SignupLimit {
        client: "seed".into(),
        per_hour: 0,
    };
    for (name, display_name) in members {
        let username = Username::parse(name).expect("a valid username");
        let email = Email::parse(&format!("{name}@example.com")).expect("a valid email");
        let Ok(Registered::Created(user)) =
            users::insert(&mut conn, &username, &email, "$argon2id$seeded", &limit)
        else {
            panic!("seeding {name}");
        };
        if let Some(display_name) = display_name {
            let about = AboutChange {
                display_name: Some(DisplayName::parse(display_name).expect("a valid display name")),
                ..AboutChange::default()
            };
            users::update_about(&mut conn, user.id, &about).expect("display name");
        }
    }
}

/// The `@handles` a page of members lists, in order.
pub fn handles(html: &str) -> Vec<String> {
    html.split(r#"<span class="member-handle">@"#)
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_owned())
        .collect()
}

/// The address of an element's `href`, by the element's id, with HTML entities undone.
pub fn link_by_id(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!(r#"id="{id}""#))?;
    let tag_start = html[..start].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let href = tag.split(r#"href=""#).nth(1)?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

/// The `content` of a `<meta property=… >` or `<meta name=… >` tag.
pub fn meta(html: &str, key: &str) -> Option<String> {
    let start = html
        .find(&format!(r#"<meta property="{key}" content=""#))
        .or_else(|| html.find(&format!(r#"<meta name="{key}" content=""#)))?;
    let content = html[start..].split(r#"content=""#).nth(1)?;
    Some(content.split('"').next()?.to_owned())
}

/// `files` with each whole picture's files folded into its master's name (see
/// `TestApp::picture_files`).
pub fn whole_pictures(files: BTreeSet<String>) -> BTreeSet<String> {
    use folio::avatar::{PictureFile, Renditions, Variant};
    use std::collections::BTreeMap;
    let mut pictures: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for name in files {
        match PictureFile::parse(&name) {
            Some(file) => {
                pictures
                    .entry(file.picture.file_name())
                    .or_default()
                    .insert(name);
            }
            None => {
                out.insert(name);
            }
        }
    }
    for (master, names) in pictures {
        let picture = PictureFile::parse(&master)
            .expect("a master's name")
            .picture;
        let set = |r: Renditions| -> BTreeSet<String> {
            r.variants()
                .chain([Variant::MASTER])
                .map(|v| PictureFile::new(picture, v).file_name())
                .collect()
        };
        let whole = [
            Renditions::MasterOnly,
            Renditions::Standard,
            Renditions::Large,
        ]
        .into_iter()
        .any(|r| set(r) == names);
        if whole {
            out.insert(master);
        } else {
            out.extend(names);
        }
    }
    out
}
