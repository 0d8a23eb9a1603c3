//! RFC 9457 problem documents: every error under `/api/` is one, never an HTML page.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::ops::FieldErrors;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// What went wrong, for a program: `type` is `about:blank` (the status says it all), `title`
/// the status's name, `detail` what to do; a 422 names each field at fault in `errors`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "This file is not a picture.")]
    pub detail: String,
    /// Field (or JSON member) name → what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    #[schema(ignore)]
    headers: Vec<(header::HeaderName, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
        }
    }

    /// A 422 naming each field at fault.
    pub fn invalid(errors: &FieldErrors) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Some members are not valid; nothing was changed.",
        );
        problem.errors = Some(
            errors
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        problem
    }

    /// A problem whose detail is about one field, which `errors` names too.
    pub fn field(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut problem = Self::new(status, message.clone());
        problem.errors = Some(BTreeMap::from([(field.to_owned(), message)]));
        problem
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `Retry-After` in seconds.
    pub fn retry_after(self, secs: i64) -> Self {
        self.with_header(header::RETRY_AFTER, secs.max(1).to_string())
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The problem for a bare error status (a missing route, a refused method, a body
    /// actix cut off), in the words a program's author needs.
    pub fn for_status(status: StatusCode) -> Self {
        let detail = match status {
            StatusCode::NOT_FOUND => {
                "There is nothing at this address. The operations are listed at /api/v1/openapi.json."
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                "This address does not take that method; Allow lists those it takes."
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                "The body is too large: JSON bodies take at most 64 KiB."
            }
            StatusCode::BAD_REQUEST => "The request could not be read: check its query and body.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "The body's Content-Type is not one this operation takes."
            }
            StatusCode::REQUEST_TIMEOUT => "The body came too slowly. Send it again.",
            StatusCode::SERVICE_UNAVAILABLE => {
                "The service is unavailable for a moment. Try again shortly."
            }
            s if s.is_server_error() => {
                "Something went wrong on our side. Try again; if it keeps happening, tell the site's operator."
            }
            _ => "The request was refused.",
        };
        Self::new(status, detail)
    }
}

// The problems many operations share, described once for the document (types that describe,
// never built: the handlers answer with a `Problem`).

/// No token, or an unknown, expired or revoked one.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` when a token was sent"))
)]
#[allow(dead_code)]
pub struct Unauthorized(Problem);

/// A read token: changes need the write scope.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer` with `error=\"insufficient_scope\"`"))
)]
#[allow(dead_code)]
pub struct InsufficientScope(Problem);

/// The database cannot be reached for a moment.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u32, description = "seconds"))
)]
#[allow(dead_code)]
pub struct Unavailable(Problem);

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status());
        response.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.as_str()));
        }
        // Serialising a struct of strings and numbers cannot fail.
        let body = serde_json::to_vec(self).unwrap_or_default();
        response.body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_reads_as_rfc_9457_says() {
        let mut errors = FieldErrors::default();
        errors.add("bio", "Too long.");
        let json = serde_json::to_value(Problem::invalid(&errors)).expect("json");
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Unprocessable Entity");
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"]["bio"], "Too long.");
        let json = serde_json::to_value(Problem::for_status(StatusCode::NOT_FOUND)).expect("json");
        assert!(json.get("errors").is_none());
    }

    #[test]
    fn headers_go_on_the_response_not_in_the_body() {
        let problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "Slow down.").retry_after(90);
        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"90"[..])
        );
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(CONTENT_TYPE.as_bytes())
        );
    }
}
