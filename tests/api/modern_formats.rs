//! JPEG XL, AVIF and HEIC over HTTP: each stored as the upright 300×300 JPEG with
//! transparency on white; damaged and oversized ones are refused with 422 and store nothing.
//! AVIF and HEIC are decoded in a child process (rav1d aborts on some damaged files;
//! heic-decoder allocates outside Folio's limits): the damaged ones are refused, and the
//! server serves on.
//!
//! The pictures are files made by `tests/fixtures/make_fixtures.sh` and `make_heic.py`.

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
const AVIF_8: &[u8] = include_bytes!("../fixtures/avif-8bit-420.avif");
const AVIF_10: &[u8] = include_bytes!("../fixtures/avif-10bit-420.avif");
const AVIF_12: &[u8] = include_bytes!("../fixtures/avif-12bit-444.avif");
const AVIF_709: &[u8] = include_bytes!("../fixtures/avif-limited-bt709.avif");
const AVIF_GRID: &[u8] = include_bytes!("../fixtures/avif-grid-2x2.avif");
const AVIF_ALPHA: &[u8] = include_bytes!("../fixtures/avif-alpha.avif");
const AVIF_IROT: &[u8] = include_bytes!("../fixtures/avif-irot90.avif");
const AVIF_IMIR0: &[u8] = include_bytes!("../fixtures/avif-imir0.avif");
const AVIF_IMIR1: &[u8] = include_bytes!("../fixtures/avif-imir1.avif");
const AVIF_IROT_IMIR: &[u8] = include_bytes!("../fixtures/avif-irot90-imir1.avif");
const AVIF_SEQUENCE: &[u8] = include_bytes!("../fixtures/avif-sequence.avif");
/// The 10-bit fixture with three bytes damaged: rav1d 1.1 unwraps a `None` inside its C API.
const AVIF_ABORTS: &[u8] = include_bytes!("../fixtures/avif-aborts-rav1d.avif");
const HEIC_8: &[u8] = include_bytes!("../fixtures/heic-8bit-420.heic");
const HEIC_10: &[u8] = include_bytes!("../fixtures/heic-10bit-420.heic");
const HEIC_ALPHA: &[u8] = include_bytes!("../fixtures/heic-alpha.heic");
const HEIC_IROT: &[u8] = include_bytes!("../fixtures/heic-irot90.heic");
const HEIC_GRID: &[u8] = include_bytes!("../fixtures/heic-grid-2x2.heic");
const HEIC_HUGE: &[u8] = include_bytes!("../fixtures/heic-sps-100000x100000.heic");

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
async fn avif_pictures_are_stored_upright_with_transparency_on_white() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    for (bytes, expected, what) in [
        (AVIF_8, UPRIGHT, "8-bit 4:2:0"),
        (AVIF_10, UPRIGHT, "10-bit 4:2:0"),
        (AVIF_12, UPRIGHT, "12-bit 4:4:4"),
        (AVIF_709, UPRIGHT, "limited-range BT.709"),
        (AVIF_GRID, UPRIGHT, "a 2×2 grid"),
        (
            AVIF_ALPHA,
            [[WHITE, GREEN], [BLUE, YELLOW]],
            "an alpha item",
        ),
        (AVIF_IROT, UPRIGHT, "irot"),
        (AVIF_IMIR0, UPRIGHT, "imir 0"),
        (AVIF_IMIR1, UPRIGHT, "imir 1"),
        (AVIF_IROT_IMIR, UPRIGHT, "irot and imir"),
        (AVIF_SEQUENCE, UPRIGHT, "a sequence's first frame"),
    ] {
        let response = app
            .upload_picture(bytes.to_vec(), "photo.avif", "image/avif")
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        let name = app.picture_of("alice").expect("a picture");
        let stored = decode_output(&app.stored_bytes(&name));
        assert_eq!((stored.width, stored.height), (300, 300), "{what}");
        assert_quadrants(&stored, expected, what);
    }
}

#[tokio::test]
async fn damaged_avif_is_refused_and_the_server_serves_on() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    // A file that aborts the process that decodes it (rav1d's panics cannot unwind out of its
    // C API): the child dies, and only the child.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args([
            "__decode",
            "avif",
            "50000000",
            "16384",
            "268435456",
            "600",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the decoder process");
    {
        use std::io::Write;
        let mut stdin = child.stdin.as_ref().expect("stdin");
        stdin.write_all(AVIF_ABORTS).expect("written");
    }
    let output = child.wait_with_output().expect("it ends");
    assert!(
        !output.status.success(),
        "rav1d still aborts on it: {output:?}"
    );
    assert!(output.stdout.is_empty());
    let mut cases = vec![AVIF_ABORTS.to_vec()];
    for (i, fixture) in [AVIF_8, AVIF_10, AVIF_GRID, AVIF_ALPHA, AVIF_SEQUENCE]
        .into_iter()
        .enumerate()
    {
        cases.push(fixture[..fixture.len() * 2 / 3].to_vec());
        let mut flipped = fixture.to_vec();
        let at = flipped.len() - 20 - i * 7;
        flipped[at..at + 6].iter_mut().for_each(|b| *b ^= 0x5A);
        cases.push(flipped);
    }
    for (n, bytes) in cases.into_iter().enumerate() {
        let response = app.upload_picture(bytes, "x.avif", "image/avif").await;
        let status = response.status();
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::SEE_OTHER,
            "case {n}: {status}"
        );
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(app.picture_of("alice"), None, "case {n}: nothing stored");
        }
        if n == 0 {
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "the aborting file"
            );
        }
    }
    // Still serving, and still decoding AVIF.
    let ok = app
        .upload_picture(AVIF_8.to_vec(), "photo.avif", "image/avif")
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

