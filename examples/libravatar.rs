//! `/avatar/{hash}` benchmark: starts the release build of Folio on a free port with a fresh
//! data folder (SQLite, pictures in a folder), makes a member with a confirmed address (through
//! the link mailed as an `.eml` file), a picture and sharing on, then reports:
//!
//! - the time of each size's first (cold) request, each a decode of the stored 300×300 JPEG, a
//!   Lanczos resize and an encode;
//! - requests/s and latency at concurrency 16 of `/avatar/{hash}?s=80` once made (warm): the
//!   member's picture, an unknown address's default, and a revalidation (`If-None-Match`, 304);
//! - the server's CPU per request and its peak RSS.
//!
//!     cargo build --release && cargo run --release --example libravatar [-- --seconds 10]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::Digest;
use reqwest::{Client, StatusCode, multipart, redirect::Policy};

const PASSWORD: &str = "a-long-unusual-pass";
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let mut seconds = 10;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = start_folio(dir.path());
    let pid = child.id();
    println!("folio at {base}, {seconds} s per phase, concurrency {CONCURRENCY}");

    let address = "bench@example.org";
    let browser = member(&base, dir.path(), address).await;
    let hash = hex(&md5::Md5::digest(address.as_bytes()));
    let unknown = hex(&md5::Md5::digest(b"nobody@example.org"));
    let reader = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    drop(browser);

    // Cold: the first request of each size makes it. s=80 first, as a page would ask.
    let mut cold = Vec::new();
    for side in [80, 512, 256, 128, 64, 40, 200, 300, 100, 32, 20, 450] {
        let url = format!("{base}/avatar/{hash}?s={side}");
        let started = Instant::now();
        let response = reader.get(&url).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "image/jpeg",
            "the member's picture"
        );
        response.bytes().await.expect("body");
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        println!("cold s={side:<3} {ms:>7.2} ms");
        cold.push(ms);
        // Once made, the same size again is the cache's.
        let started = Instant::now();
        reader
            .get(&url)
            .send()
            .await
            .expect("GET")
            .bytes()
            .await
            .expect("body");
        println!(
            "warm s={side:<3} {:>7.2} ms (one request, for scale)",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let mut sorted = cold.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "cold sizes: median {:.2} ms, slowest {:.2} ms (s=512: {:.2} ms)",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        cold[1]
    );
    let started = Instant::now();
    let drawn = reader
        .get(format!("{base}/avatar/{unknown}?s=512&d=identicon"))
        .send()
        .await
        .expect("GET");
    assert_eq!(drawn.status(), StatusCode::OK);
    drawn.bytes().await.expect("body");
    println!(
        "cold identicon s=512 {:.2} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let picture = format!("{base}/avatar/{hash}?s=80");
    let etag = reader
        .get(&picture)
        .send()
        .await
        .expect("GET")
        .headers()
        .get("etag")
        .expect("a tag")
        .to_str()
        .expect("ASCII")
        .to_owned();
    let cases = [
        (
            "member's picture `?s=80`",
            picture.clone(),
            None,
            StatusCode::OK,
        ),
        (
            "unknown address `?s=80` (silhouette)",
            format!("{base}/avatar/{unknown}?s=80"),
            None,
            StatusCode::OK,
        ),
        (
            "member's picture `?s=80`, If-None-Match",
            picture,
            Some(etag),
            StatusCode::NOT_MODIFIED,
        ),
    ];
    println!("\n| case | requests/s | p50 ms | p99 ms | ok | failed | server CPU ms/request |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (what, url, tag, status) in cases {
        let before = cpu_seconds(pid);
        let stats = run(duration, &reader, &url, tag.as_deref(), status).await;
        let cpu = (cpu_seconds(pid) - before) * 1000.0 / stats.ok.max(1) as f64;
        println!(
            "| {what} | {:.0} | {:.3} | {:.3} | {} | {} | {cpu:.3} |",
            stats.ok as f64 / stats.elapsed.as_secs_f64(),
            stats.percentile(0.5),
            stats.percentile(0.99),
            stats.ok,
            stats.failed
        );
    }
    println!("\nPeak server RSS {:.0} MB.", peak_rss_mb(pid));
    let _ = child.kill();
    let _ = child.wait();
}

