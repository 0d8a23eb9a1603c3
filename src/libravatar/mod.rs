//! Folio as a Libravatar and Gravatar server: `GET /avatar/{hash}` answers with the picture of
//! the member who shares the address the hash names, at the size asked for, or with the
//! default the request names.
//!
//! An address nobody uses, one whose member does not share it (or has not confirmed it), and
//! one whose member is suspended take one path: one lookup in a unique index that finds no
//! row (the database keeps the hashes of shared, confirmed addresses only), then the default,
//! drawn from the request alone. Their answers are the same bytes and headers, and cost the
//! same work.
//!
//! Each size of a picture is made once, from the stored file (decoded, resized, encoded on the
//! blocking pool behind the uploads' gate), and kept in memory under the picture's file name: a
//! replaced picture has a new name, so nothing stale is ever served and nothing needs removing
//! but by the cache's bound. Clients cache by `ETag` and `Cache-Control`.

mod defaults;
mod request;

use std::sync::Arc;

use actix_web::web::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use url::Url;

pub use request::{AvatarRequest, DEFAULT_SIDE, Drawn, Fallback};

use crate::avatar::{Avatars, MASTER, PictureFile, PictureName, Renditions, StoreError, Variant};
use crate::db::{Db, users};
use crate::domain::EmailHash;
use crate::telemetry::spawn_blocking_with_tracing;

/// What the pictures made on request may hold in memory: some 8,000 at 80 px (about 4 KB each),
/// or 800 at 512 px.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How long other sites may keep an answer: a member may change their picture or stop sharing
/// it (Gravatar's own choice, 5 minutes).
pub const MAX_AGE_SECS: u32 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Picture(PictureName, u32),
    /// The hash only for the kinds drawn from it.
    Drawn(Drawn, u32, Option<EmailHash>),
}

/// An entry weighs its bytes, and a little for the entry itself, so that tiny pictures are
/// not free.
#[derive(Clone)]
struct ByLength;

impl Weighter<Key, Bytes> for ByLength {
    fn weight(&self, _: &Key, value: &Bytes) -> u64 {
        value.len() as u64 + 128
    }
}

/// The `/avatar/{hash}` service: the database, the pictures, and what it has made of them.
#[derive(Clone)]
pub struct Libravatar {
    db: Db,
    avatars: Avatars,
    cache: Arc<Cache<Key, Bytes, ByLength>>,
}

/// A picture to send.
#[derive(Debug, Clone)]
pub struct Image {
    pub body: Bytes,
    pub content_type: &'static str,
    /// Strong, quoted.
    pub etag: String,
}

