use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web;

use crate::db::Db;

/// 200 when the database answers a query, 503 when it does not. It waits at most a second
/// for a connection, so a load balancer's probe gets its answer well within two.
pub async fn healthz(db: web::Data<Db>) -> HttpResponse {
    match db.ping(Duration::from_secs(1)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        // The pool logs an outage once, when it begins; a probe every few seconds adds nothing.
        Err(e) => {
            tracing::debug!(error.cause_chain = ?e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header((
                    actix_web::http::header::RETRY_AFTER,
                    crate::error::RETRY_AFTER_SECS.to_string(),
                ))
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
