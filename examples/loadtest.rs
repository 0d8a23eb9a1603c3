//! Load benchmark: starts the release build of Folio on a free port with a fresh data folder,
//! registers users, and reports uploads/s and latency of the 12 MP JPEG at concurrency 4,
//! profile-page requests/s at concurrency 16, the profile page's latency while 16 uploads of
//! the 24 MP JPEG run at once, and the server's peak RSS.
//!
//!     cargo build --release && cargo run --release --example loadtest [-- --seconds 10]
//!
//! `--database-url URL` (repeatable) runs the phases once per database, one after the other:
//! `sqlite` (the default) is a fresh SQLite file, `postgres://…` an existing PostgreSQL
//! database (empty or not: each run's user names are new). `--media-store VALUE` (repeatable)
//! does the same for the picture store: `folder` (the default) or `s3://BUCKET`, reached with
//! the `AWS_*` variables of this process's environment. `--uploads-only` skips the page and
//! burst phases.
//!
//! With `--peer http://127.0.0.1:8811 --peer-pid PID` the same phases also run against the
//! FastAPI + Pillow peer (its API: POST /users, PATCH /api/users/{id}/picture, GET /users/{id}),
//! so the figures can be compared as ratios taken in one run. Images come from
//! `FOLIO_BENCH_IMAGES` (a `make_images.py` folder) or are generated.
//!
//! `--api` compares Folio's two doors and the peer's API side by side, in one run: uploads of
//! the 12 MP JPEG at concurrency 4 through the form (`POST /account/picture`), through the API
//! (`PATCH /api/v1/me/picture` with a write token) and through the peer's API; reads at
//! concurrency 16 of `GET /api/v1/users/{username}`, the profile page and the peer's
//! `GET /api/users/{id}`; and what a bearer token costs: `GET /api/v1/me` with a read token
//! against the public `GET /api/v1/users/{username}` of the same member, at concurrency 1 and
//! 16. The cases of each comparison alternate (a, b, a, b), then a markdown table of the
//! figures and their ratios is printed.
//!
//!     cargo run --release --example loadtest -- --api --seconds 10 --peer URL --peer-pid PID
//!
//! `--directory [--members N]` benchmarks the member directory instead: it seeds N members
//! (default 1,000,000) straight into a fresh database, suspends every 100th of them (1%, as a
//! moderator would: an UPDATE of `suspended_at` and `suspension_reason`, so the directory must
//! skip them), runs `VACUUM ANALYZE` (PostgreSQL) or `VACUUM` and `ANALYZE` (SQLite), starts
//! Folio on it, and reports requests/s and latency at concurrency 16 of `/users`, the page
//! after 90% of N listed members (N = 1,000,000: 900,000 deep, reached with the sealed cursor
//! the page before it hands out, made with the key the benchmark gives Folio) and prefix
//! searches, each with the CPU it cost per request (this process, Folio, and PostgreSQL's
//! processes when the server runs on this machine), and `/healthz` for scale. Every answer is
//! checked: the first and deep pages list exactly the members expected, and no page lists a
//! suspended member. Then it prints the query plans of the SQL that src/db/members.rs issues,
//! as diesel writes it, run with its own binds (on PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`, and
//! also the generic plan a prepared statement may switch to after five runs), and where a plan
//! had other steps before the VACUUM and ANALYZE, that one too; then the database's part of
//! each case (`members::newest` on one connection, the server stopped), and on SQLite what a
//! bound `LIMIT` costs. With `--database-url postgres://…` the database must hold no users.
//!
//!     cargo run --release --example loadtest -- --directory --members 1000000 --seconds 10

#[path = "../benches/images.rs"]
#[allow(dead_code)]
mod images;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use reqwest::{Body, Client, StatusCode, multipart, redirect::Policy};

struct Args {
    seconds: u64,
    database_urls: Vec<String>,
    media_stores: Vec<String>,
    uploads_only: bool,
    peer: Option<String>,
    peer_pid: Option<u32>,
    api: bool,
    directory: bool,
    members: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 10,
        database_urls: Vec::new(),
        media_stores: Vec::new(),
        uploads_only: false,
        peer: None,
        peer_pid: None,
        api: false,
        directory: false,
        members: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                args.seconds = it.next().and_then(|s| s.parse().ok()).expect("--seconds N")
            }
            "--database-url" => args
                .database_urls
                .push(it.next().expect("--database-url URL")),
            "--media-store" => args
                .media_stores
                .push(it.next().expect("--media-store folder|s3://BUCKET")),
            "--uploads-only" => args.uploads_only = true,
            "--peer" => args.peer = it.next(),
            "--peer-pid" => args.peer_pid = it.next().and_then(|s| s.parse().ok()),
            "--api" => args.api = true,
            "--directory" => args.directory = true,
            "--members" => {
                args.members = it.next().and_then(|s| s.parse().ok()).expect("--members N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if args.database_urls.is_empty() {
        args.database_urls.push("sqlite".into());
    }
    if args.media_stores.is_empty() {
        args.media_stores.push("folder".into());
    }
    args
}

/// The two kinds of server under test.
#[derive(Clone)]
enum Target {
    Folio { base: String, backend: String },
    Peer { base: String },
}

/// Which of Folio's doors a picture goes through: the account page's form (session cookie and
/// CSRF token) or the JSON API (a bearer token). The peer has one door, its API, whichever is
/// asked for.
#[derive(Clone, Copy)]
enum Door {
    Form,
    Api,
}

struct Uploader {
    client: Client,
    token: String,
    /// A write token for Folio's API, once [`access_token`] has made one.
    bearer: String,
    user_id: u64,
}

impl Target {
    async fn new_user(&self, name: &str) -> Uploader {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = Client::builder()
            .cookie_provider(jar)
            .redirect(Policy::none())
            .build()
            .expect("client");
        match self {
            Target::Folio { base, .. } => {
                let form_token = token(&client, &format!("{base}/register")).await;
                let password = "load-test-password-1";
                let r = client
                    .post(format!("{base}/register"))
                    .form(&[
                        ("csrf_token", form_token.as_str()),
                        ("username", name),
                        ("email", &format!("{name}@example.com")),
                        ("password", password),
                        ("password_confirm", password),
                    ])
                    .send()
                    .await
                    .expect("register");
                assert_eq!(r.status(), StatusCode::SEE_OTHER, "register {name}");
                let token = token(&client, &format!("{base}/account")).await;
                Uploader {
                    client,
                    token,
                    bearer: String::new(),
                    user_id: 0,
                }
            }
            Target::Peer { base } => {
                let r = client
                    .post(format!("{base}/users"))
                    .json(&serde_json::json!({ "username": name }))
                    .send()
                    .await
                    .expect("create user");
                let user: serde_json::Value = r.json().await.expect("user json");
                let user_id = user["id"].as_u64().expect("id");
                Uploader {
                    client,
                    token: String::new(),
                    bearer: String::new(),
                    user_id,
                }
            }
        }
    }

    async fn upload(&self, door: Door, who: &Uploader, bytes: &Bytes) -> bool {
        // A shared buffer, not a copy per request: the generator shares the server's cores.
        let part =
            multipart::Part::stream_with_length(Body::from(bytes.clone()), bytes.len() as u64)
                .file_name("photo.jpg");
        let request = match (self, door) {
            (Target::Folio { base, .. }, Door::Form) => {
                let form = multipart::Form::new()
                    .text("csrf_token", who.token.clone())
                    .part("picture", part);
                who.client
                    .post(format!("{base}/account/picture"))
                    .multipart(form)
            }
            (Target::Folio { base, .. }, Door::Api) => {
                let form = multipart::Form::new().part("picture", part);
                who.client
                    .patch(format!("{base}/api/v1/me/picture"))
                    .bearer_auth(&who.bearer)
                    .multipart(form)
            }
            (Target::Peer { base }, _) => {
                let form = multipart::Form::new().part("file", part);
                who.client
                    .patch(format!("{base}/api/users/{}/picture", who.user_id))
                    .multipart(form)
            }
        };
        answered(request, &[StatusCode::SEE_OTHER, StatusCode::OK]).await
    }

    fn base(&self) -> &str {
        match self {
            Target::Folio { base, .. } | Target::Peer { base } => base,
        }
    }

    fn profile_url(&self, name: &str, id: u64) -> String {
        match self {
            Target::Folio { base, .. } => format!("{base}/users/{name}"),
            Target::Peer { base } => format!("{base}/users/{id}"),
        }
    }

    /// The member's public profile as JSON.
    fn profile_json_url(&self, name: &str, id: u64) -> String {
        match self {
            Target::Folio { base, .. } => format!("{base}/api/v1/users/{name}"),
            Target::Peer { base } => format!("{base}/api/users/{id}"),
        }
    }
}

async fn page_ok(client: &Client, url: &str) -> bool {
    answered(client.get(url), &[StatusCode::OK]).await
}

/// Sends `request` and reads the whole answer: true when its status is one of `ok`. Each kind
/// of failure (method, path and status) is told once on stderr with the start of its body, so
/// a count of failures comes with its cause.
async fn answered(request: reqwest::RequestBuilder, ok: &[StatusCode]) -> bool {
    let (client, request) = request.build_split();
    let Ok(request) = request else {
        return false;
    };
    let method = request.method().clone();
    let path_of = |e: &reqwest::Error| e.url().map_or_else(String::new, |u| u.path().to_owned());
    let failure = match client.execute(request).await {
        Ok(response) if ok.contains(&response.status()) => {
            let status = response.status();
            match response.bytes().await {
                Ok(_) => return true,
                Err(e) => (
                    format!("{method} {}: {status}, body cut", path_of(&e)),
                    e.to_string(),
                ),
            }
        }
        Ok(response) => {
            let status = response.status();
            let path = response.url().path().to_owned();
            let body = response.bytes().await.unwrap_or_default();
            let start = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            (format!("{method} {path}: {status}"), start)
        }
        Err(e) => (
            format!("{method} {}: no answer", path_of(&e)),
            e.to_string(),
        ),
    };
    note_failure(failure);
    false
}

