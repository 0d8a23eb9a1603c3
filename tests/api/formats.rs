//! BMP, TIFF (plain, and LZW with a chosen square) and ICO over HTTP: each is stored as the
//! 300×300 JPEG of its picture, and a hostile one (a header claiming far too many pixels) is
//! refused with 422 and nothing stored.

use std::io::Cursor;

use image::codecs::bmp::BmpEncoder;
use image::codecs::ico::{IcoEncoder, IcoFrame};
use image::codecs::tiff::TiffEncoder;
use image::{ExtendedColorType, ImageEncoder};
use reqwest::StatusCode;

use crate::helpers::*;

// `#[path]` on a file module resolves from this file's directory (tests/api/); picture.rs
// loads its own copy.
#[allow(clippy::duplicate_mod)]
#[path = "../common/images.rs"]
mod images;

use images::*;

/// Uploads `bytes` as alice, who must end with exactly one stored picture, and returns it
/// decoded as served.
async fn stored_picture(bytes: Vec<u8>, file_name: &str, mime: &str) -> DecodedJpeg {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let response = app.upload_picture(bytes, file_name, mime).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{file_name}");
    assert_eq!(location(&response), "/account", "{file_name}");
    let files = app.picture_files();
    assert_eq!(files.len(), 1, "{file_name}: one file stored, {files:?}");
    let name = files.into_iter().next().expect("one file");
    assert_eq!(app.picture_of("alice").as_deref(), Some(name.as_str()));
    let response = app.get(&format!("/media/profile_pics/{name}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{name} is served");
    let body = response.bytes().await.expect("body");
    let decoded = decode_output(&body);
    assert_eq!((decoded.width, decoded.height), (300, 300), "{file_name}");
    decoded
}

/// Uploads `bytes` as alice: 422 with the too-many-pixels message, and nothing stored.
async fn refused_as_too_large(bytes: Vec<u8>, file_name: &str, mime: &str) {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let response = app.upload_picture(bytes, file_name, mime).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{file_name}"
    );
    let page = response.text().await.expect("body");
    assert!(
        page.contains("This picture has too many pixels."),
        "{file_name}: the reason is shown"
    );
    assert!(
        app.picture_files().is_empty(),
        "{file_name}: nothing stored"
    );
    assert_eq!(app.picture_of("alice"), None, "{file_name}");
}

#[tokio::test]
async fn a_bmp_is_stored_as_its_picture() {
    let picture = quadrants(240, 160, UPRIGHT);
    let mut bytes = Vec::new();
    BmpEncoder::new(&mut bytes)
        .write_image(picture.as_raw(), 240, 160, ExtendedColorType::Rgb8)
        .expect("BMP");
    let stored = stored_picture(bytes, "scan.bmp", "image/bmp").await;
    assert_quadrants(&stored, UPRIGHT, "BMP");
}

#[tokio::test]
async fn a_tiff_is_stored_as_its_picture() {
    let picture = quadrants(240, 160, UPRIGHT);
    let mut bytes = Vec::new();
    TiffEncoder::new(Cursor::new(&mut bytes))
        .write_image(picture.as_raw(), 240, 160, ExtendedColorType::Rgb8)
        .expect("TIFF");
    let stored = stored_picture(bytes, "scan.tif", "image/tiff").await;
    assert_quadrants(&stored, UPRIGHT, "TIFF");
}

/// A scanner's or Photoshop's TIFF: LZW strips with the horizontal predictor, stored turned
/// (Orientation 6).
fn lzw_tiff_turned(upright: &image::RgbImage) -> Vec<u8> {
    use tiff::encoder::{Compression, TiffEncoder, colortype::RGB8};
    use tiff::tags::{Predictor, Tag};
    let stored = stored_for_orientation(upright, 6);
    let mut bytes = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut bytes)
        .expect("TIFF")
        .with_compression(Compression::Lzw)
        .with_predictor(Predictor::Horizontal);
    let mut image = encoder
        .new_image::<RGB8>(stored.width(), stored.height())
        .expect("TIFF");
    image.rows_per_strip(8).expect("TIFF");
    image
        .encoder()
        .write_tag(Tag::Orientation, 6u16)
        .expect("TIFF");
    image.write_data(stored.as_raw()).expect("TIFF");
    bytes.into_inner()
}

