//! The app's error type and the one place that turns error statuses into HTML pages.
//!
//! Handlers answer errors a person can fix (a form field) themselves, with the form re-rendered.
//! Everything else becomes an `AppError`: a bare status that the `error_pages` middleware
//! renders, so every 4xx/5xx (ours, actix's or a missing route's) looks the same and a 500 never
//! shows more than a request id. The cause chain goes to the log.

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
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

/// For callers to whom a taken name or address cannot happen (the handlers that can tell the
/// person match on `DbError` themselves).
impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unexpected(e) => AppError::Unexpected(e),
            other => AppError::Unexpected(other.into()),
        }
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

/// The request a failing middleware consumed, kept so that its error can still become a
/// response. See [`catch_session_errors`].
struct ErrorSlot(Rc<RefCell<Option<HttpRequest>>>);

/// The session middleware reads the session before any handler runs; when the database is
/// down that read fails with an error, not a response, and `error_pages` (which only sees
/// responses) would let an empty 500 through. This turns such an error into a response, so
/// the visitor gets the same page as for any other error.
///
/// Making a response needs the request, and actix forbids holding a copy of it while it is
/// routed further in: the copy waits in a slot that [`release_error_slot`], placed just
/// inside the session middleware, empties on the way in.
pub async fn catch_session_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let slot = Rc::new(RefCell::new(Some(req.request().clone())));
    req.extensions_mut().insert(ErrorSlot(slot.clone()));
    // The request's extensions hold the slot, and the slot a copy of the request: should this
    // future be dropped half-way (a client gone), the guard still breaks that cycle.
    let slot = EmptiedOnDrop(slot);
    let result = next.call(req).await;
    let kept = slot.0.borrow_mut().take();
    match (result, kept) {
        (Ok(res), _) => Ok(res.map_into_left_body()),
        (Err(e), Some(request)) => Ok(ServiceResponse::from_err(e, request).map_into_right_body()),
        (Err(e), None) => Err(e),
    }
}

struct EmptiedOnDrop(Rc<RefCell<Option<HttpRequest>>>);

impl Drop for EmptiedOnDrop {
    fn drop(&mut self) {
        self.0.borrow_mut().take();
    }
}

/// See [`catch_session_errors`].
pub async fn release_error_slot(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(ErrorSlot(slot)) = req.extensions().get::<ErrorSlot>() {
        slot.borrow_mut().take();
    }
    next.call(req).await
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
