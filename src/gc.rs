//! `folio gc`: removes what a crash or a failed delete can leave behind. Safe while any number
//! of instances serve.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::auth::ABSOLUTE_LIFETIME_SECS;
use crate::avatar::{PictureName, PictureStore, TEMP_PREFIX};
use crate::db::{self, Db, access_tokens, passkeys, sessions, throttle, tokens, users};

#[derive(Debug, Default)]
pub struct GcReport {
    /// File names (in the folder or under the bucket's `profile_pics/`) that were removed.
    pub removed: Vec<String>,
    pub expired_sessions: usize,
    pub old_login_failures: usize,
    /// Sign-ups older than the hour `FOLIO_SIGNUPS_PER_HOUR` counts.
    pub old_signups: usize,
    /// Mailed links past their hour, and mail requests past the throttle's window.
    pub expired_links: usize,
    pub old_mail_requests: usize,
    /// Personal access tokens past their expiry.
    pub expired_access_tokens: usize,
    /// Passkey ceremonies (adding one, signing in) begun and never finished.
    pub expired_passkey_challenges: usize,
}

/// Deletes pictures no user points at, and a folder's half-written files, both only once older
/// than `grace`: an upload stores its picture a moment before the commit that points at it,
/// and a fresh one must survive that moment. Also purges expired sessions, links, access
/// tokens and passkey challenges, and stale failed logins.
pub async fn collect_garbage(
    db: &Db,
    store: &PictureStore,
    grace: Duration,
) -> anyhow::Result<GcReport> {
    let mut report = GcReport::default();
    let cutoff = SystemTime::now() - grace;

    // List first, then read the references: a picture listed here whose commit lands after
    // the read below is younger than `grace` and therefore skipped.
    let old_pictures: Vec<PictureName> = store
        .list()
        .await
        .with_context(|| format!("cannot list {}", store.describe()))?
        .into_iter()
        .filter(|listed| listed.last_modified <= cutoff)
        .filter_map(|listed| PictureName::parse(&listed.file_name))
        .collect();
    let referenced: HashSet<String> = db
        .run(|conn| users::all_pictures(conn).map_err(anyhow::Error::from))
        .await?
        .into_iter()
        .collect();
    for name in old_pictures {
        if referenced.contains(&name.file_name()) {
            continue;
        }
        store
            .delete(&name)
            .await
            .with_context(|| format!("cannot remove {name} from {}", store.describe()))?;
        report.removed.push(name.file_name());
    }
    if let Some(dir) = store.folder_path() {
        report.removed.extend(remove_stale_partials(dir, cutoff)?);
    }

    let (expired, failures, signups, links, mail_requests, access_tokens, challenges) = db
        .run(|conn| {
            let now = db::now();
            let expired = sessions::purge_expired(conn, now, ABSOLUTE_LIFETIME_SECS)?;
            let failures = throttle::purge_older_than(conn, now - throttle::WINDOW_SECS)?;
            let signups = throttle::purge_signups(conn, now)?;
            let links = tokens::purge_expired(conn, now)?;
            let mail_requests = throttle::purge_mail_requests(conn, now)?;
            throttle::purge_picture_uploads(conn, now)?;
            let access_tokens = access_tokens::purge_expired(conn, now)?;
            let challenges = passkeys::purge_expired_challenges(conn, now)?;
            Ok::<_, anyhow::Error>((
                expired,
                failures,
                signups,
                links,
                mail_requests,
                access_tokens,
                challenges,
            ))
        })
        .await?;
    report.expired_sessions = expired;
    report.old_login_failures = failures;
    report.old_signups = signups;
    report.expired_links = links;
    report.old_mail_requests = mail_requests;
    report.expired_access_tokens = access_tokens;
    report.expired_passkey_challenges = challenges;
    Ok(report)
}

/// A folder can also hold files that never became a picture: the staging copies of a write a
/// crash interrupted (`<uuid>.jpg#N`), and an older Folio's temporary files (`.tmp-…`).
fn remove_stale_partials(dir: &std::path::Path, cutoff: SystemTime) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let staging = name.split_once('#').is_some_and(|(stem, n)| {
            PictureName::parse(stem).is_some()
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        });
        if !(staging || name.starts_with(TEMP_PREFIX)) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() || meta.modified().is_ok_and(|m| m > cutoff) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", entry.path().display()));
            }
        }
    }
    Ok(removed)
}
