//! Prometheus metrics: recorded with the `metrics` facade, rendered by
//! `metrics-exporter-prometheus`, served on their own listener (`FOLIO_METRICS_BIND`) so the
//! public site never shows them.
//!
//! Without `FOLIO_METRICS_BIND` no recorder is installed and every `metrics::` call is a no-op.

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Db;

pub const HTTP_REQUESTS: &str = "folio_http_requests_total";
pub const HTTP_DURATION: &str = "folio_http_request_duration_seconds";
pub const UPLOADS: &str = "folio_picture_uploads_total";
pub const PIPELINE_DURATION: &str = "folio_picture_pipeline_seconds";
pub const PICTURES_WAITING: &str = "folio_pictures_waiting";
pub const PICTURES_IN_PROGRESS: &str = "folio_pictures_in_progress";
/// Mails by outcome: `sent`, `retry` (not sent yet), `given_up`.
pub const MAILS: &str = "folio_mails_total";
pub const DB_CONNECTIONS: &str = "folio_db_pool_connections";
pub const DB_IDLE: &str = "folio_db_pool_idle_connections";

/// Latency buckets, in seconds: from a cached page (~1 ms) to a slow upload.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's one recorder. `metrics` allows a single global recorder, and tests start
/// many apps in one process: the first app that asks installs it, the others share it.
fn handle() -> anyhow::Result<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .map_err(|e| e.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)
                .map_err(|_| "another metrics recorder is installed".to_owned())?;
            Ok(handle)
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Starts the metrics endpoint on `listener`: `GET /metrics` in Prometheus' text format.
pub fn serve(listener: TcpListener, db: Db) -> anyhow::Result<Server> {
    let handle = handle()?;
    let server = HttpServer::new(move || {
        let db = db.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let (open, idle) = db.pool_state();
                metrics::gauge!(DB_CONNECTIONS).set(f64::from(open));
                metrics::gauge!(DB_IDLE).set(f64::from(idle));
                let body = handle.render();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Counts every request and its latency by route pattern (never the raw path, whose values
/// would make a series per user) and status.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    // Any token is a valid method to actix: only the standard ones become labels.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(start.elapsed().as_secs_f64());
    result
}
