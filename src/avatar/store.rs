//! Stored pictures: fresh UUID names, create-only writes that become visible only whole, and a
//! guard that removes a new picture unless the database commit that points at it succeeded.
//!
//! One interface, two backends (`object_store`): the local folder `$FOLIO_MEDIA_DIR/profile_pics`
//! (files written under a staging name, flushed and linked into place) or an S3-compatible
//! bucket (`PREFIX/profile_pics/<uuid4>.jpg`, a PUT that S3 makes visible only once complete).
//! Either way a name is never written twice: `PutMode::Create` makes a collision an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, RetryConfig,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::S3Settings;

/// `<uuid4>.jpg`: the only names ever written to, served from, or deleted in `profile_pics/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PictureName(Uuid);

/// Files an older Folio wrote before renaming them start with this; `folio gc` removes old ones.
pub const TEMP_PREFIX: &str = ".tmp-";

impl PictureName {
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts exactly the lowercase hyphenated form of a version-4 UUID followed by `.jpg`.
    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(".jpg")?;
        let uuid = Uuid::try_parse(stem).ok()?;
        (uuid.get_version_num() == 4 && uuid.hyphenated().to_string() == stem).then_some(Self(uuid))
    }

    pub fn file_name(&self) -> String {
        format!("{}.jpg", self.0.hyphenated())
    }
}

impl std::fmt::Display for PictureName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// Where `<img src>` finds a stored picture: Folio's own `/media`, or `FOLIO_MEDIA_PUBLIC_URL`
/// (a CDN or a public bucket) when set.
#[derive(Debug, Clone)]
pub struct PictureUrls {
    base: String,
}

impl PictureUrls {
    pub fn new(public_base: Option<&str>) -> Self {
        Self {
            base: public_base
                .unwrap_or("/media")
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    pub fn of(&self, name: &PictureName) -> String {
        format!("{}/profile_pics/{}", self.base, name.file_name())
    }
}

/// What went wrong with the store, as callers must tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such picture")]
    NotFound,
    /// The copy the client has is current (`If-None-Match`).
    #[error("not modified")]
    NotModified,
    /// The store did not answer, or refused: try again later. Nothing was changed.
    #[error("the picture store is unavailable: {0}")]
    Unavailable(#[source] object_store::Error),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            object_store::Error::NotModified { .. } => StoreError::NotModified,
            other => StoreError::Unavailable(other),
        }
    }
}

/// A stored picture on its way to a client.
pub struct Fetched {
    /// The entity tag, quoted as HTTP wants it.
    pub etag: Option<String>,
    pub last_modified: SystemTime,
    pub size: u64,
    pub body: BoxStream<'static, Result<actix_web::web::Bytes, object_store::Error>>,
}

/// An object in the store, as `folio gc` sees it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub file_name: String,
    pub last_modified: SystemTime,
}

/// How long one request to the store may take, and how often a failed one is retried: a hung
/// store must not hold an upload (or a page's picture) for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RETRIES: usize = 2;
const RETRY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
enum Backend {
    /// The `profile_pics` folder itself.
    Folder(PathBuf),
    S3 {
        bucket: String,
    },
}

/// The pictures, wherever they are kept.
#[derive(Clone)]
pub struct PictureStore {
    objects: Arc<dyn ObjectStore>,
    /// The key prefix of every picture: `profile_pics` in the folder's parent, or
    /// `PREFIX/profile_pics` in the bucket.
    root: ObjectPath,
    backend: Backend,
}

impl std::fmt::Debug for PictureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PictureStore({})", self.describe())
    }
}

impl PictureStore {
    /// `media_dir/profile_pics`, created if missing. Files are flushed to disk before they are
    /// linked into place, so the final name never holds a partial file.
    pub fn folder(media_dir: &Path) -> anyhow::Result<Self> {
        let dir = media_dir.join("profile_pics");
        std::fs::create_dir_all(&dir)?;
        let objects = LocalFileSystem::new_with_prefix(media_dir)?.with_fsync(true);
        Ok(Self {
            objects: Arc::new(objects),
            root: ObjectPath::from("profile_pics"),
            backend: Backend::Folder(dir),
        })
    }