#[tokio::test]
async fn an_lzw_tiff_is_stored_upright_with_the_chosen_square() {
    let bytes = lzw_tiff_turned(&quadrants(240, 160, UPRIGHT));
    let stored = stored_picture(bytes.clone(), "scan.tif", "image/tiff").await;
    assert_quadrants(&stored, UPRIGHT, "LZW TIFF");

    // Upright pixels: the square lies in the top right (green) quadrant.
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let fields = [("crop_x", "150"), ("crop_y", "10"), ("crop_size", "60")];
    let response = app.upload_with_fields(bytes.clone(), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let name = app.picture_of("alice").expect("a picture");
    let response = app.get(&format!("/media/profile_pics/{name}")).await;
    let square = decode_output(&response.bytes().await.expect("body"));
    assert_uniform(&square, GREEN, TOLERANCE, "the chosen square");

    // A square off the picture's edge is refused, and the picture stays.
    let fields = [("crop_x", "200"), ("crop_y", "10"), ("crop_size", "60")];
    let response = app.upload_with_fields(bytes, &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.picture_of("alice"), Some(name));
}

#[tokio::test]
async fn an_ico_is_stored_as_its_largest_picture() {
    let large = rgba_of(&quadrants(128, 128, UPRIGHT));
    let small = rgba_of(&solid(16, 16, MAGENTA));
    let frames = [
        IcoFrame::as_png(small.as_raw(), 16, 16, ExtendedColorType::Rgba8).expect("frame"),
        IcoFrame::as_png(large.as_raw(), 128, 128, ExtendedColorType::Rgba8).expect("frame"),
    ];
    let mut bytes = Vec::new();
    IcoEncoder::new(&mut bytes)
        .encode_images(&frames)
        .expect("ICO");
    let stored = stored_picture(bytes, "favicon.ico", "image/x-icon").await;
    assert_quadrants(&stored, UPRIGHT, "ICO");
}

#[tokio::test]
async fn a_bmp_header_claiming_too_many_pixels_is_refused() {
    // A 54-byte file: file header and a 24-bit BITMAPINFOHEADER of 100000×100000.
    let mut bytes = b"BM".to_vec();
    for v in [54u32, 0, 54, 40, 100_000, 100_000] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&[1, 0, 24, 0]);
    bytes.extend_from_slice(&[0; 24]);
    refused_as_too_large(bytes, "huge.bmp", "image/bmp").await;
}

#[tokio::test]
async fn a_tiff_header_claiming_too_many_pixels_is_refused() {
    // An IFD of 100000×100000 8-bit RGB, one strip of four bytes.
    let mut bytes = b"II*\0".to_vec();
    bytes.extend_from_slice(&8u32.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 4, 1, 100_000),
        (257, 4, 1, 100_000),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, 8 + 2 + 8 * 12 + 4),
        (277, 3, 1, 3),
        (279, 4, 1, 4),
    ];
    bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    refused_as_too_large(bytes, "huge.tif", "image/tiff").await;
}

#[tokio::test]
async fn an_ico_whose_inner_png_is_far_larger_than_its_entry_is_refused() {
    // The directory says 16×16; the PNG it points at says 20000×20000.
    let inner = png_header_only(20_000, 20_000);
    let mut bytes = vec![0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0];
    bytes.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&22u32.to_le_bytes());
    bytes.extend_from_slice(&inner);
    refused_as_too_large(bytes, "favicon.ico", "image/x-icon").await;
}
