//! JPEG decoding with mozjpeg (libjpeg-turbo's descendant, built from source by the `cc`
//! crate): shrink-on-load in the DCT domain, only the rows and columns the kept square needs,
//! and SIMD when `nasm` was present at build time.
//!
//! libjpeg reports fatal errors by unwinding out of its error handler (`C-unwind`); the caller
//! holds a `catch_unwind`, so a hostile file is a rejection, never an abort. Warnings are
//! silent in libjpeg, so a truncated file (which it would pad with grey) is caught up front by
//! looking for the end-of-image marker.

use image::metadata::Orientation;
use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{Decompress, Format, Marker};

use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, Window, check_dimensions, kept_region,
    stored_square,
};

/// The colour model libjpeg decodes to.
#[derive(Clone, Copy)]
enum Model {
    Rgb,
    Gray,
    Cmyk,
}

impl Model {
    fn channels(self) -> usize {
        match self {
            Model::Rgb => 3,
            Model::Gray => 1,
            Model::Cmyk => 4,
        }
    }
}

/// The smallest scale n/8 (n = 1..=8) that keeps the short side at least `min_short`, but
/// full scale rather than 7/8: libjpeg's 8×8 inverse DCT is SIMD and its 7×7 is not, so full
/// scale is both sharper and faster (the 24 MP photo decoded whole: 93 ms against 125 ms).
pub(crate) fn scale_numerator(width: u32, height: u32, min_short: u32) -> u8 {
    let short = u64::from(width.min(height));
    (1..7u8)
        .find(|&n| (short * u64::from(n)).div_ceil(8) >= u64::from(min_short))
        .unwrap_or(8)
}

/// Decodes only the window of pixels the kept square needs: the rows above it are decoded
/// into one scratch row and dropped (libjpeg must still read them: the entropy-coded data runs
/// on), the rows below it are never decoded, and only its columns are kept. For the centred
/// square of a landscape picture that is every row; for a chosen square near the top of a
/// large photo, a fraction of the work.
pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    // Dimensions come from our own walk of the header, before libjpeg allocates anything.
    let (width, height) = frame_size(bytes).ok_or(Rejection::Corrupt)?;
    check_dimensions(width, height, limits)?;
    let source = (width, height);
    if !has_end_of_image(bytes) {
        return Err(Rejection::Corrupt);
    }
    let corrupt = |_| Rejection::Corrupt;
    let mut decompress = Decompress::with_markers(&[Marker::APP(1)])
        .from_mem(bytes)
        .map_err(corrupt)?;
    if decompress.size() != (width as usize, height as usize) {
        return Err(Rejection::Corrupt);
    }

    let orientation = decompress
        .markers()
        .filter(|m| matches!(m.marker, Marker::APP(1)))
        .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    // Against the whole picture, before anything is decoded (a progressive file is decoded
    // scan by scan as soon as decoding starts).
    if let Some(square) = target.square {
        stored_square(width, height, orientation, square).ok_or(Rejection::SquareOutside)?;
    }

    decompress.scale(scale_numerator(
        width,
        height,
        target.min_short(width, height),
    ));

    let mut started = Started::new(decompress)?;
    let full = started.full;
    let window = kept_region(source, full, orientation, target.square)?.window(full);
    let rgb = started.read_window(window)?;
    if window.top + window.height == full.1 {
        started.decoder.finish().map_err(corrupt)?;
    }
    // Otherwise the decoder is dropped unfinished: `jpeg_destroy_decompress` frees all it
    // holds, and libjpeg does not complain of an unread rest (the EOI check above already
    // refused truncated files).
    Ok(Decoded {
        source,
        pixels: Pixels::Rgb(rgb),
        width: window.width,
        height: window.height,
        orientation,
        coverage: Coverage::Window {
            left: window.left,
            top: window.top,
            full,
        },
    })
}

/// A decoder under way: its colour model and the size it decodes to.
struct Started<'a> {
    decoder: DecompressStarted<&'a [u8]>,
    model: Model,
    full: (u32, u32),
}

impl<'a> Started<'a> {
    fn new(decompress: Decompress<&'a [u8]>) -> Result<Self, Rejection> {
        // Every variant holds the same started decoder; only the colour model differs.
        let (decoder, model) = match decompress.image().map_err(|_| Rejection::Corrupt)? {
            Format::RGB(decoder) => (decoder, Model::Rgb),
            Format::Gray(decoder) => (decoder, Model::Gray),
            Format::CMYK(decoder) => (decoder, Model::Cmyk),
        };
        let full = (
            u32::try_from(decoder.width()).map_err(|_| Rejection::Corrupt)?,
            u32::try_from(decoder.height()).map_err(|_| Rejection::Corrupt)?,
        );
        Ok(Self {
            decoder,
            model,
            full,
        })
    }

