//! The picture's `multipart/form-data` body, as both doors read it: the form's
//! `POST /account/picture` and the API's `PATCH /api/v1/me/picture`.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::rt::time::{Instant, timeout};
use futures_util::{Stream, StreamExt};

use crate::avatar::{Rejection, Square};
use crate::ops::picture::{self, PictureError};

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

impl UploadConfig {
    /// The words of a 413, on the form and in the API.
    pub fn too_large_message(&self) -> String {
        format!(
            "This file is larger than {}. Choose a smaller picture.",
            crate::routes::human_bytes(self.max_bytes)
        )
    }
}

/// Small fields (the token) and multipart framing may add this much to a body.
pub const FORM_OVERHEAD: usize = 64 * 1024;
const MAX_FIELDS: usize = 8;

#[derive(Default)]
pub struct PictureForm {
    pub csrf_token: Option<String>,
    pub picture: Option<Upload>,
    crop_x: Option<String>,
    crop_y: Option<String>,
    crop_size: Option<String>,
}

impl PictureForm {
    /// The picture and its square, or why there is nothing to judge.
    pub fn upload(self) -> Result<picture::Upload, PictureError> {
        let square = self.square();
        let bytes = match self.picture {
            None | Some(Upload::NothingChosen) => return Err(PictureError::NothingChosen),
            Some(Upload::File(bytes)) => bytes,
        };
        let square = square.map_err(PictureError::Refused)?;
        Ok(picture::Upload { bytes, square })
    }

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

pub enum Upload {
    /// The browser sent the field without a file: nothing was chosen.
    NothingChosen,
    File(Vec<u8>),
}

pub enum FormError {
    /// The file passed the limit; the token, if it came first, is given back.
    TooLarge(Option<String>),
    TimedOut,
    Malformed,
}

/// The body's declared length, when it has one.
pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Whether a declared length is so far over the limit that nothing need be read.
pub fn hopelessly_large(declared: Option<usize>, config: &UploadConfig) -> bool {
    declared.is_some_and(|n| n > 2 * config.max_bytes + FORM_OVERHEAD)
}

/// Reads the multipart body as a stream. The file is cut off as soon as it passes the
/// limit; what follows is read and dropped (up to one more limit's worth) so the browser
/// gets to see the answer instead of a reset connection. The client's file name and
/// Content-Type are never looked at, except to tell "no file chosen" from an empty file.
pub async fn read_form(
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
