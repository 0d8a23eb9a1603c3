//! The picture's `multipart/form-data` body, as both doors read it: the form's
//! `POST /account/picture` and the API's `PATCH /api/v1/me/picture`.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
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

/// Small fields (the token) and multipart framing may add this much to a body.
const FORM_OVERHEAD: usize = 64 * 1024;
const MAX_FIELDS: usize = 8;

#[derive(Default)]
pub struct PictureForm {
    pub csrf_token: Option<String>,
    picture: Option<Part>,
    crop_x: Option<String>,
    crop_y: Option<String>,
    crop_size: Option<String>,
}

impl PictureForm {
    /// The picture and its square, or why there is nothing to judge (counted).
    pub fn upload(self) -> Result<picture::Upload, PictureError> {
        let square = self.square();
        let upload = match self.picture {
            None | Some(Part::NothingChosen) => Err(PictureError::NothingChosen),
            Some(Part::File(bytes)) => square
                .map(|square| picture::Upload { bytes, square })
                .map_err(PictureError::Refused),
        };
        if let Err(refusal) = &upload {
            picture::count_upload(refusal.kind());
        }
        upload
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

/// The `picture` field as sent.
enum Part {
    /// The browser sent the field without a file: nothing was chosen.
    NothingChosen,
    File(Vec<u8>),
}

/// Why a picture's body could not be read; both doors answer it alike.
pub enum BodyRefusal {
    /// The file passed the limit; the token, if it came first, is given back (the form
    /// checks it before answering).
    TooLarge(Option<String>),
    TimedOut,
    Malformed,
}

impl BodyRefusal {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyRefusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefusal::TimedOut => StatusCode::REQUEST_TIMEOUT,
            BodyRefusal::Malformed => StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(&self, config: &UploadConfig) -> String {
        match self {
            BodyRefusal::TooLarge(_) => format!(
                "This file is larger than {}. Choose a smaller picture.",
                human_bytes(config.max_bytes)
            ),
            BodyRefusal::TimedOut => "The picture came too slowly. Send it again.".to_owned(),
            BodyRefusal::Malformed => {
                "The form's body could not be read. Send it again.".to_owned()
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            BodyRefusal::TooLarge(_) => "too_large",
            BodyRefusal::TimedOut => "timed_out",
            BodyRefusal::Malformed => "malformed",
        }
    }
}

/// Reads a picture's body, or says why it could not (counted): a declared length far over the
/// limit is refused before anything is read.
pub async fn read_picture(
    req: &HttpRequest,
    body: Multipart,
    config: &UploadConfig,
) -> Result<PictureForm, BodyRefusal> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let read = if declared.is_some_and(|n| n > 2 * config.max_bytes + FORM_OVERHEAD) {
        Err(BodyRefusal::TooLarge(None))
    } else {
        read_form(body, config, declared.unwrap_or(0)).await
    };
    if let Err(refusal) = &read {
        picture::count_upload(refusal.kind());
    }
    read
}

/// Reads the multipart body as a stream. The file is cut off as soon as it passes the
/// limit; what follows is read and dropped (up to one more limit's worth) so the browser
/// gets to see the answer instead of a reset connection. The client's file name and
/// Content-Type are never looked at, except to tell "no file chosen" from an empty file.
async fn read_form(
    mut multipart: Multipart,
    config: &UploadConfig,
    declared: usize,
) -> Result<PictureForm, BodyRefusal> {
    let deadline = Instant::now() + config.deadline;
    let mut form = PictureForm::default();
    let mut fields = 0;
    let mut over_limit = false;
    let mut discarded = 0usize;

    while let Some(field) = next(&mut multipart, config.idle_timeout, deadline).await? {
        let mut field = field.map_err(|_| BodyRefusal::Malformed)?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(BodyRefusal::Malformed);
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
            let chunk = chunk.map_err(|_| BodyRefusal::Malformed)?;
            if over_limit || data.len() + chunk.len() > limit {
                if name != "picture" && !over_limit {
                    return Err(BodyRefusal::Malformed);
                }
                over_limit = true;
                discarded += chunk.len();
                if discarded > config.max_bytes {
                    return Err(BodyRefusal::TooLarge(form.csrf_token));
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
                    Part::NothingChosen
                } else {
                    Part::File(data)
                });
            }
            _ => {}
        }
    }
    if over_limit {
        return Err(BodyRefusal::TooLarge(form.csrf_token));
    }
    Ok(form)
}

/// The next item of a body stream, or `TimedOut` when it stalls or the deadline passes:
/// actix has no body timeout of its own, and a trickling body would hold a connection.
async fn next<S: Stream + Unpin>(
    stream: &mut S,
    idle: Duration,
    deadline: Instant,
) -> Result<Option<S::Item>, BodyRefusal> {
    let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
    timeout(wait, stream.next())
        .await
        .map_err(|_| BodyRefusal::TimedOut)
}

/// "5 MiB" for 5242880: how limits are written on pages.
pub fn human_bytes(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    const KIB: usize = 1024;
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_read_naturally() {
        assert_eq!(super::human_bytes(5 * 1024 * 1024), "5 MiB");
        assert_eq!(super::human_bytes(512 * 1024), "512 KiB");
        assert_eq!(super::human_bytes(1000), "1000 bytes");
    }
}
