//! What a page weighs on the wire (issue 23): pages, stylesheets and scripts compressed for a
//! client that accepts it, pictures sent as they are, static files under hashed names cached
//! for a year, and a description on every page.

use std::io::Read;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, IF_NONE_MATCH};

use crate::helpers::*;

/// A GET with this `Accept-Encoding` (none when `None`): status, headers and the raw bytes.
async fn fetch(
    app: &TestApp,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.expect("GET");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "br" => brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("brotli"),
        "gzip" => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gzip"),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

fn varies_on_encoding(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;
    app.sign_up("pia").await;
    let anonymous = app.new_browser();
    let (status, headers, plain) = fetch(&anonymous, "/users", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-encoding"), "");
    assert!(varies_on_encoding(&headers), "{headers:?}");
    let plain = String::from_utf8(plain).expect("HTML");
    assert!(plain.contains("@pia"), "{plain}");

    for (accept, expected) in [
        ("br", "br"),
        ("gzip", "gzip"),
        // What Chromium sends: brotli is preferred.
        ("gzip, deflate, br, zstd", "br"),
    ] {
        let (status, headers, bytes) = fetch(&anonymous, "/users", Some(accept)).await;
        assert_eq!(status, StatusCode::OK, "{accept}");
        assert_eq!(header(&headers, "content-encoding"), expected, "{accept}");
        assert!(varies_on_encoding(&headers), "{accept}: {headers:?}");
        assert_eq!(
            headers.get_all("vary").iter().count(),
            1,
            "one Vary: {headers:?}"
        );
        assert!(
            bytes.len() < plain.len(),
            "{accept}: {} of {}",
            bytes.len(),
            plain.len()
        );
        assert_eq!(
            String::from_utf8(decode(expected, &bytes)).expect("HTML"),
            plain,
            "{accept}"
        );
    }

    // Error pages too, and the JSON API.
    let (status, headers, bytes) = fetch(&anonymous, "/no/such/page", Some("br")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&headers, "content-encoding"), "br");
    let html = String::from_utf8(decode("br", &bytes)).expect("HTML");
    assert!(html.contains("Page not found"), "{html}");
    let (status, headers, _) = fetch(&anonymous, "/api/v1/openapi.json", Some("gzip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-encoding"), "gzip");
}

#[tokio::test]
async fn stylesheets_and_scripts_are_sent_precompressed() {
    let app = spawn_app().await;
    for name in ["style.css", "app.js", "picture.js", "favicon.svg"] {
        let path = folio::static_files::url(name);
        let (status, headers, plain) = fetch(&app, path, None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(header(&headers, "content-encoding"), "", "{name}");
        assert!(varies_on_encoding(&headers), "{name}: {headers:?}");
        for encoding in ["br", "gzip"] {
            let (status, headers, bytes) = fetch(&app, path, Some(encoding)).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(header(&headers, "content-encoding"), encoding, "{name}");
            assert_eq!(
                headers.get_all("vary").iter().count(),
                1,
                "{name}: {headers:?}"
            );
            // Compressed once, ahead: sent with its length, not chunked.
            assert_eq!(
                header(&headers, "content-length"),
                bytes.len().to_string(),
                "{name} {encoding}"
            );
            assert_eq!(decode(encoding, &bytes), plain, "{name} {encoding}");
        }
    }
    // A client that takes only zstd gets it made on the fly, still with one Vary.
    let (_, headers, _) = fetch(&app, folio::static_files::url("style.css"), Some("zstd")).await;
    assert_eq!(header(&headers, "content-encoding"), "zstd");
    assert_eq!(headers.get_all("vary").iter().count(), 1, "{headers:?}");
    // The largest ones shrink to well under half.
    let (_, _, css) = fetch(&app, folio::static_files::url("style.css"), Some("br")).await;
    let (_, _, plain_css) = fetch(&app, folio::static_files::url("style.css"), None).await;
    assert!(
        css.len() * 3 < plain_css.len(),
        "{} of {}",
        css.len(),
        plain_css.len()
    );
}

#[tokio::test]
async fn pictures_are_sent_as_they_are_with_their_length() {
    let app = spawn_app().await;
    app.sign_up("ines").await;
    let upload = app
        .upload_picture(solid_png(400, 300, [200, 90, 40]), "me.png", "image/png")
        .await;
    assert_eq!(upload.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("ines").expect("a picture");
    let stored = app.stored_bytes(&picture);
    let path = format!("/media/profile_pics/{picture}");
    for accept in [None, Some("br"), Some("gzip, deflate, br, zstd")] {
        let (status, headers, bytes) = fetch(&app, &path, accept).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert_eq!(header(&headers, "content-type"), "image/jpeg");
        assert_eq!(header(&headers, "content-encoding"), "", "{accept:?}");
        assert_eq!(
            header(&headers, "content-length"),
            stored.len().to_string(),
            "{accept:?}"
        );
        assert!(!varies_on_encoding(&headers), "{accept:?}: {headers:?}");
        assert_eq!(bytes, stored, "{accept:?}");
    }

    // A copy confirmed with its tag is still a bare 304.
    let (_, headers, _) = fetch(&app, &path, Some("br")).await;
    let etag = header(&headers, "etag");
    assert!(!etag.is_empty());
    let response = app
        .client
        .get(app.url(&path))
        .header(ACCEPT_ENCODING, "br, gzip")
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(response.headers(), "content-encoding"), "");
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn static_files_are_named_by_their_content_and_kept_a_year() {
    let app = spawn_app().await;
    let html = app.get_html("/").await;
    let css = folio::static_files::url("style.css");
    let (stem, rest) = css
        .strip_prefix("/static/")
        .and_then(|name| name.split_once('.'))
        .expect("/static/style.….css");
    let hash = rest.strip_suffix(".css").expect("a stylesheet");
    assert_eq!(stem, "style");
    assert!(
        hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{css}"
    );
    for name in ["style.css", "app.js", "favicon.svg"] {
        let url = folio::static_files::url(name);
        assert!(
            html.contains(&format!("\"{url}\"")),
            "{name} as {url}: {html}"
        );
        assert!(!html.contains(&format!("\"/static/{name}\"")), "{name}");
    }

    let (status, headers, hashed) = fetch(&app, css, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/css"));
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );

    // The plain name still answers, for pages an older build gave out, but is kept briefly.
    let (status, headers, plain) = fetch(&app, "/static/style.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain, hashed);
    let cache = header(&headers, "cache-control");
    assert!(
        !cache.contains("immutable") && cache.contains("max-age=3600"),
        "{cache}"
    );

    // A hash that is not the content's is no file.
    for wrong in [
        "/static/style.000000000000.css",
        &format!("/static/style.{hash}.js"),
        &format!("/static/app.{hash}.js"),
    ] {
        assert_eq!(
            app.get(wrong).await.status(),
            StatusCode::NOT_FOUND,
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn head_of_a_compressed_file_matches_its_get() {
    let app = spawn_app().await;
    let path = folio::static_files::url("style.css");
    let get = app
        .client
        .get(app.url(path))
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .expect("GET");
    let head = app
        .client
        .head(app.url(path))
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    for name in [
        "content-encoding",
        "content-length",
        "cache-control",
        "vary",
    ] {
        assert_eq!(
            header(head.headers(), name),
            header(get.headers(), name),
            "{name}"
        );
    }
    assert!(head.bytes().await.expect("body").is_empty());
}

/// The `content` of each `<meta name="description">` on the page.
fn descriptions(html: &str) -> Vec<String> {
    html.split(r#"<meta name="description" content=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_page_has_one_description_of_its_own() {
    let app = spawn_app().await;
    app.sign_up("olga").await;
    let token = app.token_from("/account").await;
    let saved = app
        .post_raw(
            "/account/profile",
            &[
                ("csrf_token", token.as_str()),
                ("display_name", "Olga Ladyzhenskaya"),
                ("bio", "Mathematician.\nPartial differential equations."),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let mut seen = Vec::new();
    for (path, status) in [
        ("/account", StatusCode::OK),
        ("/users/olga", StatusCode::OK),
        ("/", StatusCode::OK),
        ("/users", StatusCode::OK),
        ("/users?q=ol", StatusCode::OK),
        ("/no/such/page", StatusCode::NOT_FOUND),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let html = response.text().await.expect("body");
        let found = descriptions(&html);
        assert_eq!(found.len(), 1, "{path}: {found:?}");
        assert!(found[0].trim().len() >= 20, "{path}: {found:?}");
        seen.push(found[0].clone());
    }
    assert_eq!(seen[1], "Mathematician. Partial differential equations.");

    app.logout().await;
    for path in ["/login", "/register", "/password/forgot"] {
        let html = app.get_html(path).await;
        let found = descriptions(&html);
        assert_eq!(found.len(), 1, "{path}: {found:?}");
        assert!(found[0].trim().len() >= 20, "{path}: {found:?}");
        seen.push(found[0].clone());
    }
    // Each page says what it is: no two alike.
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:#?}");

    // A suspended member's page describes the suspension, not the member.
    app.execute_sql("UPDATE users SET suspended_at = 1 WHERE username = 'olga'");
    let response = app.get("/users/olga").await;
    assert_eq!(response.status(), StatusCode::GONE);
    let html = response.text().await.expect("body");
    let found = descriptions(&html);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(!found[0].contains("Mathematician"), "{found:?}");
    assert!(!html.contains("Mathematician"), "{html}");
}
