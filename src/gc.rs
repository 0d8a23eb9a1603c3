//! `folio gc`: removes what a crash can leave behind. Safe while the server runs.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::auth::ABSOLUTE_LIFETIME_SECS;
use crate::avatar::{PictureName, PictureStore, TEMP_PREFIX};
use crate::db::{self, Db, sessions, throttle, users};

#[derive(Debug, Default)]
pub struct GcReport {
    pub removed_files: Vec<PathBuf>,
    pub expired_sessions: usize,
    pub old_login_failures: usize,
}

/// Deletes picture files no user points at and temporary files, both only once older than
/// `grace`: an upload writes its file a moment before the commit that points at it, and a
/// fresh file must survive that moment. Also purges expired sessions and stale failed logins.
pub fn collect_garbage(db: &Db, store: &PictureStore, grace: Duration) -> anyhow::Result<GcReport> {
    let mut report = GcReport::default();
    let now = SystemTime::now();

    // List first, then read the references: a file listed here whose commit lands after the
    // read below is younger than `grace` and therefore skipped.
    let mut candidates = Vec::new();
    for entry in fs::read_dir(store.dir())
        .with_context(|| format!("cannot list {}", store.dir().display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(TEMP_PREFIX) || PictureName::parse(&name).is_some();
        let meta = entry.metadata()?;
        if !ours || !meta.is_file() {
            continue;
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if age >= grace {
            candidates.push((name, entry.path()));
        }
    }

    let mut conn = db.conn()?;
    let referenced: HashSet<String> = users::all_pictures(&mut conn)?.into_iter().collect();
    for (name, path) in candidates {
        if referenced.contains(&name) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => report.removed_files.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }

    let now = db::now();
    report.expired_sessions = sessions::purge_expired(&mut conn, now, ABSOLUTE_LIFETIME_SECS)?;
    report.old_login_failures = throttle::purge_older_than(&mut conn, now - throttle::WINDOW_SECS)?;
    Ok(report)
}
