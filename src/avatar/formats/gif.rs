//! GIF decoding with the `gif` crate: the first frame as palette indices (a byte a pixel,
//! not four), placed on its logical screen and turned into rows through a 256-entry table,
//! straight into a `BoxShrink`. Pixels the frame does not cover, and its transparent index,
//! are transparent, so they become white.

use std::io::Cursor;
use std::num::NonZeroU64;

use gif::{ColorOutput, DecodeOptions, DecodingError, MemoryLimit};
use image::metadata::Orientation;

use crate::avatar::shrink::{BoxShrink, shrink_factor};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let mut options = DecodeOptions::new();
    options.set_color_output(ColorOutput::Indexed);
    // A frame reaching outside the screen is an error, not a larger picture.
    options.check_frame_consistency(true);
    if let Some(bytes) = NonZeroU64::new(limits.max_alloc) {
        options.set_memory_limit(MemoryLimit::Bytes(bytes));
    }
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(rejection)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    check_dimensions(width, height, limits)?;
    let source = (width, height);

    let frame = decoder
        .next_frame_info()
        .map_err(rejection)?
        .ok_or(Rejection::Corrupt)?;
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    let (frame_width, frame_height) = (usize::from(frame.width), usize::from(frame.height));
    if left + frame_width > width as usize || top + frame_height > height as usize {
        return Err(Rejection::Corrupt);
    }
    let transparent = frame.transparent;
    let local_palette = frame.palette.clone();
    let mut indices = vec![0u8; frame_width * frame_height];
    decoder.read_into_buffer(&mut indices).map_err(rejection)?;
    let palette = local_palette
        .as_deref()
        .or(decoder.global_palette())
        .ok_or(Rejection::Corrupt)?;
    let colours = colour_table(palette, transparent);

    let mut shrink = BoxShrink::new(
        width,
        height,
        shrink_factor(width, height, target.min_short(width, height)),
    );
    let mut row = vec![0u8; width as usize * 4];
    for y in 0..height as usize {
        row.fill(0);
        if (top..top + frame_height).contains(&y) {
            let line = &indices[(y - top) * frame_width..][..frame_width];
            for (pixel, &index) in row[left * 4..].chunks_exact_mut(4).zip(line) {
                pixel.copy_from_slice(&colours[usize::from(index)]);
            }
        }
        shrink.push(&row);
    }
    let (rgb, width, height) = shrink.finish().ok_or(Rejection::Corrupt)?;
    Ok(Decoded {
        source,
        pixels: Pixels::Rgb(rgb),
        width,
        height,
        orientation: Orientation::NoTransforms,
        coverage: Coverage::Whole,
    })
}

/// RGBA for every index: the palette's colours, opaque; the transparent index and indices
/// past the end of the palette transparent.
fn colour_table(palette: &[u8], transparent: Option<u8>) -> [[u8; 4]; 256] {
    let mut table = [[0u8; 4]; 256];
    for (entry, rgb) in table.iter_mut().zip(palette.chunks_exact(3)) {
        *entry = [rgb[0], rgb[1], rgb[2], 255];
    }
    if let Some(index) = transparent {
        table[usize::from(index)] = [0; 4];
    }
    table
}

fn rejection(e: DecodingError) -> Rejection {
    match e {
        DecodingError::OutOfMemory | DecodingError::MemoryLimit => Rejection::TooManyPixels,
        _ => Rejection::Corrupt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_palette_with_transparency() {
        let table = colour_table(&[1, 2, 3, 4, 5, 6], Some(1));
        assert_eq!(table[0], [1, 2, 3, 255]);
        assert_eq!(table[1], [0, 0, 0, 0]);
        assert_eq!(table[2], [0, 0, 0, 0]);
        assert_eq!(table[255], [0, 0, 0, 0]);
    }
}
