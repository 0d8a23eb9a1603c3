//! The few static files (stylesheet, scripts, icon), built into the binary so that it runs
//! from any directory.
//!
//! Each is served under a name that carries a hash of its content (`style.3f9a1c2b5d6e.css`),
//! cached for a year and never asked for again: pages name it through [`url`], so the pages of
//! a new build ask for the new file. The plain name (`style.css`) still answers, with a short
//! cache, for pages an older build rendered. The files are compressed once, at start-up, at
//! the best ratio, rather than on each request.

use std::io::Write;
use std::sync::LazyLock;

use actix_web::http::header::{self, AcceptEncoding, Encoding, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::AppError;

const SOURCES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    ),
    (
        "picture.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/picture.js"),
    ),
    (
        "directory.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/directory.js"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/passkeys.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../static/favicon.svg"),
    ),
];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The plain names' content changes with each build.
const SHORT: &str = "public, max-age=3600";

struct StaticFile {
    name: &'static str,
    /// The name with the content's hash.
    hashed: String,
    /// `/static/` and the hashed name.
    url: String,
    content_type: &'static str,
    plain: Bytes,
    // Every file here is text (SVG included), which always compresses.
    br: Bytes,
    gzip: Bytes,
}

static FILES: LazyLock<Vec<StaticFile>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|&(name, content_type, plain)| {
            let hashed = hashed_name(name, plain);
            StaticFile {
                name,
                url: format!("/static/{hashed}"),
                hashed,
                content_type,
                plain: Bytes::from_static(plain),
                br: brotli(plain).into(),
                gzip: gzip(plain).into(),
            }
        })
        .collect()
});

/// Hashes and compresses the files now, at start-up, rather than in the first request.
pub fn prepare() {
    LazyLock::force(&FILES);
}

/// The address of the static file `name` (`style.css`) under its hashed name, for templates.
/// A name that is not one of the files gives an address that is not found (a unit test keeps
/// the templates' names right).
pub fn url(name: &str) -> &'static str {
    FILES
        .iter()
        .find(|f| f.name == name)
        .map_or("/static/unknown", |f| f.url.as_str())
}

/// `style.css` with content `bytes` → `style.<12 hex digits of its SHA-256>.css`.
fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    match name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{hash}.{extension}"),
        None => format!("{name}.{hash}"),
    }
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        // Quality 11 (the best) and a 4 MiB window: done once per file, at start-up.
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        // Writing to a Vec cannot fail.
        let _ = writer.write_all(bytes);
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

pub async fn serve(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = path.as_str();
    let (file, cache) = if let Some(file) = FILES.iter().find(|f| f.hashed == name) {
        (file, IMMUTABLE)
    } else if let Some(file) = FILES.iter().find(|f| f.name == name) {
        (file, SHORT)
    } else {
        return Err(AppError::NotFound);
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, file.content_type))
        .insert_header((header::CACHE_CONTROL, cache));
    // `Compress` leaves a body that names its encoding as it is (and may still encode a plain
    // one, for a client that takes only zstd); `Vary` is added around it.
    let supported = [Encoding::brotli(), Encoding::gzip(), Encoding::identity()];
    let chosen = req
        .get_header::<AcceptEncoding>()
        .and_then(|accepted| accepted.negotiate(supported.iter()));
    let body = if chosen == Some(Encoding::brotli()) {
        response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("br")));
        &file.br
    } else if chosen == Some(Encoding::gzip()) {
        response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        &file.gzip
    } else {
        &file.plain
    };
    Ok(response.body(body.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_content() {
        let one = hashed_name("style.css", b"body { color: black }");
        assert_eq!(one, hashed_name("style.css", b"body { color: black }"));
        assert_ne!(one, hashed_name("style.css", b"body { color: white }"));
        let (stem, rest) = one.split_once('.').expect("a dot");
        let (hash, extension) = rest.split_once('.').expect("two dots");
        assert_eq!((stem, extension), ("style", "css"));
        assert_eq!(hash.len(), 12);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    }

    #[test]
    fn compressed_copies_decode_to_the_file() {
        use std::io::Read;
        for file in FILES.iter() {
            let mut from_br = Vec::new();
            brotli::Decompressor::new(&file.br[..], 4096)
                .read_to_end(&mut from_br)
                .expect("brotli");
            assert_eq!(from_br, file.plain, "{}", file.name);
            let mut from_gzip = Vec::new();
            flate2::read::GzDecoder::new(&file.gzip[..])
                .read_to_end(&mut from_gzip)
                .expect("gzip");
            assert_eq!(from_gzip, file.plain, "{}", file.name);
        }
    }

    /// Every `static_files::url("…")` in the templates names a file here.
    #[test]
    fn templates_name_files_that_exist() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("templates/") {
            let path = entry.expect("an entry").path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            assert!(
                !text.contains("\"/static/"),
                "{} names a static file without its hash",
                path.display()
            );
            for rest in text.split("static_files::url(\"").skip(1) {
                let name = rest.split('"').next().unwrap_or_default();
                assert_ne!(url(name), "/static/unknown", "{}: {name}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= SOURCES.len(), "only {seen} uses found");
    }
}
