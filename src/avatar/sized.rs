//! A stored picture at any size, on request (`/avatar/{hash}?s=`): the stored JPEG (or the
//! WebP, for the 600×600 that is stored in WebP alone) decoded, shrunk while decoding when
//! much smaller is wanted, resized with Lanczos3 and encoded as uploads are. Pure and
//! synchronous; callers run it on the blocking pool.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::images::Image as FrImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::formats::{jpeg, webp};
use super::process::encode;
use super::sniff::{Format, Sniffed, sniff};
use super::types::{Limits, Pixels, Rejection, Shrink};

/// The largest side asked for (Libravatar's and Gravatar's limit).
pub const MAX_SIDE: u32 = 512;

/// The stored picture (a JPEG or a WebP Folio wrote) as a `side`×`side` JPEG. A stored file
/// that cannot be read is a `Rejection`, never a panic (libjpeg reports errors by unwinding).
pub fn resize_stored(stored: &[u8], side: u32) -> Result<Vec<u8>, Rejection> {
    if side == 0 || side > MAX_SIDE {
        return Err(Rejection::Corrupt);
    }
    catch_unwind(AssertUnwindSafe(|| resize_unguarded(stored, side))).unwrap_or_else(|_| {
        tracing::warn!("the JPEG decoder panicked on a stored picture");
        Err(Rejection::Corrupt)
    })
}

fn resize_unguarded(stored: &[u8], side: u32) -> Result<Vec<u8>, Rejection> {
    // Twice the wanted side survives the decoder's shrinking, for a clean Lanczos pass, as
    // uploads keep twice the stored size.
    let target = Shrink {
        keep: 2 * side,
        square: None,
    };
    let decoded = match sniff(stored) {
        Sniffed::Accepted(Format::Jpeg) => jpeg::decode(stored, &Limits::default(), target)?,
        Sniffed::Accepted(Format::WebP) => webp::decode(stored, &Limits::default(), target)?,
        _ => return Err(Rejection::Corrupt),
    };
    let region = decoded.region(None)?;
    let Pixels::Rgb(rgb) = decoded.pixels else {
        // Folio's files have no transparency: both decoders give RGB for them.
        return Err(Rejection::Corrupt);
    };
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(region.left, region.top, region.side, region.side);
    let src = FrImage::from_vec_u8(decoded.width, decoded.height, rgb, PixelType::U8x3)
        .map_err(|_| Rejection::Corrupt)?;
    let mut dst = FrImage::new(side, side, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|_| Rejection::Corrupt)?;
    encode(dst.buffer(), side)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `side`×`side` pixels: red on the left half, blue on the right.
    fn halves(side: u32) -> Vec<u8> {
        (0..side * side)
            .flat_map(|i| {
                if i % side < side / 2 {
                    [255, 0, 0]
                } else {
                    [0, 0, 255]
                }
            })
            .collect()
    }

    /// A 300×300 JPEG, as stored.
    fn stored() -> Vec<u8> {
        encode(&halves(300), 300).expect("encode")
    }

    /// Decoded by another decoder than Folio's.
    fn decoded(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(jpeg);
        let rgb = decoder.decode().expect("a JPEG");
        let info = decoder.info().expect("its header");
        (u32::from(info.width), u32::from(info.height), rgb)
    }

    #[test]
    fn every_side_is_a_square_of_that_side_with_the_picture_in_it() {
        // The master, and the 600×600 stored in WebP alone.
        let large = webp::encode(&halves(600), 600, 80.0).expect("encode");
        for (stored, side) in [1, 2, 17, 80, 150, 299, 300, 301, 512]
            .map(|side| (stored(), side))
            .into_iter()
            .chain([(large.clone(), 301), (large.clone(), 512), (large, 40)])
        {
            let jpeg = resize_stored(&stored, side).expect("resized");
            let (w, h, rgb) = decoded(&jpeg);
            assert_eq!((w, h), (side, side));
            if side >= 17 {
                let at = |x: u32| {
                    let i = ((side / 2 * side + x) * 3) as usize;
                    [rgb[i], rgb[i + 1], rgb[i + 2]]
                };
                let (left, right) = (at(side / 8), at(side - 1 - side / 8));
                assert!(left[0] > 200 && left[2] < 60, "{side}: left {left:?}");
                assert!(right[2] > 200 && right[0] < 60, "{side}: right {right:?}");
            }
        }
    }

    #[test]
    fn sizes_out_of_range_and_damaged_files_are_refused() {
        let stored = stored();
        assert!(resize_stored(&stored, 0).is_err());
        assert!(resize_stored(&stored, 513).is_err());
        assert!(resize_stored(&stored[..stored.len() / 2], 80).is_err());
        assert!(resize_stored(b"not a jpeg", 80).is_err());
    }
}