/// Tells the first failure of each kind on stderr.
fn note_failure((kind, detail): (String, String)) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !seen.contains(&kind) {
        eprintln!("failed: {kind}: {detail}");
        seen.push(kind);
    }
}

async fn token(client: &Client, url: &str) -> String {
    let html = client
        .get(url)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..start + html[start..].find('"').expect("quote")].to_owned()
}

/// Makes a personal access token of `scope` (`read` or `write`) on the account page of `who`'s
/// session, and reads it from the page the form leads to, the one place it is ever shown.
async fn access_token(base: &str, who: &Uploader, scope: &str) -> String {
    let r = who
        .client
        .post(format!("{base}/account/tokens"))
        .form(&[
            ("csrf_token", who.token.as_str()),
            ("name", &format!("load test, {scope}")),
            ("scope", scope),
            ("expires_days", "30"),
        ])
        .send()
        .await
        .expect("create a token");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "create a {scope} token");
    let html = who
        .client
        .get(format!("{base}/account"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let code = html
        .find(r#"<code id="new-token""#)
        .expect("the new token on the account page");
    let start = code + html[code..].find('>').expect("tag end") + 1;
    html[start..start + html[start..].find('<').expect("code end")]
        .trim()
        .to_owned()
}

struct Stats {
    latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
}

impl Stats {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    /// Several runs of one case as one: latencies pooled, times added.
    fn merge(parts: Vec<Stats>) -> Stats {
        let mut all = Stats {
            latencies: Vec::new(),
            failures: 0,
            elapsed: Duration::ZERO,
        };
        for part in parts {
            all.latencies.extend(part.latencies);
            all.failures += part.failures;
            all.elapsed += part.elapsed;
        }
        all.latencies.sort();
        all
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<44} {:>9.1}/s  p50 {:>7} ms  p99 {:>7} ms  ({} ok, {} failed)",
            self.rate(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            self.latencies.len(),
            self.failures
        )
    }
}

/// Milliseconds to three decimals below 10 ms (a bearer token's cost is a fraction of one),
/// else to one.
fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.1}")
    }
}

