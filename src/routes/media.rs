use actix_web::http::header::{self, HeaderValue, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::avatar::{Avatars, PictureFile, StoreError};
use crate::error::AppError;
use crate::ops;

/// Stored pictures, streamed from the store, only under the names a picture's files have
/// (`<uuid4>.jpg`, its renditions `<uuid4>-64.webp` and so on); nothing else in or outside
/// `profile_pics/` is reachable. Names never change content, so
/// caches may keep them; a client's copy is confirmed with its entity tag (304). A store that
/// cannot be reached is a 503, never a 500 page for an image. A suspended member's picture is
/// kept but served to no one (404, as for a name nobody has): the database is asked while the
/// store is, so the check adds no wait of its own.
pub async fn serve_picture(
    req: HttpRequest,
    path: web::Path<String>,
    avatars: web::Data<Avatars>,
    ctx: web::Data<ops::Context>,
) -> Result<HttpResponse, AppError> {
    let file = PictureFile::parse(&path).ok_or(AppError::NotFound)?;
    // Only a single tag is passed on: browsers send back the one they were given.
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.contains(',') && v.trim() != "*")
        .map(str::trim);
    let (served, fetched) = futures_util::future::join(
        ops::moderation::picture_is_served(&ctx, file.picture.file_name()),
        avatars.store().fetch(&file, if_none_match),
    )
    .await;
    if !served? {
        return Err(AppError::NotFound);
    }
    let mut response = match fetched {
        Ok(fetched) => {
            let mut response = HttpResponse::Ok();
            response
                // The size is known: sent as Content-Length rather than chunked.
                .no_chunking(fetched.size)
                .insert_header((header::LAST_MODIFIED, HttpDate::from(fetched.last_modified)));
            if let Some(etag) = &fetched.etag {
                response.insert_header((header::ETAG, etag.as_str()));
            }
            response.streaming(fetched.body)
        }
        Err(StoreError::NotModified) => {
            let mut response = HttpResponse::NotModified();
            if let Some(tag) = if_none_match {
                response.insert_header((header::ETAG, tag));
            }
            response.finish()
        }
        // (A read never meets `AlreadyExists`, which only a create-only write can.)
        Err(StoreError::NotFound | StoreError::AlreadyExists) => return Err(AppError::NotFound),
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(picture = %file, error = %e, "the picture store is unavailable");
            return Ok(HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "30"))
                .finish());
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.variant.encoding().content_type()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
