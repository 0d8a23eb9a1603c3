//! The pipeline, bytes in and JPEG out: every accepted format and colour model, orientation,
//! transparency, cropping, animation, metadata stripping, the output format, and every
//! rejection. Pictures are generated in `tests/common/images.rs` (shared with the HTTP tests).

use super::*;
use image::{DynamicImage, RgbImage};

// `#[path]` on a file module resolves from the directory of this file (src/avatar/process/).
#[path = "../../../tests/common/images.rs"]
mod images;

use images::*;
use proptest::prelude::*;

fn run(bytes: &[u8]) -> Result<Vec<u8>, Rejection> {
    process(bytes, &Limits::default())
}

/// The tables jpeg-encoder writes at `quality`, whatever the pixels.
fn reference_q_tables(quality: u8) -> Vec<(u8, Vec<u8>)> {
    quantisation_tables(&jpeg(&noise(16, 16, 1), quality))
}

/// What every stored picture must be: a 300×300, 8-bit, three-component JPEG, baseline or
/// progressive, quality 85, whose only application segment is the JFIF APP0.
fn assert_output_format(out: &[u8], what: &str) {
    assert!(
        out.starts_with(&[0xFF, 0xD8, 0xFF]),
        "{what}: starts as a JPEG"
    );
    assert!(out.ends_with(&[0xFF, 0xD9]), "{what}: ends with EOI");
    let frame = frame_header(out);
    assert!(
        frame.marker == 0xC0 || frame.marker == 0xC2,
        "{what}: baseline or progressive, got SOF marker {:#04X}",
        frame.marker
    );
    assert_eq!(
        (frame.width, frame.height, frame.components, frame.precision),
        (300, 300, 3, 8),
        "{what}: 300×300, three 8-bit components"
    );
    for segment in jpeg_segments(out) {
        match segment.marker {
            // SOI, EOI, tables, frame, scan, restart interval.
            0xD8 | 0xD9 | 0xDB | 0xC4 | 0xC0 | 0xC2 | 0xDA | 0xDD => {}
            0xE0 => assert!(
                segment.payload.starts_with(b"JFIF\0"),
                "{what}: the only APP0 is JFIF"
            ),
            other => panic!("{what}: unexpected segment {other:#04X} (metadata or comment)"),
        }
    }
    assert_eq!(
        quantisation_tables(out),
        reference_q_tables(85),
        "{what}: quantisation tables of quality 85"
    );
}

/// Processes `bytes`, which must be accepted, checks the output's format and decodes it.
fn accepted(bytes: &[u8], what: &str) -> DecodedJpeg {
    let out = run(bytes).unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
    assert_output_format(&out, what);
    let decoded = decode_output(&out);
    assert_eq!((decoded.width, decoded.height), (300, 300), "{what}");
    decoded
}

// ---------------------------------------------------------------------------------------
// Orientation
// ---------------------------------------------------------------------------------------

/// How a camera stores `UPRIGHT` ([[red, green], [blue, yellow]]) for each orientation,
/// worked out by hand from the EXIF definitions: showing the stored pixels with the tag's
/// transform applied (6: turn 90° clockwise, 8: 90° anticlockwise, 5: transpose, 7:
/// transverse, 2/4: mirror left-right/top-bottom, 3: turn 180°) gives back `UPRIGHT`.
const STORED_LAYOUT: [(u16, Quadrants); 8] = [
    (1, [[RED, GREEN], [BLUE, YELLOW]]),
    (2, [[GREEN, RED], [YELLOW, BLUE]]),
    (3, [[YELLOW, BLUE], [GREEN, RED]]),
    (4, [[BLUE, YELLOW], [RED, GREEN]]),
    (5, [[RED, BLUE], [GREEN, YELLOW]]),
    (6, [[GREEN, YELLOW], [RED, BLUE]]),
    (7, [[YELLOW, GREEN], [BLUE, RED]]),
    (8, [[BLUE, RED], [YELLOW, GREEN]]),
];

fn quadrant_colours(image: &image::RgbImage) -> Quadrants {
    let (w, h) = image.dimensions();
    let at = |x: u32, y: u32| image.get_pixel(x, y).0;
    [
        [at(w / 4, h / 4), at(3 * w / 4, h / 4)],
        [at(w / 4, 3 * h / 4), at(3 * w / 4, 3 * h / 4)],
    ]
}

#[test]
fn the_generator_stores_pictures_as_cameras_do() {
    // Guards the orientation tests against a mistake shared by the generator and the product.
    let upright = quadrants(600, 400, UPRIGHT);
    for (orientation, layout) in STORED_LAYOUT {
        let stored = stored_for_orientation(&upright, orientation);
        let expected_size = if orientation >= 5 {
            (400, 600)
        } else {
            (600, 400)
        };
        assert_eq!(
            stored.dimensions(),
            expected_size,
            "orientation {orientation}"
        );
        assert_eq!(
            quadrant_colours(&stored),
            layout,
            "orientation {orientation}"
        );
    }
}

#[test]
fn every_exif_orientation_comes_out_upright() {
    for orientation in 1..=8 {
        let decoded = accepted(
            &oriented_jpeg(orientation),
            &format!("orientation {orientation}"),
        );
        assert_quadrants(&decoded, UPRIGHT, &format!("orientation {orientation}"));
    }
}

#[test]
fn big_endian_exif_orientation_is_read_too() {
    for orientation in [3, 6, 8] {
        let bytes = oriented_jpeg_of(&quadrants(600, 400, UPRIGHT), orientation, true);
        let what = format!("big-endian orientation {orientation}");
        assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
    }
}

#[test]
fn orientation_values_outside_1_to_8_leave_the_picture_as_stored() {
    for orientation in [0, 9, 300] {
        let stored = quadrants(600, 400, UPRIGHT);
        let bytes = jpeg_with(&stored, 92, |e| {
            e.add_app_segment(
                1,
                exif_app1(Exif {
                    orientation: Some(orientation),
                    ..Exif::default()
                }),
            )
            .expect("EXIF");
        });
        let what = format!("orientation tag {orientation}");
        assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
    }
}

#[test]
fn exif_orientation_in_png_and_webp_is_applied() {
    let upright = quadrants(240, 160, UPRIGHT);
    let png = png_with_exif(&stored_for_orientation(&upright, 6), 6);
    assert_quadrants(&accepted(&png, "PNG eXIf 6"), UPRIGHT, "PNG eXIf 6");
    let webp = webp_with_exif(&stored_for_orientation(&upright, 8), 8);
    assert_quadrants(&accepted(&webp, "WebP EXIF 8"), UPRIGHT, "WebP EXIF 8");
}

#[test]
fn a_large_rotated_jpeg_decoded_at_reduced_scale_stands_upright() {
    // 1600 px short side: decoded at 1/2 scale in the DCT domain, then rotated.
    let bytes = oriented_jpeg_of(&quadrants(2400, 1600, UPRIGHT), 6, false);
    assert_quadrants(&accepted(&bytes, "2400×1600, 6"), UPRIGHT, "2400×1600, 6");
}

