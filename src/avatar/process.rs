//! The picture pipeline: bytes in, a 300×300 JPEG (quality 85, no metadata) or a typed
//! rejection out. Pure and synchronous; callers run it on the blocking pool.
//!
//! Order of work, cheapest refusal first: sniff the format from the bytes, read the header's
//! dimensions and refuse oversized pictures before any pixel memory exists, decode with each
//! format's own decoder, shrinking while decoding when the picture is large (see `jpeg`,
//! `webp`, `png`, `gif`; a JPEG also decodes only the window the kept square needs), flatten
//! alpha onto white, crop the chosen or centred square (`Decoded::region`) and resize it
//! with Lanczos3 in one SIMD pass, apply the EXIF orientation to the small result, encode.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use fast_image_resize::images::Image as FrImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::sniff::{Sniffed, sniff};
pub use super::types::{Limits, Rejection, SIZE, Square};
use super::types::{Pixels, Region, Shrink};

pub const QUALITY: u8 = 85;

/// How long each stage took, for the benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub decode: Duration,
    pub resize: Duration,
    pub encode: Duration,
}

/// Knobs the benchmarks turn; the server always uses the default.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Shrink large pictures while decoding them; off, every picture is decoded at full size
    /// (the benchmarks' quality reference).
    pub shrink_on_load: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            shrink_on_load: true,
        }
    }
}

/// Turns an upload into the stored JPEG of its centred square. A panic in any decoder is a
/// rejection of this upload, never a dead worker.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Rejection> {
    process_square(bytes, limits, None)
}

/// `process`, keeping the square the person chose (`None`: the centred one).
pub fn process_square(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
) -> Result<Vec<u8>, Rejection> {
    process_with(bytes, limits, square, Options::default()).map(|(jpeg, _)| jpeg)
}

/// `process_square`, with its options and the time each stage took.
pub fn process_with(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
    options: Options,
) -> Result<(Vec<u8>, Timings), Rejection> {
    catch_unwind(AssertUnwindSafe(|| {
        process_unguarded(bytes, limits, square, options)
    }))
    .unwrap_or_else(|_| {
        tracing::warn!("an image decoder panicked; the upload is refused");
        Err(Rejection::Corrupt)
    })
}

fn process_unguarded(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
    options: Options,
) -> Result<(Vec<u8>, Timings), Rejection> {
    let mut timings = Timings::default();
    let started = Instant::now();
    if square.is_some_and(|s| s.size == 0) {
        return Err(Rejection::SquareOutside);
    }
    // Shrink-on-load keeps twice the target on the kept square's side, for a clean Lanczos
    // pass: a small square of a large photo is decoded at a larger scale than the whole.
    let target = Shrink {
        keep: if options.shrink_on_load {
            2 * SIZE
        } else {
            u32::MAX
        },
        square,
    };
    let decoded = match sniff(bytes) {
        Sniffed::Empty => return Err(Rejection::Empty),
        Sniffed::Unknown => return Err(Rejection::NotAnImage),
        Sniffed::Refused(kind) => return Err(Rejection::Unsupported(kind)),
        Sniffed::Accepted(format) => format.decoder()(bytes, limits, target)?,
    };
    timings.decode = started.elapsed();

    let started = Instant::now();
    let region = decoded.region(square)?;
    let square = resize_region(decoded.pixels, decoded.width, decoded.height, region)?;
    timings.resize = started.elapsed();

    let started = Instant::now();
    let upright = orient(square, decoded.orientation)?;
    let jpeg = encode(&upright)?;
    timings.encode = started.elapsed();
    Ok((jpeg, timings))
}

/// The region, resized with Lanczos3 to SIZE×SIZE (small squares scale up). Cropping is part
/// of the resize, so a 1×20000 strip costs no more than its 1×1 square. A decoder that decodes
/// only a window counts on the filter's reach (`types::Region::window`).
fn resize_region(
    pixels: Pixels,
    width: u32,
    height: u32,
    region: Region,
) -> Result<Vec<u8>, Rejection> {
    let rgb = match pixels {
        Pixels::Rgb(rgb) => rgb,
        Pixels::Rgba(rgba) => flatten_onto_white(rgba),
    };
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(region.left, region.top, region.side, region.side);
    let src = FrImage::from_vec_u8(width, height, rgb, PixelType::U8x3)
        .map_err(|_| Rejection::Corrupt)?;
    let mut dst = FrImage::new(SIZE, SIZE, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|_| Rejection::Corrupt)?;
    Ok(dst.into_vec())
}

/// Composites onto white (see `types::onto_white`), in place: each pixel's three bytes are
/// written at or before where its four were read, so a large RGBA picture (a whole-decoded
/// BMP or TIFF of 50 MP: 200 MB) never needs a second picture-sized buffer beside it.
fn flatten_onto_white(mut rgba: Vec<u8>) -> Vec<u8> {
    let pixels = rgba.len() / 4;
    for i in 0..pixels {
        let (from, to) = (4 * i, 3 * i);
        let rgb =
            super::types::onto_white([rgba[from], rgba[from + 1], rgba[from + 2], rgba[from + 3]]);
        rgba[to..to + 3].copy_from_slice(&rgb);
    }
    rgba.truncate(pixels * 3);
    rgba
}

/// Applied to the small square: the centred square of a rotated picture is the rotated
/// centred square, and turning 300×300 pixels is cheaper than turning millions.
fn orient(rgb: Vec<u8>, orientation: Orientation) -> Result<Vec<u8>, Rejection> {
    if orientation == Orientation::NoTransforms {
        return Ok(rgb);
    }
    let buffer = RgbImage::from_raw(SIZE, SIZE, rgb).ok_or(Rejection::Corrupt)?;
    let mut image = DynamicImage::ImageRgb8(buffer);
    image.apply_orientation(orientation);
    Ok(image.into_rgb8().into_raw())
}

/// Baseline JPEG at quality 85 with optimised Huffman tables; the encoder writes a JFIF
/// header and nothing else, so no metadata of the upload survives. jpeg-encoder rather than
/// the mozjpeg already linked: its SIMD is Rust (0.75 ms for 300², in every build), while
/// libjpeg's needs nasm at build time (0.45 ms with it, 1.4-2.2 ms without).
fn encode(rgb: &[u8]) -> Result<Vec<u8>, Rejection> {
    encode_square(rgb, SIZE)
}

/// `encode` for a square of another side: the sizes `/avatar/{hash}` makes (`sized.rs`).
pub(crate) fn encode_square(rgb: &[u8], side: u32) -> Result<Vec<u8>, Rejection> {
    let side = u16::try_from(side).map_err(|_| Rejection::Corrupt)?;
    let mut out = Vec::with_capacity(32 * 1024);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    encoder.set_optimized_huffman_tables(true);
    encoder
        .encode(rgb, side, side, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| {
            tracing::error!(error = %e, "JPEG encoding failed");
            Rejection::Corrupt
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
