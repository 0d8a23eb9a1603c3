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
