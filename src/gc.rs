//! `folio gc`: removes what a crash or a failed delete can leave behind. Safe while any number
//! of instances serve.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::auth::ABSOLUTE_LIFETIME_SECS;
use crate::avatar::{
    Limits, PictureFile, PictureName, PictureStore, TEMP_PREFIX, Variant, renditions_from_master,
};
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
    /// Pictures stored before renditions existed that got theirs.
    pub renditions_made: usize,
}

/// Deletes pictures no user points at (every file of them: the master and its renditions,
/// whichever a crash left), and a folder's half-written files, both only once older than
/// `grace`: an upload stores its picture a moment before the commit that points at it, and a
/// fresh one must survive that moment. Makes the renditions of pictures stored before they
/// existed. Also purges expired sessions, links, access tokens and passkey challenges, and
/// stale failed logins.
pub async fn collect_garbage(
    db: &Db,
    store: &PictureStore,
    grace: Duration,
) -> anyhow::Result<GcReport> {
    let mut report = GcReport::default();
    let cutoff = SystemTime::now() - grace;

    // List first, then read the references: a picture listed here whose commit lands after
    // the read below is younger than `grace` and therefore skipped.
    let old_files: Vec<PictureFile> = store
        .list()
        .await
        .with_context(|| format!("cannot list {}", store.describe()))?
        .into_iter()
        .filter(|listed| listed.last_modified <= cutoff)
        .filter_map(|listed| PictureFile::parse(&listed.file_name))
        .collect();
    let referenced: HashSet<String> = db
        .run(|conn| users::all_pictures(conn).map_err(anyhow::Error::from))
        .await?
        .into_iter()
        .collect();
    for file in old_files {
        if referenced.contains(&file.picture.file_name()) {
            continue;
        }
        store
            .delete_file(file)
            .await
            .with_context(|| format!("cannot remove {file} from {}", store.describe()))?;
        report.removed.push(file.file_name());
    }
    if let Some(dir) = store.folder_path() {
        report.removed.extend(remove_stale_partials(dir, cutoff)?);
    }

    report.renditions_made = make_missing_renditions(db, store).await?;

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

/// Gives every picture stored before renditions existed its renditions, made from its master,
/// one picture at a time beside the serving instances: files first, then a commit that records
/// them only if the member still has that picture (else the new files go again). Until then
/// pages show the master.
async fn make_missing_renditions(db: &Db, store: &PictureStore) -> anyhow::Result<usize> {
    const BATCH: i64 = 100;
    let (mut after, mut made) = (0, 0);
    loop {
        let batch = db
            .run(move |conn| {
                users::pictures_without_renditions(conn, after, BATCH).map_err(anyhow::Error::from)
            })
            .await?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(made);
        };
        after = last;
        for (user_id, picture) in batch {
            let Some(name) = PictureName::parse(&picture) else {
                continue;
            };
            let master = match store.read(&PictureFile::new(name, Variant::MASTER)).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(picture = %name, error = %e, "cannot read a picture to make its renditions");
                    continue;
                }
            };
            let made_now = crate::telemetry::spawn_blocking_with_tracing(move || {
                renditions_from_master(&master, &Limits::default())
            })
            .await?;
            let (renditions, files) = match made_now {
                Ok(made) => made,
                Err(e) => {
                    tracing::warn!(picture = %name, reason = ?e, "a stored picture could not be read; no renditions");
                    continue;
                }
            };
            let variants: Vec<Variant> = files.iter().map(|(v, _)| *v).collect();
            store
                .put_beside(name, files)
                .await
                .with_context(|| format!("cannot store the renditions of {name}"))?;
            let recorded = db
                .run(move |conn| {
                    users::record_renditions(conn, user_id, &picture, renditions)
                        .map_err(anyhow::Error::from)
                })
                .await?;
            if recorded {
                made += 1;
            } else {
                // Replaced meanwhile: the replacement deleted (or will delete) the old
                // picture's files; these are removed now so none outlives it.
                for variant in variants {
                    store.delete_file(PictureFile::new(name, variant)).await?;
                }
            }
        }
    }
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
