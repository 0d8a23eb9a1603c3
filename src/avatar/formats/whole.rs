//! Decoding a whole picture through the `image` crate, with Folio's limits: what BMP, TIFF,
//! ICO and animated WebP share.

use image::{DynamicImage, ImageDecoder, ImageError};

use crate::avatar::types::{Limits, Pixels, Rejection};

/// Gives `decoder` the limits. `set_limits` does not bound the buffer `from_decoder`
/// allocates, so that is checked here too, before anything is decoded.
pub(crate) fn bound(decoder: &mut impl ImageDecoder, limits: &Limits) -> Result<(), Rejection> {
    let mut bounds = image::Limits::default();
    bounds.max_image_width = Some(limits.max_side);
    bounds.max_image_height = Some(limits.max_side);
    bounds.max_alloc = Some(limits.max_alloc);
    decoder.set_limits(bounds).map_err(rejection)?;
    if decoder.total_bytes() > limits.max_alloc {
        return Err(Rejection::TooManyPixels);
    }
    Ok(())
}

/// The whole picture, within the limits; alpha kept when the file has it.
pub(crate) fn pixels(mut decoder: impl ImageDecoder, limits: &Limits) -> Result<Pixels, Rejection> {
    bound(&mut decoder, limits)?;
    let image = DynamicImage::from_decoder(decoder).map_err(rejection)?;
    Ok(eight_bit(image))
}

/// 8 bits a channel, RGBA only when there is alpha.
pub(crate) fn eight_bit(image: DynamicImage) -> Pixels {
    if image.color().has_alpha() {
        Pixels::Rgba(image.into_rgba8().into_raw())
    } else {
        Pixels::Rgb(image.into_rgb8().into_raw())
    }
}

/// A limit reached is too many pixels; anything else, a damaged file.
pub(crate) fn rejection(e: ImageError) -> Rejection {
    match e {
        ImageError::Limits(_) => Rejection::TooManyPixels,
        _ => Rejection::Corrupt,
    }
}
