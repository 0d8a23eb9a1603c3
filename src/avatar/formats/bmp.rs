//! BMP decoding with the `image` crate: top-down and bottom-up, 1/4/8-bit palettes, RLE,
//! 16/24/32-bit, and bitfield alpha (V3-V5 headers). The size is read from the header here
//! first, so a file claiming more pixels than the limits is refused before `image` sees it
//! (it refuses sides over 65535 itself, as a decoding error rather than as too many pixels).
//! Decoded whole: BMPs are uncompressed or RLE, and bounded by the limits.

use std::io::Cursor;

use image::ImageDecoder;
use image::codecs::bmp::BmpDecoder;
use image::metadata::Orientation;

use super::whole::{pixels, rejection};
use crate::avatar::types::{Coverage, Decoded, Limits, Rejection, Shrink, check_dimensions};

pub(crate) fn decode(bytes: &[u8], limits: &Limits, _target: Shrink) -> Result<Decoded, Rejection> {
    let (width, height) = header_dimensions(bytes)?;
    check_dimensions(width, height, limits)?;
    let source = (width, height);
    let decoder = BmpDecoder::new(Cursor::new(bytes)).map_err(rejection)?;
    if decoder.dimensions() != source {
        return Err(Rejection::Corrupt);
    }
    let pixels = pixels(decoder, limits)?;
    Ok(Decoded {
        source,
        pixels,
        width,
        height,
        orientation: Orientation::NoTransforms,
        coverage: Coverage::Whole,
    })
}

