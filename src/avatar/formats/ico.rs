//! ICO (and CUR) decoding with the `image` crate: the directory's largest entry (most bits a
//! pixel, then most pixels), a PNG (which `image` takes only as 8-bit RGBA) or a BMP with its
//! AND mask inside.
//!
//! The directory's sizes are bytes (0 meaning 256) and say nothing of the image they point
//! at, and `image` sets no limits on an inner PNG: so the header of every entry's own image
//! (a PNG's IHDR, a DIB's header) is checked against the limits here first, and the chosen
//! one's size again once `image` has read it, before any pixel memory exists.

use std::io::Cursor;

use image::ImageDecoder;
use image::codecs::ico::IcoDecoder;
use image::metadata::Orientation;

use super::whole::{pixels, rejection};
use crate::avatar::types::{Coverage, Decoded, Limits, Rejection, Shrink, check_dimensions};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(crate) fn decode(bytes: &[u8], limits: &Limits, _target: Shrink) -> Result<Decoded, Rejection> {
    check_entries(bytes, limits)?;
    let decoder = IcoDecoder::new(Cursor::new(bytes)).map_err(rejection)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let pixels = pixels(decoder, limits)?;
    Ok(Decoded {
        source: (width, height),
        pixels,
        width,
        height,
        orientation: Orientation::NoTransforms,
        coverage: Coverage::Whole,
    })
}

/// Every entry's image, by its own header; an entry whose image lies outside the file is
/// left to the decoder (which refuses it if it is the one chosen).
fn check_entries(bytes: &[u8], limits: &Limits) -> Result<(), Rejection> {
    let count = le16(bytes, 4).ok_or(Rejection::Corrupt)?;
    if count == 0 {
        return Err(Rejection::Corrupt);
    }
    for i in 0..usize::from(count) {
        let offset = le32(bytes, 6 + 16 * i + 12).ok_or(Rejection::Corrupt)?;
        let Some(image) = usize::try_from(offset).ok().and_then(|at| bytes.get(at..)) else {
            continue;
        };
        if let Some((width, height)) = inner_dimensions(image) {
            check_dimensions(width, height, limits)?;
        }
    }
    Ok(())
}

