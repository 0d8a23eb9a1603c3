//! `POST /account/picture` and `POST /account/picture/delete`.
//!
//! The shape: log-in check (extractor) → stream the body with a byte limit and timeouts →
//! CSRF → pipeline on the blocking pool → store the new picture → one transaction points the
//! user at it → only then delete the old one. A failed commit discards the new picture; any
//! other way out (a panic, a client gone mid-request) drops its guard, which removes it.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::rt::time::{Instant, timeout};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{Stream, StreamExt};

use crate::auth::{CsrfForm, CurrentUser, NoFields, TypedSession};
use crate::avatar::{Avatars, PendingPicture, Rejection, Square};
use crate::db::{Db, users};
use crate::error::{AppError, see_other};
use crate::templates::{AccountErrors, Typed};

use super::account::account_page;

/// Limits of the upload endpoint.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Largest accepted picture file (the file part, not the whole body).
    pub max_bytes: usize,
    /// Longest pause between two chunks of the body.
    pub idle_timeout: Duration,
    /// Longest time for the whole body.
    pub deadline: Duration,
}

/// Small fields (the token) and multipart framing may add this much to a body.
const FORM_OVERHEAD: usize = 64 * 1024;
const MAX_FIELDS: usize = 8;

#[derive(Default)]
struct PictureForm {
    csrf_token: Option<String>,
    picture: Option<Upload>,
    crop_x: Option<String>,
    crop_y: Option<String>,
    crop_size: Option<String>,
}

impl PictureForm {
    /// The chosen square: all three fields or none (empty fields, as a form without its
    /// script sends them, are none).
    fn square(&self) -> Result<Option<Square>, Rejection> {
        fn given(field: &Option<String>) -> Option<&str> {
            field.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (
            given(&self.crop_x),
            given(&self.crop_y),
            given(&self.crop_size),
        ) {
            (None, None, None) => Ok(None),
            (Some(x), Some(y), Some(size)) => {
                let number = |v: &str| v.parse::<u32>().map_err(|_| Rejection::BadSquare);
                Ok(Some(Square {
                    x: number(x)?,
                    y: number(y)?,
                    size: number(size)?,
                }))
            }
            _ => Err(Rejection::BadSquare),
        }
    }
}

enum Upload {
    /// The browser sent the field without a file: nothing was chosen.
    NothingChosen,
    File(Vec<u8>),
}

enum FormError {
    /// The file passed the limit; the token, if it came first, is given back.
    TooLarge(Option<String>),
    TimedOut,
    Malformed,
}

pub async fn upload(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    multipart: Multipart,
    db: web::Data<Db>,
    avatars: web::Data<Avatars>,
    config: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    let refuse = |status, message: String| {
        let errors = AccountErrors {
            picture: Some(message),
            ..AccountErrors::default()
        };
        account_page(
            &user,
            &session,
            &config,
            &db,
            status,
            Typed::default(),
            errors,
        )
    };
    let too_large = || {
        format!(
            "This file is larger than {}. Choose a smaller picture.",
            super::human_bytes(config.max_bytes)
        )
    };

    // A declared length far over the limit is refused before reading anything.
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > 2 * config.max_bytes + FORM_OVERHEAD) {
        count_upload("too_large");
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large()).await;
    }

    let form = match read_form(multipart, &config, declared.unwrap_or(0)).await {
        Ok(form) => form,
        Err(FormError::TooLarge(token)) => {
            count_upload("too_large");
            if token.is_some() {
                session.check_csrf(token.as_deref())?;
            }
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large()).await;
        }
        Err(FormError::TimedOut) => {
            count_upload("timed_out");
            return Ok(HttpResponse::RequestTimeout().finish());
        }
        Err(FormError::Malformed) => {
            count_upload("malformed");
            return Ok(HttpResponse::BadRequest().finish());
        }
    };
    if let Err(e) = session.check_csrf(form.csrf_token.as_deref()) {
        count_upload("forbidden");
        return Err(e);
    }

    let square = form.square();
    let bytes = match form.picture {
        None | Some(Upload::NothingChosen) => {
            count_upload("no_file");
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose a picture to upload.".into(),
            )
            .await;
        }
        Some(Upload::File(bytes)) => bytes,
    };
    let size = bytes.len();
    let processed = match square {
        Ok(square) => avatars.process(bytes, square).await?,
        Err(rejection) => Err(rejection),
    };
    let jpeg = match processed {
        Ok(jpeg) => jpeg,
        Err(rejection) => {
            tracing::info!(size, reason = ?rejection, "picture refused");
            count_upload(rejection.kind());
            let status = status_of(&rejection);
            return refuse(status, rejection.to_string()).await;
        }
    };

    let pending = match avatars.write(jpeg).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(error = %e, "the picture store refused a new picture");
            count_upload("store_unavailable");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Pictures cannot be saved right now. Try again in a few minutes; your current \
                 picture is unchanged."
                    .into(),
            )
            .await;
        }
    };
    let id = user.id;
    commit(db.get_ref().clone(), avatars.get_ref().clone(), pending, id).await?;
    count_upload("stored");
    tracing::info!(user_id = id, size, "profile picture updated");
    session.flash("Profile picture updated")?;
    Ok(see_other("/account"))
}

