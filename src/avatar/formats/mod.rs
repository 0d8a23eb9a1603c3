//! One file per format, each a `decode(bytes, limits, target)` that checks the header's
//! size before any pixel memory exists and shrinks while decoding where it can. The sniffer
//! (`sniff.rs`) says which one a file gets.

pub(crate) mod avif;
pub(crate) mod bmp;
pub(crate) mod gif;
pub(crate) mod heic;
pub(crate) mod ico;
pub(crate) mod jpeg;
pub(crate) mod jxl;
pub(crate) mod png;
pub(crate) mod tiff;
pub(crate) mod webp;
mod whole;

use super::types::{Decoded, Limits, Rejection, Shrink};

/// Bytes, the limits, and how far the decoder may shrink while decoding.
pub(crate) type Decoder = fn(&[u8], &Limits, Shrink) -> Result<Decoded, Rejection>;

/// The test pictures and output readers of `tests/common/images.rs`, for the formats' own
/// tests (a `mod.rs`, so the path resolves from this folder).
#[cfg(test)]
#[path = "../../../tests/common/images.rs"]
#[allow(clippy::duplicate_mod)]
mod images;

/// What every format's tests do with a file: run the whole pipeline on it.
#[cfg(test)]
mod test_support {
    use super::images::{DecodedJpeg, Quadrants, TOLERANCE, decode_output, near};
    use crate::avatar::types::{Limits, Rejection, Shrink};

    /// A decoder's target that keeps the picture at full size.
    pub fn unshrunk() -> Shrink {
        Shrink {
            keep: u32::MAX,
            square: None,
        }
    }

    /// Each quadrant's centre pixel of a decoder's own output must be its colour.
    pub fn assert_quadrants_of(picture: &image::RgbImage, expected: Quadrants, what: &str) {
        let (w, h) = picture.dimensions();
        let at = |x: u32, y: u32| picture.get_pixel(x, y).0;
        let actual = [
            [at(w / 4, h / 4), at(3 * w / 4, h / 4)],
            [at(w / 4, 3 * h / 4), at(3 * w / 4, 3 * h / 4)],
        ];
        assert!(
            (0..2).all(|r| (0..2).all(|c| near(actual[r][c], expected[r][c], TOLERANCE))),
            "{what}: quadrants {actual:?}, expected {expected:?} (±{TOLERANCE})"
        );
    }

    pub fn run(bytes: &[u8]) -> Result<Vec<u8>, Rejection> {
        crate::avatar::process(bytes, &Limits::default())
    }

    /// Runs `bytes`, which must be accepted, and decodes the 300×300 result.
    pub fn accepted(bytes: &[u8], what: &str) -> DecodedJpeg {
        let out = run(bytes).unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
        let decoded = decode_output(&out);
        assert_eq!((decoded.width, decoded.height), (300, 300), "{what}");
        decoded
    }
}
