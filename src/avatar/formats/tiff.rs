//! TIFF decoding: the first page only; uncompressed, LZW, Deflate, PackBits and JPEG (with RGB
//! photometric) strips and tiles; grey, RGB, RGBA and CMYK at 8 or 16 bits (16 scaled to 8,
//! CMYK converted to RGB); the Orientation tag (274) is returned for the pipeline to apply.
//!
//! The first page's width and length are read from its IFD here before any decoder sees the
//! file: a header over the limits is refused before any strip is read or inflated.
//!
//! LZW strips of 8-bit grey, RGB or RGBA, with or without the horizontal predictor (what
//! libtiff, Pillow, Photoshop and GIMP write), are decoded here (`LzwStrips`, with `lzw.rs`),
//! and only the strips holding the rows the kept square needs. Everything else goes through
//! the `image` crate (over the `tiff` crate), decoded whole and bounded by `image::Limits` (a
//! deflate strip inflates only to the size its header gives).

mod lzw;

use std::io::Cursor;

use image::ImageDecoder;
use image::codecs::tiff::TiffDecoder;
use image::metadata::Orientation;
use tiff::tags::Tag;

use super::whole::{pixels, rejection};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions, kept_region,
};

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let (width, height) = header_dimensions(bytes).ok_or(Rejection::Corrupt)?;
    check_dimensions(width, height, limits)?;
    match LzwStrips::read(bytes, (width, height)) {
        Some(strips) => strips.decode(bytes, limits, target),
        None => decode_whole(bytes, limits, (width, height)),
    }
}

