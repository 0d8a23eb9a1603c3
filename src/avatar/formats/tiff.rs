//! TIFF decoding with the `image` crate (over the `tiff` crate): the first page only;
//! uncompressed, LZW, Deflate, PackBits and JPEG (with RGB photometric) strips and tiles;
//! grey, RGB, RGBA and CMYK at 8 or 16 bits (16 scaled to 8, CMYK converted to RGB); the
//! Orientation tag (274) is returned for the pipeline to apply.
//!
//! The first page's width and length are read from its IFD here before `image` sees the file:
//! a header over the limits is refused before any strip is read or inflated, and every later
//! buffer is bounded by `image::Limits` (a deflate strip inflates only to the size its header
//! gives). Decoded whole, bounded by the limits.

use std::io::Cursor;

use image::ImageDecoder;
use image::codecs::tiff::TiffDecoder;
use image::metadata::Orientation;

use super::whole::{pixels, rejection};
use crate::avatar::types::{Coverage, Decoded, Limits, Rejection, Shrink, check_dimensions};

pub(crate) fn decode(bytes: &[u8], limits: &Limits, _target: Shrink) -> Result<Decoded, Rejection> {
    let (width, height) = header_dimensions(bytes).ok_or(Rejection::Corrupt)?;
    check_dimensions(width, height, limits)?;
    let source = (width, height);
    let mut decoder = TiffDecoder::new(Cursor::new(bytes)).map_err(rejection)?;
    if decoder.dimensions() != source {
        return Err(Rejection::Corrupt);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let pixels = pixels(decoder, limits)?;
    Ok(Decoded {
        source,
        pixels,
        width,
        height,
        orientation,
        coverage: Coverage::Whole,
    })
}

/// ImageWidth (256) and ImageLength (257) of the first IFD, SHORT or LONG, in the byte order
/// the header names.
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let big_endian = match bytes.get(..4)? {
        b"II*\0" => false,
        b"MM\0*" => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let (mut width, mut height) = (None, None);
    for i in 0..usize::from(u16_at(ifd)?) {
        let entry = ifd.checked_add(2 + 12 * i)?;
        let value = match u16_at(entry + 2)? {
            3 => u16_at(entry + 8).map(u32::from),
            4 => u32_at(entry + 8),
            _ => None,
        };
        match u16_at(entry)? {
            256 => width = value,
            257 => height = value,
            _ => {}
        }
    }
    Some((width?, height?))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::{ImageEncoder, RgbImage, RgbaImage};
    use proptest::prelude::*;

    use super::*;

    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::{accepted, run};
    use crate::avatar::process;

    const NONE: u16 = 1;
    const LZW: u16 = 5;
    const JPEG: u16 = 7;
    const DEFLATE: u16 = 8;
    const PACKBITS: u16 = 32773;

    const RGB: u16 = 2;
    const CMYK: u16 = 5;
    const YCBCR: u16 = 6;

    /// One page (IFD) with its pixels in one strip, already compressed.
    #[derive(Clone)]
    struct Page {
        width: u32,
        height: u32,
        bits: u16,
        samples: u16,
        photometric: u16,
        compression: u16,
        strip: Vec<u8>,
        orientation: Option<u16>,
        /// ExtraSamples = 2: the last sample is unassociated alpha.
        alpha: bool,
    }

    impl Page {
        fn rgb(image: &RgbImage, compression: u16) -> Page {
            Page {
                width: image.width(),
                height: image.height(),
                bits: 8,
                samples: 3,
                photometric: RGB,
                compression,
                strip: compress(image.as_raw(), compression, image.width() as usize * 3),
                orientation: None,
                alpha: false,
            }
        }
    }

    fn compress(raw: &[u8], compression: u16, row_bytes: usize) -> Vec<u8> {
        match compression {
            NONE => raw.to_vec(),
            LZW => lzw(raw),
            DEFLATE => zlib_stored(raw),
            PACKBITS => raw.chunks(row_bytes).flat_map(packbits).collect(),
            other => panic!("no compressor for {other}"),
        }
    }

    /// PackBits: runs of two to 128 equal bytes as (1 - n, byte), the rest as literals.
    fn packbits(row: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < row.len() {
            let run = row[at..]
                .iter()
                .take(128)
                .take_while(|&&b| b == row[at])
                .count();
            if run >= 2 {
                out.extend_from_slice(&[(1 - run as i16) as u8, row[at]]);
                at += run;
            } else {
                let start = at;
                while at < row.len()
                    && at - start < 128
                    && !(at + 1 < row.len() && row[at] == row[at + 1])
                {
                    at += 1;
                }
                out.push((at - start - 1) as u8);
                out.extend_from_slice(&row[start..at]);
            }
        }
        out
    }

    /// TIFF LZW (9-bit codes, most significant bit first) that only ever emits single bytes,
    /// with a Clear code before the table would need 10-bit codes: valid, if not small.
    fn lzw(data: &[u8]) -> Vec<u8> {
        const CLEAR: u32 = 256;
        const END: u32 = 257;
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut put = |code: u32, out: &mut Vec<u8>| {
            acc = (acc << 9) | code;
            bits += 9;
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        };
        for chunk in data.chunks(200) {
            put(CLEAR, &mut out);
            for &b in chunk {
                put(u32::from(b), &mut out);
            }
        }
        put(END, &mut out);
        put(0, &mut out); // Flushes the last partial byte.
        out
    }

    /// A zlib stream of `len` zero bytes in fixed-Huffman deflate: a literal 0, then
    /// (length 258, distance 1) copies at 13 bits each. About 160 times smaller than its data.
    fn zlib_zeros(len: usize) -> Vec<u8> {
        let mut out = vec![0x78, 0x01];
        let (mut acc, mut bits) = (0u64, 0u32);
        // Deflate packs bits least significant first; Huffman codes go most significant first.
        let mut put = |value: u64, count: u32, out: &mut Vec<u8>| {
            acc |= value << bits;
            bits += count;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        };
        let huffman = |code: u64, count: u32| -> u64 {
            (0..count).fold(0, |r, i| r | (((code >> (count - 1 - i)) & 1) << i))
        };
        put(0b011, 3, &mut out); // BFINAL, fixed Huffman.
        put(huffman(0x30, 8), 8, &mut out); // Literal 0.
        for _ in 0..(len - 1) / 258 {
            put(huffman(0xC5, 8), 8, &mut out); // Length 258.
            put(0, 5, &mut out); // Distance 1.
        }
        for _ in 0..(len - 1) % 258 {
            put(huffman(0x30, 8), 8, &mut out);
        }
        put(0, 7, &mut out); // End of block.
        put(0, 7, &mut out);
        let adler = ((len % 65521) as u32) << 16 | 1;
        out.extend_from_slice(&adler.to_be_bytes());
        out
    }

    /// A TIFF of `pages` in the given byte order: each page's strip, then its IFD, chained.
    fn tiff_file(pages: &[Page], big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = if big_endian {
            b"MM\0*".to_vec()
        } else {
            b"II*\0".to_vec()
        };
        let mut next_pointer = out.len();
        out.extend_from_slice(&[0; 4]);
        for page in pages {
            let strip_at = out.len() as u32;
            out.extend_from_slice(&page.strip);
            if out.len() % 2 == 1 {
                out.push(0);
            }
            let bits_at = out.len() as u32;
            for _ in 0..page.samples {
                out.extend_from_slice(&u16b(page.bits));
            }
            let mut entries: Vec<(u16, u16, u32, [u8; 4])> = Vec::new();
            let short = |v: u16| {
                let b = u16b(v);
                [b[0], b[1], 0, 0]
            };
            entries.push((256, 4, 1, u32b(page.width)));
            entries.push((257, 4, 1, u32b(page.height)));
            entries.push(if page.samples <= 2 {
                let b = u16b(page.bits);
                (258, 3, u32::from(page.samples), [b[0], b[1], b[0], b[1]])
            } else {
                (258, 3, u32::from(page.samples), u32b(bits_at))
            });
            entries.push((259, 3, 1, short(page.compression)));
            entries.push((262, 3, 1, short(page.photometric)));
            entries.push((273, 4, 1, u32b(strip_at)));
            if let Some(orientation) = page.orientation {
                entries.push((274, 3, 1, short(orientation)));
            }
            entries.push((277, 3, 1, short(page.samples)));
            entries.push((278, 4, 1, u32b(page.height)));
            entries.push((279, 4, 1, u32b(page.strip.len() as u32)));
            entries.push((284, 3, 1, short(1)));
            if page.alpha {
                entries.push((338, 3, 1, short(2)));
            }
            if out.len() % 2 == 1 {
                out.push(0);
            }
            let ifd_at = out.len() as u32;
            out[next_pointer..next_pointer + 4].copy_from_slice(&u32b(ifd_at));
            out.extend_from_slice(&u16b(entries.len() as u16));
            for (tag, kind, count, value) in entries {
                out.extend_from_slice(&u16b(tag));
                out.extend_from_slice(&u16b(kind));
                out.extend_from_slice(&u32b(count));
                out.extend_from_slice(&value);
            }
            next_pointer = out.len();
            out.extend_from_slice(&[0; 4]);
        }
        out
    }

    fn tiff_of(page: Page) -> Vec<u8> {
        tiff_file(&[page], false)
    }

    #[test]
    fn every_compression_keeps_its_quadrants() {
        let picture = quadrants(90, 60, UPRIGHT);
        for compression in [NONE, LZW, DEFLATE, PACKBITS] {
            for big_endian in [false, true] {
                let what = format!("compression {compression}, big-endian {big_endian}");
                let bytes = tiff_file(&[Page::rgb(&picture, compression)], big_endian);
                assert_quadrants(&accepted(&bytes, &what), UPRIGHT, &what);
            }
        }
    }

    #[test]
    fn the_image_crate_encoders_pictures_are_accepted() {
        let picture = quadrants(90, 60, UPRIGHT);
        let mut bytes = Vec::new();
        image::codecs::tiff::TiffEncoder::new(Cursor::new(&mut bytes))
            .write_image(picture.as_raw(), 90, 60, image::ExtendedColorType::Rgb8)
            .expect("TIFF");
        assert_quadrants(&accepted(&bytes, "encoded TIFF"), UPRIGHT, "encoded TIFF");
    }

    #[test]
    fn sixteen_bit_samples_are_scaled_to_eight() {
        let picture = quadrants(90, 60, UPRIGHT);
        for big_endian in [false, true] {
            let strip: Vec<u8> = picture
                .as_raw()
                .iter()
                .flat_map(|&v| {
                    let v = u16::from(v) * 257;
                    if big_endian {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect();
            let page = Page {
                bits: 16,
                strip: compress(&strip, LZW, 90 * 6),
                compression: LZW,
                ..Page::rgb(&picture, NONE)
            };
            let what = format!("16-bit, big-endian {big_endian}");
            let decoded = accepted(&tiff_file(&[page], big_endian), &what);
            assert_quadrants(&decoded, UPRIGHT, &what);
        }
    }

    #[test]
    fn cmyk_is_converted_to_rgb() {
        // Black comes from K alone; the primaries from two inks each.
        let expected = [[RED, GREEN], [BLUE, BLACK]];
        let picture = quadrants(90, 60, expected);
        let strip: Vec<u8> = picture
            .pixels()
            .flat_map(|p| match p.0 {
                [0, 0, 0] => [0, 0, 0, 255],
                [r, g, b] => [255 - r, 255 - g, 255 - b, 0],
            })
            .collect();
        let page = Page {
            samples: 4,
            photometric: CMYK,
            strip: compress(&strip, PACKBITS, 90 * 4),
            compression: PACKBITS,
            ..Page::rgb(&picture, NONE)
        };
        assert_quadrants(&accepted(&tiff_of(page), "CMYK"), expected, "CMYK");
    }

    #[test]
    fn alpha_is_flattened_onto_white() {
        let picture = RgbaImage::from_fn(80, 80, |x, y| match (x >= 40, y >= 40) {
            (false, false) => rgba(GREEN, 0),
            (true, false) => rgba(RED, 255),
            (false, true) => rgba(BLACK, 128),
            (true, true) => rgba(BLUE, 255),
        });
        let page = Page {
            width: 80,
            height: 80,
            bits: 8,
            samples: 4,
            photometric: RGB,
            compression: DEFLATE,
            strip: zlib_stored(picture.as_raw()),
            orientation: None,
            alpha: true,
        };
        assert_quadrants(
            &accepted(&tiff_of(page), "RGBA"),
            [[WHITE, RED], [MID_GREY, BLUE]],
            "RGBA",
        );
    }

    #[test]
    fn only_the_first_page_is_used() {
        let first = Page::rgb(&quadrants(90, 60, UPRIGHT), LZW);
        let second = Page::rgb(&solid(120, 120, MAGENTA), NONE);
        let bytes = tiff_file(&[first, second], false);
        assert_quadrants(&accepted(&bytes, "two pages"), UPRIGHT, "two pages");
    }

    #[test]
    fn the_orientation_tag_is_applied() {
        let upright = quadrants(120, 80, UPRIGHT);
        for orientation in 1..=8 {
            for big_endian in [false, true] {
                let stored = stored_for_orientation(&upright, orientation);
                let page = Page {
                    orientation: Some(orientation),
                    ..Page::rgb(&stored, DEFLATE)
                };
                let what = format!("orientation {orientation}, big-endian {big_endian}");
                let decoded = accepted(&tiff_file(&[page], big_endian), &what);
                assert_quadrants(&decoded, UPRIGHT, &what);
            }
        }
    }

    /// A baseline JPEG of `image` whose components are R, G, B (an Adobe marker, transform
    /// 0), as libtiff writes JPEG strips of an RGB TIFF.
    fn rgb_jpeg(image: &RgbImage) -> Vec<u8> {
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_size(image.width() as usize, image.height() as usize);
        compress.set_color_space(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_quality(95.0);
        let mut started = compress.start_compress(Vec::new()).expect("JPEG");
        started.write_scanlines(image.as_raw()).expect("JPEG");
        started.finish().expect("JPEG")
    }

    #[test]
    fn jpeg_compressed_rgb_strips_are_read() {
        let picture = quadrants(96, 64, UPRIGHT);
        let page = Page {
            strip: rgb_jpeg(&picture),
            compression: JPEG,
            ..Page::rgb(&picture, NONE)
        };
        assert_quadrants(&accepted(&tiff_of(page), "JPEG-in-TIFF"), UPRIGHT, "JPEG");
    }

    #[test]
    fn jpeg_compressed_ycbcr_strips_are_refused_cleanly() {
        // `image` has no YCbCr TIFF support: a known limit, refused as unreadable.
        let picture = quadrants(96, 64, UPRIGHT);
        let page = Page {
            strip: jpeg(&picture, 90),
            compression: JPEG,
            photometric: YCBCR,
            ..Page::rgb(&picture, NONE)
        };
        assert_eq!(run(&tiff_of(page)), Err(Rejection::Corrupt));
    }

    #[test]
    fn a_header_over_the_limits_is_refused_at_once() {
        for (width, height) in [
            (100_000, 100_000),
            (20_000, 10),
            (10, 20_000),
            (8_000, 8_000),
            (u32::MAX, u32::MAX),
        ] {
            let page = Page {
                width,
                height,
                ..Page::rgb(&solid(4, 4, RED), NONE)
            };
            let started = Instant::now();
            assert_eq!(
                run(&tiff_of(page)),
                Err(Rejection::TooManyPixels),
                "{width}×{height}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{width}×{height}"
            );
        }
    }

    #[test]
    fn a_deflate_bomb_is_refused_before_it_inflates() {
        // 10000×10000 grey: 100 MB of zeros from about 630 KB.
        let (width, height) = (10_000, 10_000);
        let strip = zlib_zeros(width as usize * height as usize);
        assert!(strip.len() < 700_000, "{} bytes", strip.len());
        let page = Page {
            width,
            height,
            bits: 8,
            samples: 1,
            photometric: 1,
            compression: DEFLATE,
            strip,
            orientation: None,
            alpha: false,
        };
        let started = Instant::now();
        assert_eq!(run(&tiff_of(page)), Err(Rejection::TooManyPixels));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_strip_inflating_past_its_header_is_read_only_as_far_as_the_header() {
        // 100×100 grey whose strip inflates to 20 MB: the decoder stops at 10,000 bytes.
        let page = Page {
            width: 100,
            height: 100,
            bits: 8,
            samples: 1,
            photometric: 1,
            compression: DEFLATE,
            strip: zlib_zeros(20_000_000),
            orientation: None,
            alpha: false,
        };
        let started = Instant::now();
        let decoded = accepted(&tiff_of(page), "long strip");
        assert_uniform(&decoded, BLACK, 8, "long strip");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn the_allocation_limit_is_the_decoders_too() {
        // 2000×2000 RGB at 16 bits is 24 MB: within the pixel limits, over this budget.
        let limits = Limits {
            max_alloc: 10_000_000,
            ..Limits::default()
        };
        let page = Page {
            width: 2000,
            height: 2000,
            bits: 16,
            samples: 3,
            photometric: RGB,
            compression: DEFLATE,
            strip: zlib_zeros(2000 * 2000 * 6),
            orientation: None,
            alpha: false,
        };
        let bytes = tiff_of(page);
        assert_eq!(process(&bytes, &limits), Err(Rejection::TooManyPixels));
        assert!(process(&bytes, &Limits::default()).is_ok());
    }

    #[test]
    fn truncated_files_are_corrupt() {
        let picture = quadrants(90, 60, UPRIGHT);
        for compression in [NONE, LZW, DEFLATE, PACKBITS] {
            let bytes = tiff_of(Page::rgb(&picture, compression));
            for keep in [5, 8, 12, bytes.len() / 2, bytes.len() - 20, bytes.len() - 1] {
                assert_eq!(
                    run(&truncated(&bytes, keep)).err(),
                    Some(Rejection::Corrupt),
                    "compression {compression} cut to {keep} of {} bytes",
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn a_strip_running_past_the_end_of_the_file_is_corrupt() {
        let picture = quadrants(90, 60, UPRIGHT);
        for compression in [NONE, LZW, DEFLATE, PACKBITS] {
            let mut page = Page::rgb(&picture, compression);
            page.strip.truncate(page.strip.len() / 2);
            assert_eq!(
                run(&tiff_of(page)),
                Err(Rejection::Corrupt),
                "compression {compression}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_after_the_magic_are_refused_or_read(
            big_endian in any::<bool>(),
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut bytes = if big_endian { b"MM\0*".to_vec() } else { b"II*\0".to_vec() };
            bytes.extend_from_slice(&tail);
            // Ok and a 300×300 JPEG, or a rejection; a panic inside is caught as Corrupt.
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }

        #[test]
        fn a_damaged_file_never_escapes(
            at in 0usize..2000,
            value in any::<u8>(),
            compression in 0usize..4,
        ) {
            let compression = [NONE, LZW, DEFLATE, PACKBITS][compression];
            let mut bytes = tiff_of(Page::rgb(&quadrants(20, 12, UPRIGHT), compression));
            let at = at % bytes.len();
            bytes[at] = value;
            if let Ok(out) = run(&bytes) {
                prop_assert_eq!(decode_output(&out).width, 300);
            }
        }
    }

    #[test]
    fn header_dimensions_read_short_and_long_in_both_orders() {
        let page = Page::rgb(&solid(7, 5, RED), NONE);
        assert_eq!(
            header_dimensions(&tiff_file(std::slice::from_ref(&page), false)),
            Some((7, 5))
        );
        assert_eq!(header_dimensions(&tiff_file(&[page], true)), Some((7, 5)));
        // ImageWidth SHORT 300, ImageLength SHORT 200, big-endian.
        let mut short = b"MM\0*\0\0\0\x08\0\x02".to_vec();
        short.extend_from_slice(&[1, 0, 0, 3, 0, 0, 0, 1, 1, 0x2C, 0, 0]);
        short.extend_from_slice(&[1, 1, 0, 3, 0, 0, 0, 1, 0, 0xC8, 0, 0]);
        assert_eq!(header_dimensions(&short), Some((300, 200)));
        assert_eq!(header_dimensions(b"II*\0\x08\0\0\0\0\0"), None);
        assert_eq!(header_dimensions(b"II*\0\xFF\xFF\xFF\xFF"), None);
    }
}