/// Runs `concurrency` loops of `op` until `duration` has passed.
async fn run<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            while start.elapsed() < duration {
                let t = Instant::now();
                if op(worker).await {
                    latencies.push(t.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut stats = Stats {
        latencies: Vec::new(),
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (l, f) = task.await.expect("worker");
        stats.latencies.extend(l);
        stats.failures += f;
    }
    stats.elapsed = start.elapsed();
    stats.latencies.sort();
    stats
}

/// User plus system CPU time of a process so far (Linux counts it in 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn start_folio(dir: &std::path::Path, database_url: &str, media_store: &str) -> (Child, String) {
    start_folio_with(dir, database_url, media_store, &[])
}

/// [`start_folio`] with more settings in its environment.
fn start_folio_with(
    dir: &std::path::Path,
    database_url: &str,
    media_store: &str,
    settings: &[(&str, &str)],
) -> (Child, String) {
    let binary = std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("folio");
    let mut child = Command::new(&binary)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            if database_url == "sqlite" {
                dir.join("folio.db").to_string_lossy().into_owned()
            } else {
                database_url.to_owned()
            },
        )
        .env("FOLIO_MEDIA_DIR", dir.join("media"))
        .env(
            "FOLIO_MEDIA_STORE",
            if media_store == "folder" {
                ""
            } else {
                media_store
            },
        )
        .env("FOLIO_SECRET_KEY_FILE", dir.join("folio.key"))
        .env("RUST_LOG", "warn,folio::startup=info")
        // Every phase sends far more pictures an hour than an account may.
        .env("FOLIO_UPLOADS_PER_HOUR", "0")
        .envs(settings.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} (cargo build --release first): {e}",
                binary.display()
            )
        });
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("folio exited").expect("log line");
        if let Some(i) = line.find("listening on http://") {
            break line[i + "listening on ".len()..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// The start of this run's user names: new on every run and backend, so a database that is
/// not empty does not matter.
fn fresh_prefix() -> String {
    static PHASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "lt{}x{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 1_000_000),
        PHASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

async fn phases(
    target: Target,
    pid: u32,
    seconds: u64,
    uploads_only: bool,
    photo12: Bytes,
    photo24: Bytes,
) {
    let duration = Duration::from_secs(seconds);
    let label = match &target {
        Target::Folio { backend, .. } => format!("folio {backend}"),
        Target::Peer { .. } => "peer".to_owned(),
    };
    let prefix = fresh_prefix();
    let mut uploaders = Vec::new();
    for i in 0..16 {
        uploaders.push(target.new_user(&format!("{prefix}u{i}")).await);
    }
    let uploaders = Arc::new(uploaders);
    let profile = Arc::new(target.profile_url(&format!("{prefix}u0"), uploaders[0].user_id));
    let reader = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");

    let t = target.clone();
    let (u, p) = (uploaders.clone(), photo12.clone());
    let (server_cpu, own_cpu) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
    let uploads = run(4, duration, move |w| {
        let (t, u, p) = (t.clone(), u.clone(), p.clone());
        async move { t.upload(Door::Form, &u[w], &p).await }
    })
    .await;
    println!(
        "{}",
        uploads.line(&format!("[{label}] upload 12 MP JPEG, concurrency 4"))
    );
    let per_upload = |before: f64, pid: u32| {
        (cpu_seconds(pid) - before) * 1000.0 / uploads.latencies.len().max(1) as f64
    };
    println!(
        "[{label}] CPU per upload: server {:.1} ms, load generator {:.1} ms",
        per_upload(server_cpu, pid),
        per_upload(own_cpu, std::process::id())
    );

    if uploads_only {
        return;
    }
    let (r, url) = (reader.clone(), profile.clone());
    let pages = run(16, duration, move |_| {
        let (r, url) = (r.clone(), url.clone());
        async move { page_ok(&r, &url).await }
    })
    .await;
    println!(
        "{}",
        pages.line(&format!("[{label}] profile page, concurrency 16"))
    );

    // 16 uploads of the 24 MP JPEG at once, with page views alongside.
    let t = target.clone();
    let (u, p) = (uploaders.clone(), photo24.clone());
    let burst = tokio::spawn(run(16, duration, move |w| {
        let (t, u, p) = (t.clone(), u.clone(), p.clone());
        async move { t.upload(Door::Form, &u[w], &p).await }
    }));
    let (r, url) = (reader.clone(), profile.clone());
    let during = run(2, duration, move |_| {
        let (r, url) = (r.clone(), url.clone());
        async move { page_ok(&r, &url).await }
    })
    .await;
    let burst = burst.await.expect("burst");
    println!(
        "{}",
        burst.line(&format!("[{label}] upload 24 MP JPEG, concurrency 16"))
    );
    println!(
        "{}",
        during.line(&format!("[{label}] profile page during that burst"))
    );
    println!("[{label}] peak server RSS {:.0} MB", peak_rss_mb(pid));
}

#[tokio::main]
async fn main() {
    let args = args();
    if args.directory {
        for database_url in &args.database_urls {
            directory(args.seconds, database_url, args.members).await;
        }
        return;
    }
    let all = images::load();
    let photo12 = Bytes::from(all[0].bytes.clone());
    let photo24 = Bytes::from(all[1].bytes.clone());

    for database_url in &args.database_urls {
        for media_store in &args.media_stores {
            let database = if database_url == "sqlite" {
                "sqlite"
            } else {
                "postgresql"
            };
            let store = if media_store == "folder" {
                "folder"
            } else {
                "s3"
            };
            let backend = format!("{database}+{store}");
            let dir = tempfile::tempdir().expect("temp dir");
            let (mut child, base) = start_folio(dir.path(), database_url, media_store);
            println!("folio on {backend} at {base}, {} s per phase", args.seconds);
            let folio = Target::Folio { base, backend };
            if args.api {
                let peer = args.peer.clone().map(|base| Target::Peer { base });
                let peer_pid = args.peer_pid.unwrap_or(0);
                let pids = (child.id(), peer_pid);
                api_phases(folio, peer, pids, args.seconds, photo12.clone()).await;
            } else {
                phases(
                    folio,
                    child.id(),
                    args.seconds,
                    args.uploads_only,
                    photo12.clone(),
                    photo24.clone(),
                )
                .await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    // With `--api` the peer ran beside each Folio.
    if let Some(peer) = args.peer.filter(|_| !args.api) {
        let pid = args.peer_pid.unwrap_or(0);
        println!("peer at {peer}");
        phases(
            Target::Peer { base: peer },
            pid,
            args.seconds,
            args.uploads_only,
            photo12,
            photo24,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// `--api`: Folio's JSON API beside its form and page, and beside the peer's API.
// ---------------------------------------------------------------------------------------------

/// How many times each case of a comparison runs, in turn with the others.
const ROUNDS: usize = 2;
/// The same for the bearer token's cost, in rounds as much shorter (the same time in all): a
/// difference of a tenth of a millisecond is smaller than the machine's drift over a minute.
const TOKEN_ROUNDS: usize = 10;

/// A request the `--api` mode makes again and again, from each worker.
enum Call {
    /// The picture, from the account of the worker's number, through `door`.
    Upload {
        target: Target,
        door: Door,
        from: Arc<Vec<Uploader>>,
        photo: Bytes,
    },
    /// A GET, with a bearer token or without.
    Get {
        client: Client,
        url: String,
        bearer: Option<String>,
    },
}

impl Call {
    async fn make(&self, worker: usize) -> bool {
        match self {
            Call::Upload {
                target,
                door,
                from,
                photo,
            } => {
                target
                    .upload(*door, &from[worker % from.len()], photo)
                    .await
            }
            Call::Get {
                client,
                url,
                bearer,
            } => {
                let request = client.get(url);
                let request = match bearer {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                };
                answered(request, &[StatusCode::OK]).await
            }
        }
    }
}

/// One row of a comparison: what it times, and the process whose CPU time it counts.
struct Case {
    what: String,
    pid: u32,
    call: Arc<Call>,
}

/// A case's figures over all its rounds.
struct Measured {
    stats: Stats,
    /// The server's CPU time per successful request, ms.
    cpu_ms: f64,
}

/// Runs every case for `duration` at `concurrency`, `rounds` times in turn (a, b, a, b) and
/// each round printed, so a drift of the shared machine shows between rounds rather than as a
/// difference between cases.
async fn alternate(
    cases: &[Case],
    concurrency: usize,
    duration: Duration,
    rounds: usize,
) -> Vec<Measured> {
    let mut parts: Vec<Vec<Stats>> = cases.iter().map(|_| Vec::new()).collect();
    let mut cpu = vec![0.0; cases.len()];
    for round in 1..=rounds {
        for (i, case) in cases.iter().enumerate() {
            let before = cpu_seconds(case.pid);
            let call = case.call.clone();
            let stats = run(concurrency, duration, move |w| {
                let call = call.clone();
                async move { call.make(w).await }
            })
            .await;
            cpu[i] += cpu_seconds(case.pid) - before;
            let what = format!("{}, concurrency {concurrency}, round {round}", case.what);
            println!("{}", stats.line(&what));
            parts[i].push(stats);
        }
    }
    parts
        .into_iter()
        .zip(cpu)
        .map(|(parts, cpu)| {
            let stats = Stats::merge(parts);
            let cpu_ms = cpu * 1000.0 / stats.latencies.len().max(1) as f64;
            Measured { stats, cpu_ms }
        })
        .collect()
}

/// The markdown rows of a comparison.
fn table_rows(phase: &str, concurrency: usize, cases: &[Case], measured: &[Measured]) {
    for (case, m) in cases.iter().zip(measured) {
        println!(
            "| {phase} | {} | {concurrency} | {:.1} | {} | {} | {} | {} | {:.2} |",
            case.what,
            m.stats.rate(),
            ms(m.stats.percentile(0.5)),
            ms(m.stats.percentile(0.99)),
            m.stats.latencies.len(),
            m.stats.failures,
            m.cpu_ms
        );
    }
}

/// A markdown row of `a`'s figures over `b`'s.
fn ratio_row(what: &str, a: &Measured, b: &Measured) {
    println!(
        "| {what} | ×{:.2} | ×{:.2} | ×{:.2} | ×{:.2} |",
        a.stats.rate() / b.stats.rate(),
        a.stats.percentile(0.5) / b.stats.percentile(0.5),
        a.stats.percentile(0.99) / b.stats.percentile(0.99),
        a.cpu_ms / b.cpu_ms
    );
}

/// `--api` against one Folio (and the peer, when given): uploads through each door, public
/// reads, and the bearer token's cost. `pids`: Folio's and the peer's (0: not known).
async fn api_phases(
    folio: Target,
    peer: Option<Target>,
    pids: (u32, u32),
    seconds: u64,
    photo12: Bytes,
) {
    let duration = Duration::from_secs(seconds);
    let (folio_pid, peer_pid) = pids;
    let prefix = fresh_prefix();
    let member = format!("{prefix}u0");

    // Four members, each with a session for the form and a write token for the API; the first
    // also with a read token. Four peer users.
    let mut members = Vec::new();
    for i in 0..4 {
        let mut who = folio.new_user(&format!("{prefix}u{i}")).await;
        who.bearer = access_token(folio.base(), &who, "write").await;
        members.push(who);
    }
    let read_token = access_token(folio.base(), &members[0], "read").await;
    let members = Arc::new(members);
    let mut peer_users = Vec::new();
    if let Some(peer) = &peer {
        for i in 0..4 {
            peer_users.push(peer.new_user(&format!("{prefix}u{i}")).await);
        }
    }
    let peer_users = Arc::new(peer_users);
    let reader = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");

    let upload = |target: &Target, door: Door, from: &Arc<Vec<Uploader>>| {
        Arc::new(Call::Upload {
            target: target.clone(),
            door,
            from: from.clone(),
            photo: photo12.clone(),
        })
    };
    let get = |url: String, bearer: Option<&str>| {
        Arc::new(Call::Get {
            client: reader.clone(),
            url,
            bearer: bearer.map(str::to_owned),
        })
    };
    let case = |what: &str, pid: u32, call: Arc<Call>| Case {
        what: what.to_owned(),
        pid,
        call,
    };

    println!("uploads of the 12 MP JPEG:");
    let mut uploads = vec![
        case(
            "Folio form `POST /account/picture`",
            folio_pid,
            upload(&folio, Door::Form, &members),
        ),
        case(
            "Folio API `PATCH /api/v1/me/picture`",
            folio_pid,
            upload(&folio, Door::Api, &members),
        ),
    ];
    if let Some(peer) = &peer {
        uploads.push(case(
            "peer API `PATCH /api/users/{id}/picture`",
            peer_pid,
            upload(peer, Door::Api, &peer_users),
        ));
    }
    let uploaded = alternate(&uploads, 4, duration, ROUNDS).await;

    // The member has a picture by now, as most members shown have.
    println!("reads of one member's profile:");
    let mut reads = vec![
        case(
            "Folio API `GET /api/v1/users/{username}`",
            folio_pid,
            get(folio.profile_json_url(&member, 0), None),
        ),
        case(
            "Folio page `GET /users/{username}`",
            folio_pid,
            get(folio.profile_url(&member, 0), None),
        ),
    ];
    if let Some(peer) = &peer {
        reads.push(case(
            "peer API `GET /api/users/{id}`",
            peer_pid,
            get(peer.profile_json_url("", peer_users[0].user_id), None),
        ));
    }
    let read = alternate(&reads, 16, duration, ROUNDS).await;

    println!("the bearer token's cost:");
    let tokens = [
        case(
            "Folio API `GET /api/v1/users/{username}`, no token",
            folio_pid,
            get(folio.profile_json_url(&member, 0), None),
        ),
        case(
            "Folio API `GET /api/v1/me`, read token",
            folio_pid,
            get(format!("{}/api/v1/me", folio.base()), Some(&read_token)),
        ),
    ];
    let short = duration * ROUNDS as u32 / TOKEN_ROUNDS as u32;
    let alone = alternate(&tokens, 1, short, TOKEN_ROUNDS).await;
    let crowded = alternate(&tokens, 16, short, TOKEN_ROUNDS).await;

    let backend = match &folio {
        Target::Folio { backend, .. } => backend.as_str(),
        Target::Peer { .. } => "peer",
    };
    println!(
        "\n### Folio's API on {backend}: cases in turn, {ROUNDS} rounds of {seconds} s each \
         ({TOKEN_ROUNDS} of {:.1} s for the token's cost)\n",
        short.as_secs_f64()
    );
    println!(
        "| phase | case | concurrency | requests/s | p50 ms | p99 ms | ok | failed | server CPU ms/request |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    table_rows("upload 12 MP JPEG", 4, &uploads, &uploaded);
    table_rows("read a profile", 16, &reads, &read);
    table_rows("token cost", 1, &tokens, &alone);
    table_rows("token cost", 16, &tokens, &crowded);
    println!("\n| ratio | requests/s | p50 | p99 | server CPU/request |");
    println!("| --- | --- | --- | --- | --- |");
    ratio_row(
        "uploads: Folio API ÷ Folio form",
        &uploaded[1],
        &uploaded[0],
    );
    if let Some(peer) = uploaded.get(2) {
        ratio_row("uploads: Folio API ÷ peer API", &uploaded[1], peer);
    }
    ratio_row("reads: Folio API ÷ Folio page", &read[0], &read[1]);
    if let Some(peer) = read.get(2) {
        ratio_row("reads: Folio API ÷ peer API", &read[0], peer);
    }
    ratio_row("concurrency 1: `/me` ÷ public", &alone[1], &alone[0]);
    ratio_row("concurrency 16: `/me` ÷ public", &crowded[1], &crowded[0]);
    let more = |m: &[Measured], p: f64| m[1].stats.percentile(p) - m[0].stats.percentile(p);
    println!(
        "\nThe bearer token (`GET /api/v1/me` with a read token minus the public \
         `GET /api/v1/users/{{username}}` of the same member): concurrency 1 p50 {:+.3} ms, p99 \
         {:+.3} ms (target ≤ +0.2 ms at p50: {}); concurrency 16 p50 {:+.3} ms, p99 {:+.3} ms.",
        more(&alone, 0.5),
        more(&alone, 0.99),
        if more(&alone, 0.5) <= 0.2 {
            "met"
        } else {
            "NOT met"
        },
        more(&crowded, 0.5),
        more(&crowded, 0.99)
    );
    print!("\nPeak RSS: Folio {:.0} MB", peak_rss_mb(folio_pid));
    if peer.is_some() {
        print!(
            ", peer {:.0} MB (over its whole life)",
            peak_rss_mb(peer_pid)
        );
    }
    println!(".");
}

// ---------------------------------------------------------------------------------------------
// `--directory`: the member directory (`GET /users`) on a database of `--members` members.
// ---------------------------------------------------------------------------------------------

/// The session key the directory benchmark gives Folio (`FOLIO_SECRET_KEY`), so it can seal
/// directory cursors of its own: 64 fixed bytes.
fn directory_key() -> [u8; 64] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
}

/// A matching prefix with more than this many members in either name index is searched by
/// walking the members newest first (`BROAD` in src/db/members.rs).
const BROAD: usize = folio::db::members::BROAD as usize;

/// A prefix of up to this many characters is read from a bucket of its own, a longer one walks
/// the bucket of its first this many (`HEAD` in src/db/members.rs).
const HEAD: usize = folio::db::members::HEAD;

/// Comma-separated `Display|ascii`: the name as people write it and as it goes into a
/// username; a name without `|` is ASCII already. The most common first come first: picks follow a Zipf-like law.
const FIRST_NAMES: &str = "\
    Maria, James, Mohammed, Anna, David, Wei, Sofia, John, Fatima, Michael, Elena, Robert, \
    Olga, Daniel, Laura, Ahmed, Sarah, Carlos, Yuki, Peter, Emma, Thomas, Aisha, Paul, Julia, \
    Mark, Priya, Martin, Chloé|chloe, Andrew, Mei, Marco, Hannah, Joseph, Lucía|lucia, Ivan, \
    Nadia, Richard, Zoë|zoe, Jürgen|juergen, Ngọc|ngoc, Łukasz|lukasz, Kenji, Amara, Diego, \
    Ingrid, Omar, Leila, Pierre, Chiara, Sven, Ana, Tomás|tomas, Marta, Hiroshi, Grace, \
    Samuel, Noor, Lars, Isabel, Pedro, Katarzyna, André|andre, Siobhán|siobhan, Björn|bjorn, \
    Mariam, Rahul, Camille, Stefan, Ayşe|ayse, Dmitri, Clara, Luca, Amelia, Giovanni, Freya, \
    Kwame, Ines, Mateo, Anika, Hugo, Ewa, Rafael, Marie, Arjun, Helga, Tariq, Bianca, Jonas, \
    Yasmin, Oscar, Linh, Felix, Nina, Emil, Sana, Viktor, Lena, Kofi, Ava, Matteo, Ola, \
    Henrik, Rosa, Ali, Eva, Bruno, Keiko, Adam, Irene, Raj, Alice, Marek, Sakura, Igor, Lucy, \
    Karim, Agnieszka, Jakub, Noémie|noemie, Tao, Astrid, Emre, Renée|renee, Finn, Greta, \
    Hamza, Iris, Jorge, Kaito, Lina, Milan, Naomi, Otto, Pia, Quentin, Rania, Soren, Tess, \
    Umar, Vera, Wojciech, Xin, Yara, Zainab, Ashok, Beatriz, Cem, Dagny, Eitan, Farah, Gustav, \
    Hana, Ilya, Jana, Kiran, Ludmila, Malik, Nils, Olivia, Pablo, Ruth, Sergei, Tanvir, Ulla, \
    Valentina, Wanjiru, Xavier, Yusuf, Zofia, Abebe, Bongani, Chidi, Dalia, Erik, Femi, \
    Gaspard, Hyun, Ioana, Jasmin, Kemal, Liam, Minh, Nikolai, Oren, Paulina, Radu, Saoirse, \
    Thiago, Uma, Vikram, Wiebke, Ximena, Yerlan, Zuzana, Aurélie|aurelie, Dorothée|dorothee, \
    Élodie|elodie, Şebnem|sebnem";

const LAST_NAMES: &str = "\
    Smith, García|garcia, Müller|mueller, Nguyễn|nguyen, Kowalski, Rossi, Ivanov, Wang, Kim, \
    Silva, Johnson, Martin, Bernard, Schmidt, López|lopez, Khan, Tanaka, Singh, Jones, Brown, \
    Fischer, Novak, Dubois, Hansen, Jensen, Nielsen, Andersson, Johansson, Larsen, Virtanen, \
    Horvat, Popescu, Papadopoulos, Yılmaz|yilmaz, Kaya, Cohen, Levi, Hassan, Ali, Ahmed, \
    Mensah, Okafor, Adeyemi, Mwangi, Dlamini, Naidoo, Patel, Sharma, Gupta, Reddy, Chen, Li, \
    Zhang, Liu, Yamamoto, Suzuki, Sato, Park, Lee, Choi, Tran, Le, Pham, Santos, Pereira, \
    Costa, Oliveira, Fernández|fernandez, González|gonzalez, Rodríguez|rodriguez, \
    Martínez|martinez, Hernández|hernandez, Pérez|perez, Romero, Moreau, Laurent, \
    Lefèvre|lefevre, Girard, Bianchi, Romano, Colombo, Ricci, Weber, Wagner, Becker, Schulz, \
    Hoffmann, Koch, Richter, Wolf, Schröder|schroeder, Neumann, Zimmermann, Krüger|krueger, \
    Wójcik|wojcik, Kowalczyk, Lewandowski, Zieliński|zielinski, Szymański|szymanski, \
    Dąbrowski|dabrowski, Nowak, Svoboda, Dvořák|dvorak, Kovács|kovacs, Nagy, Tóth|toth, \
    Szabó|szabo, Petrov, Smirnov, Kuznetsov, Popov, Sokolov, Lebedev, Kozlov, Novikov, \
    Morozov, Volkov, O'Brien|obrien, Murphy, Kelly, Walsh, Byrne, Ryan, Taylor, Wilson, \
    Davies, Evans, Thomas, Roberts, Walker, Wright, Thompson, White, Hughes, Edwards, Green, \
    Hall, Wood, Harris, Lewis, Clarke, Jackson, Turner, Hill, Moore, Cooper, Ward, Morris, \
    King, Baker, Young, Allen, Scott, Adams, Campbell, Anderson, Mitchell, Carter, Phillips, \
    Parker, Collins, Stewart, Sánchez|sanchez, Ramírez|ramirez, Torres, Flores, Rivera, \
    Gómez|gomez, Díaz|diaz, Cruz, Morales, Ortiz, Gutiérrez|gutierrez, Chávez|chavez, Ramos, \
    Ruiz, Álvarez|alvarez, Castillo, Jiménez|jimenez, Vargas, Moreno, Herrera, Medina, \
    Aguilar, Vega, Mendoza, Bakker, Visser, de Vries|devries, van Dijk|vandijk, Janssen, \
    Peeters, Maes, Öztürk|ozturk, Çelik|celik, Şahin|sahin, Demir, Arslan, Doğan|dogan, Abe, \
    Ito, Watanabe, Nakamura, Kobayashi, Kato, Yoshida, Hoang, Vu, Dang, Bui";

/// One name of a list: as shown, and as a username writes it.
fn name_forms(entry: &str) -> (&str, String) {
    match entry.split_once('|') {
        Some((shown, ascii)) => (shown, ascii.to_owned()),
        None => (entry, entry.to_ascii_lowercase()),
    }
}

/// splitmix64: a fixed, fast sequence, so every run seeds the same members.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The members, in insertion order (oldest first): which first and last name, and which
/// occurrence of that pair (the number at the end of the username, from 1).
struct Members {
    first: Vec<(String, String)>,
    last: Vec<(String, String)>,
    /// Per first × last pair: the display name and its search key.
    display: Vec<(String, String)>,
    rows: Vec<(u16, u16, u32)>,
}

impl Members {
    fn generate(n: usize) -> Self {
        let first: Vec<(String, String)> = FIRST_NAMES
            .split(',')
            .map(str::trim)
            .map(|e| {
                let (shown, ascii) = name_forms(e);
                (shown.to_owned(), ascii)
            })
            .collect();
        let last: Vec<(String, String)> = LAST_NAMES
            .split(',')
            .map(str::trim)
            .map(|e| {
                let (shown, ascii) = name_forms(e);
                (shown.to_owned(), ascii)
            })
            .collect();
        let mut display = Vec::with_capacity(first.len() * last.len());
        for (f, _) in &first {
            for (l, _) in &last {
                // Stored as the profile form stores it (trimmed, NFC).
                let name = folio::domain::DisplayName::parse(&format!("{f} {l}"))
                    .expect("a valid display name")
                    .expect("not empty");
                let shown: &str = name.as_ref();
                display.push((shown.to_owned(), folio::domain::search_key(shown)));
            }
        }
        // First names by a Zipf-like law (weight 1 / (rank + 10)), last names uniformly.
        let weights: Vec<f64> = (0..first.len()).map(|r| 1.0 / (r as f64 + 10.0)).collect();
        let total: f64 = weights.iter().sum();
        let mut cumulative = Vec::with_capacity(first.len());
        let mut sum = 0.0;
        for w in &weights {
            sum += w / total;
            cumulative.push(sum);
        }
        let mut rng = Rng(0x5EED_F011_0D1E_C70F);
        let mut seen = vec![0u32; first.len() * last.len()];
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let f = cumulative.partition_point(|&c| c < u).min(first.len() - 1);
            let l = rng.below(last.len());
            let pair = &mut seen[f * last.len() + l];
            *pair += 1;
            rows.push((f as u16, l as u16, *pair));
        }
        Self {
            first,
            last,
            display,
            rows,
        }
    }

    fn username(&self, row: usize) -> String {
        let (f, l, k) = self.rows[row];
        format!(
            "{}.{}{k}",
            self.first[f as usize].1, self.last[l as usize].1
        )
    }

    fn display(&self, row: usize) -> &(String, String) {
        let (f, l, _) = self.rows[row];
        &self.display[f as usize * self.last.len() + l as usize]
    }

    /// Whether the member of this row is suspended: every 100th (rows 99, 199, …), 1% spread
    /// evenly over the ids.
    fn suspended(row: usize) -> bool {
        row % SUSPENDED_EVERY == SUSPENDED_EVERY - 1
    }

    /// How many members the directory lists (not suspended) whose usernames, and how many
    /// whose display names, start with the search key.
    fn matches(&self, key: &str) -> (usize, usize) {
        let mut by_username = 0;
        let mut by_name = 0;
        for row in (0..self.rows.len()).filter(|&row| !Self::suspended(row)) {
            by_username += usize::from(self.username(row).starts_with(key));
            by_name += usize::from(self.display(row).1.starts_with(key));
        }
        (by_username, by_name)
    }
}

/// One member in this many is suspended.
const SUSPENDED_EVERY: usize = 100;

/// Inserts the members straight into the database, 2,000 rows a statement and one transaction
/// per 100,000. Returns the ids of the first and last member.
fn seed(conn: &mut folio::db::DbConn, members: &Members) -> (i64, i64) {
    use diesel::prelude::*;
    use folio::db::schema::users;

    // One fixed, valid-looking hash: nobody logs in as these members.
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkLW1lbWJlcnM$\
                        vT8oR1qk3wJ0eJ8b6Wm0r0y2c0a1n9fHq2xkQ3dJk5E";
    let start_time = folio::db::now() - members.rows.len() as i64;
    let rows = members.rows.len();
    let mut row = 0;
    while row < rows {
        let end = (row + 100_000).min(rows);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let mut batch_start = row;
            while batch_start < end {
                let batch_end = (batch_start + 2_000).min(end);
                let values: Vec<_> = (batch_start..batch_end)
                    .map(|i| {
                        let username = members.username(i);
                        debug_assert!(
                            (3..=30).contains(&username.len())
                                && username
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                        );
                        let (display, key) = members.display(i);
                        (
                            users::email.eq(format!("{username}@example.com")),
                            users::username.eq(username),
                            users::password_hash.eq(HASH),
                            users::created_at.eq(start_time + i as i64),
                            users::display_name.eq(Some(display.as_str())),
                            users::display_name_key.eq(Some(key.as_str())),
                        )
                    })
                    .collect();
                // Batch inserts are per backend: `DbConn` (a `MultiConnection`) has none.
                match conn {
                    folio::db::DbConn::Sqlite(c) => diesel::insert_into(users::table)
                        .values(values)
                        .execute(c)?,
                    folio::db::DbConn::Postgres(c) => diesel::insert_into(users::table)
                        .values(values)
                        .execute(c)?,
                };
                batch_start = batch_end;
            }
            Ok(())
        })
        .expect("seed members");
        row = end;
    }
    let (low, high): (Option<i64>, Option<i64>) = users::table
        .select((diesel::dsl::min(users::id), diesel::dsl::max(users::id)))
        .first(conn)
        .expect("id range");
    let (low, high) = (low.unwrap_or(0), high.unwrap_or(0));
    assert_eq!(
        (high - low + 1) as usize,
        rows,
        "ids are not one run in insertion order"
    );
    (low, high)
}

/// Suspends every [`SUSPENDED_EVERY`]th member (rows 99, 199, …: ids `low + 99`, …) as the
/// moderators' action does, by an UPDATE of the rows already there. Returns how many.
fn suspend(conn: &mut folio::db::DbConn, low: i64) -> usize {
    use diesel::prelude::*;
    use folio::db::schema::users;

    let every = SUSPENDED_EVERY as i64;
    let suspended = diesel::update(users::table.filter(
        diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "(users.id - {low}) % {every} = {}",
            every - 1
        )),
    ))
    .set((
        users::suspended_at.eq(Some(folio::db::now())),
        users::suspension_reason.eq(Some("Spam (suspended by the directory benchmark's seed)")),
    ))
    .execute(conn)
    .expect("suspend members");
    let counted: i64 = users::table
        .filter(users::suspended_at.is_not_null())
        .count()
        .get_result(conn)
        .expect("count the suspended");
    assert_eq!(counted as usize, suspended, "suspended members");
    suspended
}

/// What a fair measurement runs after a bulk load: PostgreSQL's `VACUUM ANALYZE` (outside any
/// transaction: it sets the visibility map that index-only scans need, drops the row versions
/// the suspensions left, and gathers statistics), SQLite's `VACUUM` then `ANALYZE` (the
/// bundled SQLite has STAT4, so its plans may then depend on the bound values). Returns what
/// was run and how long each took.
fn maintain(conn: &mut folio::db::DbConn) -> Vec<(&'static str, Duration)> {
    use diesel::connection::SimpleConnection;

    let steps: &[&'static str] = match conn {
        folio::db::DbConn::Sqlite(_) => &["VACUUM", "ANALYZE"],
        folio::db::DbConn::Postgres(_) => &["VACUUM ANALYZE"],
    };
    steps
        .iter()
        .map(|&sql| {
            let t = Instant::now();
            // The simple query protocol: one statement, never inside a transaction block.
            match conn {
                folio::db::DbConn::Sqlite(c) => c.batch_execute(sql),
                folio::db::DbConn::Postgres(c) => c.batch_execute(sql),
            }
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
            (sql, t.elapsed())
        })
        .collect()
}

/// How many of the table's pages the visibility map says are all-visible (an Index Only Scan
/// reads the table for a row on any other page): PostgreSQL's `relallvisible` of `relpages`.
fn all_visible(conn: &mut folio::db::DbConn) -> Option<(i32, i32)> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        relpages: i32,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        relallvisible: i32,
    }
    match conn {
        folio::db::DbConn::Postgres(c) => diesel::sql_query(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'users'::regclass",
        )
        .get_result::<Pages>(c)
        .ok()
        .map(|p| (p.relallvisible, p.relpages)),
        folio::db::DbConn::Sqlite(_) => None,
    }
}

#[derive(diesel::QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    id: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    parent: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(diesel::QueryableByName)]
struct PostgresPlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// A query that diesel built, with SQL before and after it: `EXPLAIN QUERY PLAN ` (SQLite) or
/// `EXPLAIN ` (PostgreSQL) before, so the SQL is diesel's own and its binds go with it and the
/// plan is the one the query gets. Its rows are read by name; diesel caches its statement by
/// its SQL text.
struct Framed<Q> {
    head: &'static str,
    query: Q,
    tail: &'static str,
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Framed<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.head);
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(self.tail);
        Ok(())
    }
}