    /// The window's pixels as RGB, read row by row; the rows below it are left undecoded.
    fn read_window(&mut self, window: Window) -> Result<Vec<u8>, Rejection> {
        let corrupt = |_| Rejection::Corrupt;
        let (model, channels) = (self.model, self.model.channels());
        let (left, width) = (window.left as usize, window.width as usize);
        let mut rgb = vec![0; width * window.height as usize * 3];
        let mut row = vec![0; self.full.0 as usize * channels];
        for _ in 0..window.top {
            self.decoder
                .read_scanlines_into(&mut row)
                .map_err(corrupt)?;
        }
        if matches!(model, Model::Rgb) && window.width == self.full.0 {
            // Whole rows of RGB: straight into place.
            self.decoder
                .read_scanlines_into(&mut rgb)
                .map_err(corrupt)?;
            return Ok(rgb);
        }
        for out in rgb.chunks_exact_mut(width * 3) {
            self.decoder
                .read_scanlines_into(&mut row)
                .map_err(corrupt)?;
            let kept = &row[left * channels..][..width * channels];
            match model {
                Model::Rgb => out.copy_from_slice(kept),
                Model::Gray => {
                    for (o, &l) in out.chunks_exact_mut(3).zip(kept) {
                        o.fill(l);
                    }
                }
                // libjpeg hands Adobe CMYK (and YCCK, converted) over as stored: inverted, so
                // 255 is no ink and each channel multiplies straight into RGB.
                Model::Cmyk => {
                    for (o, p) in out.chunks_exact_mut(3).zip(kept.chunks_exact(4)) {
                        let k = u32::from(p[3]);
                        let mix = |c: u8| ((u32::from(c) * k + 127) / 255) as u8;
                        o.copy_from_slice(&[mix(p[0]), mix(p[1]), mix(p[2])]);
                    }
                }
            }
        }
        Ok(rgb)
    }
}

/// The whole picture at the scale `like` was decoded at, as `decode` would give it without a
/// window: what the tests compare windows with.
#[cfg(test)]
pub(crate) fn decode_whole_like(bytes: &[u8], like: &Decoded) -> Decoded {
    let Coverage::Window { full, .. } = like.coverage else {
        panic!("a JPEG is decoded as a window");
    };
    let width = like.source.0;
    let numerator = (1..=8u8)
        .find(|&n| (width * u32::from(n)).div_ceil(8) == full.0)
        .expect("a scale of n/8");
    let mut decompress = Decompress::new_mem(bytes).expect("a JPEG");
    decompress.scale(numerator);
    let mut started = Started::new(decompress).expect("starts");
    assert_eq!(started.full, full, "the same scale");
    let window = Window {
        left: 0,
        top: 0,
        width: full.0,
        height: full.1,
    };
    let rgb = started.read_window(window).expect("decodes");
    Decoded {
        source: like.source,
        pixels: Pixels::Rgb(rgb),
        width: full.0,
        height: full.1,
        orientation: like.orientation,
        coverage: Coverage::Whole,
    }
}

/// The header segments up to the first scan, as (marker, offset of the marker).
fn header_markers(bytes: &[u8]) -> impl Iterator<Item = (u8, usize)> + '_ {
    let mut i = 2;
    let mut done = false;
    std::iter::from_fn(move || {
        while !done && i + 4 <= bytes.len() && bytes[i] == 0xFF {
            let (marker, at) = (bytes[i + 1], i);
            match marker {
                0xFF => i += 1,
                0x01 | 0xD0..=0xD7 => i += 2,
                _ => {
                    i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
                    done = marker == 0xDA;
                    return Some((marker, at));
                }
            }
        }
        None
    })
}

/// Width and height from the start-of-frame segment.
fn frame_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let (_, at) = header_markers(bytes)
        .find(|(m, _)| matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC))?;
    let sof = bytes.get(at + 5..at + 9)?;
    let height = u32::from(u16::from_be_bytes([sof[0], sof[1]]));
    let width = u32::from(u16::from_be_bytes([sof[2], sof[3]]));
    Some((width, height))
}

/// Looks for the end-of-image marker after the first scan (entropy-coded data cannot contain
/// FF D9, and an embedded EXIF thumbnail's EOI sits before the scan, so it cannot fool this).
fn has_end_of_image(bytes: &[u8]) -> bool {
    header_markers(bytes)
        .find(|(m, _)| *m == 0xDA)
        .is_some_and(|(_, at)| memchr::memmem::find(&bytes[at..], &[0xFF, 0xD9]).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_keeps_twice_the_target() {
        assert_eq!(scale_numerator(4032, 3024, 600), 2); // 756
        assert_eq!(scale_numerator(6000, 4000, 600), 2); // 1000
        assert_eq!(scale_numerator(2000, 2000, 600), 3); // 750
        assert_eq!(scale_numerator(1000, 1000, 600), 5); // 625
        assert_eq!(scale_numerator(800, 700, 600), 8); // 7/8 would do: 613
        assert_eq!(scale_numerator(300, 300, 600), 8);
        assert_eq!(scale_numerator(16384, 100, 600), 8);
    }

    #[test]
    fn end_of_image_is_found_only_after_the_scan() {
        // SOI, APP1 holding a thumbnail's EOI, SOS with data, no EOI: truncated.
        let mut truncated = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00];
        truncated.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0x00]);
        assert!(!has_end_of_image(&truncated));
        let mut whole = truncated.clone();
        whole.extend_from_slice(&[0xFF, 0xD9]);
        assert!(has_end_of_image(&whole));
        whole.extend_from_slice(b"<html>appended</html>");
        assert!(has_end_of_image(&whole));
        assert!(!has_end_of_image(&[0xFF, 0xD8, 0xFF]));
    }

    #[test]
    fn the_frame_size_is_read_from_the_header_alone() {
        // SOI, a DQT-like segment, SOF2 of 60000 x 40000 (height first), nothing else.
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x04, 0x00, 0x00];
        bytes.extend_from_slice(&[0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x9C, 0x40, 0xEA, 0x60, 0x01]);
        assert_eq!(frame_size(&bytes), Some((60_000, 40_000)));
        // DHT (C4) is not a frame header.
        let dht = [0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x06, 0x00, 0x10, 0x00, 0x10];
        assert_eq!(frame_size(&dht), None);
    }
}