#[derive(Debug, Clone)]
pub enum Answer {
    Image(Image),
    /// The client's copy (`If-None-Match`) is the current one.
    NotModified {
        etag: String,
    },
    /// `d=404` for an address without a shared picture.
    NotFound,
    /// `d=https://…` for an address without a shared picture.
    Redirect(Url),
}

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// A shared picture could not be read from the store: try again later.
    #[error("the picture store is unavailable")]
    StoreUnavailable(#[source] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Libravatar {
    pub fn new(db: Db, avatars: Avatars) -> Self {
        Self {
            db,
            avatars,
            cache: Arc::new(Cache::with_weighter(8192, CACHE_BYTES, ByLength)),
        }
    }

    /// What to send for `request`; `if_none_match` is the client's header, if any.
    pub async fn answer(
        &self,
        request: &AvatarRequest,
        if_none_match: Option<&str>,
    ) -> Result<Answer, AvatarError> {
        if let Some((name, renditions)) = self.shared_picture(request).await? {
            let etag = etag(&["picture", &name.file_name(), &request.side.to_string()]);
            if is_current(if_none_match, &etag) {
                return Ok(Answer::NotModified { etag });
            }
            // The smallest file at least as large as asked (the largest there is otherwise):
            // less to decode, and never an enlargement a larger file could have spared.
            let side = renditions
                .sides()
                .iter()
                .copied()
                .find(|&s| s >= request.side)
                .unwrap_or_else(|| renditions.sides().last().copied().unwrap_or(MASTER));
            let file = PictureFile::new(name, Variant::stored(side));
            if let Some(body) = self.picture(file, request.side).await? {
                return Ok(Answer::Image(Image {
                    body,
                    content_type: "image/jpeg",
                    etag,
                }));
            }
            // Gone from the store or unreadable (logged): the default, as for no picture.
        }
        self.fallback(request, if_none_match).await
    }

    /// The picture of the member who shares the address, if any: one query, whose answer is
    /// "no row" alike for an unknown, an unshared, an unconfirmed and a suspended address. Not
    /// asked at all for `f=y`, or a hash that is not one, whatever the address.
    async fn shared_picture(
        &self,
        request: &AvatarRequest,
    ) -> anyhow::Result<Option<(PictureName, Renditions)>> {
        let Some(hash) = request.hash.clone().filter(|_| !request.force_default) else {
            return Ok(None);
        };
        let stored = self
            .db
            .run(move |conn| users::shared_picture(conn, &hash).map_err(anyhow::Error::from))
            .await?;
        Ok(stored.and_then(|(file, renditions)| {
            let name = PictureName::parse(&file);
            if name.is_none() {
                tracing::warn!(%file, "a row names a picture that is not ours; not served");
            }
            name.map(|name| (name, Renditions::from_db(renditions)))
        }))
    }

    /// The stored picture at `side`, made once (concurrent requests for one size wait for the
    /// first); `None` when its file is missing or cannot be read.
    async fn picture(&self, file: PictureFile, side: u32) -> Result<Option<Bytes>, AvatarError> {
        let name = file.picture;
        let guard = match self
            .cache
            .get_value_or_guard_async(&Key::Picture(name, side))
            .await
        {
            Ok(body) => return Ok(Some(body)),
            Err(guard) => guard,
        };
        let stored = match self.avatars.store().read(&file).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound) => {
                tracing::warn!(picture = %name, "a shared picture is missing from the store");
                return Ok(None);
            }
            Err(e) => return Err(AvatarError::StoreUnavailable(e)),
        };
        match self.avatars.resize(stored, side).await? {
            Ok(jpeg) => {
                let body = Bytes::from(jpeg);
                // Err only when the entry was evicted meanwhile; the answer stands.
                let _ = guard.insert(body.clone());
                Ok(Some(body))
            }
            Err(rejection) => {
                tracing::error!(picture = %name, error = %rejection, "a stored picture cannot be read");
                Ok(None)
            }
        }
    }

    /// The default the request names, drawn once for each size (and hash, for the kinds drawn
    /// from it).
    async fn fallback(
        &self,
        request: &AvatarRequest,
        if_none_match: Option<&str>,
    ) -> Result<Answer, AvatarError> {
        let kind = match &request.fallback {
            Fallback::NotFound => return Ok(Answer::NotFound),
            Fallback::Redirect(url) => return Ok(Answer::Redirect(url.clone())),
            Fallback::Drawn(kind) => *kind,
        };
        let side = request.side;
        let hash = request.hash.as_ref().map_or("", EmailHash::as_str);
        let etag = etag(&["drawn", kind.name(), &side.to_string(), hash]);
        if is_current(if_none_match, &etag) {
            return Ok(Answer::NotModified { etag });
        }
        let from_hash = matches!(kind, Drawn::Identicon | Drawn::Retro);
        let key = Key::Drawn(kind, side, request.hash.clone().filter(|_| from_hash));
        let body = match self.cache.get_value_or_guard_async(&key).await {
            Ok(body) => body,
            Err(guard) => {
                let bytes = request
                    .hash
                    .as_ref()
                    .map(EmailHash::bytes)
                    .unwrap_or_default();
                let drawn = spawn_blocking_with_tracing(move || defaults::draw(kind, side, &bytes))
                    .await??;
                let body = Bytes::from(drawn);
                let _ = guard.insert(body.clone());
                body
            }
        };
        Ok(Answer::Image(Image {
            body,
            content_type: defaults::content_type(kind),
            etag,
        }))
    }
}

/// A strong tag for what `parts` name (the picture file or the default, the size, the hash):
/// the same request for the same picture always gets the same tag. Folio's picture names are
/// not given away in it.
fn etag(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    // The version of the drawings and of the resizing: a change to either is a new tag.
    hasher.update(b"folio-avatar-1");
    for part in parts {
        hasher.update([0u8]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `If-None-Match` names `etag` (weakly compared, as RFC 9110 asks for this header) or `*`.
fn is_current(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_strong_and_differ_by_every_part() {
        let tag = etag(&["drawn", "mp", "80", ""]);
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34,
            "{tag}"
        );
        assert_eq!(tag, etag(&["drawn", "mp", "80", ""]));
        assert_ne!(tag, etag(&["drawn", "mp", "81", ""]));
        assert_ne!(
            etag(&["a", "bc"]),
            etag(&["ab", "c"]),
            "parts are kept apart"
        );
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_a_star() {
        let tag = "\"abc\"";
        assert!(is_current(Some("\"abc\""), tag));
        assert!(is_current(Some("\"x\", W/\"abc\""), tag));
        assert!(is_current(Some("*"), tag));
        assert!(!is_current(Some("\"abcd\""), tag));
        assert!(!is_current(None, tag));
    }
}
