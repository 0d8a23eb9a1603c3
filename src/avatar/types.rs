//! The types every decoder and the pipeline share, and nothing else: each format's file
//! (`formats/`) imports these, the pipeline (`process.rs`) imports these and the formats, and
//! no decoder imports another.

use image::metadata::Orientation;

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
    #[error(
        "{0} files are not accepted. Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO or JPEG XL picture."
    )]
    Unsupported(&'static str),
    #[error(
        "This file is not a picture. Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO or JPEG XL picture."
    )]
    NotAnImage,
    #[error(
        "This picture has too many pixels. Pictures may have at most 50 megapixels and \
         16,384 pixels on a side."
    )]
    TooManyPixels,
    #[error("This picture could not be read: it may be damaged or incomplete. Try another file.")]
    Corrupt,
    #[error("The chosen square does not lie inside the picture. Choose the square again.")]
    SquareOutside,
    #[error(
        "The chosen square must be given as three whole numbers of pixels (crop_x, crop_y and \
         crop_size), or not at all for the centred square."
    )]
    BadSquare,
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
            Rejection::SquareOutside => "square_outside",
            Rejection::BadSquare => "bad_square",
        }
    }

    /// 415 for a kind of file we do not take, 422 for everything else.
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, Rejection::Unsupported(_))
    }
}

/// Decoded pixels, 8 bits a channel.
pub(crate) enum Pixels {
    Rgb(Vec<u8>),
    /// Straight (not premultiplied) alpha.
    Rgba(Vec<u8>),
}

pub(crate) struct Decoded {
    /// The picture's size as its header gives it, before any shrinking.
    pub source: (u32, u32),
    pub pixels: Pixels,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
}

/// Refuses a header whose size is impossible or over the limits, before any pixel memory
/// exists.
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Rejection> {
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

/// `flatten_onto_white` into a buffer of three bytes for every four of `rgba`.
pub(crate) fn flatten_into(rgba: &[u8], rgb: &mut [u8]) {
    for (src, dst) in rgba.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
        dst.copy_from_slice(&onto_white([src[0], src[1], src[2], src[3]]));
    }
}

/// One pixel composited onto white: c·a + 255·(1 − a), exactly rounded. Opaque and fully
/// transparent pixels (most of them, in real pictures) are copied or filled; `(x + (x >> 8))
/// >> 8` is x / 255 rounded for these x (the +128 is folded into `white`).
#[inline]
pub(crate) fn onto_white([r, g, b, a]: [u8; 4]) -> [u8; 3] {
    match a {
        255 => [r, g, b],
        0 => [255; 3],
        alpha => {
            let alpha = u32::from(alpha);
            let white = 255 * (255 - alpha) + 128;
            let blend = |c: u8| {
                let x = u32::from(c) * alpha + white;
                ((x + (x >> 8)) >> 8) as u8
            };
            [blend(r), blend(g), blend(b)]
        }
    }
}

/// A square the person chose, in pixels of the upright picture (after EXIF orientation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Square {
    pub x: u32,
    pub y: u32,
    pub size: u32,
}

/// How far a decoder may shrink while decoding: enough that the part of the picture that will
/// be kept (the centred square, or the chosen one) still has `keep` pixels on its side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shrink {
    pub keep: u32,
    /// The side of the chosen square; `None` for the centred one (the short side).
    pub square: Option<u32>,
}

/// The most pixels a decoder keeps for a chosen square. A tiny square of a huge picture would
/// otherwise ask for a full-size decode (a 1-pixel square of 50 MP: 150 MB of RGB), and the
/// square is only checked against the picture after decoding; past this a square is scaled up
/// a little more from a smaller decode.
pub(crate) const SQUARE_DECODE_PIXELS: u64 = 16_000_000;

impl Shrink {
    /// The short side a `width`×`height` picture may shrink to.
    pub(crate) fn min_short(self, width: u32, height: u32) -> u32 {
        let short = u64::from(width.min(height));
        match self.square {
            Some(side) if u64::from(side) < short && side > 0 => {
                let wanted = (u64::from(self.keep) * short).div_ceil(u64::from(side));
                // The short side at which the whole picture holds SQUARE_DECODE_PIXELS.
                let area = u64::from(width) * u64::from(height);
                let budget = if area <= SQUARE_DECODE_PIXELS {
                    short
                } else {
                    (short as f64 * (SQUARE_DECODE_PIXELS as f64 / area as f64).sqrt()) as u64
                };
                let capped = wanted.min(budget.max(u64::from(self.keep)));
                u32::try_from(capped).unwrap_or(u32::MAX)
            }
            _ => self.keep,
        }
    }
}