/// Width and height from the file header and the DIB header after it: 16-bit sides in the
/// old 12-byte core header, signed 32-bit ones (negative height: top-down) in all others.
fn header_dimensions(bytes: &[u8]) -> Result<(u32, u32), Rejection> {
    let field = |at: usize, len: usize| bytes.get(at..at + len).ok_or(Rejection::Corrupt);
    let u16_at = |at| field(at, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let i32_at = |at| field(at, 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let header_size = i32_at(14)?;
    if header_size == 12 {
        return Ok((u32::from(u16_at(18)?), u32::from(u16_at(20)?)));
    }
    let width = u32::try_from(i32_at(18)?).map_err(|_| Rejection::Corrupt)?;
    Ok((width, i32_at(22)?.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::{ImageEncoder, RgbaImage};
    use proptest::prelude::*;

    use super::*;

    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::{accepted, run};
    use crate::avatar::process;

    /// How a BMP stores its pixels.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Layout {
        /// 1, 4 or 8 bits an index into a palette of the picture's colours.
        Palette(u16),
        /// B, G, R.
        Bgr24,
        /// B, G, R and an unused byte (written as 0, which must not be read as alpha).
        Bgrx32,
        /// B, G, R, A with bitfield masks in a V5 header.
        Bgra32V5,
    }

    fn le16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn le32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A BMP of `image` written by hand, bottom-up (as most are) or top-down (negative
    /// height), rows padded to four bytes.
    fn bmp(image: &RgbaImage, layout: Layout, top_down: bool) -> Vec<u8> {
        let (width, height) = image.dimensions();
        let bits: u16 = match layout {
            Layout::Palette(bits) => bits,
            Layout::Bgr24 => 24,
            Layout::Bgrx32 | Layout::Bgra32V5 => 32,
        };
        let mut palette: Vec<[u8; 4]> = Vec::new();
        if let Layout::Palette(_) = layout {
            for p in image.pixels() {
                if !palette.contains(&p.0) {
                    palette.push(p.0);
                }
            }
            assert!(palette.len() <= 1 << bits, "the palette fits {bits} bits");
        }
        let row_bytes = (width as usize * usize::from(bits)).div_ceil(32) * 4;
        let mut rows = Vec::new();
        let order: Vec<u32> = if top_down {
            (0..height).collect()
        } else {
            (0..height).rev().collect()
        };
        for y in order {
            let mut row = vec![0u8; row_bytes];
            for x in 0..width {
                let [r, g, b, a] = image.get_pixel(x, y).0;
                let x = x as usize;
                match layout {
                    Layout::Palette(bits) => {
                        let index = palette
                            .iter()
                            .position(|c| *c == [r, g, b, a])
                            .expect("in the palette") as u8;
                        let per_byte = 8 / usize::from(bits);
                        let shift = 8 - usize::from(bits) * (x % per_byte + 1);
                        row[x / per_byte] |= index << shift;
                    }
                    Layout::Bgr24 => row[x * 3..x * 3 + 3].copy_from_slice(&[b, g, r]),
                    Layout::Bgrx32 => row[x * 4..x * 4 + 4].copy_from_slice(&[b, g, r, 0]),
                    Layout::Bgra32V5 => row[x * 4..x * 4 + 4].copy_from_slice(&[b, g, r, a]),
                }
            }
            rows.extend_from_slice(&row);
        }

        let dib_size: u32 = if layout == Layout::Bgra32V5 { 124 } else { 40 };
        let palette_size = palette.len() as u32 * 4;
        let offset = 14 + dib_size + palette_size;
        let mut out = b"BM".to_vec();
        le32(&mut out, offset + rows.len() as u32);
        le32(&mut out, 0);
        le32(&mut out, offset);
        le32(&mut out, dib_size);
        le32(&mut out, width);
        let signed_height = if top_down {
            -(height as i32)
        } else {
            height as i32
        };
        out.extend_from_slice(&signed_height.to_le_bytes());
        le16(&mut out, 1);
        le16(&mut out, bits);
        // BI_BITFIELDS for the V5 header's masks, else BI_RGB.
        le32(&mut out, if layout == Layout::Bgra32V5 { 3 } else { 0 });
        le32(&mut out, rows.len() as u32);
        le32(&mut out, 2835);
        le32(&mut out, 2835);
        le32(&mut out, palette.len() as u32);
        le32(&mut out, 0);
        if layout == Layout::Bgra32V5 {
            for mask in [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0xFF00_0000] {
                le32(&mut out, mask);
            }
            out.extend_from_slice(b"BGRs"); // LCS_sRGB, little-endian.
            out.extend_from_slice(&[0; 36 + 12]); // Endpoints and gamma.
            le32(&mut out, 4); // LCS_GM_IMAGES.
            out.extend_from_slice(&[0; 12]); // No profile; reserved.
        }
        assert_eq!(out.len(), 14 + dib_size as usize);
        for [r, g, b, _] in &palette {
            out.extend_from_slice(&[*b, *g, *r, 0]);
        }
        out.extend_from_slice(&rows);
        out
    }

    /// A header (and nothing after it) claiming `width`×`height` at 24 bits.
    fn header_only(width: i32, height: i32) -> Vec<u8> {
        let mut out = b"BM".to_vec();
        le32(&mut out, 54);
        le32(&mut out, 0);
        le32(&mut out, 54);
        le32(&mut out, 40);
        out.extend_from_slice(&width.to_le_bytes());
        out.extend_from_slice(&height.to_le_bytes());
        le16(&mut out, 1);
        le16(&mut out, 24);
        out.extend_from_slice(&[0; 24]);
        out
    }

    const TWO_COLOURS: Quadrants = [[RED, BLUE], [BLUE, RED]];

    #[test]
    fn every_bit_depth_bottom_up_and_top_down_keeps_its_quadrants() {
        // 62 pixels: no bit depth's rows are a multiple of four bytes without padding.
        for layout in [
            Layout::Palette(1),
            Layout::Palette(4),
            Layout::Palette(8),
            Layout::Bgr24,
            Layout::Bgrx32,
            Layout::Bgra32V5,
        ] {
            let colours = if layout == Layout::Palette(1) {
                TWO_COLOURS
            } else {
                UPRIGHT
            };
            let picture = rgba_of(&quadrants(62, 42, colours));
            for top_down in [false, true] {
                let what = format!("{layout:?}, top-down {top_down}");
                let decoded = accepted(&bmp(&picture, layout, top_down), &what);
                assert_quadrants(&decoded, colours, &what);
            }
        }
    }

    #[test]
    fn the_image_crate_encoders_pictures_are_accepted() {
        let picture = quadrants(90, 60, UPRIGHT);
        let mut bytes = Vec::new();
        image::codecs::bmp::BmpEncoder::new(&mut bytes)
            .write_image(picture.as_raw(), 90, 60, image::ExtendedColorType::Rgb8)
            .expect("BMP");
        assert_quadrants(&accepted(&bytes, "encoded BMP"), UPRIGHT, "encoded BMP");
    }

    #[test]
    fn v5_alpha_is_flattened_onto_white() {
        // Top-left: green at alpha 0 (must not show); bottom-left: black at alpha 128.
        let picture = RgbaImage::from_fn(80, 80, |x, y| match (x >= 40, y >= 40) {
            (false, false) => rgba(GREEN, 0),
            (true, false) => rgba(RED, 255),
            (false, true) => rgba(BLACK, 128),
            (true, true) => rgba(BLUE, 255),
        });
        for top_down in [false, true] {
            let what = format!("V5 alpha, top-down {top_down}");
            let decoded = accepted(&bmp(&picture, Layout::Bgra32V5, top_down), &what);
            assert_quadrants(&decoded, [[WHITE, RED], [MID_GREY, BLUE]], &what);
        }
    }

    #[test]
    fn a_header_over_the_limits_is_refused_at_once() {
        for (width, height) in [
            (100_000, 100_000),
            (100_000, -100_000),
            (20_000, 20),
            (20, -20_000),
            // Sides within 16384, pixels over 50 million.
            (8_000, 8_000),
            (i32::MAX, 1),
            (1, i32::MIN),
        ] {
            let started = Instant::now();
            assert_eq!(
                run(&header_only(width, height)),
                Err(Rejection::TooManyPixels),
                "{width}×{height}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{width}×{height}"
            );
        }
        assert_eq!(run(&header_only(-5, 5)), Err(Rejection::Corrupt));
        assert_eq!(run(&header_only(0, 5)), Err(Rejection::Corrupt));
    }

    #[test]
    fn the_allocation_limit_is_the_decoders_too() {
        // 1000×1000 is within the pixel limits, but its 3 MB are over this allocation limit.
        let limits = Limits {
            max_alloc: 1_000_000,
            ..Limits::default()
        };
        let picture = rgba_of(&solid(1000, 1000, RED));
        let bytes = bmp(&picture, Layout::Bgr24, false);
        assert_eq!(process(&bytes, &limits), Err(Rejection::TooManyPixels));
        assert!(process(&bytes, &Limits::default()).is_ok());
    }

    #[test]
    fn truncated_files_are_corrupt() {
        let picture = rgba_of(&quadrants(62, 42, UPRIGHT));
        for layout in [Layout::Palette(4), Layout::Bgr24, Layout::Bgra32V5] {
            let bytes = bmp(&picture, layout, false);
            for keep in [26, 40, 60, 100, bytes.len() / 2, bytes.len() - 1] {
                assert_eq!(
                    run(&truncated(&bytes, keep)).err(),
                    Some(Rejection::Corrupt),
                    "{layout:?} cut to {keep} of {} bytes",
                    bytes.len()
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_after_the_magic_are_refused_or_read(
            tail in proptest::collection::vec(any::<u8>(), 24..600),
        ) {
            let mut bytes = b"BM".to_vec();
            bytes.extend_from_slice(&tail);
            // Ok and a 300×300 JPEG, or a rejection; a panic inside is caught as Corrupt.
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }

        #[test]
        fn a_damaged_header_or_body_never_escapes(
            at in 0usize..400,
            value in any::<u8>(),
            layout in 0usize..3,
        ) {
            let layout = [Layout::Palette(8), Layout::Bgr24, Layout::Bgra32V5][layout];
            let picture = rgba_of(&quadrants(20, 12, UPRIGHT));
            let mut bytes = bmp(&picture, layout, false);
            let at = at % bytes.len();
            bytes[at] = value;
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }
    }

    #[test]
    fn header_dimensions_read_both_header_kinds() {
        assert_eq!(header_dimensions(&header_only(7, -9)), Ok((7, 9)));
        let mut core = b"BM".to_vec();
        core.extend_from_slice(&[0; 12]);
        le32(&mut core, 12);
        le16(&mut core, 300);
        le16(&mut core, 200);
        assert_eq!(header_dimensions(&core), Ok((300, 200)));
        assert_eq!(header_dimensions(b"BM\0\0"), Err(Rejection::Corrupt));
    }
}