    /// The bucket `settings` names. Nothing is sent until [`PictureStore::check`].
    pub fn s3(settings: &S3Settings) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_allow_http(settings.allow_http),
            )
            .with_retry(RetryConfig {
                max_retries: RETRIES,
                retry_timeout: RETRY_TIMEOUT,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &settings.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token.expose_secret());
        }
        let root = if settings.prefix.is_empty() {
            ObjectPath::from("profile_pics")
        } else {
            ObjectPath::from(format!("{}/profile_pics", settings.prefix))
        };
        Ok(Self {
            objects: Arc::new(builder.build()?),
            root,
            backend: Backend::S3 {
                bucket: settings.bucket.clone(),
            },
        })
    }

    /// For messages: the folder, or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Folder(dir) => format!("'{}'", dir.display()),
            Backend::S3 { bucket } => format!("s3://{bucket}/{}", self.root),
        }
    }

    /// The folder of a folder store (for leftovers only a folder can have).
    pub fn folder_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Folder(dir) => Some(dir),
            Backend::S3 { .. } => None,
        }
    }

    fn key(&self, name: &PictureName) -> ObjectPath {
        self.root.clone().join(name.file_name())
    }

    /// Proves at start that pictures can be stored: a bucket must exist and accept the
    /// credentials (listing it asks both; the error says which), and either store must take
    /// a picture the way uploads write one (create-only) and delete it.
    pub async fn check(&self) -> Result<(), String> {
        self.check_bucket().await?;
        let probe = self
            .put_new(Vec::new())
            .await
            .map_err(|e| format!("cannot store a picture in {}: {e}", self.describe()))?;
        let name = probe.name();
        probe.keep();
        self.delete(&name)
            .await
            .map_err(|e| format!("cannot delete a picture from {}: {e}", self.describe()))
    }

    async fn check_bucket(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Folder(_) => Ok(()),
            Backend::S3 { bucket } => {
                let Err(e) = self.objects.list_with_delimiter(Some(&self.root)).await else {
                    return Ok(());
                };
                // A listing's failures come back as generic errors carrying S3's error code.
                let text = e.to_string();
                let refused = [
                    "AccessDenied",
                    "SignatureDoesNotMatch",
                    "InvalidAccessKeyId",
                ];
                if matches!(e, object_store::Error::NotFound { .. })
                    || text.contains("NoSuchBucket")
                {
                    Err(format!("the bucket '{bucket}' does not exist"))
                } else if matches!(
                    e,
                    object_store::Error::PermissionDenied { .. }
                        | object_store::Error::Unauthenticated { .. }
                ) || refused.iter().any(|code| text.contains(code))
                {
                    Err(format!("the bucket '{bucket}' refused the credentials"))
                } else {
                    Err(format!("cannot reach the bucket '{bucket}': {e}"))
                }
            }
        }
    }

    /// Stores `jpeg` under a fresh name. Create-only: an existing object is never replaced.
    pub async fn put_new(&self, jpeg: Vec<u8>) -> Result<PendingPicture, StoreError> {
        let name = PictureName::generate();
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.objects
            .put_opts(&self.key(&name), jpeg.into(), options)
            .await?;
        Ok(PendingPicture {
            store: self.clone(),
            name,
            kept: false,
        })
    }

    /// Opens a stored picture, or answers `NotModified` when `if_none_match` is its tag. The
    /// tag is compared here rather than by the store, which not every S3 server does for a GET.
    pub async fn fetch(
        &self,
        name: &PictureName,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, StoreError> {
        let key = self.key(name);
        if let Some(wanted) = if_none_match {
            let meta = self.objects.head(&key).await?;
            if meta.e_tag.as_deref().map(http_tag).as_deref() == Some(wanted) {
                return Err(StoreError::NotModified);
            }
        }
        let result = self.objects.get_opts(&key, GetOptions::default()).await?;
        let meta = result.meta.clone();
        Ok(Fetched {
            etag: meta.e_tag.as_deref().map(http_tag),
            last_modified: meta.last_modified.into(),
            size: meta.size,
            body: result.into_stream(),
        })
    }

    /// A stored picture's bytes, whole (for the sizes `/avatar/{hash}` makes of it).
    pub async fn read(&self, name: &PictureName) -> Result<Vec<u8>, StoreError> {
        let got = self.objects.get(&self.key(name)).await?;
        Ok(got.bytes().await?.into())
    }

    /// Deletes a stored picture; one that is already gone is fine.
    pub async fn delete(&self, name: &PictureName) -> Result<(), StoreError> {
        match self.objects.delete(&self.key(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under `profile_pics/`, pictures or not (for `folio gc`).
    pub async fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let mut listing = self.objects.list(Some(&self.root));
        let mut found = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if let Some(file_name) = meta.location.filename() {
                found.push(Listed {
                    file_name: file_name.to_owned(),
                    last_modified: meta.last_modified.into(),
                });
            }
        }
        Ok(found)
    }
}

fn http_tag(tag: &str) -> String {
    if tag.starts_with('"') || tag.starts_with("W/") {
        tag.to_owned()
    } else {
        format!("\"{tag}\"")
    }
}

/// A new picture that no row points at yet. `keep` it once the commit that references it has
/// succeeded, or `discard` it when the commit failed; if it is simply dropped (a panic, a
/// client that went away mid-request) it is deleted in the background, and what that cannot
/// delete `folio gc` will.
#[derive(Debug)]
pub struct PendingPicture {
    store: PictureStore,
    name: PictureName,
    kept: bool,
}

impl PendingPicture {
    pub fn name(&self) -> PictureName {
        self.name
    }

    pub fn keep(mut self) {
        self.kept = true;
    }

    /// Deletes the picture now, and waits for it.
    pub async fn discard(mut self) {
        self.kept = true;
        if let Err(e) = self.store.delete(&self.name).await {
            tracing::error!(picture = %self.name, error = %e, "could not remove an uncommitted picture");
        }
    }
}

impl Drop for PendingPicture {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let (store, name) = (self.store.clone(), self.name);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = store.delete(&name).await {
                        tracing::error!(picture = %name, error = %e, "could not remove an uncommitted picture");
                    }
                });
            }
            Err(_) => {
                tracing::error!(picture = %name, "an uncommitted picture was left for folio gc")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_are_strict() {
        let name = PictureName::generate();
        assert_eq!(PictureName::parse(&name.file_name()), Some(name));
        for bad in [
            "../x.jpg",
            "x.jpg",
            "4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.JPG",
            "4F1C2F1E-3B7A-4C5E-9D3F-2A1B3C4D5E6F.jpg",
            "4f1c2f1e3b7a4c5e9d3f2a1b3c4d5e6f.jpg",
            "4f1c2f1e-3b7a-1c5e-9d3f-2a1b3c4d5e6f.jpg",
            ".tmp-4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f",
            "4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.jpg#1",
        ] {
            assert_eq!(PictureName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_follow_the_public_base() {
        let name = PictureName::parse("4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.jpg").expect("valid");
        assert_eq!(
            PictureUrls::new(None).of(&name),
            "/media/profile_pics/4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.jpg"
        );
        assert_eq!(
            PictureUrls::new(Some("https://cdn.example.org/f/")).of(&name),
            "https://cdn.example.org/f/profile_pics/4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.jpg"
        );
    }

    #[tokio::test]
    async fn a_pending_picture_is_removed_unless_kept() {
        let media = tempfile::tempdir().expect("tempdir");
        let store = PictureStore::folder(media.path()).expect("store");
        store.check().await.expect("writable");
        let dir = media.path().join("profile_pics");

        let discarded = store.put_new(b"first".to_vec()).await.expect("write");
        assert_eq!(files(&dir), vec![discarded.name().file_name()]);
        discarded.discard().await;
        assert!(files(&dir).is_empty());

        let kept = store.put_new(b"second".to_vec()).await.expect("write");
        let name = kept.name();
        kept.keep();
        assert_eq!(files(&dir), vec![name.file_name()]);
        assert_eq!(
            std::fs::read(dir.join(name.file_name())).expect("read"),
            b"second"
        );

        let fetched = store.fetch(&name, None).await.expect("fetch");
        let tag = fetched.etag.clone().expect("a tag");
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        assert_eq!(fetched.size, 6);
        assert!(matches!(
            store.fetch(&name, Some(&tag)).await,
            Err(StoreError::NotModified)
        ));

        store.delete(&name).await.expect("delete");
        store.delete(&name).await.expect("deleting twice is fine");
        assert!(matches!(
            store.fetch(&name, None).await,
            Err(StoreError::NotFound)
        ));
        assert!(files(&dir).is_empty());
    }
}
