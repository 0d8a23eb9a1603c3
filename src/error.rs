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
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::links::percent_encode;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A form post without the token the form carried, or from another site.
    #[error("missing or invalid CSRF token, or a cross-site request")]
    Forbidden,
    /// A query a person cannot have made from the site's own links (a damaged page cursor).
    #[error("bad request")]
    BadRequest,
    /// The member's account is suspended: 410, a page that says so.
    #[error("the account is suspended")]
    Suspended,
    #[error("login required")]
    LoginRequired { next: String },
    /// The database cannot be reached (logged once by the pool, when it begins).
    #[error("the database cannot be reached")]
    Unavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Suspended => StatusCode::GONE,
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(e) => server_error_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            AppError::LoginRequired { next } => see_other(&login_url(next)),
            AppError::Unavailable => unavailable(),
            AppError::Unexpected(e) => match server_error(e) {
                StatusCode::SERVICE_UNAVAILABLE => unavailable(),
                status => HttpResponse::new(status),
            },
            other => HttpResponse::new(other.status_code()),
        }
    }
}

/// The status of an error no client can fix: 503 while the database cannot be reached, else
/// 500. The one policy for pages and the API alike.
fn server_error_status(e: &anyhow::Error) -> StatusCode {
    if crate::db::is_unavailable(e) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// [`server_error_status`], logging a 500's cause (never shown to the client); an outage is
/// logged once by the database's pool instead.
pub fn server_error(e: &anyhow::Error) -> StatusCode {
    let status = server_error_status(e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error.cause_chain = ?e, "unexpected error");
    }
    status
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

/// How long a request waits to see whether a database that was down answers again.
const DOWN_RECHECK: std::time::Duration = std::time::Duration::from_millis(300);

/// How long a client is asked to wait while the database cannot be reached.
pub const RETRY_AFTER_SECS: i64 = 5;

/// 503 with `Retry-After`; `error_pages` gives it the page.
fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
        .finish()
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
///
/// While the database is known to be down, the request is answered 503 here, before the
/// session is touched: a session saved after the handler fails where no request is left to
/// make a page with. One quick look at the database first, so service resumes as soon as it
/// answers again.
pub async fn catch_session_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let down = req
        .app_data::<actix_web::web::Data<crate::db::Db>>()
        .filter(|db| db.is_down())
        .cloned();
    if let Some(db) = down
        && db.ping(DOWN_RECHECK).await.is_err()
    {
        let (request, _) = req.into_parts();
        return Ok(ServiceResponse::from_err(AppError::Unavailable, request).map_into_right_body());
    }
    let slot = Rc::new(RefCell::new(Some(req.request().clone())));
    req.extensions_mut().insert(ErrorSlot(slot.clone()));
    // The request's extensions hold the slot, and the slot a copy of the request: should this
    // future be dropped half-way (a client gone), the guard still breaks that cycle.
    let slot = EmptiedOnDrop(slot);
    let result = next.call(req).await;
    let kept = slot.0.borrow_mut().take();
    match (result, kept) {
        (Ok(res), _) => Ok(res.map_into_left_body()),
        (Err(_), Some(request)) if database_down(&request) => {
            Ok(ServiceResponse::from_err(AppError::Unavailable, request).map_into_right_body())
        }
        (Err(e), Some(request)) => {
            tracing::error!(error = %e, "the session could not be read or written");
            Ok(ServiceResponse::from_err(e, request).map_into_right_body())
        }
        (Err(e), None) => Err(e),
    }
}

/// Whether the session could not be read because the database cannot be reached.
fn database_down(request: &HttpRequest) -> bool {
    request
        .app_data::<actix_web::web::Data<crate::db::Db>>()
        .is_some_and(|db| db.is_down())
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
    let slot = req
        .extensions()
        .get::<ErrorSlot>()
        .map(|ErrorSlot(slot)| slot.clone());
    if let Some(slot) = &slot {
        slot.borrow_mut().take();
    }
    let res = next.call(req).await?;
    // The request has been handled: the session middleware may yet fail to save the session
    // (the database gone meanwhile), and then needs the request again to make the page.
    if let Some(slot) = slot {
        *slot.borrow_mut() = Some(res.request().clone());
    }
    Ok(res)
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