impl<Q> diesel::query_builder::QueryId for Framed<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::query_builder::Query for Framed<Q> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Q, C> diesel::RunQueryDsl<C> for Framed<Q> {}

/// One query's plan: what it is, its SQL and binds as diesel writes them, the plan's lines, and
/// on PostgreSQL the generic plan (`plan_cache_mode = force_generic_plan`) of the same
/// statement prepared with parameters, which PostgreSQL may switch to after five runs.
struct Plan {
    what: String,
    sql: String,
    lines: Vec<String>,
    generic: Vec<String>,
}

/// A bind as `debug_query` shows it (`"text"`, `42`, `[1, 2]`) as an SQL literal.
fn sql_literal(bind: &str) -> String {
    let bind = bind.trim();
    if let Some(text) = bind.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
        let text = text.replace("\\\"", "\"").replace("\\\\", "\\");
        format!("'{}'", text.replace('\'', "''"))
    } else if let Some(list) = bind.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
        format!("'{{{}}}'", list.replace(' ', ""))
    } else {
        bind.to_owned()
    }
}

/// The binds of `debug_query`'s ` -- binds: [...]`, split at the commas between them.
fn debug_binds(list: &str) -> Vec<String> {
    let list = list
        .trim()
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or(list);
    let (mut binds, mut current, mut depth, mut quoted, mut escaped) =
        (Vec::new(), String::new(), 0, false, false);
    for c in list.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                binds.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        binds.push(current);
    }
    binds
}