#[test]
fn a_large_rotated_webp_scaled_while_decoding_stands_upright() {
    // Stored 1600×2400: libwebp decodes it straight to 600×900, then it is rotated.
    let upright = quadrants(2400, 1600, UPRIGHT);
    let bytes = webp_with_exif(&stored_for_orientation(&upright, 8), 8);
    assert_quadrants(
        &accepted(&bytes, "WebP 2400×1600, 8"),
        UPRIGHT,
        "WebP 2400×1600, 8",
    );
}

// ---------------------------------------------------------------------------------------
// Colour models and transparency
// ---------------------------------------------------------------------------------------

#[test]
fn transparent_pixels_are_composited_onto_white() {
    // Top-left: green at alpha 0 (must not show); top-right: opaque red; bottom-left: black at
    // alpha 128 (mid grey on white); bottom-right: opaque blue.
    let picture = image::RgbaImage::from_fn(200, 200, |x, y| match (x >= 100, y >= 100) {
        (false, false) => rgba(GREEN, 0),
        (true, false) => rgba(RED, 255),
        (false, true) => rgba(BLACK, 128),
        (true, true) => rgba(BLUE, 255),
    });
    let expected = [[WHITE, RED], [MID_GREY, BLUE]];
    let cases = [
        (
            "RGBA PNG",
            png(&image::DynamicImage::ImageRgba8(picture.clone())),
        ),
        ("RGBA WebP", webp_lossless(&picture)),
        (
            "RGBA 16-bit PNG",
            png(&image::DynamicImage::ImageRgba16(
                image::DynamicImage::ImageRgba8(picture.clone()).into_rgba16(),
            )),
        ),
    ];
    for (what, bytes) in cases {
        let decoded = accepted(&bytes, what);
        assert_quadrants(&decoded, expected, what);
        // Mid grey precisely: black at half coverage on white, not on black or ignored.
        assert_near(
            decoded.average(55, 205, 95, 245),
            MID_GREY,
            12,
            &format!("{what}: half-transparent black"),
        );
    }
}

#[test]
fn a_large_png_averaged_while_decoding_keeps_its_quadrants_and_transparency() {
    // 2001×1901: averaged 2×2 while decoding, with a partial last column and row of blocks.
    let (width, height) = (2001, 1901);
    let picture = image::RgbaImage::from_fn(width, height, |x, y| {
        match (x >= width / 2, y >= height / 2) {
            (false, false) => rgba(GREEN, 0),
            (true, false) => rgba(RED, 255),
            (false, true) => rgba(BLACK, 128),
            (true, true) => rgba(BLUE, 255),
        }
    });
    let bytes = png(&image::DynamicImage::ImageRgba8(picture));
    let decoded = accepted(&bytes, "2001×1901 RGBA PNG");
    assert_quadrants(
        &decoded,
        [[WHITE, RED], [MID_GREY, BLUE]],
        "2001×1901 RGBA PNG",
    );
    assert_near(
        decoded.average(55, 205, 95, 245),
        MID_GREY,
        12,
        "2001×1901 RGBA PNG: half-transparent black",
    );
}

#[test]
fn interlaced_pngs_are_decoded_whole() {
    // Small (rows passed on as they are) and large (averaged 2×2), odd sizes so every pass
    // has a ragged edge.
    for (width, height) in [(97, 61), (1901, 1803)] {
        let bytes = interlaced_png(&quadrants(width, height, UPRIGHT));
        let what = format!("interlaced {width}×{height} PNG");
        assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
    }
}

#[test]
fn grey_with_alpha_is_composited_onto_white() {
    let picture = image::GrayAlphaImage::from_fn(120, 120, |x, y| match (x >= 60, y >= 60) {
        (false, false) => image::LumaA([0, 0]),
        (true, false) => image::LumaA([0, 255]),
        (false, true) => image::LumaA([0, 128]),
        (true, true) => image::LumaA([200, 255]),
    });
    let bytes = png(&image::DynamicImage::ImageLumaA8(picture));
    let decoded = accepted(&bytes, "LA PNG");
    assert_quadrants(
        &decoded,
        [[WHITE, BLACK], [MID_GREY, [200, 200, 200]]],
        "LA PNG",
    );
}

#[test]
fn palette_png_with_trns_is_composited_onto_white() {
    let decoded = accepted(&palette_png_with_trns(100, 100), "palette PNG");
    assert_quadrants(&decoded, PALETTE_ON_WHITE, "palette PNG");
}

#[test]
fn gif_transparency_becomes_white() {
    let picture = image::RgbaImage::from_fn(80, 80, |x, y| match (x >= 40, y >= 40) {
        (false, false) => rgba(GREEN, 0),
        (true, false) => rgba(RED, 255),
        (false, true) => rgba(BLUE, 255),
        (true, true) => rgba(GREEN, 0),
    });
    let decoded = accepted(&gif(&picture), "GIF with transparency");
    assert_quadrants(&decoded, [[WHITE, RED], [BLUE, WHITE]], "GIF");
    // The corners themselves, not only the quadrant centres.
    assert_near(
        decoded.average(0, 0, 20, 20),
        WHITE,
        TOLERANCE,
        "GIF corner",
    );
    assert_near(
        decoded.average(280, 280, 300, 300),
        WHITE,
        TOLERANCE,
        "GIF corner",
    );
}

#[test]
fn a_gif_frame_smaller_than_its_screen_sits_where_it_says_on_white() {
    // Screen 100×80; a red 40×30 frame at (50, 40). The centred square is x 10..90, so the
    // frame fills most of the bottom-right quadrant and nothing else.
    let mut bytes = Vec::new();
    {
        let mut encoder =
            ::gif::Encoder::new(&mut bytes, 100, 80, &[255, 0, 0, 0, 0, 255]).expect("encoder");
        let frame = ::gif::Frame {
            left: 50,
            top: 40,
            width: 40,
            height: 30,
            buffer: std::borrow::Cow::Owned(vec![0; 40 * 30]),
            ..::gif::Frame::default()
        };
        encoder.write_frame(&frame).expect("frame");
    }
    let decoded = accepted(&bytes, "GIF frame at an offset");
    assert_near(
        decoded.average(170, 170, 280, 240),
        RED,
        TOLERANCE,
        "the frame",
    );
    for (x, y) in [(60, 60), (240, 60), (60, 240), (240, 285)] {
        assert_near(
            decoded.pixel(x, y),
            WHITE,
            TOLERANCE,
            &format!("screen at ({x}, {y})"),
        );
    }
}

