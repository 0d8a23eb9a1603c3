//! PNG decoding row by row with the `png` crate, each row handed to a `BoxShrink` as it
//! arrives: a large PNG never exists at full size in memory, and the Lanczos pass that follows
//! has a fraction of the work.

use std::io::Cursor;

use image::metadata::Orientation;
use png::{ColorType, DecodingError, Transformations};

use crate::avatar::shrink::{BoxShrink, shrink_factor};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let budget = png::Limits {
        bytes: usize::try_from(limits.max_alloc).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), budget);
    // Palette, low bit depths and tRNS become 8-bit grey/RGB with alpha; 16 bits become 8.
    decoder.set_transformations(Transformations::normalize_to_color8());
    let header = decoder.read_header_info().map_err(rejection)?;
    check_dimensions(header.width, header.height, limits)?;
    let source = (header.width, header.height);
    let mut reader = decoder.read_info().map_err(rejection)?;

    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let orientation = info
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let interlaced = info.interlaced;
    let channels = match reader.output_color_type().0 {
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        // Indexed is expanded by the transformations above.
        ColorType::Rgba | ColorType::Indexed => 4,
    };

    let mut shrink = BoxShrink::new(
        width,
        height,
        shrink_factor(width, height, target.min_short(width, height)),
    );
    let mut rgba = vec![0u8; width as usize * 4];
    if interlaced {
        // Adam7 rows arrive out of order: the whole (bounded) frame first, then its rows.
        let size = reader
            .output_buffer_size()
            .filter(|&size| size as u64 <= limits.max_alloc)
            .ok_or(Rejection::TooManyPixels)?;
        let mut frame = vec![0u8; size];
        reader.next_frame(&mut frame).map_err(rejection)?;
        for row in frame.chunks_exact(width as usize * channels) {
            shrink.push(as_rgba(row, channels, &mut rgba));
        }
    } else {
        while let Some(row) = reader.next_row().map_err(rejection)? {
            shrink.push(as_rgba(row.data(), channels, &mut rgba));
        }
    }
    let (rgb, width, height) = shrink.finish().ok_or(Rejection::Corrupt)?;
    Ok(Decoded {
        source,
        pixels: Pixels::Rgb(rgb),
        width,
        height,
        orientation,
        coverage: Coverage::Whole,
    })
}

fn rejection(e: DecodingError) -> Rejection {
    match e {
        DecodingError::LimitsExceeded => Rejection::TooManyPixels,
        _ => Rejection::Corrupt,
    }
}

/// The row as RGBA: itself when it already is, else expanded into `rgba`.
fn as_rgba<'a>(row: &'a [u8], channels: usize, rgba: &'a mut [u8]) -> &'a [u8] {
    let pixels = rgba.chunks_exact_mut(4);
    match channels {
        4 => return row,
        3 => pixels
            .zip(row.chunks_exact(3))
            .for_each(|(p, c)| p.copy_from_slice(&[c[0], c[1], c[2], 255])),
        2 => pixels
            .zip(row.chunks_exact(2))
            .for_each(|(p, c)| p.copy_from_slice(&[c[0], c[0], c[0], c[1]])),
        _ => pixels
            .zip(row)
            .for_each(|(p, &l)| p.copy_from_slice(&[l, l, l, 255])),
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_every_channel_count_become_rgba() {
        let mut buffer = [0u8; 8];
        assert_eq!(
            as_rgba(&[7, 9], 1, &mut buffer),
            &[7, 7, 7, 255, 9, 9, 9, 255]
        );
        assert_eq!(
            as_rgba(&[7, 1, 9, 2], 2, &mut buffer),
            &[7, 7, 7, 1, 9, 9, 9, 2]
        );
        assert_eq!(
            as_rgba(&[1, 2, 3, 4, 5, 6], 3, &mut buffer),
            &[1, 2, 3, 255, 4, 5, 6, 255]
        );
        assert_eq!(as_rgba(&[1, 2, 3, 4], 4, &mut buffer), &[1, 2, 3, 4]);
    }
}