fn sqlite_plan<Q>(c: &mut diesel::SqliteConnection, what: &str, query: Q) -> Plan
where
    Q: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
{
    use diesel::RunQueryDsl;
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
    let rows: Vec<SqlitePlanRow> = Framed {
        head: "EXPLAIN QUERY PLAN ",
        query,
        tail: "",
    }
    .load(c)
    .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {sql}: {e}"));
    // Indented by depth: a row's parent is an earlier row.
    let mut depth_of = std::collections::HashMap::new();
    let lines = rows
        .iter()
        .map(|row| {
            let depth = depth_of.get(&row.parent).map_or(0, |d| d + 1);
            depth_of.insert(row.id, depth);
            format!("{}{}", "  ".repeat(depth), row.detail)
        })
        .collect();
    Plan {
        what: what.to_owned(),
        sql,
        lines,
        generic: Vec::new(),
    }
}

/// With `analyze`, `EXPLAIN (ANALYZE, BUFFERS)`: the query runs, and the plan shows what each
/// step read (an Index Only Scan's `Heap Fetches` are the rows it had to look up in the table).
fn postgres_plan<Q>(c: &mut diesel::PgConnection, what: &str, query: Q, analyze: bool) -> Plan
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    let explain = if analyze {
        "EXPLAIN (ANALYZE, BUFFERS) "
    } else {
        "EXPLAIN "
    };
    let rows: Vec<PostgresPlanRow> = Framed {
        head: explain,
        query,
        tail: "",
    }
    .load(c)
    .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    let lines = rows.into_iter().map(|r| r.line).collect();
    // The generic plan: the statement prepared with its parameters, planned without values.
    let (text, binds) = sql.split_once(" -- binds: ").expect("debug_query's binds");
    let values: Vec<String> = debug_binds(binds).iter().map(|b| sql_literal(b)).collect();
    c.batch_execute(&format!(
        "PREPARE loadtest_plan AS {text}; \
         SET plan_cache_mode = force_generic_plan"
    ))
    .unwrap_or_else(|e| panic!("PREPARE {text}: {e}"));
    let explain = format!("{explain}EXECUTE loadtest_plan({})", values.join(", "));
    let generic: Vec<PostgresPlanRow> = diesel::sql_query(&explain)
        .load(c)
        .unwrap_or_else(|e| panic!("{explain}: {e}"));
    c.batch_execute("RESET plan_cache_mode; DEALLOCATE loadtest_plan")
        .expect("DEALLOCATE");
    Plan {
        what: what.to_owned(),
        sql,
        lines,
        generic: generic.into_iter().map(|r| r.line).collect(),
    }
}

/// The searches whose plans are shown: a name and the prefix.
struct PlanSearches<'a> {
    narrow: &'a str,
    near_broad: &'a str,
    broad: &'a str,
    by_username_alone: &'a str,
    over_broad: &'a str,
}