/// A member with `address` confirmed, a 600×600 picture and sharing on; logged in.
async fn member(base: &str, dir: &std::path::Path, address: &str) -> Client {
    let client = Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let token = csrf(&client, &format!("{base}/register")).await;
    let registered = client
        .post(format!("{base}/register"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "bench"),
            ("email", address),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::SEE_OTHER, "registered");

    let link = confirmation_link(&dir.join("mail")).await;
    let path = &link[link.find("/email/confirm/").expect("a confirmation link")..];
    let confirmed = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER, "confirmed");

    let picture = image::RgbImage::from_fn(600, 600, |x, y| {
        image::Rgb([(x * 255 / 600) as u8, (y * 255 / 600) as u8, 128])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("PNG");
    let token = csrf(&client, &format!("{base}/account")).await;
    let form = multipart::Form::new().text("csrf_token", token).part(
        "picture",
        multipart::Part::bytes(png.into_inner())
            .file_name("bench.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    let uploaded = client
        .post(format!("{base}/account/picture"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER, "uploaded");

    let token = csrf(&client, &format!("{base}/account")).await;
    let shared = client
        .post(format!("{base}/account/profile"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("display_name", ""),
            ("bio", ""),
            ("website", ""),
            ("share_by_email", "on"),
        ])
        .send()
        .await
        .expect("share");
    assert_eq!(shared.status(), StatusCode::SEE_OTHER, "sharing");
    client
}

async fn csrf(client: &Client, url: &str) -> String {
    let html = client
        .get(url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("HTML");
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("a CSRF token") + marker.len();
    html[start..start + html[start..].find('"').expect("quote")].to_owned()
}

/// The link in the `.eml` file Folio writes without a mail server (waits up to 10 s).
async fn confirmation_link(folder: &std::path::Path) -> String {
    for _ in 0..100 {
        let files = std::fs::read_dir(folder).into_iter().flatten().flatten();
        for file in files {
            let raw = std::fs::read(file.path()).unwrap_or_default();
            let Some(mail) = mail_parser::MessageParser::default().parse(&raw) else {
                continue;
            };
            let text = mail.body_text(0).unwrap_or_default().into_owned();
            if let Some(start) = text.find("http") {
                let link = text[start..].split_whitespace().next().unwrap_or_default();
                if link.contains("/email/confirm/") {
                    return link.to_owned();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no confirmation mail in {}", folder.display());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Stats {
    latencies: Vec<Duration>,
    ok: usize,
    failed: usize,
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
}

/// GETs `url` from CONCURRENCY loops for `duration`; an answer of `status` counts.
async fn run(
    duration: Duration,
    client: &Client,
    url: &str,
    if_none_match: Option<&str>,
    status: StatusCode,
) -> Stats {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url) = (client.clone(), url.to_owned());
        let tag = if_none_match.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0);
            while start.elapsed() < duration {
                let t = Instant::now();
                let mut request = client.get(&url);
                if let Some(tag) = &tag {
                    request = request.header("if-none-match", tag);
                }
                let answered = match request.send().await {
                    Ok(r) => r.status() == status && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if answered {
                    latencies.push(t.elapsed());
                } else {
                    failed += 1;
                }
            }
            (latencies, failed)
        }));
    }
    let mut stats = Stats {
        latencies: Vec::new(),
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (latencies, failed) = task.await.expect("worker");
        stats.latencies.extend(latencies);
        stats.failed += failed;
    }
    stats.elapsed = start.elapsed();
    stats.ok = stats.latencies.len();
    stats.latencies.sort();
    stats
}

/// Starts `target/release/folio` (beside this example's binary) on a free port.
fn start_folio(dir: &std::path::Path) -> (Child, String) {
    let binary = std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("folio");
    let mut child = Command::new(&binary)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", dir.join("folio.db"))
        .env("FOLIO_MEDIA_DIR", dir.join("media"))
        .env("FOLIO_MAIL_DIR", dir.join("mail"))
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

/// User plus system CPU time of a process so far (Linux counts it in 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the name: state is field 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