#[test]
fn sixteen_bit_pngs_keep_their_colours() {
    // High and low bytes differ, so reading the wrong byte shows.
    let colours: [[[u16; 3]; 2]; 2] = [
        [[0xFFFF, 0x80FF, 0x0010], [0x4010, 0xC0F0, 0xFF00]],
        [[0x0000, 0x00FF, 0xFFFF], [0xC0F0, 0xC0F0, 0x40FF]],
    ];
    let expected: Quadrants = colours.map(|row| row.map(|c| c.map(|v| (v >> 8) as u8)));
    let picture = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(100, 60, |x, y| {
        image::Rgb(colours[usize::from(y >= 30)][usize::from(x >= 50)])
    });
    let bytes = png(&image::DynamicImage::ImageRgb16(picture));
    let decoded = accepted(&bytes, "RGB 16-bit PNG");
    assert_quadrants(&decoded, expected, "RGB 16-bit PNG");

    let grey = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(60, 60, |x, _| {
        image::Luma([if x < 30 { 0x20FF } else { 0xE010 }])
    });
    let decoded = accepted(
        &png(&image::DynamicImage::ImageLuma16(grey)),
        "grey 16-bit PNG",
    );
    let (dark, light) = ([0x20; 3], [0xE0; 3]);
    assert_quadrants(&decoded, [[dark, light], [dark, light]], "grey 16-bit PNG");
}

#[test]
fn grey_pictures_become_grey_rgb() {
    let jpeg = grey_jpeg(320, 240, |x, _| if x < 160 { 50 } else { 200 });
    let decoded = accepted(&jpeg, "grey JPEG");
    let (dark, light) = ([50; 3], [200; 3]);
    assert_quadrants(&decoded, [[dark, light], [dark, light]], "grey JPEG");
    for p in [decoded.pixel(30, 150), decoded.pixel(270, 150)] {
        assert!(
            p[0].abs_diff(p[1]) <= 3 && p[1].abs_diff(p[2]) <= 3,
            "grey stays grey: {p:?}"
        );
    }

    let decoded = accepted(
        &png(&image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(
            90,
            90,
            |_, y| image::Luma([if y < 45 { 30 } else { 220 }]),
        ))),
        "grey PNG",
    );
    let (top, bottom) = ([30; 3], [220; 3]);
    assert_quadrants(&decoded, [[top, top], [bottom, bottom]], "grey PNG");

    let decoded = accepted(&one_bit_png(50, 50), "1-bit PNG");
    assert_quadrants(&decoded, [[BLACK, WHITE], [BLACK, WHITE]], "1-bit PNG");
}

#[test]
fn cmyk_and_ycck_jpegs_show_their_inks() {
    let inks = [[INK_CYAN, INK_MAGENTA], [INK_YELLOW, NO_INK]];
    let expected = [[CYAN, MAGENTA], [YELLOW, WHITE]];
    for (what, ycck) in [("CMYK JPEG", false), ("YCCK JPEG", true)] {
        let bytes = cmyk_jpeg(400, 400, inks, ycck);
        assert_eq!(
            frame_header(&bytes).components,
            4,
            "{what} has four components"
        );
        assert!(
            jpeg_segments(&bytes)
                .iter()
                .any(|s| s.marker == 0xEE && s.payload.starts_with(b"Adobe")),
            "{what} carries the Adobe marker"
        );
        assert_quadrants(&accepted(&bytes, what), expected, what);
    }
    // Black ink alone: K at 100% is black, at 50% mid grey.
    let bytes = cmyk_jpeg(
        200,
        200,
        [
            [[0, 0, 0, 255], [0, 0, 0, 255]],
            [[0, 0, 0, 128], [0, 0, 0, 128]],
        ],
        false,
    );
    let decoded = accepted(&bytes, "CMYK black");
    assert_quadrants(
        &decoded,
        [[BLACK, BLACK], [[127; 3], [127; 3]]],
        "CMYK black",
    );
}

#[test]
fn progressive_jpegs_are_decoded() {
    for (w, h) in [(600, 400), (2400, 1600)] {
        let bytes = progressive_jpeg(&quadrants(w, h, UPRIGHT));
        assert_eq!(
            frame_header(&bytes).marker,
            0xC2,
            "the input is progressive"
        );
        let what = format!("progressive {w}×{h}");
        assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
    }
}

#[test]
fn jpegs_of_every_scale_step_keep_their_quadrants() {
    // Short sides that select 1/1, 1/2, 1/4 and 1/8 DCT scaling (and sizes not a multiple of
    // the 8×8 block or of 2).
    for (w, h) in [(301, 299), (1203, 1201), (2405, 2401), (5000, 4807)] {
        let bytes = jpeg(&quadrants(w, h, UPRIGHT), 90);
        let what = format!("{w}×{h} JPEG");
        assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
    }
}

