//! `GET /avatar/{hash}`: members' pictures for other sites, by the hash of their address, as
//! Libravatar and Gravatar serve them (see `crate::libravatar`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};

use crate::error::AppError;
use crate::libravatar::{Answer, AvatarError, AvatarRequest, Libravatar, MAX_AGE_SECS};

pub async fn avatar(
    req: HttpRequest,
    path: web::Path<String>,
    libravatar: web::Data<Libravatar>,
) -> Result<HttpResponse, AppError> {
    let request = AvatarRequest::parse(&path, req.query_string());
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let answer = match libravatar.answer(&request, if_none_match).await {
        Ok(answer) => answer,
        Err(AvatarError::StoreUnavailable(e)) => {
            tracing::warn!(error = %e, "the picture store is unavailable");
            return Ok(HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "30"))
                .finish());
        }
        Err(AvatarError::Unexpected(e)) => return Err(e.into()),
    };
    Ok(match answer {
        Answer::Image(image) => with_headers(HttpResponse::Ok())
            .insert_header((header::CONTENT_TYPE, image.content_type))
            .insert_header((header::ETAG, image.etag))
            .body(image.body),
        Answer::NotModified { etag } => with_headers(HttpResponse::NotModified())
            .insert_header((header::ETAG, etag))
            .finish(),
        // A body of its own (HTML, so the site's error page does not replace it): the same
        // few bytes every time, with nothing that differs between requests.
        Answer::NotFound => with_headers(HttpResponse::NotFound())
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body("<!doctype html><title>No picture</title>"),
        Answer::Redirect(url) => with_headers(HttpResponse::Found())
            .insert_header((header::LOCATION, url.as_str()))
            .finish(),
    })
}

/// What every answer carries, whoever's address it is.
fn with_headers(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={MAX_AGE_SECS}"),
        ))
        // Pictures for any site to show, as Gravatar's are; nothing here needs a cookie.
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    response
}