/// A PNG's size from its IHDR (the first chunk); a DIB's from its header, whose height
/// counts the AND mask's rows too.
fn inner_dimensions(image: &[u8]) -> Option<(u32, u32)> {
    if image.starts_with(PNG_SIGNATURE) {
        if image.get(12..16)? != b"IHDR" {
            return None;
        }
        let be32 = |at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(image.get(at..at + 4)?.try_into().ok()?))
        };
        return Some((be32(16)?, be32(20)?));
    }
    if le32(image, 0)? == 12 {
        let (width, height) = (le16(image, 4)?, le16(image, 6)?);
        return Some((u32::from(width), u32::from(height / 2)));
    }
    let width = u32::try_from(le32(image, 4)? as i32).ok()?;
    let height = (le32(image, 8)? as i32).unsigned_abs() / 2;
    Some((width, height))
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::codecs::ico::{IcoEncoder, IcoFrame};
    use image::{ExtendedColorType, RgbaImage};
    use proptest::prelude::*;

    use super::*;

    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::{accepted, run};

    /// One directory entry: the sizes it states (0 is 256), its bits a pixel, its image.
    struct Entry {
        width: u8,
        height: u8,
        bits: u16,
        image: Vec<u8>,
    }

    fn entry(image: &RgbaImage, data: Vec<u8>) -> Entry {
        Entry {
            width: image.width() as u8,
            height: image.height() as u8,
            bits: 32,
            image: data,
        }
    }

    /// An icon file: header, directory, then each entry's image.
    fn ico(entries: &[Entry]) -> Vec<u8> {
        let mut out = vec![0, 0, 1, 0];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        let mut offset = 6 + 16 * entries.len() as u32;
        for e in entries {
            out.extend_from_slice(&[e.width, e.height, 0, 0]);
            out.extend_from_slice(&1u16.to_le_bytes());
            out.extend_from_slice(&e.bits.to_le_bytes());
            out.extend_from_slice(&(e.image.len() as u32).to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset += e.image.len() as u32;
        }
        for e in entries {
            out.extend_from_slice(&e.image);
        }
        out
    }

    fn png_of(image: &RgbaImage) -> Vec<u8> {
        png(&image::DynamicImage::ImageRgba8(image.clone()))
    }

    /// A DIB as icons hold it: a 40-byte header whose height counts the AND mask too, rows
    /// bottom-up (BGRA at 32 bits, BGR at 24), then the AND mask (bit set: transparent).
    fn dib(image: &RgbaImage, bits: u16, masked: impl Fn(u32, u32) -> bool) -> Vec<u8> {
        let (width, height) = image.dimensions();
        let mut out = Vec::new();
        for v in [40, width, height * 2] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&[0; 24]);
        let row_bytes = (width as usize * usize::from(bits)).div_ceil(32) * 4;
        for y in (0..height).rev() {
            let mut row = vec![0u8; row_bytes];
            for x in 0..width {
                let [r, g, b, a] = image.get_pixel(x, y).0;
                let x = x as usize;
                if bits == 32 {
                    row[x * 4..x * 4 + 4].copy_from_slice(&[b, g, r, a]);
                } else {
                    row[x * 3..x * 3 + 3].copy_from_slice(&[b, g, r]);
                }
            }
            out.extend_from_slice(&row);
        }
        let mask_bytes = (width as usize).div_ceil(32) * 4;
        for y in (0..height).rev() {
            let mut row = vec![0u8; mask_bytes];
            for x in 0..width {
                if masked(x, y) {
                    row[x as usize / 8] |= 0x80 >> (x % 8);
                }
            }
            out.extend_from_slice(&row);
        }
        out
    }

    const TOP_LEFT_CLEAR: Quadrants = [[WHITE, GREEN], [BLUE, YELLOW]];

    #[test]
    fn the_largest_png_entry_is_used() {
        let small = rgba_of(&solid(16, 16, MAGENTA));
        let large = rgba_of(&quadrants(64, 64, UPRIGHT));
        let (small, large) = (
            || entry(&small, png_of(&small)),
            || entry(&large, png_of(&large)),
        );
        for (what, bytes) in [
            ("large first", ico(&[large(), small()])),
            ("large last", ico(&[small(), large()])),
        ] {
            assert_quadrants(&accepted(&bytes, what), UPRIGHT, what);
        }
    }

    #[test]
    fn the_largest_bmp_entry_is_used_with_its_alpha_and_mask() {
        let small = rgba_of(&solid(16, 16, MAGENTA));
        let small = entry(&small, dib(&small, 32, |_, _| false));
        // 32 bits: the alpha byte makes the top-left quadrant clear.
        let mut picture = rgba_of(&quadrants(48, 48, UPRIGHT));
        for (x, y, p) in picture.enumerate_pixels_mut() {
            if x < 24 && y < 24 {
                p.0[3] = 0;
            }
        }
        let alpha = entry(&picture, dib(&picture, 32, |_, _| false));
        let bytes = ico(&[small, alpha]);
        assert_quadrants(&accepted(&bytes, "32-bit"), TOP_LEFT_CLEAR, "32-bit");
        // 24 bits: the AND mask does.
        let picture = rgba_of(&quadrants(48, 48, UPRIGHT));
        let masked = entry(&picture, dib(&picture, 24, |x, y| x < 24 && y < 24));
        let bytes = ico(&[masked]);
        assert_quadrants(&accepted(&bytes, "24-bit"), TOP_LEFT_CLEAR, "24-bit");
    }

    #[test]
    fn png_alpha_is_flattened_onto_white() {
        let picture = RgbaImage::from_fn(64, 64, |x, y| match (x >= 32, y >= 32) {
            (false, false) => rgba(GREEN, 0),
            (true, false) => rgba(RED, 255),
            (false, true) => rgba(BLACK, 128),
            (true, true) => rgba(BLUE, 255),
        });
        let bytes = ico(&[entry(&picture, png_of(&picture))]);
        assert_quadrants(
            &accepted(&bytes, "PNG alpha"),
            [[WHITE, RED], [MID_GREY, BLUE]],
            "PNG alpha",
        );
    }

    #[test]
    fn the_image_crate_encoders_icons_are_accepted() {
        let picture = rgba_of(&quadrants(256, 256, UPRIGHT));
        let small = rgba_of(&solid(32, 32, MAGENTA));
        let frames = [
            IcoFrame::as_png(small.as_raw(), 32, 32, ExtendedColorType::Rgba8).expect("frame"),
            IcoFrame::as_png(picture.as_raw(), 256, 256, ExtendedColorType::Rgba8).expect("frame"),
        ];
        let mut bytes = Vec::new();
        IcoEncoder::new(&mut bytes)
            .encode_images(&frames)
            .expect("ICO");
        assert_quadrants(&accepted(&bytes, "encoded ICO"), UPRIGHT, "encoded ICO");
    }

    #[test]
    fn an_inner_image_larger_than_its_entry_and_the_limits_is_refused_at_once() {
        let tiny = rgba_of(&solid(16, 16, RED));
        for (what, image) in [
            ("PNG 20000×20000", png_header_only(20_000, 20_000)),
            ("PNG 100000×100000", png_header_only(100_000, 100_000)),
            ("PNG 8000×8000", png_header_only(8_000, 8_000)),
            ("DIB 100000×100000", {
                let mut dib = dib(&tiny, 32, |_, _| false);
                dib[4..8].copy_from_slice(&100_000u32.to_le_bytes());
                dib[8..12].copy_from_slice(&200_000u32.to_le_bytes());
                dib
            }),
            ("DIB 20000×20000", {
                let mut dib = dib(&tiny, 32, |_, _| false);
                dib[4..8].copy_from_slice(&20_000u32.to_le_bytes());
                dib[8..12].copy_from_slice(&40_000u32.to_le_bytes());
                dib
            }),
        ] {
            // The directory says 16×16.
            let bytes = ico(&[entry(&tiny, image)]);
            let started = Instant::now();
            assert_eq!(run(&bytes), Err(Rejection::TooManyPixels), "{what}");
            assert!(started.elapsed() < Duration::from_secs(1), "{what}");
        }
        // A huge image behind an entry that would not be chosen is refused too.
        let good = rgba_of(&quadrants(64, 64, UPRIGHT));
        let mut hidden = entry(&tiny, png_header_only(20_000, 20_000));
        hidden.bits = 8;
        let bytes = ico(&[entry(&good, png_of(&good)), hidden]);
        assert_eq!(run(&bytes), Err(Rejection::TooManyPixels));
    }

    #[test]
    fn an_inner_image_whose_size_differs_from_its_entry_is_corrupt() {
        let picture = rgba_of(&quadrants(300, 300, UPRIGHT));
        let mut lying = entry(&picture, png_of(&picture));
        (lying.width, lying.height) = (16, 16);
        assert_eq!(run(&ico(&[lying])), Err(Rejection::Corrupt));
    }

    #[test]
    fn truncated_files_are_corrupt() {
        let picture = rgba_of(&quadrants(48, 48, UPRIGHT));
        for (what, image) in [
            ("PNG", png_of(&picture)),
            ("BMP", dib(&picture, 32, |_, _| false)),
        ] {
            let bytes = ico(&[entry(&picture, image)]);
            // A PNG needs no more than its pixel data: cut inside the IDAT, not the IEND.
            let last = if what == "PNG" { 20 } else { 1 };
            for keep in [5, 10, 22, 30, 60, bytes.len() / 2, bytes.len() - last] {
                assert_eq!(
                    run(&truncated(&bytes, keep)).err(),
                    Some(Rejection::Corrupt),
                    "{what} cut to {keep} of {} bytes",
                    bytes.len()
                );
            }
        }
        assert_eq!(run(&ico(&[])), Err(Rejection::Corrupt), "no entries");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_after_the_magic_are_refused_or_read(
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut bytes = vec![0, 0, 1, 0];
            bytes.extend_from_slice(&tail);
            // Ok and a 300×300 JPEG, or a rejection; a panic inside is caught as Corrupt.
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }

        #[test]
        fn a_damaged_file_never_escapes(
            at in 0usize..3000,
            value in any::<u8>(),
            inner_png in any::<bool>(),
        ) {
            let picture = rgba_of(&quadrants(20, 12, UPRIGHT));
            let image = if inner_png {
                png_of(&picture)
            } else {
                dib(&picture, 32, |_, _| false)
            };
            let mut bytes = ico(&[entry(&picture, image)]);
            let at = at % bytes.len();
            bytes[at] = value;
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }
    }

    #[test]
    fn inner_dimensions_read_png_and_both_dib_headers() {
        assert_eq!(inner_dimensions(&png_header_only(70, 30)), Some((70, 30)));
        let tiny = rgba_of(&solid(5, 3, RED));
        assert_eq!(
            inner_dimensions(&dib(&tiny, 32, |_, _| false)),
            Some((5, 3))
        );
        let mut core = 12u32.to_le_bytes().to_vec();
        core.extend_from_slice(&[9, 0, 14, 0]);
        assert_eq!(inner_dimensions(&core), Some((9, 7)));
        assert_eq!(inner_dimensions(b"\x89PNG\r\n\x1a\n"), None);
    }
}
