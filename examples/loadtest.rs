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

#[path = "../benches/images.rs"]
#[allow(dead_code)]
mod images;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Body, Client, StatusCode, multipart, redirect::Policy};

struct Args {
    seconds: u64,
    database_urls: Vec<String>,
    media_stores: Vec<String>,
    uploads_only: bool,
    peer: Option<String>,
    peer_pid: Option<u32>,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 10,
        database_urls: Vec::new(),
        media_stores: Vec::new(),
        uploads_only: false,
        peer: None,
        peer_pid: None,
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

struct Uploader {
    client: Client,
    token: String,
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
                    user_id,
                }
            }
        }
    }

    async fn upload(&self, who: &Uploader, bytes: &Bytes) -> bool {
        // A shared buffer, not a copy per request: the generator shares the server's cores.
        let part =
            multipart::Part::stream_with_length(Body::from(bytes.clone()), bytes.len() as u64)
                .file_name("photo.jpg");
        let response = match self {
            Target::Folio { base, .. } => {
                let form = multipart::Form::new()
                    .text("csrf_token", who.token.clone())
                    .part("picture", part);
                who.client
                    .post(format!("{base}/account/picture"))
                    .multipart(form)
                    .send()
                    .await
            }
            Target::Peer { base } => {
                let form = multipart::Form::new().part("file", part);
                who.client
                    .patch(format!("{base}/api/users/{}/picture", who.user_id))
                    .multipart(form)
                    .send()
                    .await
            }
        };
        match response {
            Ok(r) => {
                let ok = r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::OK;
                let _ = r.bytes().await;
                ok
            }
            Err(_) => false,
        }
    }

    fn profile_url(&self, name: &str, id: u64) -> String {
        match self {
            Target::Folio { base, .. } => format!("{base}/users/{name}"),
            Target::Peer { base } => format!("{base}/users/{id}"),
        }
    }
}

async fn page_ok(client: &Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(response) => response.status() == StatusCode::OK && response.bytes().await.is_ok(),
        Err(_) => false,
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

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<44} {:>9.1}/s  p50 {:>7.1} ms  p99 {:>7.1} ms  ({} ok, {} failed)",
            self.rate(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.latencies.len(),
            self.failures
        )
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
    // New names on every run and backend, so a database that is not empty does not matter.
    static PHASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let prefix = format!(
        "lt{}x{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 1_000_000),
        PHASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
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
        async move { t.upload(&u[w], &p).await }
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
        async move { t.upload(&u[w], &p).await }
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
            phases(
                Target::Folio { base, backend },
                child.id(),
                args.seconds,
                args.uploads_only,
                photo12.clone(),
                photo24.clone(),
            )
            .await;
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    if let Some(peer) = args.peer {
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