/// Any TIFF the `image` crate reads, whole.
fn decode_whole(bytes: &[u8], limits: &Limits, source: (u32, u32)) -> Result<Decoded, Rejection> {
    let (width, height) = source;
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

/// The first page of a TIFF whose pixels are LZW strips of 8-bit samples, chunky, unsigned,
/// grey (black is zero), RGB or RGBA: the layout `lzw.rs` decodes.
struct LzwStrips {
    width: u32,
    height: u32,
    /// 1 grey, 3 RGB, 4 RGBA.
    samples: usize,
    rows_per_strip: u32,
    /// Each strip's bytes in the file: offset and length.
    strips: Vec<(u64, u64)>,
    /// Predictor 2: each sample is stored as its difference from the one to its left.
    differences: bool,
    orientation: Orientation,
}

impl LzwStrips {
    /// `None` when the page is laid out any other way, or its tags cannot be read: the
    /// `image` crate then decodes it, or says why not.
    fn read(bytes: &[u8], size: (u32, u32)) -> Option<LzwStrips> {
        let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?;
        let mut tag = |tag: Tag| decoder.find_tag_unsigned::<u32>(tag).ok();
        const LZW: u32 = 5;
        const BLACK_IS_ZERO: u32 = 1;
        const RGB: u32 = 2;
        if tag(Tag::Compression)? != Some(LZW)
            || !matches!(tag(Tag::PlanarConfiguration)?, None | Some(1))
            || !matches!(tag(Tag::FillOrder)?, None | Some(1))
            || tag(Tag::TileWidth)?.is_some()
        {
            return None;
        }
        let photometric = tag(Tag::PhotometricInterpretation)??;
        let differences = match tag(Tag::Predictor)? {
            None | Some(1) => false,
            Some(2) => true,
            Some(_) => return None,
        };
        let orientation = tag(Tag::Orientation)?
            .and_then(|v| Orientation::from_exif(v.min(255) as u8))
            .unwrap_or(Orientation::NoTransforms);
        let rows_per_strip = tag(Tag::RowsPerStrip)?.unwrap_or(u32::MAX).min(size.1);
        let unsigned_vec = |decoder: &mut tiff::decoder::Decoder<_>, tag: Tag| {
            decoder.find_tag_unsigned_vec::<u64>(tag).ok().flatten()
        };
        let formats = decoder
            .find_tag_unsigned_vec::<u64>(Tag::SampleFormat)
            .ok()?;
        if formats.is_some_and(|formats| formats.iter().any(|&f| f != 1)) {
            return None;
        }
        let samples = match decoder.colortype().ok()? {
            tiff::ColorType::Gray(8) if photometric == BLACK_IS_ZERO => 1,
            tiff::ColorType::RGB(8) if photometric == RGB => 3,
            tiff::ColorType::RGBA(8) if photometric == RGB => 4,
            _ => return None,
        };
        // RGB with two extra samples is RGBA to `tiff` too.
        if decoder
            .find_tag_unsigned::<usize>(Tag::SamplesPerPixel)
            .ok()?
            != Some(samples)
        {
            return None;
        }
        let offsets = unsigned_vec(&mut decoder, Tag::StripOffsets)?;
        let lengths = unsigned_vec(&mut decoder, Tag::StripByteCounts)?;
        if decoder.dimensions().ok()? != size
            || rows_per_strip == 0
            || offsets.len() != lengths.len()
            || offsets.len() as u64 != u64::from(size.1.div_ceil(rows_per_strip))
        {
            return None;
        }
        Some(LzwStrips {
            width: size.0,
            height: size.1,
            samples,
            rows_per_strip,
            strips: offsets.into_iter().zip(lengths).collect(),
            differences,
            orientation,
        })
    }

    /// The rows the kept square needs (from the top of the strip they start in), every strip
    /// below them left unread.
    fn decode(self, bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
        let full = (self.width, self.height);
        let window = kept_region(full, full, self.orientation, target.square)?.window(full);
        let first_strip = window.top / self.rows_per_strip;
        let top = first_strip * self.rows_per_strip;
        let bottom = window.top + window.height;
        let row = self.width as usize * self.samples;
        let rows = (bottom - top) as usize;
        // Bytes a pixel at the peak: grey is widened to RGB while its own buffer still exists.
        let peak = if self.samples == 1 { 4 } else { self.samples };
        if u64::from(self.width) * rows as u64 * peak as u64 > limits.max_alloc {
            return Err(Rejection::TooManyPixels);
        }
        let mut pixels = vec![0; row * rows];
        let mut lzw = lzw::Lzw::new();
        for (chunk, &(offset, length)) in pixels
            .chunks_mut(row * self.rows_per_strip as usize)
            .zip(&self.strips[first_strip as usize..])
        {
            // A count running past the end of the file is cut there, as the `tiff` crate
            // reads it; a strip really cut short fails in the decoder.
            let input = usize::try_from(offset)
                .ok()
                .and_then(|offset| bytes.get(offset..))
                .map(|rest| {
                    &rest[..usize::try_from(length).map_or(rest.len(), |l| l.min(rest.len()))]
                })
                .ok_or(Rejection::Corrupt)?;
            lzw.decode(input, chunk).map_err(|_| Rejection::Corrupt)?;
        }
        if self.differences {
            for line in pixels.chunks_exact_mut(row) {
                let mut left = [0u8; 4];
                for pixel in line.chunks_exact_mut(self.samples) {
                    for (sample, left) in pixel.iter_mut().zip(&mut left) {
                        *sample = sample.wrapping_add(*left);
                        *left = *sample;
                    }
                }
            }
        }
        let pixels = match self.samples {
            1 => Pixels::Rgb(pixels.iter().flat_map(|&l| [l, l, l]).collect()),
            3 => Pixels::Rgb(pixels),
            _ => Pixels::Rgba(pixels),
        };
        Ok(Decoded {
            source: full,
            pixels,
            width: self.width,
            height: bottom - top,
            orientation: self.orientation,
            coverage: Coverage::Window { left: 0, top, full },
        })
    }
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
    use crate::avatar::types::Square;

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
            for (big_endian, compression) in [(false, DEFLATE), (true, DEFLATE), (false, LZW)] {
                let stored = stored_for_orientation(&upright, orientation);
                let page = Page {
                    orientation: Some(orientation),
                    ..Page::rgb(&stored, compression)
                };
                let what =
                    format!("orientation {orientation}, big-endian {big_endian}, {compression}");
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

    /// What libtiff and the `tiff` crate write: LZW in strips of `rows_per_strip`, with or
    /// without the horizontal predictor.
    fn lzw_tiff<C: tiff::encoder::colortype::ColorType<Inner = u8>>(
        width: u32,
        height: u32,
        data: &[u8],
        rows_per_strip: u32,
        differences: bool,
    ) -> Vec<u8> {
        use tiff::encoder::{Compression, TiffEncoder};
        use tiff::tags::Predictor;
        let mut bytes = Cursor::new(Vec::new());
        let predictor = if differences {
            Predictor::Horizontal
        } else {
            Predictor::None
        };
        let mut encoder = TiffEncoder::new(&mut bytes)
            .expect("TIFF")
            .with_compression(Compression::Lzw)
            .with_predictor(predictor);
        let mut image = encoder.new_image::<C>(width, height).expect("TIFF");
        image.rows_per_strip(rows_per_strip).expect("TIFF");
        image.write_data(data).expect("TIFF");
        bytes.into_inner()
    }

    /// Decodes `bytes` through `LzwStrips`, which must take it, and through the `image`
    /// crate, and checks that every row the first decoded is the same in both.
    fn same_as_the_image_crate(bytes: &[u8], square: Option<Square>, what: &str) -> Decoded {
        let size = header_dimensions(bytes).expect("a header");
        let strips = LzwStrips::read(bytes, size)
            .unwrap_or_else(|| panic!("{what}: not taken as LZW strips"));
        let target = Shrink { keep: 300, square };
        let ours = strips
            .decode(bytes, &Limits::default(), target)
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let whole = decode_whole(bytes, &Limits::default(), size).expect("image decodes it");
        let Coverage::Window { left: 0, top, full } = ours.coverage else {
            panic!("{what}: {:?}", ours.coverage);
        };
        assert_eq!((full, ours.width), (size, size.0), "{what}");
        assert_eq!(ours.orientation, whole.orientation, "{what}");
        let (ours_bytes, whole_bytes, channels) = match (&ours.pixels, &whole.pixels) {
            (Pixels::Rgb(a), Pixels::Rgb(b)) => (a, b, 3),
            (Pixels::Rgba(a), Pixels::Rgba(b)) => (a, b, 4),
            _ => panic!("{what}: alpha differs"),
        };
        let row = size.0 as usize * channels;
        let start = top as usize * row;
        assert_eq!(ours_bytes.len(), ours.height as usize * row, "{what}");
        assert!(
            ours_bytes[..] == whole_bytes[start..start + ours_bytes.len()],
            "{what}: pixels differ"
        );
        ours
    }

    #[test]
    fn lzw_strips_decode_as_the_image_crate_decodes_them() {
        use tiff::encoder::colortype::{Gray8, RGB8, RGBA8};
        // Landscape and portrait (where the centred square starts below the first strip), the
        // centred square and a chosen one.
        let square = Square {
            x: 10,
            y: 12,
            size: 30,
        };
        for (width, height) in [(61, 45), (45, 61)] {
            let rgb = noise(width, height, 3).into_raw();
            let rgba: Vec<u8> = rgb
                .chunks(3)
                .enumerate()
                .flat_map(|(i, p)| [p[0], p[1], p[2], (i * 37 % 256) as u8])
                .collect();
            let grey: Vec<u8> = rgb.iter().step_by(3).copied().collect();
            for rows_per_strip in [1, 4, 16, 45, 1000] {
                for differences in [false, true] {
                    let files = [
                        (
                            "grey",
                            lzw_tiff::<Gray8>(width, height, &grey, rows_per_strip, differences),
                        ),
                        (
                            "RGB",
                            lzw_tiff::<RGB8>(width, height, &rgb, rows_per_strip, differences),
                        ),
                        (
                            "RGBA",
                            lzw_tiff::<RGBA8>(width, height, &rgba, rows_per_strip, differences),
                        ),
                    ];
                    for (kind, bytes) in files {
                        for chosen in [None, Some(square)] {
                            let what = format!(
                                "{kind} {width}×{height}, {rows_per_strip} rows a strip, \
                                 predictor {differences}, square {chosen:?}"
                            );
                            same_as_the_image_crate(&bytes, chosen, &what);
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Straight into `LzwStrips`, outside the pipeline's panic guard: a damaged byte in
        /// the tags or any strip is refused or read, never a panic.
        #[test]
        fn damaged_lzw_strips_are_refused_or_read(
            rows_per_strip in 1u32..17,
            differences in any::<bool>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
        ) {
            let rgb = noise(30, 40, 5).into_raw();
            let mut bytes = lzw_tiff::<tiff::encoder::colortype::RGB8>(30, 40, &rgb, rows_per_strip, differences);
            for (at, mask) in flips {
                let at = 8 + at.index(bytes.len() - 8);
                bytes[at] ^= mask;
            }
            if let Some((width, height)) = header_dimensions(&bytes)
                && check_dimensions(width, height, &Limits::default()).is_ok()
                && let Some(strips) = LzwStrips::read(&bytes, (width, height))
            {
                let target = Shrink { keep: 300, square: None };
                if let Ok(decoded) = strips.decode(&bytes, &Limits::default(), target) {
                    prop_assert_eq!(decoded.width, width);
                }
            }
        }
    }

    #[test]
    fn only_the_strips_under_the_chosen_square_are_decoded() {
        // 64 strips of 10 rows; the square lies in rows 500 to 599.
        let (width, height) = (200, 640);
        let picture = RgbImage::from_fn(width, height, |x, y| {
            let [r, g, b] = if y < 550 { RED } else { BLUE };
            image::Rgb([r, g, u32::from(b).min(x) as u8])
        });
        let bytes =
            lzw_tiff::<tiff::encoder::colortype::RGB8>(width, height, picture.as_raw(), 10, true);
        let square = Square {
            x: 50,
            y: 500,
            size: 100,
        };
        let decoded = same_as_the_image_crate(&bytes, Some(square), "a low square");
        let Coverage::Window { top, .. } = decoded.coverage else {
            unreachable!()
        };
        // The filter's reach and the strip boundary add a few rows either side.
        assert!((480..=500).contains(&top), "from row {top}");
        assert!(decoded.height <= 130, "{} rows", decoded.height);

        // The strips above and below the window are never read: damaging them changes nothing.
        let mut damaged = bytes.clone();
        let strips = LzwStrips::read(&bytes, (width, height)).expect("LZW strips");
        for (index, &(offset, length)) in strips.strips.iter().enumerate() {
            if !(45..=61).contains(&index) {
                let at = offset as usize;
                damaged[at..at + length as usize].fill(0xFF);
            }
        }
        let stored = crate::avatar::process_square(&damaged, &Limits::default(), Some(square))
            .expect("the square's strips are intact");
        let intact = crate::avatar::process_square(&bytes, &Limits::default(), Some(square))
            .expect("accepted");
        assert_eq!(stored, intact);
        // A strip inside it is.
        let (offset, length) = strips.strips[52];
        let at = offset as usize;
        damaged[at..at + length as usize].fill(0xFF);
        assert_eq!(
            crate::avatar::process_square(&damaged, &Limits::default(), Some(square)),
            Err(Rejection::Corrupt)
        );
    }

    #[test]
    fn a_strip_count_running_past_the_end_of_the_file_is_cut_there() {
        // Some writers overstate the last strip's length; the `tiff` crate reads up to the end
        // of the file, and so does `LzwStrips`.
        let page = Page::rgb(&quadrants(90, 60, UPRIGHT), LZW);
        let length = page.strip.len() as u32;
        let mut bytes = tiff_of(page);
        let mut entry = vec![0x17, 0x01, 4, 0, 1, 0, 0, 0];
        entry.extend_from_slice(&length.to_le_bytes());
        let at = bytes
            .windows(entry.len())
            .position(|w| w == entry)
            .expect("the StripByteCounts entry");
        bytes[at + 8..at + 12].copy_from_slice(&(length + 100_000).to_le_bytes());
        assert!(LzwStrips::read(&bytes, (90, 60)).is_some());
        assert_quadrants(&accepted(&bytes, "long count"), UPRIGHT, "long count");
    }

    #[test]
    fn lzw_grey_counts_its_widening_against_the_allocation_limit() {
        // 2000×2000 grey: 4 MB of samples, 12 MB once widened to RGB.
        let grey = vec![90; 2000 * 2000];
        let bytes = lzw_tiff::<tiff::encoder::colortype::Gray8>(2000, 2000, &grey, 64, false);
        assert!(LzwStrips::read(&bytes, (2000, 2000)).is_some());
        // 14 MB holds the 12 MB of RGB but not the 16 MB of both buffers at once.
        let limits = Limits {
            max_alloc: 14_000_000,
            ..Limits::default()
        };
        assert_eq!(process(&bytes, &limits), Err(Rejection::TooManyPixels));
        assert_uniform(&accepted(&bytes, "grey"), [90; 3], 2, "grey");
    }

    #[test]
    fn other_layouts_are_left_to_the_image_crate() {
        let picture = quadrants(90, 60, UPRIGHT);
        for compression in [NONE, DEFLATE, PACKBITS] {
            let bytes = tiff_of(Page::rgb(&picture, compression));
            assert!(LzwStrips::read(&bytes, (90, 60)).is_none(), "{compression}");
        }
        let sixteen = Page {
            bits: 16,
            strip: compress(&vec![0; 90 * 60 * 6], LZW, 0),
            ..Page::rgb(&picture, LZW)
        };
        assert!(LzwStrips::read(&tiff_of(sixteen), (90, 60)).is_none());
        let cmyk = Page {
            samples: 4,
            photometric: CMYK,
            strip: compress(&vec![0; 90 * 60 * 4], LZW, 0),
            ..Page::rgb(&picture, LZW)
        };
        assert!(LzwStrips::read(&tiff_of(cmyk), (90, 60)).is_none());
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
