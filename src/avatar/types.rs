//! The types every decoder and the pipeline share, and the one rule both apply (where the
//! kept square lies in the decoded pixels), and nothing else: each format's file (`formats/`)
//! imports these, the pipeline (`process.rs`) imports these and the formats, and no decoder
//! imports another.

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
        "{0} files are not accepted. Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC picture."
    )]
    Unsupported(&'static str),
    #[error(
        "This file is not a picture. Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC picture."
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
    /// The size of `pixels`: the picture's at the scale it was decoded at, or the window's.
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    pub coverage: Coverage,
}

/// Which part of the picture a decoder's pixels hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// All of it.
    Whole,
    /// The `width`×`height` pixels whose top-left corner is (`left`, `top`) of the picture as
    /// it would be decoded whole at the same scale, `full` in size: a decoder that can stop
    /// early (JPEG) decodes only what `Region::window` says the resize reads.
    Window {
        left: u32,
        top: u32,
        full: (u32, u32),
    },
}

impl Decoded {
    /// The part of the pixels to keep, the chosen square or (`None`) the centred one, in the
    /// pixels' own coordinates. The only way the pipeline learns where the square lies, so a
    /// window is never taken for the whole picture.
    pub(crate) fn region(&self, square: Option<Square>) -> Result<Region, Rejection> {
        let (left, top, full) = match self.coverage {
            Coverage::Whole => (0, 0, (self.width, self.height)),
            Coverage::Window { left, top, full } => (left, top, full),
        };
        let region = kept_region(self.source, full, self.orientation, square)?;
        let region = Region {
            left: region.left - f64::from(left),
            top: region.top - f64::from(top),
            side: region.side,
        };
        // A window chosen by `Region::window` holds its region with room to spare; one that
        // does not would give wrong pixels, so it is refused rather than stored.
        let slack = 1e-6;
        if region.left < -slack
            || region.top < -slack
            || region.left + region.side > f64::from(self.width) + slack
            || region.top + region.side > f64::from(self.height) + slack
        {
            tracing::error!(?self.coverage, ?region, "a decoder's window misses its square");
            return Err(Rejection::Corrupt);
        }
        Ok(region)
    }
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

/// Side of the stored square, in pixels.
pub const SIZE: u32 = 300;

/// How far the resize's filter (Lanczos3, in `process.rs`) reaches either side of a sample, in
/// pixels of the larger of its input and output grids.
const FILTER_SUPPORT: f64 = 3.0;

/// A square of the picture at the scale it was decoded at (stored orientation): left, top,
/// side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Region {
    pub left: f64,
    pub top: f64,
    pub side: f64,
}

/// Whole pixels of a picture: columns `left..left + width`, rows `top..top + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// The pixels of a `full`-sized picture that resizing this region to SIZE×SIZE reads: the
    /// region and the filter's reach around it (fast_image_resize reads past a crop's edge,
    /// up to the picture's), and a pixel more for rounding.
    pub(crate) fn window(self, full: (u32, u32)) -> Window {
        let reach = FILTER_SUPPORT * (self.side / f64::from(SIZE)).max(1.0) + 1.0;
        let span = |start: f64, max: u32| {
            let from = (start - reach).floor().clamp(0.0, f64::from(max)) as u32;
            let to = (start + self.side + reach)
                .ceil()
                .clamp(0.0, f64::from(max)) as u32;
            (from, to - from)
        };
        let ((left, width), (top, height)) = (span(self.left, full.0), span(self.top, full.1));
        Window {
            left,
            top,
            width,
            height,
        }
    }
}

/// The part of a `source`-sized picture decoded at `scaled` size that is kept, in decoded
/// pixels: the chosen square (upright pixels, which must lie inside the upright picture)
/// turned back into the stored orientation and scaled as the decoder shrank, or the largest
/// centred square (of a rotated picture, that is the rotated centred square).
pub(crate) fn kept_region(
    source: (u32, u32),
    scaled: (u32, u32),
    orientation: Orientation,
    square: Option<Square>,
) -> Result<Region, Rejection> {
    let (scaled_width, scaled_height) = scaled;
    let Some(square) = square else {
        let side = f64::from(scaled_width.min(scaled_height));
        return Ok(Region {
            left: (f64::from(scaled_width) - side) / 2.0,
            top: (f64::from(scaled_height) - side) / 2.0,
            side,
        });
    };
    let (width, height) = source;
    let (x, y, side) =
        stored_square(width, height, orientation, square).ok_or(Rejection::SquareOutside)?;
    let scale_x = f64::from(scaled_width) / f64::from(width);
    let scale_y = f64::from(scaled_height) / f64::from(height);
    let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max));
    let left = clamp(f64::from(x) * scale_x, scaled_width);
    let top = clamp(f64::from(y) * scale_y, scaled_height);
    // The scales differ by less than a pixel (a decoder rounds each side up); the square stays
    // square and inside.
    let side = (f64::from(side) * scale_x.min(scale_y))
        .min(f64::from(scaled_width) - left)
        .min(f64::from(scaled_height) - top);
    if side <= 0.0 {
        return Err(Rejection::SquareOutside);
    }
    Ok(Region { left, top, side })
}

/// Where an upright square lies in the stored `width`×`height` pixels, given the EXIF
/// orientation that stands them upright; `None` when it does not lie inside the picture.
pub(crate) fn stored_square(
    width: u32,
    height: u32,
    orientation: Orientation,
    square: Square,
) -> Option<(u32, u32, u32)> {
    let turned = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (upright_width, upright_height) = if turned {
        (height, width)
    } else {
        (width, height)
    };
    let Square { x, y, size } = square;
    if size == 0
        || u64::from(x) + u64::from(size) > u64::from(upright_width)
        || u64::from(y) + u64::from(size) > u64::from(upright_height)
    {
        return None;
    }
    // Each case inverts the turn or flip that the pipeline's `orient` applies to the stored
    // pixels.
    let (far_x, far_y) = (width - size, height - size);
    Some(match orientation {
        Orientation::NoTransforms => (x, y, size),
        Orientation::FlipHorizontal => (far_x - x, y, size),
        Orientation::Rotate180 => (far_x - x, far_y - y, size),
        Orientation::FlipVertical => (x, far_y - y, size),
        Orientation::Rotate90 => (y, far_y - x, size),
        Orientation::Rotate270 => (far_x - y, x, size),
        Orientation::Rotate90FlipH => (y, x, size),
        Orientation::Rotate270FlipH => (far_x - y, far_y - x, size),
    })
}

/// How far a decoder may shrink while decoding: enough that the part of the picture that will
/// be kept (the centred square, or the chosen one) still has `keep` pixels on its side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shrink {
    pub keep: u32,
    /// The chosen square; `None` for the centred one (the short side). A decoder that can
    /// decode part of a picture (JPEG) decodes only what this square needs.
    pub square: Option<Square>,
}

/// The most pixels a decoder keeps for a chosen square. A tiny square of a huge picture would
/// otherwise ask for a full-size decode (a 1-pixel square of 50 MP: 150 MB of RGB), and most
/// decoders decode the whole picture before the square is checked against it (a JPEG checks
/// first and keeps only the square's window, but still decodes every row above it); past this
/// a square is scaled up a little more from a smaller decode.
pub(crate) const SQUARE_DECODE_PIXELS: u64 = 16_000_000;

impl Shrink {
    /// The short side a `width`×`height` picture may shrink to.
    pub(crate) fn min_short(self, width: u32, height: u32) -> u32 {
        let short = u64::from(width.min(height));
        match self.square.map(|square| square.size) {
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
