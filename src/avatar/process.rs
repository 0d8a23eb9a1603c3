//! The picture pipeline: bytes in, a 300×300 JPEG (quality 85, no metadata) or a typed
//! rejection out. Pure and synchronous; callers run it on the blocking pool.
//!
//! Order of work, cheapest refusal first: sniff the format from the bytes, read the header's
//! dimensions and refuse oversized pictures before any pixel memory exists, decode with each
//! format's own decoder, shrinking while decoding when the picture is large (see `jpeg`,
//! `webp`, `png`, `gif`), flatten alpha onto white, crop the centred square and resize it
//! with Lanczos3 in one SIMD pass, apply the EXIF orientation to the small result, encode.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use fast_image_resize::images::Image as FrImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::sniff::{Format, Sniffed, sniff};
use super::{gif, jpeg, png, webp};

/// Side of the stored square, in pixels.
pub const SIZE: u32 = 300;
pub const QUALITY: u8 = 85;

/// Bounds on what a picture may cost before it is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_pixels: u64,
    pub max_side: u32,
    /// The most any decoder may allocate for pixels.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_side: 16_384,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Why an upload is not a picture Folio can use; the message is shown beside the file input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("The file is empty. Choose a picture file.")]
    Empty,
    #[error("{0} files are not accepted. Upload a JPEG, PNG, GIF or WebP picture.")]
    Unsupported(&'static str),
    #[error("This file is not a picture. Upload a JPEG, PNG, GIF or WebP picture.")]
    NotAnImage,
    #[error(
        "This picture has too many pixels. Pictures may have at most 50 megapixels and \
         16,384 pixels on a side."
    )]
    TooManyPixels,
    #[error("This picture could not be read: it may be damaged or incomplete. Try another file.")]
    Corrupt,
}

impl Rejection {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::Unsupported(_) => "unsupported_type",
            Rejection::NotAnImage => "not_an_image",
            Rejection::TooManyPixels => "too_many_pixels",
            Rejection::Corrupt => "corrupt",
        }
    }

    /// 415 for a kind of file we do not take, 422 for everything else.
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, Rejection::Unsupported(_))
    }
}

/// Decoded pixels, 8 bits a channel.
pub(super) enum Pixels {
    Rgb(Vec<u8>),
    /// Straight (not premultiplied) alpha.
    Rgba(Vec<u8>),
}

pub(super) struct Decoded {
    pub pixels: Pixels,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
}

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

/// Turns an upload into the stored JPEG. A panic in any decoder is a rejection of this
/// upload, never a dead worker.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Rejection> {
    process_with(bytes, limits, Options::default()).map(|(jpeg, _)| jpeg)
}

/// `process`, with its options and the time each stage took.
pub fn process_with(
    bytes: &[u8],
    limits: &Limits,
    options: Options,
) -> Result<(Vec<u8>, Timings), Rejection> {
    catch_unwind(AssertUnwindSafe(|| {
        process_unguarded(bytes, limits, options)
    }))
    .unwrap_or_else(|_| {
        tracing::warn!("an image decoder panicked; the upload is refused");
        Err(Rejection::Corrupt)
    })
}

fn process_unguarded(
    bytes: &[u8],
    limits: &Limits,
    options: Options,
) -> Result<(Vec<u8>, Timings), Rejection> {
    let mut timings = Timings::default();
    let started = Instant::now();
    // Shrink-on-load keeps twice the target on the short side, for a clean Lanczos pass.
    let min_short = if options.shrink_on_load {
        2 * SIZE
    } else {
        u32::MAX
    };
    let decoded = match sniff(bytes) {
        Sniffed::Empty => return Err(Rejection::Empty),
        Sniffed::Unknown => return Err(Rejection::NotAnImage),
        Sniffed::Refused(kind) => return Err(Rejection::Unsupported(kind)),
        Sniffed::Accepted(Format::Jpeg) => {
            let jpeg = jpeg::decode(bytes, limits, min_short)?;
            Decoded {
                pixels: Pixels::Rgb(jpeg.rgb),
                width: jpeg.width,
                height: jpeg.height,
                orientation: jpeg.orientation,
            }
        }
        Sniffed::Accepted(Format::Png) => png::decode(bytes, limits, min_short)?,
        Sniffed::Accepted(Format::Gif) => gif::decode(bytes, limits, min_short)?,
        Sniffed::Accepted(Format::WebP) => webp::decode(bytes, limits, min_short)?,
    };
    timings.decode = started.elapsed();

    let started = Instant::now();
    let square = resize_centred_square(decoded.pixels, decoded.width, decoded.height)?;
    timings.resize = started.elapsed();

    let started = Instant::now();
    let upright = orient(square, decoded.orientation)?;
    let jpeg = encode(&upright)?;
    timings.encode = started.elapsed();
    Ok((jpeg, timings))
}

pub(super) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Rejection> {
    if width == 0 || height == 0 {
        return Err(Rejection::Corrupt);
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(Rejection::TooManyPixels);
    }
    Ok(())
}

/// The largest centred square, resized with Lanczos3 to SIZE×SIZE (small pictures scale up).
/// Cropping is part of the resize, so a 1×20000 strip costs no more than its 1×1 square.
fn resize_centred_square(pixels: Pixels, width: u32, height: u32) -> Result<Vec<u8>, Rejection> {
    let rgb = match pixels {
        Pixels::Rgb(rgb) => rgb,
        Pixels::Rgba(rgba) => flatten_onto_white(&rgba),
    };
    let side = f64::from(width.min(height));
    let left = (f64::from(width) - side) / 2.0;
    let top = (f64::from(height) - side) / 2.0;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(left, top, side, side);
    let src = FrImage::from_vec_u8(width, height, rgb, PixelType::U8x3)
        .map_err(|_| Rejection::Corrupt)?;
    let mut dst = FrImage::new(SIZE, SIZE, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|_| Rejection::Corrupt)?;
    Ok(dst.into_vec())
}

/// Composites onto white: c·a + 255·(1 − a). A half-transparent black pixel becomes mid grey
/// and the colour under alpha 0 never shows. Opaque and fully transparent pixels (most of
/// them, in real pictures) are copied or filled; `(x + (x >> 8)) >> 8` is x / 255 rounded for
/// these x (the +128 is folded into `white`).
fn flatten_onto_white(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = vec![0u8; rgba.len() / 4 * 3];
    flatten_into(rgba, &mut rgb);
    rgb
}

/// `flatten_onto_white` into a buffer of three bytes for every four of `rgba`.
pub(super) fn flatten_into(rgba: &[u8], rgb: &mut [u8]) {
    for (src, dst) in rgba.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
        match src[3] {
            255 => dst.copy_from_slice(&src[..3]),
            0 => dst.fill(255),
            alpha => {
                let alpha = u32::from(alpha);
                let white = 255 * (255 - alpha) + 128;
                let blend = |c: u8| {
                    let x = u32::from(c) * alpha + white;
                    ((x + (x >> 8)) >> 8) as u8
                };
                dst[0] = blend(src[0]);
                dst[1] = blend(src[1]);
                dst[2] = blend(src[2]);
            }
        }
    }
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
    let mut out = Vec::with_capacity(32 * 1024);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    encoder.set_optimized_huffman_tables(true);
    encoder
        .encode(rgb, SIZE as u16, SIZE as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| {
            tracing::error!(error = %e, "JPEG encoding failed");
            Rejection::Corrupt
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
