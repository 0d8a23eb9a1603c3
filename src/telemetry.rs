//! Logging set-up, the request span, and the helper that runs blocking work inside it.

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`): text lines, coloured only when
/// stderr is a terminal, or one JSON object per line. Safe to call more than once.
pub fn init(format: LogFormat) {
    // actix-http logs a request it cannot parse (a client's malformed header) at ERROR; the
    // client got its 400, and nothing on the server is wrong.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_http::h1::dispatcher=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| BestEffortStderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Stderr for log lines, which are best effort: when nothing reads them any more (the pipe
/// to a log collector that died), a line is dropped. tracing-subscriber reports a failed
/// write with `eprintln!`, which panics on a closed stderr and would take the server down.
struct BestEffortStderr;

impl std::io::Write for BestEffortStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// The span every request's log lines carry. It is built here rather than by
/// tracing-actix-web's default, whose client address comes from `X-Forwarded-For` whoever
/// sent it: this one believes only the trusted proxies (see [`crate::proxy`]).
pub struct RequestSpan;

/// The paths whose last segment is a mailed link's secret.
const SECRET_PATHS: [&str; 2] = ["/password/reset/", "/email/confirm/"];

/// A request's path as logs may show it: a mailed link's token is a password for one use and
/// an hour, so it never reaches a log line.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PATHS.iter().find(|prefix| path.starts_with(*prefix)) {
        Some(prefix) => format!("{prefix}{{token}}").into(),
        None => path.into(),
    }
}

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client = crate::proxy::client_of(request.request());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            http.method = %request.method(),
            http.route = %request.match_pattern().unwrap_or_default(),
            http.target = %loggable_path(request.uri().path()),
            http.client_ip = %client.address(),
            http.scheme = client.scheme(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Runs `f` on actix's blocking pool, keeping the caller's tracing span.
pub async fn spawn_blocking_with_tracing<F, R>(f: F) -> anyhow::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| anyhow::anyhow!("blocking task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn mailed_link_tokens_never_reach_the_log() {
        assert_eq!(
            loggable_path("/password/reset/abcDEF123_-abcDEF123_-abcDEF123_-abcDEF123_-x"),
            "/password/reset/{token}"
        );
        assert_eq!(
            loggable_path("/email/confirm/secret"),
            "/email/confirm/{token}"
        );
        assert_eq!(loggable_path("/users/ada"), "/users/ada");
        assert_eq!(loggable_path("/password/forgot"), "/password/forgot");
    }
}
