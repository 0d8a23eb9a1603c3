use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::avatar::{Avatars, PictureName};
use crate::error::AppError;

/// Stored pictures, only under names of the exact `<uuid4>.jpg` form; nothing else in or
/// outside `profile_pics/` is reachable. Names never change content, so caches may keep them.
pub async fn serve_picture(
    req: HttpRequest,
    path: web::Path<String>,
    avatars: web::Data<Avatars>,
) -> Result<HttpResponse, AppError> {
    let name = PictureName::parse(&path).ok_or(AppError::NotFound)?;
    let path = avatars.store().path(&name);
    let file = web::block(move || NamedFile::open(path))
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("blocking pool: {e}")))?
        .map_err(|_| AppError::NotFound)?;
    let mut res = file
        .use_etag(true)
        .use_last_modified(true)
        .into_response(&req);
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
