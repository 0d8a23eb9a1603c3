//! The built `folio` binary itself, started as an operator would start it (Linux with glibc:
//! the allocator tunables and /proc are both that platform's).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `folio serve` on a free port in a fresh folder, with `tunables` as GLIBC_TUNABLES
/// (removed when `None`), and returns it once it listens.
fn serve(dir: &std::path::Path, tunables: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .arg("serve")
        .current_dir(dir)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", dir.join("folio.db"))
        .env("FOLIO_MEDIA_DIR", dir.join("media"))
        .env("FOLIO_SECRET_KEY_FILE", dir.join("folio.key"))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    match tunables {
        Some(value) => command.env("GLIBC_TUNABLES", value),
        None => command.env_remove("GLIBC_TUNABLES"),
    };
    let mut child = command.spawn().expect("start folio");
    let stderr = child.stderr.take().expect("stderr");
    let listening = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("listening on http://"));
    assert!(listening, "folio never said it was listening");
    child
}

/// GLIBC_TUNABLES as the running process sees it. glibc cuts the variable short in place
/// after the first tunable it applies, so only a prefix is visible.
fn tunables_of(child: &Child) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).expect("environ");
    environ
        .split(|&b| b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix("GLIBC_TUNABLES="))
        .map(str::to_owned)
}

#[test]
fn the_server_restarts_itself_with_the_allocator_tunables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = serve(dir.path(), None);
    let seen = tunables_of(&child);
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.expect("GLIBC_TUNABLES set by the server for itself");
    assert!(
        seen.starts_with("glibc.malloc.mmap_threshold=262144"),
        "{seen}"
    );
}

#[test]
fn tunables_the_operator_set_are_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = serve(dir.path(), Some("glibc.malloc.arena_max=4"));
    let seen = tunables_of(&child);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen.as_deref(), Some("glibc.malloc.arena_max=4"));
}

/// Starts `folio serve` with `env`, waits until it listens, makes one request, stops it and
/// returns everything it logged.
fn log_of_one_request(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .current_dir(dir.path())
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start folio");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let port = line.find("listening on http://127.0.0.1:").map(|at| {
            line[at + 30..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        log.push(line);
        if let Some(port) = port {
            let mut stream =
                std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("request");
            let _ = stream.read_to_end(&mut Vec::new());
            break;
        }
    }
    // SIGTERM: the server says it is shutting down and exits, closing its log.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    log.extend(lines.map_while(Result::ok));
    let _ = child.wait();
    log.join("\n")
}

#[test]
fn logs_are_plain_text_when_not_on_a_terminal() {
    let log = log_of_one_request(&[]);
    assert!(log.contains("listening on http://"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a pipe: {log:?}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let log = log_of_one_request(&[("FOLIO_LOG_FORMAT", "json")]);
    let mut messages = Vec::new();
    for line in log.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["timestamp"].is_string() && value["level"].is_string(),
            "{line}"
        );
        messages.push(
            value["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("listening on http://")),
        "{messages:?}"
    );
}

/// A server process that is killed when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_server_outlives_the_reader_of_its_log() {
    // A log collector that dies closes the pipe: the next log line must not end the server.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_folio"))
            .current_dir(dir.path())
            .env("FOLIO_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start folio"),
    );
    let port = {
        let mut lines = BufReader::new(child.0.stderr.take().expect("stderr")).lines();
        lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.find("listening on http://127.0.0.1:")
                    .map(|at| line[at + 30..].trim().to_owned())
            })
            .expect("folio says where it listens")
        // The reader is dropped here: the pipe is closed.
    };
    for _ in 0..3 {
        let mut stream =
            std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("still listening");
        // A server whose worker died answers nothing: wait a bounded time, then fail.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        use std::io::{Read, Write};
        stream
            .write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer:?}");
    }
    assert!(
        child.0.try_wait().expect("status").is_none(),
        "still running"
    );
}

/// Runs `folio` with `env` and returns (exit code, what it wrote to stderr).
fn start_with(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .current_dir(dir.path())
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run folio");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_malformed_mail_or_site_setting_stops_the_start_with_one_line() {
    for (name, value) in [
        (
            "FOLIO_SMTP_URL",
            "http://user:hunter2-secret@mail.example.org",
        ),
        (
            "FOLIO_SMTP_URL",
            "smtp://user:hunter2-secret@mail.example.org/path",
        ),
        ("FOLIO_SMTP_URL", "mail.example.org:587"),
        ("FOLIO_MAIL_FROM", "not an address"),
        ("FOLIO_PUBLIC_URL", "example.org"),
        ("FOLIO_PUBLIC_URL", "https://example.org/folio?x=1"),
    ] {
        let (code, stderr) = start_with(&[(name, value)]);
        assert_ne!(code, Some(0), "{name}={value}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}={value}: {stderr}");
        assert!(lines[0].contains(name), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the password stays out: {stderr}"
        );
    }
}

#[test]
fn the_smtp_password_never_reaches_the_log() {
    let log = log_of_one_request(&[("FOLIO_SMTP_URL", "smtp://folio:hunter2-secret@127.0.0.1:9")]);
    assert!(
        log.contains("mail through smtp://folio@127.0.0.1:9"),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
}