/// Damage anywhere in the container and the AV1 payloads, through the pipeline as the server
/// runs it (the decoder in a child process): refused or processed, never a dead process.
#[test]
fn damaged_avif_never_takes_the_process_down() {
    damaged_files_are_refused_or_processed(
        vec![AVIF_8, AVIF_10, AVIF_GRID, AVIF_ALPHA, AVIF_SEQUENCE],
        120,
    );
}

/// `cases` copies of the fixtures, each with up to 11 bytes past the `ftyp` brand damaged, go
/// through the pipeline as the server runs it (the decoder in its child process): each is
/// refused or processed, and this process lives on.
fn damaged_files_are_refused_or_processed(fixtures: Vec<&'static [u8]>, cases: u32) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    folio::avatar::isolated::set_helper(env!("CARGO_BIN_EXE_folio").into());
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let damage = (
        prop::sample::select(fixtures),
        prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..12),
    );
    runner
        .run(&damage, |(fixture, flips)| {
            let mut bytes = fixture.to_vec();
            for (at, mask) in flips {
                let i = 12 + at.index(bytes.len() - 12);
                bytes[i] ^= mask;
            }
            match folio::avatar::process(&bytes, &folio::avatar::Limits::default()) {
                Ok(jpeg) => prop_assert_eq!(&jpeg[..2], &[0xFF, 0xD8]),
                Err(rejection) => prop_assert!(
                    matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels),
                    "{rejection:?}"
                ),
            }
            Ok(())
        })
        .expect("every damaged file refused or processed");
}

#[tokio::test]
async fn heic_pictures_are_stored_upright_with_transparency_on_white() {
    for (bytes, expected, what) in [
        (HEIC_8, UPRIGHT, "8-bit 4:2:0"),
        (HEIC_10, UPRIGHT, "10-bit 4:2:0"),
        (HEIC_IROT, UPRIGHT, "stored turned, irot 1"),
        (HEIC_GRID, UPRIGHT, "a 2×2 grid of tiles"),
        (HEIC_ALPHA, [[WHITE, GREEN], [BLUE, YELLOW]], "alpha item"),
    ] {
        let app = spawn_app().await;
        app.sign_up("alice").await;
        let response = app
            .upload_picture(bytes.to_vec(), "IMG_0001.HEIC", "image/heic")
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        let stored = the_stored_picture(&app, "alice");
        assert_eq!((stored.width, stored.height), (300, 300), "{what}");
        assert_quadrants(&stored, expected, what);
    }
}

#[tokio::test]
async fn heic_uploads_at_the_same_moment_queue_and_all_succeed() {
    // HEIC children run one at a time; the others wait their turn, and a JPEG sent meanwhile
    // is not held up behind them.
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let token = app.token_from("/account").await;
    let heic = |i: usize| {
        app.upload_with_token(
            &token,
            [HEIC_8, HEIC_GRID, HEIC_IROT, HEIC_ALPHA][i % 4].to_vec(),
            "IMG.HEIC",
            "image/heic",
        )
    };
    let (a, b, c, d, e, jpeg) = tokio::join!(
        heic(0),
        heic(1),
        heic(2),
        heic(3),
        heic(4),
        app.upload_with_token(
            &token,
            jpeg(&solid(200, 200, RED), 90),
            "a.jpg",
            "image/jpeg"
        ),
    );
    for (i, response) in [a, b, c, d, e, jpeg].into_iter().enumerate() {
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "upload {i}");
    }
    assert_eq!(app.picture_files().len(), 1, "the last one stored stays");
}

#[tokio::test]
async fn a_chosen_square_of_a_heic_is_the_one_stored() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    // Upright pixels of the turned file: the bottom right (yellow) quadrant.
    let fields = [("crop_x", "74"), ("crop_y", "52"), ("crop_size", "40")];
    let response = app.upload_with_fields(HEIC_IROT.to_vec(), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_uniform(
        &the_stored_picture(&app, "alice"),
        YELLOW,
        TOLERANCE,
        "square",
    );
}

#[tokio::test]
async fn damaged_and_oversized_heic_is_refused_and_the_server_serves_on() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let cases: Vec<(&str, Vec<u8>, Rejection)> = vec![
        (
            "truncated",
            HEIC_8[..HEIC_8.len() / 2].to_vec(),
            Rejection::Corrupt,
        ),
        ("only the ftyp box", heic(), Rejection::Corrupt),
        (
            "a parameter set claiming 100000×100000",
            HEIC_HUGE.to_vec(),
            Rejection::TooManyPixels,
        ),
    ];
    for (what, bytes, rejection) in cases {
        let response = app.upload_picture(bytes, "x.heic", "image/heic").await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}"
        );
        let html = response.text().await.expect("body");
        assert!(html.contains(&rejection.to_string()), "{what}");
        assert!(app.picture_files().is_empty(), "{what}: nothing stored");
    }
    let ok = app
        .upload_picture(HEIC_8.to_vec(), "IMG_0001.HEIC", "image/heic")
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

/// Damage anywhere in the container and the HEVC payload, through the pipeline as the server
/// runs it (in a child, under its address-space ceiling).
#[test]
fn damaged_heic_never_takes_the_process_down() {
    damaged_files_are_refused_or_processed(
        vec![HEIC_8, HEIC_10, HEIC_ALPHA, HEIC_IROT, HEIC_GRID],
        60,
    );
}