#[test]
fn lossy_webp_is_decoded() {
    for (what, bytes) in [
        ("lossy WebP", tiny_lossy_webp()),
        ("lossy WebP with alpha", tiny_lossy_alpha_webp()),
    ] {
        assert!(bytes.starts_with(b"RIFF") && &bytes[8..15] == b"WEBPVP8");
        let decoded = accepted(&bytes, what);
        // One source pixel: every output pixel has its colour.
        let ranges = decoded.channel_ranges();
        assert!(
            ranges.iter().all(|(lo, hi)| hi - lo <= 8),
            "{what}: uniform, got {ranges:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Animation, size and cropping
// ---------------------------------------------------------------------------------------

#[test]
fn animations_keep_their_first_frame_only() {
    let red = solid_rgba(64, 64, [255, 0, 0, 255]);
    let blue = solid_rgba(64, 64, [0, 0, 255, 255]);
    let cases = [
        ("animated GIF", animated_gif(&[red.clone(), blue.clone()])),
        ("animated WebP", animated_webp(&[red.clone(), blue.clone()])),
        ("APNG", apng(&solid(64, 64, RED), &solid(64, 64, BLUE))),
    ];
    for (what, bytes) in cases {
        assert_uniform(&accepted(&bytes, what), RED, TOLERANCE, what);
    }
    // The same files with the frames swapped come out blue: the first frame, whatever it is.
    let cases = [
        (
            "animated GIF, swapped",
            animated_gif(&[blue.clone(), red.clone()]),
        ),
        ("animated WebP, swapped", animated_webp(&[blue, red])),
        (
            "APNG, swapped",
            apng(&solid(64, 64, BLUE), &solid(64, 64, RED)),
        ),
    ];
    for (what, bytes) in cases {
        assert_uniform(&accepted(&bytes, what), BLUE, TOLERANCE, what);
    }
}

#[test]
fn a_single_pixel_becomes_a_uniform_square() {
    let colour = [10, 120, 200];
    let cases = [
        (
            "1×1 PNG",
            png(&image::DynamicImage::ImageRgb8(solid(1, 1, colour))),
        ),
        ("1×1 JPEG", jpeg(&solid(1, 1, colour), 100)),
        ("1×1 GIF", gif(&rgba_of(&solid(1, 1, colour)))),
        ("1×1 WebP", webp_lossless_rgb(&solid(1, 1, colour))),
    ];
    for (what, bytes) in cases {
        assert_uniform(&accepted(&bytes, what), colour, 12, what);
    }
}

/// A strip whose centred square (`short`×`short`) is green and whose ends are red and blue.
/// `long - short` is even, so that square is made of whole pixels.
fn strip(long: u32, short: u32, horizontal: bool) -> image::RgbImage {
    assert!(
        (long - short).is_multiple_of(2),
        "the centred square starts on a pixel"
    );
    let start = (long - short) / 2;
    let colour = |along: u32| {
        if along < start {
            image::Rgb(RED)
        } else if along < start + short {
            image::Rgb(GREEN)
        } else {
            image::Rgb(BLUE)
        }
    };
    if horizontal {
        image::RgbImage::from_fn(long, short, |x, _| colour(x))
    } else {
        image::RgbImage::from_fn(short, long, |_, y| colour(y))
    }
}

#[test]
fn panoramas_keep_their_centred_square() {
    let cases = [
        (
            "10000×50 PNG",
            png(&image::DynamicImage::ImageRgb8(strip(10_000, 50, true))),
            true,
        ),
        ("10000×50 JPEG", jpeg(&strip(10_000, 50, true), 95), true),
        (
            "50×3000 PNG",
            png(&image::DynamicImage::ImageRgb8(strip(3_000, 50, false))),
            false,
        ),
        ("3×2001 GIF", gif(&rgba_of(&strip(2_001, 3, false))), false),
        // Scaled while decoding to 1560×600; the square is still the centre.
        (
            "2600×1000 WebP",
            webp_lossless_rgb(&strip(2_600, 1_000, true)),
            true,
        ),
    ];
    for (what, bytes, horizontal) in cases {
        let decoded = accepted(&bytes, what);
        // Away from the crop edges, where Lanczos may pick up the neighbours.
        let centre = if horizontal {
            decoded.average(40, 0, 260, 300)
        } else {
            decoded.average(0, 40, 300, 260)
        };
        assert_near(centre, GREEN, TOLERANCE, what);
        for (x, y) in [(150, 150), (60, 60), (240, 240), (60, 240), (240, 60)] {
            assert_near(
                decoded.pixel(x, y),
                GREEN,
                40,
                &format!("{what} at ({x}, {y})"),
            );
        }
    }
}

#[test]
fn the_crop_is_centred_on_odd_sizes() {
    // 5×3: the centred 3×3 square is columns 1..4; columns 0 and 4 are red, the square green.
    let picture = image::RgbImage::from_fn(5, 3, |x, _| {
        image::Rgb(if x == 0 || x == 4 { RED } else { GREEN })
    });
    let decoded = accepted(&png(&image::DynamicImage::ImageRgb8(picture)), "5×3 PNG");
    assert_near(
        decoded.average(60, 60, 240, 240),
        GREEN,
        TOLERANCE,
        "5×3 centre",
    );
}

// ---------------------------------------------------------------------------------------
// Pixel limits
// ---------------------------------------------------------------------------------------

#[test]
fn headers_claiming_huge_pictures_are_refused_before_decoding() {
    // These files hold no pixel data: were they decoded instead of refused on their header,
    // the answer would be `Corrupt` (or the test would run out of memory).
    let cases = [
        ("PNG 60000×60000", png_header_only(60_000, 60_000)),
        ("JPEG 60000×60000", jpeg_header_only(60_000, 60_000)),
        ("GIF 60000×60000", gif_header_only(60_000, 60_000)),
        ("PNG 16385×1", png_header_only(16_385, 1)),
        ("JPEG 1×16385", jpeg_header_only(1, 16_385)),
        ("GIF 16385×1", gif_header_only(16_385, 1)),
        ("WebP 60000×60000", webp_header_only(60_000, 60_000)),
        ("WebP 16385×1", webp_header_only(16_385, 1)),
        ("JPEG 10000×5001", jpeg_header_only(10_000, 5_001)),
        ("PNG 5001×10000", png_header_only(5_001, 10_000)),
        ("PNG 4294967295×1", png_header_only(u32::MAX >> 1, 1)),
    ];
    for (what, bytes) in cases {
        assert!(bytes.len() < 100, "{what} is a bare header");
        assert_eq!(run(&bytes), Err(Rejection::TooManyPixels), "{what}");
    }
}

#[test]
fn the_limits_are_inclusive() {
    // Exactly 50 megapixels and exactly 16384 px pass the header check; these bare headers
    // then fail to decode.
    for (what, bytes) in [
        ("JPEG 10000×5000", jpeg_header_only(10_000, 5_000)),
        ("PNG 5000×10000", png_header_only(5_000, 10_000)),
        ("JPEG 16384×1", jpeg_header_only(16_384, 1)),
        ("PNG 1×16384", png_header_only(1, 16_384)),
    ] {
        assert_eq!(run(&bytes), Err(Rejection::Corrupt), "{what}");
    }
    // And a real picture 16384 px wide is accepted.
    let wide = png(&image::DynamicImage::ImageRgb8(strip(16_384, 2, true)));
    let decoded = accepted(&wide, "16384×2 PNG");
    assert_near(
        decoded.average(40, 0, 260, 300),
        GREEN,
        TOLERANCE,
        "16384×2 PNG",
    );
}

#[test]
fn a_gif_frame_larger_than_its_screen_is_refused() {
    let result = run(&gif_with_huge_frame(60_000, 60_000));
    assert!(
        matches!(result, Err(Rejection::TooManyPixels | Rejection::Corrupt)),
        "{result:?}"
    );
}

#[test]
fn a_complete_jpeg_over_50_megapixels_is_refused() {
    let bytes = over_cap_jpeg();
    assert!(
        bytes.len() < 5 * 1024 * 1024,
        "fits the default upload limit: {} bytes",
        bytes.len()
    );
    let frame = frame_header(&bytes);
    assert_eq!((frame.width, frame.height), (10_000, 6_000));
    assert_eq!(run(&bytes), Err(Rejection::TooManyPixels));
    // With the cap raised, the same file decodes: the refusal above is the cap's doing.
    let generous = Limits {
        max_pixels: 100_000_000,
        ..Limits::default()
    };
    let out = process(&bytes, &generous).expect("accepted under a higher cap");
    assert_output_format(&out, "10000×6000 with a higher cap");
}

#[test]
fn the_limits_given_are_the_limits_applied() {
    let bytes = png(&image::DynamicImage::ImageRgb8(solid(20, 20, RED)));
    let tight = Limits {
        max_pixels: 399,
        ..Limits::default()
    };
    assert_eq!(process(&bytes, &tight), Err(Rejection::TooManyPixels));
    let narrow = Limits {
        max_side: 19,
        ..Limits::default()
    };
    assert_eq!(process(&bytes, &narrow), Err(Rejection::TooManyPixels));
    let exact = Limits {
        max_pixels: 400,
        max_side: 20,
        ..Limits::default()
    };
    assert!(process(&bytes, &exact).is_ok());
}

// ---------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------

#[test]
fn an_empty_file_is_empty() {
    assert_eq!(run(b""), Err(Rejection::Empty));
    assert!(!Rejection::Empty.is_unsupported_type());
}

#[test]
fn text_and_html_are_not_images() {
    for (what, bytes) in [
        ("text", text()),
        ("HTML", html()),
        ("XML", b"<?xml version=\"1.0\"?><note>hi</note>".to_vec()),
        ("one byte", vec![0xFF]),
        ("JPEG SOI only", vec![0xFF, 0xD8]),
        ("RIFF WAVE", b"RIFF\x24\0\0\0WAVEfmt ".to_vec()),
    ] {
        let result = run(&bytes);
        assert_eq!(result, Err(Rejection::NotAnImage), "{what}");
        assert!(!Rejection::NotAnImage.is_unsupported_type());
    }
}

#[test]
fn recognisable_other_formats_are_unsupported() {
    for (what, bytes, kind) in [
        ("SVG with script", svg_with_script(), "SVG"),
        ("PDF", pdf(), "PDF"),
        ("AVIF", avif(), "AVIF"),
        ("SVG after a comment", svg_after_comment(), "SVG"),
    ]
    .into_iter()
    .chain(
        other_picture_formats()
            .into_iter()
            .map(|(kind, bytes)| (kind, bytes, kind)),
    ) {
        let rejection = run(&bytes).expect_err(what);
        assert_eq!(rejection, Rejection::Unsupported(kind), "{what}");
        assert!(rejection.is_unsupported_type(), "{what} answers 415");
        assert!(
            rejection.to_string().starts_with(kind),
            "{what}: {rejection}"
        );
    }
}

#[test]
fn truncated_pictures_are_corrupt() {
    let picture = quadrants(200, 120, UPRIGHT);
    let jpeg_bytes = jpeg(&picture, 90);
    let sos = {
        let mut at = 0;
        while !(jpeg_bytes[at] == 0xFF && jpeg_bytes[at + 1] == 0xDA) {
            at += 1;
        }
        at
    };
    let png_bytes = png(&image::DynamicImage::ImageRgb8(picture.clone()));
    let gif_bytes = gif(&rgba_of(&picture));
    let webp_bytes = webp_lossless_rgb(&picture);
    let cases = [
        (
            "JPEG cut in half",
            truncated(&jpeg_bytes, jpeg_bytes.len() / 2),
        ),
        ("JPEG cut before its scan", truncated(&jpeg_bytes, sos)),
        (
            "JPEG cut in the scan header",
            truncated(&jpeg_bytes, sos + 6),
        ),
        (
            "JPEG without EOI",
            truncated(&jpeg_bytes, jpeg_bytes.len() - 2),
        ),
        ("JPEG header only", truncated(&jpeg_bytes, 20)),
        (
            "PNG cut at 60%",
            truncated(&png_bytes, png_bytes.len() * 3 / 5),
        ),
        ("PNG cut in IHDR", truncated(&png_bytes, 20)),
        (
            "GIF cut in half",
            truncated(&gif_bytes, gif_bytes.len() / 2),
        ),
        ("GIF cut after its header", truncated(&gif_bytes, 13)),
        (
            "WebP cut in half",
            truncated(&webp_bytes, webp_bytes.len() / 2),
        ),
        ("WebP cut after RIFF", truncated(&webp_bytes, 16)),
    ];
    for (what, bytes) in cases {
        assert_eq!(run(&bytes), Err(Rejection::Corrupt), "{what}");
    }
}

#[test]
fn jpeg_magic_followed_by_html_is_corrupt() {
    assert_eq!(run(&jpeg_magic_then_html()), Err(Rejection::Corrupt));
}

#[test]
fn a_jpeg_with_html_appended_is_cleaned() {
    let bytes = jpeg_then_html(&quadrants(400, 400, UPRIGHT));
    let out = run(&bytes).expect("the picture part is valid");
    assert_output_format(&out, "JPEG + HTML");
    assert!(
        !contains(&out, APPENDED_HTML),
        "the HTML is not carried over"
    );
    assert!(!contains(&out, b"folio-polyglot"));
    assert!(!contains(&out, b"<script"));
    assert_quadrants(&decode_output(&out), UPRIGHT, "JPEG + HTML");
}

#[test]
fn metadata_is_stripped() {
    let bytes = jpeg_with_metadata(&quadrants(480, 360, UPRIGHT));
    // The input really carries all of it.
    let markers: Vec<u8> = jpeg_segments(&bytes).iter().map(|s| s.marker).collect();
    for marker in [0xE1, 0xE2, 0xED, 0xFE] {
        assert!(markers.contains(&marker), "input has segment {marker:#04X}");
    }
    let gps = rational_bytes(GPS_LATITUDE, false);
    assert!(contains(&bytes, &gps));

    let out = run(&bytes).expect("accepted");
    assert_output_format(&out, "camera JPEG");
    for needle in [
        &b"Exif"[..],
        b"II*\0",
        b"http://ns.adobe.com/xap",
        b"ICC_PROFILE",
        b"Photoshop 3.0",
        b"8BIM",
        XMP_SECRET.as_bytes(),
        COMMENT_SECRET.as_bytes(),
        IPTC_SECRET.as_bytes(),
        ICC_SECRET.as_bytes(),
        &gps,
        &rational_bytes(GPS_LONGITUDE, false),
    ] {
        assert!(
            !contains(&out, needle),
            "the output carries {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert_quadrants(&decode_output(&out), UPRIGHT, "camera JPEG");
}

// ---------------------------------------------------------------------------------------
// The output itself
// ---------------------------------------------------------------------------------------

#[test]
fn the_output_is_quality_85() {
    let out = run(&jpeg(&noise(300, 300, 7), 100)).expect("accepted");
    let tables = quantisation_tables(&out);
    assert_eq!(tables.len(), 2, "luma and chroma tables");
    assert_eq!(tables, reference_q_tables(85));
    // The comparison can tell neighbouring qualities apart.
    assert_ne!(tables, reference_q_tables(84));
    assert_ne!(tables, reference_q_tables(86));
    assert_eq!(QUALITY, 85);
    assert_eq!(SIZE, 300);
}

#[test]
fn a_square_input_of_the_target_size_keeps_its_detail() {
    // 300×300 in, 300×300 out: a checkerboard of 10 px cells survives (no blur, no shift).
    let picture = image::RgbImage::from_fn(300, 300, |x, y| {
        image::Rgb(if (x / 10 + y / 10) % 2 == 0 {
            BLACK
        } else {
            WHITE
        })
    });
    let decoded = accepted(
        &png(&image::DynamicImage::ImageRgb8(picture)),
        "checkerboard",
    );
    for (cx, cy) in [(5, 5), (15, 5), (155, 145), (295, 295), (285, 295)] {
        let expected = if (cx / 10 + cy / 10) % 2 == 0 {
            BLACK
        } else {
            WHITE
        };
        assert_near(
            decoded.average(cx - 2, cy - 2, cx + 3, cy + 3),
            expected,
            60,
            &format!("cell at ({cx}, {cy})"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn encode_as(format: usize, picture: &image::RgbImage) -> Vec<u8> {
    match format {
        0 => jpeg(picture, 80),
        1 => png(&image::DynamicImage::ImageRgb8(picture.clone())),
        2 => gif(&rgba_of(picture)),
        _ => webp_lossless_rgb(picture),
    }
}

fn dimensions() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        4 => (1u32..=64, 1u32..=64),
        1 => (1u32..=3, 100u32..=2500),
        1 => (100u32..=2500, 1u32..=3),
        1 => (300u32..=302, 299u32..=301),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_small_or_odd_picture_becomes_a_300_square_jpeg(
        (width, height) in dimensions(),
        format in 0usize..4,
        seed in any::<u64>(),
    ) {
        let bytes = encode_as(format, &noise(width, height, seed));
        let out = run(&bytes);
        prop_assert!(out.is_ok(), "{width}×{height} format {format}: {out:?}");
        let out = out.expect("checked");
        assert_output_format(&out, &format!("{width}×{height} format {format}"));
        let decoded = decode_output(&out);
        prop_assert_eq!((decoded.width, decoded.height), (300, 300));
    }

    #[test]
    fn random_bytes_behind_a_magic_number_are_refused_or_processed(
        magic in prop::sample::select(vec![
            &b"\xFF\xD8\xFF"[..],
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\0",
            b"\xFF\xD8\xFF\xC0\x00\x11\x08",
            b"\x89PNG\r\n\x1a\n",
            b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR",
            b"GIF87a",
            b"GIF89a",
            b"RIFF\0\0\0\0WEBPVP8 ",
            b"RIFF\0\0\0\0WEBPVP8L",
            b"RIFF\0\0\0\0WEBPVP8X",
        ]),
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let bytes = [magic, &rest[..]].concat();
        match run(&bytes) {
            Ok(out) => assert_output_format(&out, "random bytes"),
            Err(rejection) => prop_assert!(
                matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels),
                "a recognised format is never {rejection:?}"
            ),
        }
    }

    #[test]
    fn damaged_pictures_are_refused_or_processed(
        format in 0usize..4,
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..8),
    ) {
        // The first bytes (every magic number, and WebP's "WEBP" at 8..12) stay intact, so
        // the format is still recognised.
        const KEEP: usize = 16;
        let mut bytes = encode_as(format, &noise(24, 17, seed));
        let keep = KEEP + cut.index(bytes.len() - KEEP + 1);
        bytes.truncate(keep);
        if bytes.len() > KEEP {
            for (at, mask) in flips {
                let i = KEEP + at.index(bytes.len() - KEEP);
                bytes[i] ^= mask;
            }
        }
        match run(&bytes) {
            Ok(out) => assert_output_format(&out, "damaged picture"),
            Err(rejection) => prop_assert!(
                matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels),
                "a recognised format is never {rejection:?}"
            ),
        }
    }
}

#[test]
fn flattening_in_place_keeps_every_pixel() {
    let rgba: Vec<u8> = (0..4000u32).map(|i| (i * 37 % 251) as u8).collect();
    let mut expected = vec![0u8; 3000];
    super::super::types::flatten_into(&rgba, &mut expected);
    assert_eq!(flatten_onto_white(rgba), expected);
}

#[test]
fn blending_onto_white_is_exactly_rounded() {
    for alpha in 0..=255u32 {
        for c in [0u32, 1, 77, 128, 200, 254, 255] {
            let expected = ((c * alpha + 255 * (255 - alpha)) as f64 / 255.0).round() as u8;
            let got = flatten_onto_white(vec![c as u8, c as u8, c as u8, alpha as u8]);
            assert_eq!(got, vec![expected; 3], "c={c} alpha={alpha}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The chosen square
// ---------------------------------------------------------------------------------------

fn run_square(bytes: &[u8], x: u32, y: u32, size: u32) -> Result<Vec<u8>, Rejection> {
    process_square(bytes, &Limits::default(), Some(Square { x, y, size }))
}

fn accepted_square(bytes: &[u8], square: (u32, u32, u32), what: &str) -> DecodedJpeg {
    let out = run_square(bytes, square.0, square.1, square.2)
        .unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
    assert_output_format(&out, what);
    decode_output(&out)
}

#[test]
fn a_chosen_square_is_taken_from_the_upright_picture_for_every_orientation() {
    // 600×400 upright: red | green over blue | yellow, split at (300, 200).
    for orientation in 1..=8 {
        for big_endian in [false, true] {
            let bytes = oriented_jpeg_of(&quadrants(600, 400, UPRIGHT), orientation, big_endian);
            for (square, colour) in [
                ((20, 20, 150), RED),
                ((420, 30, 150), GREEN),
                ((40, 230, 160), BLUE),
                ((430, 250, 150), YELLOW),
            ] {
                let what = format!("orientation {orientation}, square {square:?}");
                let out = accepted_square(&bytes, square, &what);
                assert_uniform(&out, colour, TOLERANCE, &what);
            }
            // Across the middle: the top half green, the bottom half yellow.
            let what = format!("orientation {orientation}, straddling");
            let out = accepted_square(&bytes, (400, 100, 200), &what);
            assert_near(out.average(20, 20, 280, 130), GREEN, TOLERANCE, &what);
            assert_near(out.average(20, 170, 280, 280), YELLOW, TOLERANCE, &what);
        }
    }
}

#[test]
fn a_chosen_square_must_lie_inside_the_upright_picture() {
    let landscape = jpeg(&quadrants(600, 400, UPRIGHT), 90);
    for (x, y, size) in [
        (0, 0, 401),
        (201, 0, 400),
        (0, 1, 400),
        (600, 0, 1),
        (0, 0, 0),
        (u32::MAX, 0, 2),
        (0, u32::MAX - 1, 10),
    ] {
        assert_eq!(
            run_square(&landscape, x, y, size),
            Err(Rejection::SquareOutside),
            "({x}, {y}, {size})"
        );
    }
    assert!(run_square(&landscape, 200, 0, 400).is_ok());
    assert!(run_square(&landscape, 599, 399, 1).is_ok());
    // Stored 400×600 with orientation 6: upright it is 600 wide and 400 high.
    let turned = oriented_jpeg(6);
    assert!(run_square(&turned, 200, 0, 400).is_ok());
    assert_eq!(
        run_square(&turned, 0, 200, 400),
        Err(Rejection::SquareOutside)
    );
}

#[test]
fn a_chosen_square_works_for_every_format_and_keeps_white_under_alpha() {
    let upright = quadrants(600, 400, UPRIGHT);
    let mut transparent_corner = rgba_of(&upright);
    // Larger than the square: Lanczos reads a few pixels past a square's edge.
    for y in 0..120 {
        for x in 0..120 {
            transparent_corner.put_pixel(x, y, rgba(BLACK, 0));
        }
    }
    let files = [
        (
            "PNG",
            png(&DynamicImage::ImageRgba8(transparent_corner.clone())),
        ),
        ("GIF", gif(&transparent_corner)),
        ("WebP", webp_lossless(&transparent_corner)),
    ];
    for (what, bytes) in files {
        let out = accepted_square(&bytes, (420, 30, 150), what);
        assert_uniform(&out, GREEN, TOLERANCE, what);
        let out = accepted_square(&bytes, (0, 0, 100), what);
        assert_uniform(&out, WHITE, TOLERANCE, what);
    }
}

/// Peak signal-to-noise ratio of two pictures of the same size, in dB.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn a_small_square_of_a_large_photo_keeps_its_detail() {
    // Detail at every scale a face has: fine stripes over broad shading.
    let (width, height) = (4000, 3000);
    let photo = image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let fine = (fx / 3.1).sin() * (fy / 4.3).cos() * 40.0;
        let broad = (fx / 400.0).sin() * 60.0 + (fy / 300.0).cos() * 50.0;
        let v = |shift: f64| (128.0 + broad + fine * shift).clamp(0.0, 255.0) as u8;
        image::Rgb([v(1.0), v(-0.5), v(0.25)])
    });
    let bytes = jpeg(&photo, 95);
    let short = height;
    for percent in [10, 50, 100] {
        let size = short * percent / 100;
        let square = Some(Square {
            x: (width - size) / 2 + 17,
            y: (height - size) / 3,
            size,
        });
        let limits = Limits::default();
        let fast = process_with(&bytes, &limits, square, Options::default())
            .expect("accepted")
            .0
            .master;
        let reference = process_with(
            &bytes,
            &limits,
            square,
            Options {
                shrink_on_load: false,
                ..Options::default()
            },
        )
        .expect("accepted")
        .0
        .master;
        let quality = psnr(
            &decode_output(&fast).pixels,
            &decode_output(&reference).pixels,
        );
        assert!(quality >= 35.0, "{percent}% square: {quality:.1} dB");
    }
}

#[test]
fn the_square_sets_how_far_a_decoder_may_shrink() {
    let shrink = |size: Option<u32>| Shrink {
        keep: 600,
        square: size.map(|size| Square { x: 0, y: 0, size }),
    };
    assert_eq!(shrink(None).min_short(4000, 3000), 600);
    // A 300-pixel square of a 3000-pixel short side would want 6000: all of it, then.
    assert_eq!(shrink(Some(300)).min_short(4000, 3000), 3000);
    assert_eq!(shrink(Some(1500)).min_short(4000, 3000), 1200);
    assert_eq!(shrink(Some(3000)).min_short(4000, 3000), 600);
    assert_eq!(shrink(Some(0)).min_short(4000, 3000), 600);
    // A tiny square of a 50 MP picture: the decode stays near 16 MP, not 50.
    let short = shrink(Some(1)).min_short(8660, 5773);
    assert!((3000..=3300).contains(&short), "{short}");
    // Without shrink-on-load (the benchmarks' reference), still everything.
    assert_eq!(
        Shrink {
            keep: u32::MAX,
            square: Some(Square {
                x: 0,
                y: 0,
                size: 300
            })
        }
        .min_short(4000, 3000),
        u32::MAX
    );
}

/// A photo-like picture with detail at every scale, so a window one pixel off shows.
fn detailed(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let fine = (fx / 2.3).sin() * (fy / 3.7).cos() * 50.0;
        let broad = (fx / 170.0).sin() * 50.0 + (fy / 130.0).cos() * 40.0;
        let v = |shift: f64| (128.0 + broad + fine * shift).clamp(0.0, 255.0) as u8;
        image::Rgb([v(1.0), v(-0.6), v(0.3)])
    })
}

#[test]
fn a_jpeg_decoded_as_a_window_gives_the_pixels_of_a_whole_decode() {
    use super::super::formats::jpeg;
    use super::super::types::Coverage;

    // Upright 1800×1200; stored turned for orientations 5-8. Quality 85 is 4:2:0 (chroma
    // rows are shared, so a window's edge rows need the rows beyond it), 92 is 4:4:4.
    let upright = detailed(1800, 1200);
    let stored_with = |orientation: u16, quality: u8, progressive: bool| {
        let stored = stored_for_orientation(&upright, orientation);
        jpeg_with(&stored, quality, |e| {
            e.set_progressive(progressive);
            e.add_app_segment(
                1,
                exif_app1(Exif {
                    orientation: Some(orientation),
                    gps: false,
                    big_endian: orientation == 8,
                }),
            )
            .expect("EXIF");
        })
    };
    let mut files = vec![
        (
            "grey".to_string(),
            grey_jpeg(1800, 1200, |x, y| ((x * 7 + y * 3) % 251) as u8),
        ),
        (
            "CMYK".to_string(),
            cmyk_jpeg(
                1800,
                1200,
                [[INK_CYAN, INK_MAGENTA], [INK_YELLOW, NO_INK]],
                false,
            ),
        ),
    ];
    for orientation in 1..=8 {
        files.push((
            format!("orientation {orientation}, 4:2:0"),
            stored_with(orientation, 85, false),
        ));
    }
    files.push(("orientation 1, 4:4:4".into(), stored_with(1, 92, false)));
    files.push((
        "orientation 6, progressive".into(),
        stored_with(6, 90, true),
    ));

    let squares = [
        None,
        Some((100, 0, 240)), // the top edge: full scale, a band of the first rows
        Some((1500, 900, 300)), // the bottom-right corner: every row decoded
        Some((600, 400, 400)), // the middle
        Some((517, 201, 997)), // decoded at 5/8: the region starts between pixels
        Some((300, 0, 1200)), // the whole height, decoded at 1/2
    ];
    for (what, bytes) in &files {
        for square in squares {
            let square = square.map(|(x, y, size)| Square { x, y, size });
            let what = format!("{what}, square {square:?}");
            let target = Shrink {
                keep: 2 * SIZE,
                square,
            };
            let window = jpeg::decode(bytes, &Limits::default(), target).expect(&what);
            let whole = jpeg::decode_whole_like(bytes, &window);
            let Coverage::Window { left, top, full } = window.coverage else {
                panic!("{what}: a window");
            };
            assert_eq!((whole.width, whole.height), full, "{what}");
            assert!(
                window.width * window.height < full.0 * full.1,
                "{what}: only part is decoded"
            );
            let (Pixels::Rgb(part), Pixels::Rgb(all)) = (&window.pixels, &whole.pixels) else {
                panic!("{what}: RGB");
            };
            // The window's pixels are the whole decode's, row for row.
            let (row, stride) = (window.width as usize * 3, whole.width as usize * 3);
            for (i, got) in part.chunks_exact(row).enumerate() {
                let start = (top as usize + i) * stride + left as usize * 3;
                assert!(got == &all[start..start + row], "{what}: row {i}");
            }
            // And so the stored square is too: the window holds all the resize reads.
            let region = window.region(square).expect(&what);
            let source = rgb_image(window.pixels, window.width, window.height).expect(&what);
            let from_window = resize(&source, Some(region), SIZE).expect(&what);
            let region = whole.region(square).expect(&what);
            let source = rgb_image(whole.pixels, whole.width, whole.height).expect(&what);
            let from_whole = resize(&source, Some(region), SIZE).expect(&what);
            assert!(from_window == from_whole, "{what}: the resized square");
        }
    }
}

#[test]
fn a_square_near_the_top_of_a_large_jpeg_decodes_only_its_band() {
    // 4000×3000, a 10% square a tenth of the way down: full scale (300 px keeps 600 only
    // unshrunk), and only its rows and columns with Lanczos's reach kept.
    let bytes = jpeg(&noise(4000, 3000, 5), 85);
    let square = Square {
        x: 1800,
        y: 300,
        size: 300,
    };
    let target = Shrink {
        keep: 2 * SIZE,
        square: Some(square),
    };
    let decoded =
        super::super::formats::jpeg::decode(&bytes, &Limits::default(), target).expect("decodes");
    assert!(
        decoded.width < 320 && decoded.height < 320,
        "{}×{}",
        decoded.width,
        decoded.height
    );
    // The band is taken from the top: a square off the picture is still refused, before
    // anything is decoded.
    assert_eq!(
        run_square(&bytes, 3800, 2900, 300),
        Err(Rejection::SquareOutside)
    );
    assert!(run_square(&bytes, 3700, 2700, 300).is_ok());
}

fn as_decoded(rgb: image::RgbImage) -> DecodedJpeg {
    DecodedJpeg {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    }
}

/// A rendition's pixels, decoded by what it is.
fn rendition_rgb(variant: Variant, bytes: &[u8]) -> image::RgbImage {
    let format = match variant.encoding() {
        Encoding::Jpeg => image::ImageFormat::Jpeg,
        Encoding::Webp => image::ImageFormat::WebP,
    };
    if format == image::ImageFormat::Jpeg {
        let decoded = decode_output(bytes);
        return image::RgbImage::from_raw(decoded.width, decoded.height, decoded.pixels)
            .expect("rgb");
    }
    image::load_from_memory_with_format(bytes, format)
        .expect("a decodable WebP")
        .into_rgb8()
}

#[test]
fn renditions_come_from_the_same_upright_square() {
    // Rotated by its EXIF orientation, and large enough for a 600×600.
    let upright = quadrants(1600, 1200, UPRIGHT);
    let bytes = oriented_jpeg_of(&upright, 6, false);
    let (processed, _) =
        process_with(&bytes, &Limits::default(), None, Options::default()).expect("accepted");
    assert_output_format(&processed.master, "master");
    assert_eq!(processed.renditions, Renditions::Large);
    let made: Vec<(u32, Encoding)> = processed
        .files
        .iter()
        .map(|(v, _)| (v.side(), v.encoding()))
        .collect();
    let expected: Vec<(u32, Encoding)> = Renditions::Large
        .variants()
        .map(|v| (v.side(), v.encoding()))
        .collect();
    assert_eq!(made, expected);
    for (variant, bytes) in &processed.files {
        let rgb = rendition_rgb(*variant, bytes);
        let side = variant.side();
        assert_eq!(rgb.dimensions(), (side, side), "{variant:?}");
        assert_quadrants(
            &as_decoded(rgb),
            UPRIGHT,
            &format!("{variant:?} stands upright"),
        );
        if variant.encoding() == Encoding::Jpeg {
            let jpeg = bytes.as_slice();
            assert!(
                jpeg_segments(jpeg)
                    .iter()
                    .all(|s| s.marker == 0xE0 || !(0xE0..=0xEF).contains(&s.marker)),
                "{variant:?}: no metadata"
            );
        }
    }
    // Without renditions the master is the same picture, byte for byte.
    let alone = process_square(&bytes, &Limits::default(), None).expect("accepted");
    assert_eq!(alone, processed.master);
}

#[test]
fn a_square_smaller_than_600_is_never_enlarged() {
    let bytes = jpeg(&quadrants(599, 599, UPRIGHT), 90);
    let processed = process_picture(&bytes, &Limits::default(), None).expect("accepted");
    assert_eq!(processed.renditions, Renditions::Standard);
    assert!(processed.files.iter().all(|(v, _)| v.side() <= 300));
    let big = jpeg(&quadrants(2000, 1500, UPRIGHT), 90);
    let chosen = Some(Square {
        x: 10,
        y: 10,
        size: 500,
    });
    let processed = process_picture(&big, &Limits::default(), chosen).expect("accepted");
    assert_eq!(
        processed.renditions,
        Renditions::Standard,
        "a 500 square of a big photo"
    );
}

#[test]
fn older_pictures_get_their_renditions_from_the_master() {
    let master = run(&jpeg(&quadrants(800, 800, UPRIGHT), 90)).expect("accepted");
    let (renditions, files) = renditions_from_master(&master, &Limits::default()).expect("made");
    assert_eq!(renditions, Renditions::Standard);
    assert_eq!(files.len(), Renditions::Standard.variants().count());
    for (variant, bytes) in &files {
        let rgb = rendition_rgb(*variant, bytes);
        assert_eq!(rgb.dimensions(), (variant.side(), variant.side()));
        assert_quadrants(&as_decoded(rgb), UPRIGHT, &format!("{variant:?}"));
    }
    assert_eq!(
        renditions_from_master(b"not a picture", &Limits::default()).map(|(r, _)| r),
        Err(Rejection::NotAnImage)
    );
}

#[test]
fn orienting_turns_a_square_as_image_does() {
    // One tile, and several with a partial one at the edges.
    for side in [7, 37] {
        orienting_turns_as_image_does(side);
    }
    assert!(orient(vec![0; 5], 2, Orientation::Rotate90).is_err());
}

fn orienting_turns_as_image_does(side: u32) {
    let rgb: Vec<u8> = (0..3 * side * side).map(|i| (i * 37 % 251) as u8).collect();
    for orientation in [
        Orientation::NoTransforms,
        Orientation::Rotate90,
        Orientation::Rotate180,
        Orientation::Rotate270,
        Orientation::FlipHorizontal,
        Orientation::FlipVertical,
        Orientation::Rotate90FlipH,
        Orientation::Rotate270FlipH,
    ] {
        let buffer = RgbImage::from_raw(side, side, rgb.clone()).expect("a square");
        let mut expected = DynamicImage::ImageRgb8(buffer);
        expected.apply_orientation(orientation);
        assert_eq!(
            orient(rgb.clone(), side, orientation).expect("oriented"),
            expected.into_rgb8().into_raw(),
            "{side}: {orientation:?}"
        );
    }
}

#[test]
fn the_600_made_in_parts_is_the_600_made_whole() {
    // Two threads each resize a part of the 600×600 (`resize_rows`): the filter reads the
    // source beyond each part's box, so the parts joined are the whole resize. Regions reaching
    // the picture's edges, and fractional ones (a square decoded at a reduced scale).
    let (width, height) = (1500, 1100);
    let source = rgb_image(
        Pixels::Rgb(noise(width, height, 7).into_raw()),
        width,
        height,
    )
    .expect("an image");
    let regions = [
        Region {
            left: 0.0,
            top: 0.0,
            side: 1100.0,
        },
        Region {
            left: 400.0,
            top: 0.0,
            side: 1100.0,
        },
        Region {
            left: 123.375,
            top: 77.625,
            side: 1022.375,
        },
        Region {
            left: 0.1,
            top: 411.3,
            side: 688.7,
        },
    ];
    for region in regions {
        let whole = resize_rows(&source, region, LARGE, 0..LARGE).expect("whole");
        for cut in [LARGE / 2, 1, 599, 217] {
            let mut joined = resize_rows(&source, region, LARGE, 0..cut).expect("upper");
            joined.extend(resize_rows(&source, region, LARGE, cut..LARGE).expect("lower"));
            assert_eq!(joined.len(), whole.len(), "{region:?} at {cut}");
            let worst = whole
                .iter()
                .zip(&joined)
                .map(|(&a, &b)| a.abs_diff(b))
                .max()
                .unwrap_or(0);
            assert!(
                worst <= 1,
                "{region:?} cut at row {cut}: {worst} levels apart"
            );
        }
    }
}
