//! The one place that gives every error status without a body its body: an HTML page, or
//! under `/api/` a problem document. Ours, actix's or a missing route's, they all look alike,
//! and a 500 never shows more than a request id.

use actix_web::HttpMessage;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use tracing_actix_web::RequestId;

use crate::api::{Problem, problem};
use crate::templates::ErrorPage;

/// `ErrorHandlers` default handler: gives every error status without an HTML body a page.
pub fn error_pages<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    let has_body = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"text/html") || v.starts_with(problem::CONTENT_TYPE.as_bytes())
    });
    if has_body || !(status.is_client_error() || status.is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    // Under /api/ a program is asking: it gets a problem document, never a page.
    if is_api(res.request().path()) {
        let (req, res) = res.into_parts();
        let mut problem = Problem::for_status(status);
        for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
            if let Some(value) = res.headers().get(&name).and_then(|v| v.to_str().ok()) {
                problem = problem.with_header(name, value);
            }
        }
        let res = actix_web::ResponseError::error_response(&problem);
        return Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, res).map_into_right_body(),
        ));
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

/// Paths whose errors are problem documents (`/api/docs` is a page, with the site's pages).
fn is_api(path: &str) -> bool {
    (path == "/api" || path.starts_with("/api/")) && path != "/api/docs"
}
