//! WebP decoding with libwebp (vendored, built from source by the `cc` crate): about three
//! times faster than the pure-Rust decoder on lossy pictures, and it scales while it decodes,
//! so a large WebP never exists at full size in memory. Animations are left to `image`, which
//! takes the first frame (at full size: animated avatars are small, and bounded by the limits).
//!
//! The renditions' WebP files are encoded here too (`encode`), by the same libwebp.
//!
//! This is Folio's only unsafe code (with avif.rs): calls into libwebp, over the borrowed
//! upload and an output buffer that we allocate, size and own, or over our pixels and a buffer
//! libwebp allocates and we copy and free at once. libwebp reports errors by status code or an
//! empty result, never by unwinding or aborting.
#![allow(unsafe_code)]

use std::io::Cursor;

use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder};
use libwebp_sys::{
    VP8StatusCode, WEBP_CSP_MODE, WebPBitstreamFeatures, WebPConfig, WebPDecode, WebPDecoderConfig,
    WebPEncode, WebPGetFeatures, WebPMemoryWrite, WebPMemoryWriter, WebPMemoryWriterClear,
    WebPMemoryWriterInit, WebPPicture, WebPPictureFree, WebPPictureImportRGB, WebPPreset,
    WebPRGBABuffer,
};

use super::whole::{self, rejection};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};

/// The size to decode to: the whole picture scaled (aspect kept) so its short side is
/// `min_short`, or the full size when it is not larger than that.
pub(crate) fn scaled_size(width: u32, height: u32, min_short: u32) -> (u32, u32) {
    let short = width.min(height);
    if short <= min_short {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(min_short)).div_ceil(u64::from(short));
        u32::try_from(scaled).unwrap_or(side)
    };
    (scale(width), scale(height))
}

/// A still picture scaled to keep a short side of at least `min_short`; an animation's
/// first frame at full size.
pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let features = features(bytes)?;
    if features.has_animation != 0 {
        return first_frame(bytes, limits);
    }
    let side = |n: i32| u32::try_from(n).map_err(|_| Rejection::Corrupt);
    let (width, height) = (side(features.width)?, side(features.height)?);
    check_dimensions(width, height, limits)?;
    let source = (width, height);
    // libwebp ignores EXIF; `image` reads the chunk without decoding any pixels.
    let orientation = WebPDecoder::new(Cursor::new(bytes))
        .map_err(|_| Rejection::Corrupt)?
        .orientation()
        .unwrap_or(Orientation::NoTransforms);

    let (out_width, out_height) = scaled_size(width, height, target.min_short(width, height));
    let has_alpha = features.has_alpha != 0;
    let channels = if has_alpha { 4 } else { 3 };
    let stride = out_width as usize * channels;
    let mut pixels = vec![0u8; stride * out_height as usize];

    let int = |n: usize| i32::try_from(n).map_err(|_| Rejection::TooManyPixels);
    let mut config = WebPDecoderConfig::new().map_err(|()| Rejection::Corrupt)?;
    if (out_width, out_height) != (width, height) {
        config.options.use_scaling = 1;
        config.options.scaled_width = int(out_width as usize)?;
        config.options.scaled_height = int(out_height as usize)?;
    }
    config.output.colorspace = if has_alpha {
        WEBP_CSP_MODE::MODE_RGBA
    } else {
        WEBP_CSP_MODE::MODE_RGB
    };
    config.output.is_external_memory = 1;
    config.output.u.RGBA = WebPRGBABuffer {
        rgba: pixels.as_mut_ptr(),
        stride: int(stride)?,
        size: pixels.len(),
    };
    // SAFETY: libwebp reads `bytes` within the given length and writes only inside `pixels`,
    // whose length and stride it checks against the output size before decoding. It keeps no
    // pointer once it returns, and `is_external_memory` means it frees nothing of ours.
    let status = unsafe { WebPDecode(bytes.as_ptr(), bytes.len(), &mut config) };
    if status != VP8StatusCode::VP8_STATUS_OK {
        return Err(Rejection::Corrupt);
    }
    let pixels = if has_alpha {
        Pixels::Rgba(pixels)
    } else {
        Pixels::Rgb(pixels)
    };
    Ok(Decoded {
        source,
        pixels,
        width: out_width,
        height: out_height,
        orientation,
        coverage: Coverage::Whole,
    })
}

