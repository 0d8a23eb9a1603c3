//! Replacing and removing a profile picture.
//!
//! The order that loses nothing: count the upload → judge it (decode, crop, resize, encode on
//! the blocking pool) → store the new picture's files (the master and its renditions) → one
//! transaction points the user at them → only then delete the old one's. A failed commit discards the new picture; any other way out (a
//! panic, a client gone mid-request) drops its guard, which removes it.

use actix_web::http::StatusCode;

use super::Context;
use crate::avatar::{PendingPicture, PictureName, Rejection, Renditions, Square};
use crate::db::{self, throttle, users};

/// A picture as sent: its bytes and the square the person chose (`None`: the centred one).
pub struct Upload {
    pub bytes: Vec<u8>,
    pub square: Option<Square>,
}

/// Why a picture was not stored. Each case says what to do, and its status is decided here.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("Choose a picture to upload.")]
    NothingChosen,
    #[error("You have sent {max} pictures in the last hour. Try again in {}.", super::minutes(*.wait_secs))]
    TooMany { max: u32, wait_secs: i64 },
    #[error(transparent)]
    Refused(Rejection),
    #[error(
        "Pictures cannot be saved right now. Try again in a few minutes; your current picture \
         is unchanged."
    )]
    StoreUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl PictureError {
    pub fn status(&self) -> StatusCode {
        match self {
            PictureError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            PictureError::NothingChosen => StatusCode::UNPROCESSABLE_ENTITY,
            PictureError::Refused(r) if r.is_unsupported_type() => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            PictureError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PictureError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            PictureError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds until another upload may be tried, for `Retry-After`.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            PictureError::TooMany { wait_secs, .. } => Some(*wait_secs),
            PictureError::StoreUnavailable => Some(60),
            _ => None,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PictureError::TooMany { .. } => "too_many",
            PictureError::NothingChosen => "no_file",
            PictureError::Refused(r) => r.kind(),
            PictureError::StoreUnavailable => "store_unavailable",
            PictureError::Unexpected(_) => "error",
        }
    }
}

/// Makes `upload` the user's picture; returns the new picture's name.
pub async fn replace(
    ctx: &Context,
    user_id: i64,
    upload: Upload,
) -> Result<PictureName, PictureError> {
    let outcome = replace_counted(ctx, user_id, upload).await;
    count_upload(match &outcome {
        Ok(_) => "stored",
        Err(e) => e.kind(),
    });
    outcome
}

async fn replace_counted(
    ctx: &Context,
    user_id: i64,
    upload: Upload,
) -> Result<PictureName, PictureError> {
    let per_hour = ctx.uploads_per_hour;
    let wait = ctx
        .db
        .run(move |conn| {
            throttle::picture_upload(conn, user_id, per_hour, db::now())
                .map_err(anyhow::Error::from)
        })
        .await?;
    if let Some(wait_secs) = wait {
        return Err(PictureError::TooMany {
            max: per_hour,
            wait_secs,
        });
    }

    let size = upload.bytes.len();
    let picture = ctx
        .avatars
        .process(upload.bytes, upload.square)
        .await?
        .map_err(|rejection| {
            tracing::info!(size, reason = ?rejection, "picture refused");
            PictureError::Refused(rejection)
        })?;
    let renditions = picture.renditions;
    let pending = ctx.avatars.write(picture).await.map_err(|e| {
        tracing::warn!(error = %e, "the picture store refused a new picture");
        PictureError::StoreUnavailable
    })?;
    let name = pending.name();
    commit(ctx.clone(), pending, renditions, user_id).await?;
    tracing::info!(user_id, size, "profile picture updated");
    Ok(name)
}

/// Points the user at the new picture and settles what becomes of it and of the old one.
///
/// This runs as a task of its own, which finishes even if the client goes away and the
/// handler is dropped mid-request: the commit may land after that moment, and the new picture
/// must then stay (and the old one go), not be deleted by a dropped guard.
async fn commit(
    ctx: Context,
    pending: PendingPicture,
    renditions: Renditions,
    id: i64,
) -> anyhow::Result<()> {
    let task = actix_web::rt::spawn(async move {
        let name = pending.name().file_name();
        let new = name.clone();
        let swapped = ctx
            .db
            .run(move |conn| {
                users::swap_picture(conn, id, Some((&new, renditions))).map_err(anyhow::Error::from)
            })
            .await;
        let error = match swapped {
            Ok(old) => {
                pending.keep();
                if let Some(old) = old {
                    ctx.avatars.remove_replaced(old).await;
                }
                return Ok(());
            }
            // No connection was had: the transaction never began, so nothing names the file.
            Err(e) if db::unavailable(&e) == Some(db::Unavailable::NoConnection) => {
                pending.discard().await;
                return Err(e);
            }
            Err(e) => e,
        };
        // A COMMIT whose answer was lost (the connection dropped on the way back) may still
        // have landed: only a picture the row certainly does not name is deleted now.
        let current = ctx
            .db
            .run(move |conn| users::find(conn, id).map_err(anyhow::Error::from))
            .await;
        match current {
            Ok(Some(user)) if user.picture.as_deref() == Some(name.as_str()) => {
                // It did land; the replaced picture, unknown here, is left for `folio gc`.
                pending.keep();
                Ok(())
            }
            Ok(_) => {
                // Awaited, so that the new picture is gone by the time the answer is.
                pending.discard().await;
                Err(error)
            }
            Err(_) => {
                tracing::warn!(picture = %name, "commit unknown: the picture is left for folio gc");
                pending.keep();
                Err(error)
            }
        }
    });
    task.await
        .map_err(|e| anyhow::anyhow!("the picture commit task failed: {e}"))?
}

/// Back to the default picture; the old file goes after the commit.
pub async fn remove(ctx: &Context, user_id: i64) -> anyhow::Result<()> {
    let old = ctx
        .db
        .run(move |conn| users::swap_picture(conn, user_id, None).map_err(anyhow::Error::from))
        .await?;
    if let Some(old) = old {
        ctx.avatars.remove_replaced(old).await;
        tracing::info!(user_id, "profile picture removed");
    }
    Ok(())
}

/// Counts an upload's outcome for the metrics (also those refused before the pipeline).
pub fn count_upload(outcome: &'static str) {
    metrics::counter!(crate::metrics::UPLOADS, "outcome" => outcome).increment(1);
}
