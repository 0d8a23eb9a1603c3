use actix_web::HttpResponse;
use actix_web::web;
use diesel::RunQueryDsl;

use crate::db::Db;

/// 200 when the database answers a query, 503 when it does not.
pub async fn healthz(db: web::Data<Db>) -> HttpResponse {
    let answer = db
        .run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    match answer {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(e) => {
            tracing::error!(error.cause_chain = ?e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
