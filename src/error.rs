//! The app's error type and the one place that turns error statuses into HTML pages.
//!
//! Handlers answer errors a person can fix (a form field) themselves, with the form re-rendered.
//! Everything else becomes an `AppError`: a bare status that the `error_pages` middleware
//! renders, so every 4xx/5xx (ours, actix's or a missing route's) looks the same and a 500 never
//! shows more than a request id. The cause chain goes to the log.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use tracing_actix_web::RequestId;

use crate::templates::{ErrorPage, percent_encode};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A form post without the token the form carried, or from another site.
    #[error("missing or invalid CSRF token, or a cross-site request")]
    Forbidden,
    #[error("login required")]
    LoginRequired { next: String },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            AppError::LoginRequired { next } => see_other(&login_url(next)),
            AppError::Unexpected(e) => {
                tracing::error!(error.cause_chain = ?e, "unexpected error");
                HttpResponse::InternalServerError().finish()
            }
            other => HttpResponse::new(other.status_code()),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Unexpected(e.into())
    }
}

/// 303 See Other: the answer to every successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn login_url(next: &str) -> String {
    format!("/login?next={}", percent_encode(next, b"/"))
}

/// `ErrorHandlers` default handler: gives every error status without an HTML body a page.
pub fn error_pages<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html || !(status.is_client_error() || status.is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string);
    let body = ErrorPage::for_status(status, request_id).render_html();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let res = res.set_body(body).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_redirect_keeps_the_path_encoded() {
        assert_eq!(login_url("/account"), "/login?next=/account");
        assert_eq!(login_url("/a b?c=1&d"), "/login?next=/a%20b%3Fc%3D1%26d");
    }
}
