//! `HEAD` of every `GET` route, for uptime monitors and load-balancer health checks.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// `HEAD` of every `GET` route: routed as the `GET`, so it has the same status and headers
/// (the length included); the HTTP layer, which remembers the request was a `HEAD`, sends no
/// body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(AskedWithHead);
    }
    next.call(req).await
}

/// Marks a `HEAD` routed as its `GET`, for the one handler whose `GET` changes something (a
/// confirmation link): link checkers and mail scanners send `HEAD`, which must not use it up.
#[derive(Debug, Clone, Copy)]
pub struct AskedWithHead;
