//! A throwaway PostgreSQL cluster for the tests, made from Debian's binaries on loopback: one
//! per test binary, a database per test. No server needs to be installed and running first;
//! only the `postgresql` package (`initdb`, `pg_ctl`, `postgres`).
//!
//! Where the binaries are missing the PostgreSQL tests say so in one line and are skipped,
//! unless `FOLIO_TEST_REQUIRE_SERVICES=1` (CI), which makes that a failure.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};

/// The superuser's password: host connections use scram-sha-256, so a wrong password in a
/// URL is refused as it would be in production.
pub const PASSWORD: &str = "folio-test-pw";

pub struct Cluster {
    pub port: u16,
    root: PathBuf,
    bin: PathBuf,
}

/// Whether the tests must fail rather than skip when a service is missing.
pub fn services_required() -> bool {
    std::env::var("FOLIO_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// The cluster this test binary shares, started on first use; `None` when PostgreSQL is not
/// installed (after saying so once).
pub fn shared() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| match find_binaries() {
            Some(bin) => Some(Cluster::start_with(bin).unwrap_or_else(|e| panic!("{e}"))),
            None if services_required() => panic!(
                "FOLIO_TEST_REQUIRE_SERVICES=1 but PostgreSQL's initdb was not found \
                 (apt-get install postgresql)"
            ),
            None => {
                eprintln!(
                    "PostgreSQL not found (no initdb under /usr/lib/postgresql or on PATH): \
                     skipping the PostgreSQL tests; apt-get install postgresql to run them"
                );
                None
            }
        })
        .as_ref()
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian keeps its binaries there, off PATH), or the
/// folder of an `initdb` on PATH.
fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    })
}

/// initdb refuses to run as root: as root, the cluster belongs to the `postgres` user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Cluster {
    /// A cluster of its own (for tests that stop and restart it).
    pub fn start() -> Option<Cluster> {
        let bin = match find_binaries() {
            Some(bin) => bin,
            None if services_required() => panic!("PostgreSQL's initdb was not found"),
            None => return None,
        };
        Some(Cluster::start_with(bin).unwrap_or_else(|e| panic!("{e}")))
    }

    fn start_with(bin: PathBuf) -> Result<Cluster, String> {
        let root = tempfile::Builder::new()
            .prefix("folio-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        std::fs::write(root.join("pw"), PASSWORD).map_err(|e| format!("pwfile: {e}"))?;
        if running_as_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root))?;
        }
        let cluster = Cluster { port: 0, root, bin };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", cluster.root.join("pw").display()),
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
        )?;
        let cluster = Cluster {
            port: free_port(),
            ..cluster
        };
        cluster.start_server()?;
        cluster.watch_over_it();
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Runs one of the cluster's programs, as `postgres` when we are root.
    fn pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        command.args(args).current_dir(&self.root);
        run(&mut command)
    }

    fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=500",
            self.port,
            self.root.display()
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &self.root.join("log").to_string_lossy(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    /// Stops the server as a restart or a fail-over does: every connection is cut. (A "fast"
    /// stop rather than an "immediate" one: with `synchronous_commit=off` the latter loses the
    /// last moments of commits, which the test would then miss.)
    pub fn stop(&self) {
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts it again on the same port, after [`Cluster::stop`].
    pub fn restart(&self) {
        self.start_server().unwrap_or_else(|e| panic!("{e}"));
    }

    /// The server outlives no test process: a watcher stops it and removes its folder once
    /// this process has gone, however it ended.
    fn watch_over_it(&self) {
        let stop = format!(
            "{} '{}' -D '{}' -m immediate stop",
            if running_as_root() {
                "runuser -u postgres --"
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data().display()
        );
        when_this_process_ends(&format!(
            "{stop} >/dev/null 2>&1; rm -rf '{}'",
            self.root.display()
        ));
    }

    /// A URL for `database`, through the cluster's Unix socket, where `trust` needs no
    /// password. Over TCP, scram-sha-256 runs OpenSSL's HMAC inside libpq: a pool still
    /// reconnecting to a dropped database when the test process exits could be inside it
    /// while OpenSSL's exit handler frees its tables (seen as a SIGSEGV or "corrupted
    /// double-linked list" after every test had passed; the core showed r2d2's add_connection
    /// in HMAC_Init_ex). The refusal of a wrong password is still tested over TCP.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{database}?host={}",
            self.port,
            self.root.display()
        )
    }

    /// A fresh, empty database.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("folio_test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.admin(&format!("CREATE DATABASE {name}"));
        name
    }

    /// Drops `database`, ending any connection still open to it.
    pub fn drop_database(&self, database: &str) {
        self.admin(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
    }

    fn admin(&self, sql: &str) {
        let mut conn = PgConnection::establish(&self.url("postgres"))
            .unwrap_or_else(|e| panic!("connect to the test cluster: {e}"));
        diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Runs the shell command `cleanup` once this test process has gone, however it ended: a
/// watcher polls for it, so even a killed test run leaves no server behind.
pub fn when_this_process_ends(cleanup: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}",
        pid = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A port nobody listens on right now (the kernel's pick, released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}
