//! Cross-site request forgery: every url-encoded form is a [`CsrfForm`], whose token is checked
//! against the session before the handler runs; and state-changing requests that a browser says
//! came from another site are refused whatever they carry (`reject_cross_site`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::AppError;

pub async fn reject_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && is_cross_site(&req) {
        let path = crate::telemetry::loggable_path(req.path());
        tracing::warn!(%path, "refused a cross-site request");
        let res = AppError::Forbidden.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn is_cross_site(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Old browsers and non-browser clients send no Origin; the form token still applies.
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let origin_host = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    });
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(&host),
        // "null" or unreadable origins are opaque: treat them as foreign.
        _ => true,
    }
}

/// A url-encoded form whose `csrf_token` matched the session's token before the handler runs,
/// so no handler can forget the check (a mismatch is the 403 page). The multipart upload, which
/// must stream its body, checks by hand.
pub struct CsrfForm<T>(pub T);

/// The fields of a form that carries nothing but its token.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

#[derive(serde::Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for CsrfForm<T> {
    type Error = Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let form = actix_web::web::Form::<WithToken<T>>::from_request(req, payload);
        let session = super::TypedSession::extract(req);
        Box::pin(async move {
            let form = form.await?.into_inner();
            session.await?.check_csrf(Some(&form.csrf_token))?;
            Ok(Self(form.fields))
        })
    }
}

/// The header our own scripts carry the session's token in when they send JSON (`fetch`).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A JSON body sent by one of the site's own scripts, whose `X-CSRF-Token` header matched the
/// session's token before the handler runs (the cross-site check applies too, as to every
/// change). A refusal is a problem document, which the script can show: 403 without the
/// right token, 400 for a body that is not the JSON expected.
pub struct CsrfJson<T>(pub T);

/// The most a JSON body of these scripts may hold (a passkey's attestation is a few KiB).
const JSON_LIMIT: usize = 64 * 1024;

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for CsrfJson<T> {
    type Error = Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use crate::api::Problem;
        use actix_web::http::StatusCode;

        let token = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = actix_web::web::Bytes::from_request(req, payload);
        let session = super::TypedSession::extract(req);
        Box::pin(async move {
            let refused = || {
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "This page was open too long, or the request did not come from it: reload the page and try again.",
                )
            };
            session
                .await?
                .check_csrf(token.as_deref())
                .map_err(|_| refused())?;
            let bad = || Problem::new(StatusCode::BAD_REQUEST, "The request could not be read.");
            let body = body.await.map_err(|_| bad())?;
            if body.len() > JSON_LIMIT {
                return Err(bad().into());
            }
            let value = serde_json::from_slice(&body).map_err(|_| bad())?;
            Ok(Self(value))
        })
    }
}