/// An animation's first frame, by `image` (libwebp's simple API refuses animations).
fn first_frame(bytes: &[u8], limits: &Limits) -> Result<Decoded, Rejection> {
    let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(rejection)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let source = (width, height);
    whole::bound(&mut decoder, limits)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let pixels = whole::eight_bit(DynamicImage::from_decoder(decoder).map_err(rejection)?);
    Ok(Decoded {
        source,
        pixels,
        width,
        height,
        orientation,
        coverage: Coverage::Whole,
    })
}

/// libwebp's effort (0 fastest … 6 smallest). The default, 4, took 7 ms for a 300×300 and
/// 25 ms for a 600×600 here, more than the rest of an upload's pipeline; 0 is several times
/// faster for files a few percent larger.
const METHOD: i32 = 0;

/// A lossy WebP of `side`×`side` RGB pixels (the photo preset, no metadata).
pub(crate) fn encode(rgb: &[u8], side: u32, quality: f32) -> Result<Vec<u8>, Rejection> {
    let int = |n: usize| i32::try_from(n).map_err(|_| Rejection::TooManyPixels);
    let (width, stride) = (int(side as usize)?, int(3 * side as usize)?);
    if rgb.len() != 3 * side as usize * side as usize {
        return Err(Rejection::Corrupt);
    }
    let mut config = WebPConfig::new_with_preset(WebPPreset::WEBP_PRESET_PHOTO, quality)
        .map_err(|()| Rejection::Corrupt)?;
    config.method = METHOD;
    // No second thread of libwebp's own: while the 600×600 is encoded the upload's thread is
    // making the other files, and a third thread on two cores slowed those more than it sped
    // the WebP (a 12 MP photo turned by EXIF: +11.9% → +8.1% over the master alone).
    config.thread_level = 0;
    let mut picture = WebPPicture::new().map_err(|()| Rejection::Corrupt)?;
    picture.width = width;
    picture.height = width;
    let mut writer = WebPMemoryWriter {
        mem: std::ptr::null_mut(),
        size: 0,
        max_size: 0,
        pad: [0],
    };
    // SAFETY: initialises the writer we own (an empty buffer libwebp grows).
    unsafe { WebPMemoryWriterInit(&mut writer) };
    picture.writer = Some(WebPMemoryWrite);
    picture.custom_ptr = (&raw mut writer).cast();
    // SAFETY: libwebp copies `side` rows of `stride` bytes from `rgb` (its length checked
    // above) into the picture's own planes, then encodes them through the writer, which
    // lives until the end of this function; both are freed below, whatever the outcome.
    let encoded = unsafe {
        WebPPictureImportRGB(&mut picture, rgb.as_ptr(), stride) != 0
            && WebPEncode(&config, &mut picture) != 0
    };
    let webp = if encoded && !writer.mem.is_null() {
        // SAFETY: the writer holds `size` initialised bytes until it is cleared below.
        Ok(unsafe { std::slice::from_raw_parts(writer.mem, writer.size) }.to_vec())
    } else {
        Err(Rejection::Corrupt)
    };
    // SAFETY: each frees what libwebp allocated for the picture and the writer, once.
    unsafe {
        WebPPictureFree(&mut picture);
        WebPMemoryWriterClear(&mut writer);
    }
    webp
}

/// The header's dimensions, alpha and animation flags, read without decoding.
fn features(bytes: &[u8]) -> Result<WebPBitstreamFeatures, Rejection> {
    let mut features = WebPBitstreamFeatures {
        width: 0,
        height: 0,
        has_alpha: 0,
        has_animation: 0,
        format: 0,
        pad: [0; 5],
    };
    // SAFETY: libwebp reads `bytes` within the given length and writes the struct we pass.
    let status = unsafe { WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut features) };
    match status {
        VP8StatusCode::VP8_STATUS_OK => Ok(features),
        _ => Err(Rejection::Corrupt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaled_size_keeps_the_short_side_and_the_aspect() {
        assert_eq!(scaled_size(1000, 1000, 600), (600, 600));
        assert_eq!(scaled_size(4000, 3000, 600), (800, 600));
        assert_eq!(scaled_size(3000, 4001, 600), (600, 801));
        assert_eq!(scaled_size(600, 900, 600), (600, 900));
        assert_eq!(scaled_size(300, 300, 600), (300, 300));
        assert_eq!(scaled_size(16_383, 2, 600), (16_383, 2));
        assert_eq!(scaled_size(1000, 1000, u32::MAX), (1000, 1000));
    }
}
