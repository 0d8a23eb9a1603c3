//! The picture pipeline: bytes in, a 300×300 JPEG (quality 85, no metadata) or a typed
//! rejection out. Pure and synchronous; callers run it on the blocking pool.
//!
//! Order of work, cheapest refusal first: sniff the format from the bytes, read the header's
//! dimensions and refuse oversized pictures before any pixel memory exists, decode (a JPEG at
//! 1/2, 1/4 or 1/8 scale in the DCT domain when that still leaves twice the target size),
//! flatten alpha onto white, crop the centred square *before* resizing it with Lanczos3, apply
//! the EXIF orientation to the small result, encode.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::images::Image as FrImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, RgbImage};

use super::sniff::{Format, Sniffed, sniff};

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
    /// 415 for a kind of file we do not take, 422 for everything else.
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, Rejection::Unsupported(_))
    }
}

/// 8-bit RGB pixels with alpha already flattened, and how to stand them upright.
struct Decoded {
    rgb: Vec<u8>,
    width: u32,
    height: u32,
    orientation: Orientation,
}

/// Turns an upload into the stored JPEG. A panic in any decoder is a rejection of this
/// upload, never a dead worker.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Rejection> {
    catch_unwind(AssertUnwindSafe(|| process_unguarded(bytes, limits))).unwrap_or_else(|_| {
        tracing::warn!("an image decoder panicked; the upload is refused");
        Err(Rejection::Corrupt)
    })
}

fn process_unguarded(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Rejection> {
    let decoded = match sniff(bytes) {
        Sniffed::Empty => return Err(Rejection::Empty),
        Sniffed::Unknown => return Err(Rejection::NotAnImage),
        Sniffed::Refused(kind) => return Err(Rejection::Unsupported(kind)),
        Sniffed::Accepted(Format::Jpeg) => decode_jpeg(bytes, limits)?,
        Sniffed::Accepted(format) => decode_other(bytes, format, limits)?,
    };
    let square = resize_centred_square(decoded.rgb, decoded.width, decoded.height)?;
    let upright = orient(square, decoded.orientation)?;
    encode(&upright)
}

fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Rejection> {
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

/// The largest power-of-two shrink (up to 8) that keeps the short side at least twice the
/// target, so the Lanczos step still has detail to work with.
fn jpeg_shrink(width: u32, height: u32) -> u32 {
    let short = width.min(height);
    let mut denominator = 1;
    while denominator < 8 && short / (denominator * 2) >= 2 * SIZE {
        denominator *= 2;
    }
    denominator
}

fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<Decoded, Rejection> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(|_| Rejection::Corrupt)?;
    let info = decoder.info().ok_or(Rejection::Corrupt)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(width, height, limits)?;

    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);

    let shrink = jpeg_shrink(width, height);
    if shrink > 1 {
        let (w, h) = (width.div_ceil(shrink), height.div_ceil(shrink));
        decoder
            .scale(w as u16, h as u16)
            .map_err(|_| Rejection::Corrupt)?;
    }
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc).unwrap_or(usize::MAX));
    let pixels = decoder.decode().map_err(|_| Rejection::Corrupt)?;
    let info = decoder.info().ok_or(Rejection::Corrupt)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let count = width as usize * height as usize;
    if pixels.len() < count * info.pixel_format.pixel_bytes() {
        return Err(Rejection::Corrupt);
    }

    use jpeg_decoder::PixelFormat;
    let rgb = match info.pixel_format {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        // Big-endian samples: the first byte of each is the most significant.
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        // jpeg-decoder undoes Adobe's inversion: 0 is no ink.
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = 255 - u32::from(p[3]);
                let ink = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                [ink(p[0]), ink(p[1]), ink(p[2])]
            })
            .collect(),
    };
    Ok(Decoded {
        rgb,
        width,
        height,
        orientation,
    })
}

fn decode_other(bytes: &[u8], format: Format, limits: &Limits) -> Result<Decoded, Rejection> {
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc);

    let cursor = Cursor::new(bytes);
    match format {
        Format::Png => finish_decode(
            PngDecoder::with_limits(cursor, image_limits.clone()).map_err(rejection)?,
            image_limits,
            limits,
        ),
        Format::Gif => finish_decode(
            GifDecoder::new(cursor).map_err(rejection)?,
            image_limits,
            limits,
        ),
        Format::WebP => finish_decode(
            WebPDecoder::new(cursor).map_err(rejection)?,
            image_limits,
            limits,
        ),
        Format::Jpeg => decode_jpeg(bytes, limits),
    }
}

/// Header checks, then the pixels (the first frame of an animation).
fn finish_decode(
    mut decoder: impl ImageDecoder,
    image_limits: image::Limits,
    limits: &Limits,
) -> Result<Decoded, Rejection> {
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    decoder.set_limits(image_limits).map_err(rejection)?;
    // `set_limits` does not bound the buffer `from_decoder` allocates: check it here.
    if decoder.total_bytes() > limits.max_alloc {
        return Err(Rejection::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(rejection)?;
    Ok(Decoded {
        rgb: flatten_onto_white(image),
        width,
        height,
        orientation,
    })
}

fn rejection(e: ImageError) -> Rejection {
    match e {
        ImageError::Limits(_) => Rejection::TooManyPixels,
        _ => Rejection::Corrupt,
    }
}

/// Any colour type to 8-bit RGB; transparent areas composited onto white, so a half
/// transparent black pixel becomes mid grey and the colour under alpha 0 never shows.
fn flatten_onto_white(image: DynamicImage) -> Vec<u8> {
    if !image.color().has_alpha() {
        return image.into_rgb8().into_raw();
    }
    let rgba = image.into_rgba8().into_raw();
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let alpha = u32::from(px[3]);
        let white = 255 * (255 - alpha);
        for &c in &px[..3] {
            rgb.push(((u32::from(c) * alpha + white + 127) / 255) as u8);
        }
    }
    rgb
}

/// The largest centred square, resized with Lanczos3 to SIZE×SIZE (small pictures scale up).
/// Cropping is part of the resize, so a 1×20000 strip costs no more than its 1×1 square.
fn resize_centred_square(rgb: Vec<u8>, width: u32, height: u32) -> Result<Vec<u8>, Rejection> {
    let side = f64::from(width.min(height));
    let left = (f64::from(width) - side) / 2.0;
    let top = (f64::from(height) - side) / 2.0;
    let src = FrImage::from_vec_u8(width, height, rgb, PixelType::U8x3)
        .map_err(|_| Rejection::Corrupt)?;
    let mut dst = FrImage::new(SIZE, SIZE, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(left, top, side, side);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|_| Rejection::Corrupt)?;
    Ok(dst.into_vec())
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
/// header and nothing else, so no metadata of the upload survives.
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
