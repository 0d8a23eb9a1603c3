//! Profile pictures: the pipeline, the files, and the gate that bounds how many are decoded
//! at once.

mod formats;
pub mod isolated;
mod process;
mod renditions;
mod shrink;
mod sized;
mod sniff;
mod store;
mod types;

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;

pub(crate) use process::encode;
pub use process::{
    Limits, Options, Processed, QUALITY, Rejection, RenditionFiles, SIZE, Square, Timings,
    WEBP_QUALITY, encode_file, process, process_picture, process_square, process_with,
    renditions_from_master,
};
pub use renditions::{Encoding, LARGE, MASTER, PictureFile, Renditions, Variant};
pub use sized::{MAX_SIDE, resize_stored};
pub use sniff::{Format, Sniffed, sniff};
pub use store::{
    Fetched, Listed, PendingPicture, PictureName, PictureStore, PictureUrls, StoreError,
    TEMP_PREFIX,
};

use crate::telemetry::spawn_blocking_with_tracing;

/// Runs the pipeline on the blocking pool, at most `concurrency` pictures at a time, so a burst
/// of huge uploads queues instead of exhausting memory while pages keep being served.
#[derive(Clone)]
pub struct Avatars {
    gate: Arc<Semaphore>,
    /// HEIC's decoder needs 14 bytes a pixel in its child (isolated.rs): one at a time, and
    /// queued here before a decode permit, so waiting HEIC uploads never hold the permits
    /// every other upload needs.
    heic_gate: Arc<Semaphore>,
    limits: Limits,
    store: PictureStore,
}

impl Avatars {
    pub fn new(store: PictureStore, concurrency: usize, limits: Limits) -> Self {
        Self {
            gate: Arc::new(Semaphore::new(concurrency.max(1))),
            heic_gate: Arc::new(Semaphore::new(1)),
            limits,
            store,
        }
    }

    pub fn store(&self) -> &PictureStore {
        &self.store
    }

    /// Decodes and re-encodes `upload` into its master and renditions, keeping `square`
    /// (`None`: the centred one); the outer error is ours, the inner one the upload's.
    pub async fn process(
        &self,
        upload: Vec<u8>,
        square: Option<Square>,
    ) -> anyhow::Result<Result<Processed, Rejection>> {
        let waiting = metrics::gauge!(crate::metrics::PICTURES_WAITING);
        waiting.increment(1.0);
        let heic = sniff(&upload) == Sniffed::Accepted(Format::Heic);
        let heic_permit = if heic {
            Some(self.heic_gate.acquire().await)
        } else {
            None
        };
        let permit = self.gate.acquire().await;
        waiting.decrement(1.0);
        let _heic_permit = heic_permit.transpose().context("HEIC decode gate closed")?;
        let _permit = permit.context("decode gate closed")?;
        let in_progress = metrics::gauge!(crate::metrics::PICTURES_IN_PROGRESS);
        in_progress.increment(1.0);
        let start = std::time::Instant::now();
        let limits = self.limits;
        let result =
            spawn_blocking_with_tracing(move || process_picture(&upload, &limits, square)).await;
        in_progress.decrement(1.0);
        metrics::histogram!(crate::metrics::PIPELINE_DURATION)
            .record(start.elapsed().as_secs_f64());
        result
    }

    /// A stored picture at `side`×`side` (`/avatar/{hash}`), on the blocking pool behind the
    /// same gate as uploads; the outer error is ours, the inner one the stored file's.
    pub async fn resize(
        &self,
        stored: Vec<u8>,
        side: u32,
    ) -> anyhow::Result<Result<Vec<u8>, Rejection>> {
        let _permit = self.gate.acquire().await.context("decode gate closed")?;
        spawn_blocking_with_tracing(move || resize_stored(&stored, side)).await
    }

    /// Stores the processed picture's files under a fresh name.
    pub async fn write(&self, picture: Processed) -> Result<PendingPicture, StoreError> {
        self.store.put_new(picture).await
    }

    /// Deletes a replaced picture after the commit. A failure is logged, never shown: the
    /// user's picture is already the new one, and `folio gc` will find the leftover.
    pub async fn remove_replaced(&self, file_name: String) {
        let Some(name) = PictureName::parse(&file_name) else {
            tracing::warn!(file = %file_name, "a row named a picture that is not ours; left alone");
            return;
        };
        if let Err(e) = self.store.delete(&name).await {
            tracing::warn!(picture = %name, error = %e, "could not delete a replaced picture");
        }
    }
}
