//! A real S3 server for the tests: `s3s-fs` (an S3 implementation over a folder, which checks
//! request signatures), started on loopback once per test binary, a bucket per test.
//!
//! Install it with `cargo install s3s-fs@0.14.1 --locked --features binary`. Where it is
//! missing the S3 tests say so in one line and are skipped, unless
//! `FOLIO_TEST_REQUIRE_SERVICES=1` (CI), which makes that a failure.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "folio-test-access";
pub const SECRET_KEY: &str = "folio-test-secret-key-0123456789";

pub struct S3Server {
    pub port: u16,
    data: PathBuf,
    child: Mutex<Option<Child>>,
}

/// The server this test binary shares, started on first use; `None` when `s3s-fs` is not
/// installed (after saying so once).
pub fn shared() -> Option<&'static S3Server> {
    static SERVER: OnceLock<Option<S3Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| match find_binary() {
            Some(binary) => Some(S3Server::start_with(&binary)),
            None if super::postgres::services_required() => panic!(
                "FOLIO_TEST_REQUIRE_SERVICES=1 but s3s-fs was not found \
                 (cargo install s3s-fs@0.14.1 --locked --features binary)"
            ),
            None => {
                eprintln!(
                    "s3s-fs not found (on PATH or in ~/.cargo/bin): skipping the S3 tests; \
                     cargo install s3s-fs@0.14.1 --locked --features binary to run them"
                );
                None
            }
        })
        .as_ref()
}

fn find_binary() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

impl S3Server {
    /// A server of its own (for tests that stop and restart it).
    pub fn start() -> Option<S3Server> {
        match find_binary() {
            Some(binary) => Some(S3Server::start_with(&binary)),
            None if super::postgres::services_required() => panic!("s3s-fs was not found"),
            None => None,
        }
    }

    fn start_with(binary: &Path) -> S3Server {
        let data = tempfile::Builder::new()
            .prefix("folio-s3-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let server = S3Server {
            port: super::postgres::free_port(),
            data,
            child: Mutex::new(None),
        };
        server.spawn(binary);
        server
    }

    fn spawn(&self, binary: &Path) {
        let mut child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        // Its log is drained so it never blocks on a full pipe.
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        watch_over(&child, &self.data);
        *self.child.lock().expect("lock") = Some(child);
    }

    /// Stops the server (an outage); the objects stay in its folder.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().expect("lock").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and folder, after [`S3Server::stop`].
    pub fn restart(&self) {
        let binary = find_binary().expect("s3s-fs");
        self.spawn(&binary);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A fresh, empty bucket (s3s-fs keeps a bucket as a folder).
    pub fn create_bucket(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("folio-test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        std::fs::create_dir_all(self.data.join(&name)).expect("bucket folder");
        name
    }

    /// Where s3s-fs keeps a bucket's objects (for tests that age an object).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.data.join(bucket)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The server outlives no test process: it is killed and its folder removed once this
/// process has gone.
fn watch_over(child: &Child, data: &Path) {
    super::postgres::when_this_process_ends(&format!(
        "kill {} 2>/dev/null; rm -rf '{}'",
        child.id(),
        data.display()
    ));
}