/// The plans of the SQL that src/db/members.rs issues: its own statements (`members::page`,
/// `in_heads`, `broad`, `in_ranges`, `in_buckets`), on this connection, in the order a request
/// runs them.
fn query_plans(
    conn: &mut folio::db::DbConn,
    deep_before: i64,
    searches: &PlanSearches<'_>,
    analyze: bool,
) -> Vec<Plan> {
    use folio::db::members::{self, Walk};

    const WANTED: i64 = 21;
    let prefix = |q: &str| folio::directory::Prefix::parse(Some(q)).expect("a prefix");
    let (narrow, near_broad, broad, by_username_alone, over_broad) = (
        prefix(searches.narrow),
        prefix(searches.near_broad),
        prefix(searches.broad),
        prefix(searches.by_username_alone),
        prefix(searches.over_broad),
    );
    let (one, two) = (prefix("a"), prefix("ay"));
    let mut plans = Vec::new();

    macro_rules! plan {
        ($what:expr, $query:expr) => {
            plans.push(match conn {
                folio::db::DbConn::Sqlite(c) => sqlite_plan(c, &$what, $query),
                folio::db::DbConn::Postgres(c) => postgres_plan(c, &$what, $query, analyze),
            })
        };
    }
    plan!(String::from("first page"), members::page(i64::MAX, WANTED));
    plan!(
        format!("deep page (before id {deep_before})"),
        members::page(deep_before, WANTED)
    );
    // A bucket's length is written into its statement: `maria.` has six characters.
    assert_eq!(by_username_alone.chars(), 6, "{}", by_username_alone.from);
    plan!(
        format!(
            "search broad by username alone q={}: both keys' own buckets (in_heads)",
            by_username_alone.from
        ),
        members::in_heads::<6>(&by_username_alone, i64::MAX, WANTED)
    );
    for (what, p) in [
        ("narrow", &narrow),
        ("just under BROAD", &near_broad),
        ("just over BROAD", &over_broad),
    ] {
        let q = &p.from;
        let walks = members::walks(conn, p, i64::MAX).expect("members::walks");
        plan!(
            format!("search {what} q={q}: more than BROAD by either key? (broad: {walks:?})"),
            members::broad(p, i64::MAX)
        );
        let what = format!("search {what} q={q}: the walks and their rows");
        match (walks.by_username, walks.by_name) {
            (Walk::Range, Walk::Range) => {
                plan!(what, members::in_ranges::<12>(p, i64::MAX, WANTED))
            }
            (Walk::Bucket, Walk::Bucket) => {
                plan!(what, members::in_buckets::<12>(p, i64::MAX, WANTED))
            }
            (Walk::Bucket, Walk::Range) => {
                plan!(what, members::username_bucket::<12>(p, i64::MAX, WANTED))
            }
            (Walk::Range, Walk::Bucket) => {
                plan!(what, members::name_bucket::<12>(p, i64::MAX, WANTED))
            }
        }
    }
    plan!(
        format!(
            "search broad q={}: both keys' own buckets (in_heads)",
            broad.from
        ),
        members::in_heads::<3>(&broad, i64::MAX, WANTED)
    );
    plan!(
        format!(
            "search one letter q={}: both keys' own buckets (in_heads)",
            one.from
        ),
        members::in_heads::<1>(&one, i64::MAX, WANTED)
    );
    plan!(
        format!(
            "search two letters q={}: both keys' own buckets (in_heads)",
            two.from
        ),
        members::in_heads::<2>(&two, i64::MAX, WANTED)
    );
    plans
}

/// A plan's steps (its nodes: which scan of which index, sorts, limits) without their
/// estimates, measurements and conditions: what two plans are compared by. SQLite's lines are
/// all steps.
fn shape(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.trim_start().starts_with("->") || !l.contains(": "))
        .filter(|(_, l)| !l.trim_start().starts_with("Planning"))
        .map(|(_, l)| {
            let mut out = String::new();
            let mut rest = l.as_str();
            while let Some(i) = ["  (cost=", " (actual ", " (never executed)"]
                .iter()
                .filter_map(|m| rest.find(m))
                .min()
            {
                out.push_str(&rest[..i]);
                rest = &rest[i..];
                let end = rest.find(')').map_or(rest.len(), |e| e + 1);
                rest = &rest[end..];
            }
            out.push_str(rest);
            out.trim_end().to_owned()
        })
        .collect()
}

/// Prints the plans; where the plan before the VACUUM and ANALYZE had other steps, that one
/// too.
fn print_plans(plans: &[Plan], before: &[Plan]) {
    for (i, plan) in plans.iter().enumerate() {
        println!("  {}:\n    {}", plan.what, plan.sql);
        let generic = !plan.generic.is_empty();
        if generic {
            println!("    custom plan (with these values):");
        }
        for line in &plan.lines {
            println!("    {}{line}", if generic { "  " } else { "" });
        }
        if generic {
            if shape(&plan.generic) == shape(&plan.lines) {
                println!("    generic plan: the same steps");
            } else {
                println!("    generic plan:");
                for line in &plan.generic {
                    println!("      {line}");
                }
            }
        }
        if let Some(old) = before.get(i).filter(|old| {
            shape(&old.lines) != shape(&plan.lines) || shape(&old.generic) != shape(&plan.generic)
        }) {
            println!("    before the VACUUM and ANALYZE it was:");
            for line in &old.lines {
                println!("      {line}");
            }
            if generic && shape(&old.generic) != shape(&plan.generic) {
                println!("      generic:");
                for line in &old.generic {
                    println!("        {line}");
                }
            }
        }
    }
}

/// SQLite prepares a statement with a bound `LIMIT` again every time the value is bound
/// (`sqlite3ExprIsInteger` puts the parameter in the statement's `expmask`; see commit
/// 00573cd): the cost of that on the directory's page query as diesel writes it (`LIMIT ?`)
/// against the same query with ` LIMIT 21` written after it, each run `runs` times on this
/// connection from diesel's statement cache, twice, alternating. Microseconds a query.
fn reprepare_cost(c: &mut diesel::SqliteConnection, before: i64, runs: usize) -> Vec<(f64, f64)> {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Nullable, Text};
    use folio::db::schema::users;

    #[derive(diesel::QueryableByName)]
    #[allow(dead_code)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        username: String,
        #[diesel(sql_type = Nullable<Text>)]
        display_name: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        picture: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        bio: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        website: Option<String>,
        #[diesel(sql_type = BigInt)]
        created_at: i64,
    }
    macro_rules! page {
        () => {
            users::table
                .filter(users::id.lt(before))
                .filter(users::suspended_at.is_null())
                .order(users::id.desc())
                .select((
                    users::id,
                    users::username,
                    users::display_name,
                    users::picture,
                    users::bio,
                    users::website,
                    users::created_at,
                ))
        };
    }
    let bound = |c: &mut diesel::SqliteConnection| -> usize {
        let rows: Vec<Row> = Framed {
            head: "",
            query: page!().limit(21),
            tail: "",
        }
        .load(c)
        .expect("page");
        rows.len()
    };
    let written = |c: &mut diesel::SqliteConnection| -> usize {
        let rows: Vec<Row> = Framed {
            head: "",
            query: page!(),
            tail: " LIMIT 21",
        }
        .load(c)
        .expect("page");
        rows.len()
    };
    let time = |c: &mut diesel::SqliteConnection,
                f: &dyn Fn(&mut diesel::SqliteConnection) -> usize| {
        let t = Instant::now();
        for _ in 0..runs {
            assert_eq!(f(c), 21);
        }
        t.elapsed().as_secs_f64() * 1e6 / runs as f64
    };
    (0..2)
        .map(|_| (time(c, &bound), time(c, &written)))
        .collect()
}

/// The usernames a page of the directory lists, in order.
fn listed_usernames(html: &str) -> Vec<String> {
    html.split(r#"<span class="member-handle">@"#)
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or("").to_owned())
        .collect()
}

