//! JPEG XL, AVIF and HEIC over HTTP. JPEG XL is taken: plain, with transparency and with a
//! codestream orientation, each stored as the upright 300×300 JPEG; damaged and oversized
//! ones are refused with 422 and store nothing. AVIF and HEIC are still refused with 415,
//! even when they are real pictures (an AVIF decoder is parked in commit 4d39fdf: rav1d 1.1 aborts on damaged files).
//!
//! The pictures are files made by `tests/fixtures/make_fixtures.sh`.

use folio::avatar::Rejection;
use reqwest::StatusCode;

use crate::helpers::*;

// `#[path]` on a file module resolves from this file's directory (tests/api/).
#[path = "../common/images.rs"]
#[allow(clippy::duplicate_mod)]
mod images;

use images::*;

const JXL_QUADRANTS: &[u8] = include_bytes!("../fixtures/jxl-quadrants.jxl");
const JXL_ALPHA: &[u8] = include_bytes!("../fixtures/jxl-alpha.jxl");
const JXL_ORIENTED: &[u8] = include_bytes!("../fixtures/jxl-orientation6.jxl");
const AVIF: &[u8] = include_bytes!("../fixtures/avif-8bit-420.avif");

/// The one stored picture, which the database points `user` at, decoded.
fn the_stored_picture(app: &TestApp, user: &str) -> DecodedJpeg {
    let files = app.picture_files();
    assert_eq!(files.len(), 1, "exactly one file: {files:?}");
    let name = files.into_iter().next().expect("one file");
    assert_eq!(app.picture_of(user).as_deref(), Some(name.as_str()));
    decode_output(&app.stored_bytes(&name))
}

#[tokio::test]
async fn jpeg_xl_pictures_are_stored_upright_with_transparency_on_white() {
    for (bytes, file_name, expected, what) in [
        (JXL_QUADRANTS, "photo.jxl", UPRIGHT, "plain"),
        (
            JXL_ALPHA,
            "logo.jxl",
            [[WHITE, GREEN], [BLUE, YELLOW]],
            "transparent top left",
        ),
        (JXL_ORIENTED, "turned.jxl", UPRIGHT, "orientation 6"),
    ] {
        let app = spawn_app().await;
        app.sign_up("alice").await;
        let response = app
            .upload_picture(bytes.to_vec(), file_name, "image/jxl")
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        assert_eq!(location(&response), "/account", "{what}");
        let stored = the_stored_picture(&app, "alice");
        assert_eq!((stored.width, stored.height), (300, 300), "{what}");
        assert_quadrants(&stored, expected, what);
    }
}

#[tokio::test]
async fn damaged_and_oversized_jpeg_xl_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    // A bare codestream header claiming 16,384 × 16,384, and nothing after it.
    let huge = [
        0xFF, 0x0A, 0xFE, 0xFF, 0x01, 0x00, 0xF0, 0xFF, 0x0F, 0x00, 0x30,
    ];
    let cases: Vec<(&str, Vec<u8>, Rejection)> = vec![
        (
            "truncated",
            JXL_QUADRANTS[..JXL_QUADRANTS.len() / 2].to_vec(),
            Rejection::Corrupt,
        ),
        ("only the signature", vec![0xFF, 0x0A], Rejection::Corrupt),
        (
            "a header claiming 268 megapixels",
            huge.to_vec(),
            Rejection::TooManyPixels,
        ),
    ];
    for (what, bytes, rejection) in cases {
        let response = app.upload_picture(bytes, "x.jxl", "image/jxl").await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}"
        );
        let html = response.text().await.expect("body");
        assert!(
            html.contains(&rejection.to_string()),
            "{what}: the page says {rejection}"
        );
        assert!(app.picture_files().is_empty(), "{what}: nothing stored");
        assert_eq!(app.picture_of("alice"), None, "{what}");
    }
}

#[tokio::test]
async fn avif_and_heic_are_still_unsupported_types() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    for (bytes, file_name, mime, kind) in [
        (AVIF.to_vec(), "photo.avif", "image/avif", "AVIF"),
        (heic(), "IMG_0001.HEIC", "image/heic", "HEIC"),
    ] {
        let response = app.upload_picture(bytes, file_name, mime).await;
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{kind}"
        );
        let html = response.text().await.expect("body");
        assert!(
            html.contains(&Rejection::Unsupported(kind).to_string()),
            "{kind}: named in the message"
        );
        assert!(app.picture_files().is_empty(), "{kind}: nothing stored");
    }
}