/// Points the user at the new picture and settles what becomes of it and of the old one.
///
/// This runs as a task of its own, which finishes even if the visitor goes away and the
/// handler is dropped mid-request: the commit may land after that moment, and the new
/// picture must then stay (and the old one go), not be deleted by a dropped guard.
async fn commit(
    db: Db,
    avatars: Avatars,
    pending: PendingPicture,
    id: i64,
) -> Result<(), AppError> {
    let task = actix_web::rt::spawn(async move {
        let name = pending.name().file_name();
        let new = name.clone();
        let swapped = db
            .run(move |conn| Ok::<_, AppError>(users::swap_picture(conn, id, Some(&new))?))
            .await;
        let error = match swapped {
            Ok(old) => {
                pending.keep();
                if let Some(old) = old {
                    avatars.remove_replaced(old).await;
                }
                return Ok(());
            }
            Err(e) => e,
        };
        // A COMMIT whose answer was lost (the connection dropped on the way back) may still
        // have landed: only a picture the row certainly does not name is deleted now.
        let current = db
            .run(move |conn| Ok::<_, AppError>(users::find(conn, id)?))
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
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("the picture commit task failed: {e}")))?
}

fn count_upload(outcome: &'static str) {
    metrics::counter!(crate::metrics::UPLOADS, "outcome" => outcome).increment(1);
}

fn status_of(rejection: &Rejection) -> StatusCode {
    if rejection.is_unsupported_type() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

pub async fn remove(
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    db: web::Data<Db>,
    avatars: web::Data<Avatars>,
) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let old = db
        .run(move |conn| Ok::<_, AppError>(users::swap_picture(conn, id, None)?))
        .await?;
    if let Some(old) = old {
        avatars.remove_replaced(old).await;
    }
    session.flash("Profile picture removed")?;
    Ok(see_other("/account"))
}

/// Reads the multipart body as a stream. The file is cut off as soon as it passes the
/// limit; what follows is read and dropped (up to one more limit's worth) so the browser
/// gets to see the answer instead of a reset connection. The client's file name and
/// Content-Type are never looked at, except to tell "no file chosen" from an empty file.
async fn read_form(
    mut multipart: Multipart,
    config: &UploadConfig,
    declared: usize,
) -> Result<PictureForm, FormError> {
    let deadline = Instant::now() + config.deadline;
    let mut form = PictureForm::default();
    let mut fields = 0;
    let mut over_limit = false;
    let mut discarded = 0usize;

    while let Some(field) = next(&mut multipart, config.idle_timeout, deadline).await? {
        let mut field = field.map_err(|_| FormError::Malformed)?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(FormError::Malformed);
        }
        let name = field.name().unwrap_or_default().to_owned();
        let no_file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .is_none_or(str::is_empty);
        let limit = if name == "picture" {
            config.max_bytes
        } else {
            1024
        };
        // Sized once from the declared length: growing by doubling would hold up to twice
        // the file in memory for every upload in flight.
        let mut data = if name == "picture" {
            Vec::with_capacity(declared.min(limit))
        } else {
            Vec::new()
        };
        while let Some(chunk) = next(&mut field, config.idle_timeout, deadline).await? {
            let chunk = chunk.map_err(|_| FormError::Malformed)?;
            if over_limit || data.len() + chunk.len() > limit {
                if name != "picture" && !over_limit {
                    return Err(FormError::Malformed);
                }
                over_limit = true;
                discarded += chunk.len();
                if discarded > config.max_bytes {
                    return Err(FormError::TooLarge(form.csrf_token));
                }
                continue;
            }
            data.extend_from_slice(&chunk);
        }
        if over_limit {
            continue;
        }
        match name.as_str() {
            "csrf_token" => form.csrf_token = String::from_utf8(data).ok(),
            "crop_x" => form.crop_x = String::from_utf8(data).ok(),
            "crop_y" => form.crop_y = String::from_utf8(data).ok(),
            "crop_size" => form.crop_size = String::from_utf8(data).ok(),
            "picture" if form.picture.is_none() => {
                form.picture = Some(if data.is_empty() && no_file_name {
                    Upload::NothingChosen
                } else {
                    Upload::File(data)
                });
            }
            _ => {}
        }
    }
    if over_limit {
        return Err(FormError::TooLarge(form.csrf_token));
    }
    Ok(form)
}

/// The next item of a body stream, or `TimedOut` when it stalls or the deadline passes:
/// actix has no body timeout of its own, and a trickling body would hold a connection.
async fn next<S: Stream + Unpin>(
    stream: &mut S,
    idle: Duration,
    deadline: Instant,
) -> Result<Option<S::Item>, FormError> {
    let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
    timeout(wait, stream.next())
        .await
        .map_err(|_| FormError::TimedOut)
}