/// How many members a page of the directory lists.
fn members_listed(html: &str) -> usize {
    html.matches(r#"<li class="member">"#).count()
}

async fn directory(seconds: u64, database_url: &str, n: usize) {
    use diesel::RunQueryDsl;

    assert!(n >= 1_000, "--members: at least 1000");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = database_url == "sqlite";
    let db_path = dir.path().join("folio.db");
    let url = folio::db::DatabaseUrl::parse(if sqlite {
        db_path.to_str().expect("a UTF-8 path")
    } else {
        database_url
    })
    .expect("a database URL");
    let db = folio::db::Db::open_with(
        &url,
        folio::db::PoolOptions {
            // Two: PostgreSQL pools keep two idle connections.
            max_size: 2,
            connection_timeout: Duration::from_secs(30),
        },
    )
    .expect("open the database");
    let mut conn = db.conn().expect("a connection");
    {
        use diesel::prelude::*;
        let existing: i64 = folio::db::schema::users::table
            .count()
            .get_result(&mut *conn)
            .expect("count users");
        assert_eq!(
            existing, 0,
            "the directory benchmark needs a database without users"
        );
    }

    let t = Instant::now();
    let members = Members::generate(n);
    let generated = t.elapsed();
    if sqlite {
        // This connection only: a cache that holds the indexes while they grow.
        diesel::sql_query("PRAGMA cache_size = -262144")
            .execute(&mut *conn)
            .expect("cache size");
    }
    let t = Instant::now();
    let (low, high) = seed(&mut conn, &members);
    let seeded = t.elapsed();
    let t = Instant::now();
    let suspended = suspend(&mut conn, low);
    let suspending = t.elapsed();
    let listed = n - suspended;
    assert_eq!(
        suspended,
        (0..n).filter(|&row| Members::suspended(row)).count(),
        "suspended rows"
    );
    let size = |conn: &mut folio::db::DbConn| {
        if sqlite {
            diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *conn)
                .expect("checkpoint");
            let file = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
            let wal = db_path.with_extension("db-wal");
            format!(
                "database file {:.0} MB (WAL {:.0} MB)",
                file(&db_path) as f64 / 1e6,
                file(&wal) as f64 / 1e6
            )
        } else {
            #[derive(diesel::QueryableByName)]
            struct Size {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                bytes: i64,
            }
            let size: Size = diesel::sql_query("SELECT pg_total_relation_size('users') AS bytes")
                .get_result(&mut *conn)
                .expect("table size");
            format!("users table with indexes {:.0} MB", size.bytes as f64 / 1e6)
        }
    };
    println!(
        "seeded {n} members (ids {low}..={high}) in {:.1} s ({:.0} rows/s; names made in {:.1} s); {}",
        seeded.as_secs_f64(),
        n as f64 / seeded.as_secs_f64(),
        generated.as_secs_f64(),
        size(&mut conn)
    );
    println!(
        "suspended {suspended} of them ({:.2}%: every {SUSPENDED_EVERY}th id from {}) in {:.1} s; \
         the directory lists {listed}",
        suspended as f64 * 100.0 / n as f64,
        low + SUSPENDED_EVERY as i64 - 1,
        suspending.as_secs_f64()
    );

    // The cases.
    let key = directory_key();
    // The page after `depth` listed members: its cursor is the one the page before it hands
    // out, the id of the depth-th listed member counted from the newest.
    let depth = n * 9 / 10;
    assert!(depth < listed, "the deep page lies past the last member");
    let deep_row = {
        let (mut seen, mut row) = (0, n);
        while seen < depth {
            row -= 1;
            seen += usize::from(!Members::suspended(row));
        }
        row
    };
    let deep_before = low + deep_row as i64;
    // The members the deep page must list, and its one more (members.rs reads 21).
    let deep_rows: Vec<usize> = (0..deep_row)
        .rev()
        .filter(|&row| !Members::suspended(row))
        .take(21)
        .collect();
    let first_rows: Vec<usize> = (0..n)
        .rev()
        .filter(|&row| !Members::suspended(row))
        .take(20)
        .collect();
    let deep = format!(
        "/users?after={}",
        folio::directory::CursorKey::derive(&key).seal(folio::directory::Cursor {
            before_id: deep_before
        })
    );
    let suspended_names: std::collections::HashSet<String> = (0..n)
        .filter(|&row| Members::suspended(row))
        .map(|row| members.username(row))
        .collect();
    // The most common first name's first three letters, in both its forms.
    let broad = members.first[0].1[..3].to_owned();
    // That name and the dot of its usernames: in every such username, in no display name.
    let by_username_alone = format!("{}.", members.first[0].1);
    // One pair of names that occurs at least 12 times: its 12th username, as a prefix.
    let narrow = {
        let last = members.last.len();
        let mut counts = vec![0u32; members.first.len() * last];
        for &(f, l, _) in &members.rows {
            counts[f as usize * last + l as usize] += 1;
        }
        let pair = counts.iter().position(|&c| c >= 12).unwrap_or_else(|| {
            let most = counts.iter().max().copied().unwrap_or(0);
            counts.iter().position(|&c| c == most).unwrap_or(0)
        });
        // The 12th, or the next one the directory lists (a suspended member is in no search).
        let listed_ks: Vec<u32> = members
            .rows
            .iter()
            .enumerate()
            .filter(|&(row, &(f, l, _))| {
                f as usize * last + l as usize == pair && !Members::suspended(row)
            })
            .map(|(_, &(_, _, k))| k)
            .collect();
        let k = listed_ks
            .iter()
            .copied()
            .filter(|&k| k >= counts[pair].min(12))
            .min()
            .or_else(|| listed_ks.iter().copied().max())
            .expect("a listed member of the pair");
        format!(
            "{}.{}{k}",
            members.first[pair / last].1,
            members.last[pair % last].1
        )
    };
    // The prefix (longer than HEAD) with the most listed matches that the name
    // indexes still answer (at most BROAD by username and at most BROAD by name): the costliest
    // search on that path. Candidates are the prefixes of every first name and of every pair's
    // username stem ("first.last") and name key ("first last"), so there is one at any size
    // (at 1,000,000 members every first name alone is past BROAD).
    let (near_broad, over_broad) = {
        let last = members.last.len();
        let mut per_pair = vec![0usize; members.first.len() * last];
        for (row, &(f, l, _)) in members.rows.iter().enumerate() {
            // Only the members the directory lists: the suspended are in no index.
            per_pair[f as usize * last + l as usize] += usize::from(!Members::suspended(row));
        }
        // Sorted keys with their counts, and running sums: how many keys start with a prefix
        // is a difference of two sums.
        let sorted = |keys: Vec<(String, usize)>| {
            let mut keys = keys;
            keys.sort();
            let mut sums = vec![0usize];
            for (_, c) in &keys {
                sums.push(sums.last().copied().unwrap_or(0) + c);
            }
            (keys, sums)
        };
        let (stems, stem_sums) = sorted(
            (0..per_pair.len())
                .map(|pair| {
                    let stem = format!(
                        "{}.{}",
                        members.first[pair / last].1,
                        members.last[pair % last].1
                    );
                    (stem, per_pair[pair])
                })
                .collect(),
        );
        let (names, name_sums) = sorted(
            (0..per_pair.len())
                .map(|pair| (members.display[pair].1.clone(), per_pair[pair]))
                .collect(),
        );
        let starting = |(keys, sums): (&Vec<(String, usize)>, &Vec<usize>), p: &str| {
            let from = keys.partition_point(|(k, _)| k.as_str() < p);
            let to = from + keys[from..].partition_point(|(k, _)| k.starts_with(p));
            sums[to] - sums[from]
        };
        // Two picks from one pass over the candidates longer than HEAD (shorter ones read
        // their own buckets). `near_broad`: the prefix with the most matches that the name
        // indexes still answer. `worst`: the prefix whose bucket walks step over the most
        // members for each one they find (bucket ÷ matches, summed over the keys past BROAD),
        // a prefix just broad in a large bucket.
        let mut best: Option<(usize, String)> = None;
        let mut worst: Option<(f64, String)> = None;
        for key in stems.iter().chain(&names).map(|(k, _)| k) {
            let ends: Vec<usize> = key.char_indices().map(|(i, _)| i).collect();
            for end in ends.iter().copied().chain([key.len()]).skip(HEAD + 1) {
                let p = &key[..end];
                if p.ends_with(' ') {
                    continue;
                }
                let by_username = starting((&stems, &stem_sums), p);
                let by_name = starting((&names, &name_sums), p);
                let total = by_name + by_username;
                if by_name <= BROAD
                    && by_username <= BROAD
                    && best.as_ref().is_none_or(|(t, _)| total > *t)
                {
                    best = Some((total, p.to_owned()));
                }
                let head = &key[..ends[HEAD]];
                let per_found = |keys, count: usize| {
                    if count > BROAD {
                        starting(keys, head) as f64 / count as f64
                    } else {
                        0.0
                    }
                };
                let cost = per_found((&stems, &stem_sums), by_username)
                    + per_found((&names, &name_sums), by_name);
                if cost > 0.0 && worst.as_ref().is_none_or(|(c, _)| cost > *c) {
                    worst = Some((cost, p.to_owned()));
                }
            }
        }
        let near_broad = best.map(|(_, p)| p).unwrap_or_else(|| narrow.clone());
        let over_broad = worst
            .map(|(_, p)| p)
            .unwrap_or_else(|| by_username_alone.clone());
        (near_broad, over_broad)
    };
    let encode = |q: &str| {
        q.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let mut cases: Vec<(String, String)> = vec![
        ("first page".into(), "/users".into()),
        (
            format!("page {depth} members deep (before id {deep_before})"),
            deep.clone(),
        ),
    ];
    // Each search case's q, in order.
    let mut searched: Vec<String> = Vec::new();
    for (what, q) in [
        ("broad", broad.as_str()),
        ("narrow", narrow.as_str()),
        ("one letter", "a"),
        ("two letters", "ay"),
        ("just under BROAD", near_broad.as_str()),
        ("broad by username alone", by_username_alone.as_str()),
        ("just over BROAD", over_broad.as_str()),
        // The costliest searches before every prefix of up to HEAD characters had a bucket of
        // its own: a walk of `mar` or a sort of a thousand index entries.
        ("seven characters, once a walk of mar", "maria.g"),
        ("seven characters, once a sort", "ahmed.m"),
    ] {
        let (by_username, by_name) = members.matches(q);
        let walk = |n: usize| if n > BROAD { "bucket" } else { "index" };
        let path = if q.chars().count() <= HEAD {
            "bucket".to_owned()
        } else {
            format!("{} / {}", walk(by_username), walk(by_name))
        };
        cases.push((
            format!("search {what} q={q} ({by_username}+{by_name}, {path})"),
            format!("/users?q={}", encode(q)),
        ));
        searched.push(q.to_owned());
    }

    // The plans as the load left them, then the maintenance a fair measurement runs.
    let plans_before = query_plans(
        &mut conn,
        deep_before,
        &PlanSearches {
            narrow: &narrow,
            near_broad: &near_broad,
            broad: &broad,
            by_username_alone: &by_username_alone,
            over_broad: &over_broad,
        },
        false,
    );
    let mut maintained = maintain(&mut conn);
    if let Some((visible, pages)) = all_visible(&mut conn).filter(|(v, p)| v < p) {
        // A tuple whose transaction committed asynchronously (synchronous_commit = off) and
        // whose commit is not yet flushed gets no hint bit, and its page is not marked
        // all-visible: the Index Only Scans would read the table for it until autovacuum came.
        println!(
            "after the VACUUM ANALYZE only {visible} of {pages} pages are all-visible \
             (synchronous_commit = off?): VACUUM once more"
        );
        maintained.extend(
            maintain(&mut conn)
                .into_iter()
                .map(|(_, took)| ("VACUUM ANALYZE again", took)),
        );
    }
    println!(
        "{}; {}{}",
        maintained
            .iter()
            .map(|(sql, took)| format!("{sql} in {:.1} s", took.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        size(&mut conn),
        all_visible(&mut conn).map_or(String::new(), |(visible, pages)| format!(
            "; all-visible pages {visible} of {pages}"
        ))
    );

    // Folio on that database.
    let key_text = base64::engine::general_purpose::STANDARD.encode(key);
    let (mut child, base) = start_folio_with(
        dir.path(),
        database_url,
        "folder",
        &[
            ("FOLIO_SECRET_KEY", key_text.as_str()),
            ("FOLIO_SIGNUPS_PER_HOUR", "0"),
        ],
    );
    let backend = if sqlite { "sqlite" } else { "postgresql" };
    println!(
        "folio on {backend} at {base}, concurrency 16, {seconds} s per case; a search's \
         (u+n, path): members whose username + whose name starts with q, and the path \
         members.rs takes (one to {HEAD} characters: their bucket; longer, key by key: its index \
         when <= {BROAD}, else a walk of the first {HEAD} characters' bucket)"
    );
    let client = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    // Every case's answer: the first and deep pages list exactly the 20 members expected, a
    // search at least one, and none lists a suspended member.
    let names = |rows: &[usize]| -> Vec<String> {
        rows.iter()
            .take(20)
            .map(|&row| members.username(row))
            .collect()
    };
    for (what, path) in &cases {
        let r = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("GET");
        let status = r.status();
        let html = r.text().await.expect("body");
        let listed = members_listed(&html);
        let usernames = listed_usernames(&html);
        assert_eq!(usernames.len(), listed, "{what}: the usernames of {path}");
        assert!(
            status == StatusCode::OK && listed >= 1,
            "{what}: {path} answered {status} with {listed} members"
        );
        if path == "/users" {
            assert_eq!(usernames, names(&first_rows), "{what}: the first page");
        } else if path == &deep {
            assert_eq!(usernames, names(&deep_rows), "{what}: the deep page");
        }
        let hidden: Vec<&String> = usernames
            .iter()
            .filter(|u| suspended_names.contains(*u))
            .collect();
        assert!(
            hidden.is_empty(),
            "{what}: {path} lists suspended {hidden:?}"
        );
    }
    println!(
        "checked: the first page lists ids {}..={} and the deep page ids {}..={} (the 20 listed \
         members after the first {depth}, none suspended); no case lists a suspended member",
        low + first_rows[0] as i64,
        low + first_rows[19] as i64,
        low + deep_rows[0] as i64,
        low + deep_rows[19] as i64,
    );

    // Where the CPU goes, per request: this process (the load generator), Folio, and on
    // PostgreSQL the server's processes (the children of the postmaster, when it runs here).
    let postmaster = if sqlite {
        None
    } else {
        #[derive(diesel::QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Backend>(&mut *conn)
            .ok()
            .and_then(|b| std::fs::read_to_string(format!("/proc/{}/stat", b.pid)).ok())
            .and_then(|stat| {
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            })
    };
    let folio_pid = child.id();
    let cpu_now = move || {
        let db = postmaster.map_or(0.0, |parent| {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .ok()
                        .and_then(|s| {
                            s.rsplit_once(')')?
                                .1
                                .split_whitespace()
                                .nth(1)?
                                .parse()
                                .ok()
                        })
                        == Some(parent)
                })
                .map(cpu_seconds)
                .filter(|c| c.is_finite())
                .sum::<f64>()
        });
        // The whole machine (the first line of /proc/stat, in ticks of 1/100 s): busy (user,
        // nice, system, irq, softirq) and stolen by the hypervisor. Whatever of "busy" is not
        // ours is others' work on the same cores.
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let ticks: Vec<f64> = stat
                    .lines()
                    .next()?
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|t| t.parse().ok())
                    .collect();
                let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / 100.0;
                Some((at(0) + at(1) + at(2) + at(5) + at(6), at(7)))
            })
            .unwrap_or((f64::NAN, f64::NAN));
        [
            cpu_seconds(std::process::id()),
            cpu_seconds(folio_pid),
            db,
            machine.0,
            machine.1,
        ]
    };
    let cpu_line = |before: [f64; 5], after: [f64; 5], stats: &Stats| {
        let ok = stats.latencies.len().max(1) as f64;
        let per = |i: usize| (after[i] - before[i]) * 1000.0 / ok;
        let cores = |i: usize| (after[i] - before[i]) / stats.elapsed.as_secs_f64();
        let ours: f64 = (0..3).map(cores).sum();
        format!(
            "    CPU per request: loadtest {:.3} ms, folio {:.3} ms{}; cores used: these {ours:.2}, \
             others {:.2}, stolen {:.2}, of {}",
            per(0),
            per(1),
            if sqlite {
                String::new()
            } else {
                format!(", postgres {:.3} ms", per(2))
            },
            (cores(3) - ours).max(0.0),
            cores(4),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    };

    let duration = Duration::from_secs(seconds);
    let mut results = Vec::new();
    for (what, path) in &cases {
        let (c, url) = (client.clone(), Arc::new(format!("{base}{path}")));
        let before = cpu_now();
        let stats = run(16, duration, move |_| {
            let (c, url) = (c.clone(), url.clone());
            async move { page_ok(&c, &url).await }
        })
        .await;
        let after = cpu_now();
        println!("{}", stats.line(what));
        println!("{}", cpu_line(before, after, &stats));
        results.push(stats);
    }
    // For scale: what this machine serves of a request that asks the database only `SELECT 1`
    // (the pool's ping), not counted in the targets.
    {
        let (c, url) = (client.clone(), Arc::new(format!("{base}/healthz")));
        let before = cpu_now();
        let stats = run(16, duration, move |_| {
            let (c, url) = (c.clone(), url.clone());
            async move { page_ok(&c, &url).await }
        })
        .await;
        let after = cpu_now();
        println!("{}", stats.line("reference: /healthz"));
        println!("{}", cpu_line(before, after, &stats));
    }
    println!(
        "deep/first: requests/s x{:.2}, p50 x{:.2}, p99 x{:.2}",
        results[1].rate() / results[0].rate(),
        results[1].percentile(0.5) / results[0].percentile(0.5),
        results[1].percentile(0.99) / results[0].percentile(0.99)
    );
    let slowest = results
        .iter()
        .map(Stats::rate)
        .fold(f64::INFINITY, f64::min);
    let search_p50 = results[2..]
        .iter()
        .map(|s| s.percentile(0.5))
        .fold(0.0, f64::max);
    println!(
        "targets: every case >= 5000/s: {} (slowest {slowest:.0}/s); deep within 2x of first: {}; \
         search p50 < 5 ms: {} (worst {search_p50:.1} ms)",
        if slowest >= 5000.0 { "met" } else { "NOT met" },
        if results[0].rate() <= 2.0 * results[1].rate() {
            "met"
        } else {
            "NOT met"
        },
        if search_p50 < 5.0 { "met" } else { "NOT met" },
    );
    println!(
        "[folio {backend}] peak server RSS {:.0} MB",
        peak_rss_mb(child.id())
    );
    let _ = child.kill();
    let _ = child.wait();

    let searches = PlanSearches {
        narrow: &narrow,
        near_broad: &near_broad,
        broad: &broad,
        by_username_alone: &by_username_alone,
        over_broad: &over_broad,
    };
    let plans = query_plans(&mut conn, deep_before, &searches, true);
    println!(
        "query plans ({}), after the {}:",
        if sqlite {
            "EXPLAIN QUERY PLAN"
        } else {
            "EXPLAIN (ANALYZE, BUFFERS): the queries ran"
        },
        maintained
            .iter()
            .map(|(sql, _)| *sql)
            .collect::<Vec<_>>()
            .join(" and ")
    );
    print_plans(&plans, &plans_before);

    // The database's part of each case: `members::newest`, all a directory request asks of the
    // database, on this one connection with the server stopped.
    let runs = 2_000;
    let newest_cases: Vec<(String, Option<i64>, Option<folio::directory::Prefix>)> = [
        (cases[0].0.clone(), None, None),
        (cases[1].0.clone(), Some(deep_before), None),
    ]
    .into_iter()
    .chain(cases[2..].iter().zip(&searched).map(|((what, _), q)| {
        let prefix = folio::directory::Prefix::parse(Some(q)).expect("a prefix");
        (what.clone(), None, Some(prefix))
    }))
    .collect();
    if sqlite {
        // SQLite's default page cache, as Folio's connections have (the seed grew it).
        diesel::sql_query("PRAGMA cache_size = -2000")
            .execute(&mut *conn)
            .expect("cache size");
    }
    // Two passes probing on every call, as a prefix nobody searched lately costs, then one
    // with the walks remembered, as Folio's requests run (`RecentWalks`).
    let recent = folio::db::members::RecentWalks::new(64);
    let mut passes: Vec<Vec<f64>> = Vec::new();
    for pass in 0..3 {
        let recent = (pass == 2).then_some(&recent);
        passes.push(
            newest_cases
                .iter()
                .map(|(_, before, prefix)| {
                    let t = Instant::now();
                    for _ in 0..runs {
                        let found = folio::db::members::newest(
                            &mut conn,
                            *before,
                            21,
                            prefix.as_ref(),
                            recent,
                        )
                        .expect("members::newest");
                        assert!(!found.is_empty());
                    }
                    t.elapsed().as_secs_f64() * 1e6 / runs as f64
                })
                .collect(),
        );
    }
    println!(
        "the database's part: members::newest, {runs} calls a case on one connection, server \
         stopped (µs a call: two passes probing every time, one with the walks remembered):"
    );
    for (i, (what, _, _)) in newest_cases.iter().enumerate() {
        println!(
            "  {what:<52} {:>8.1} {:>8.1} {:>8.1}",
            passes[0][i], passes[1][i], passes[2][i]
        );
    }

    if let folio::db::DbConn::Sqlite(c) = &mut *conn {
        let runs = 20_000;
        let costs = reprepare_cost(c, deep_before, runs);
        println!(
            "SQLite, the deep page's query {runs} times on one connection (µs each), LIMIT bound \
             as diesel binds it vs the same SQL with LIMIT 21 written in: {}",
            costs
                .iter()
                .map(|(bound, written)| format!(
                    "{bound:.1} vs {written:.1} (x{:.2})",
                    bound / written
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}
