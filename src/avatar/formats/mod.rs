//! One file per format, each a `decode(bytes, limits, target)` that checks the header's
//! size before any pixel memory exists and shrinks while decoding where it can. The sniffer
//! (`sniff.rs`) says which one a file gets.

pub(crate) mod bmp;
pub(crate) mod gif;
pub(crate) mod ico;
pub(crate) mod jpeg;
pub(crate) mod jxl;
pub(crate) mod png;
pub(crate) mod tiff;
pub(crate) mod webp;

use super::types::{Decoded, Limits, Rejection, Shrink};

/// The test pictures and output readers of `tests/common/images.rs`, for the formats' own
/// tests (a `mod.rs`, so the path resolves from this folder).
#[cfg(test)]
#[path = "../../../tests/common/images.rs"]
#[allow(clippy::duplicate_mod)]
mod images;

/// Bytes, the limits, and how far the decoder may shrink while decoding.
pub(crate) type Decoder = fn(&[u8], &Limits, Shrink) -> Result<Decoded, Rejection>;
