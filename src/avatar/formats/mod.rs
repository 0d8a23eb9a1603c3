//! One file per format, each a `decode(bytes, limits, target)` that checks the header's
//! size before any pixel memory exists and shrinks while decoding where it can. The sniffer
//! (`sniff.rs`) says which one a file gets.

pub(crate) mod gif;
pub(crate) mod jpeg;
pub(crate) mod png;
pub(crate) mod webp;

use super::types::{Decoded, Limits, Rejection, Shrink};

/// Bytes, the limits, and how far the decoder may shrink while decoding.
pub(crate) type Decoder = fn(&[u8], &Limits, Shrink) -> Result<Decoded, Rejection>;
