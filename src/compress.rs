//! Responses compressed for the clients that accept it: actix's `Compress` (brotli first, then
//! zstd and gzip, as the client ranks them). It leaves alone pictures (`image/*` but SVG) and
//! video, which are compressed already and keep their `Content-Length`, bodies that name their
//! own encoding (the precompressed static files), empty bodies (304, HEAD's) and 206s.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;

/// Wrapped around `Compress`: `Vary: Accept-Encoding` on every response whose body `Compress`
/// would encode, also when this client asked for none of the encodings, so that a cache never
/// hands one client's plain copy to another, or a compressed copy to a client without it.
/// (`Compress` itself says so only on the responses it encodes.)
pub async fn vary_on_encoding(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if compressible(headers) && !varies_on_encoding(headers) {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    Ok(res)
}

/// As `Compress` decides (actix-web 4's default predicate), for a response with a type.
fn compressible(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
    else {
        return false;
    };
    match content_type.type_() {
        actix_web::mime::IMAGE => content_type.subtype() == actix_web::mime::SVG,
        actix_web::mime::VIDEO => false,
        _ => true,
    }
}

fn varies_on_encoding(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| {
            let name = name.trim();
            name == "*" || name.eq_ignore_ascii_case("accept-encoding")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn pictures_are_left_as_they_are() {
        let yes = ["text/html; charset=utf-8", "text/css", "application/json"];
        for t in yes.into_iter().chain(["image/svg+xml"]) {
            assert!(compressible(&with(&[("content-type", t)])), "{t}");
        }
        for t in ["image/jpeg", "image/webp", "video/mp4"] {
            assert!(!compressible(&with(&[("content-type", t)])), "{t}");
        }
        assert!(!compressible(&with(&[])));
    }

    #[test]
    fn vary_is_read_across_values() {
        assert!(varies_on_encoding(&with(&[(
            "vary",
            "Origin, Accept-Encoding"
        )])));
        assert!(varies_on_encoding(&with(&[
            ("vary", "origin"),
            ("vary", "accept-encoding")
        ])));
        assert!(!varies_on_encoding(&with(&[("vary", "origin")])));
    }
}
