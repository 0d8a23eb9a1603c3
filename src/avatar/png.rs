//! PNG decoding row by row with the `png` crate. Each row is flattened onto white as it
//! arrives and, when the picture is at least three times `min_short` on its short side, averaged
//! k×k into a smaller picture (shrink-on-load, as a JPEG's DCT scaling does): a large PNG never
//! exists at full size in memory, and the Lanczos pass that follows has a fraction of the work.

use std::io::Cursor;

use image::metadata::Orientation;
use png::{ColorType, DecodingError, Transformations};

use super::process::{Decoded, Limits, Pixels, Rejection, check_dimensions, flatten_into};

/// The largest whole k that keeps the short side at least 1.5 × `min_short` after a k×k
/// average. A box is a cruder first step than a JPEG's DCT scaling, so it keeps more: on the
/// benchmark PNG, averaging down to 667 px (k = 3) left the stored picture at 34.5 dB PSNR
/// against a full-size resize, 1000 px (k = 2) at 41.5 dB.
pub(super) fn shrink_factor(width: u32, height: u32, min_short: u32) -> u32 {
    (width.min(height) / min_short.saturating_add(min_short / 2)).max(1)
}

pub(super) fn decode(bytes: &[u8], limits: &Limits, min_short: u32) -> Result<Decoded, Rejection> {
    let budget = png::Limits {
        bytes: usize::try_from(limits.max_alloc).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), budget);
    // Palette, low bit depths and tRNS become 8-bit grey/RGB with alpha; 16 bits become 8.
    decoder.set_transformations(Transformations::normalize_to_color8());
    let header = decoder.read_header_info().map_err(rejection)?;
    check_dimensions(header.width, header.height, limits)?;
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

    let mut shrink = BoxShrink::new(width, height, shrink_factor(width, height, min_short));
    let mut rgba = vec![0u8; width as usize * 4];
    if interlaced {
        // Adam7 rows arrive out of order: the whole (bounded) frame first, then its rows.
        let size = reader
            .output_buffer_size()
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
        pixels: Pixels::Rgb(rgb),
        width,
        height,
        orientation,
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

/// Collects RGBA rows into an RGB picture flattened onto white, averaging each k×k block.
/// Averaging premultiplied colour and alpha, then flattening, equals flattening each pixel
/// and then averaging: c̄ = (Σ c·a + 255·(255·n − Σ a)) / (255·n) over the n pixels of a block.
struct BoxShrink {
    factor: usize,
    width: usize,
    height: usize,
    /// The rows of the current band of `factor` rows, RGBA.
    band: Vec<u8>,
    rows_in_band: usize,
    rows_seen: usize,
    rgb: Vec<u8>,
}

impl BoxShrink {
    fn new(width: u32, height: u32, factor: u32) -> Self {
        let (width, height, factor) = (width as usize, height as usize, factor as usize);
        let out = width.div_ceil(factor) * height.div_ceil(factor) * 3;
        Self {
            factor,
            width,
            height,
            band: vec![0; if factor == 1 { 0 } else { width * 4 * factor }],
            rows_in_band: 0,
            rows_seen: 0,
            rgb: Vec::with_capacity(out),
        }
    }

    fn push(&mut self, rgba: &[u8]) {
        let stride = self.width * 4;
        let rgba = &rgba[..stride];
        self.rows_seen += 1;
        let start = self.rgb.len();
        if self.factor == 1 {
            self.rgb.resize(start + self.width * 3, 0);
            flatten_into(rgba, &mut self.rgb[start..]);
            return;
        }
        self.band[self.rows_in_band * stride..][..stride].copy_from_slice(rgba);
        self.rows_in_band += 1;
        if self.rows_in_band == self.factor {
            self.emit_band();
        }
    }

    fn emit_band(&mut self) {
        let (width, factor, rows) = (self.width, self.factor, self.rows_in_band);
        let start = self.rgb.len();
        self.rgb.resize(start + width.div_ceil(factor) * 3, 0);
        let out = &mut self.rgb[start..];
        let band = &self.band[..rows * width * 4];
        // Whole blocks with a constant divisor for the common factors; the rest in general.
        let whole = match (factor, rows) {
            (2, 2) => average_whole::<2>(band, width, out),
            (3, 3) => average_whole::<3>(band, width, out),
            _ => 0,
        };
        for x in whole..width.div_ceil(factor) {
            let columns = factor.min(width - x * factor);
            let sum = block_sum(band, width, x * factor, columns);
            flatten_sum(sum, (rows * columns) as u32, &mut out[x * 3..][..3]);
        }
        self.rows_in_band = 0;
    }

    /// The picture and its size, or `None` when rows are missing.
    fn finish(mut self) -> Option<(Vec<u8>, u32, u32)> {
        if self.rows_seen != self.height {
            return None;
        }
        if self.rows_in_band > 0 {
            self.emit_band();
        }
        let width = u32::try_from(self.width.div_ceil(self.factor)).ok()?;
        let height = u32::try_from(self.height.div_ceil(self.factor)).ok()?;
        Some((self.rgb, width, height))
    }
}

/// Σ r·a, Σ g·a, Σ b·a, Σ a over `columns` pixels from `x` in every row of `band`.
#[inline(always)]
fn block_sum(band: &[u8], width: usize, x: usize, columns: usize) -> [u32; 4] {
    let mut sum = [0u32; 4];
    for row in band.chunks_exact(width * 4) {
        for p in row[x * 4..][..columns * 4].chunks_exact(4) {
            let a = u32::from(p[3]);
            sum[0] += u32::from(p[0]) * a;
            sum[1] += u32::from(p[1]) * a;
            sum[2] += u32::from(p[2]) * a;
            sum[3] += a;
        }
    }
    sum
}

/// The block of `n` pixels, flattened onto white and rounded.
#[inline(always)]
fn flatten_sum(sum: [u32; 4], n: u32, out: &mut [u8]) {
    let full = 255 * n;
    let white = 255 * (full - sum[3]);
    for (o, c) in out.iter_mut().zip(sum) {
        *o = ((c + white + full / 2) / full) as u8;
    }
}

/// The K×K blocks of a band of K rows, as far as they are whole; returns how many.
fn average_whole<const K: usize>(band: &[u8], width: usize, out: &mut [u8]) -> usize {
    let whole = width / K;
    for (x, out) in out.chunks_exact_mut(3).take(whole).enumerate() {
        flatten_sum(block_sum(band, width, x * K, K), (K * K) as u32, out);
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shrink(width: u32, rows: &[Vec<u8>], factor: u32) -> (Vec<u8>, u32, u32) {
        let mut shrink = BoxShrink::new(width, rows.len() as u32, factor);
        rows.iter().for_each(|row| shrink.push(row));
        shrink.finish().expect("every row")
    }

    #[test]
    fn the_factor_keeps_the_short_side() {
        assert_eq!(shrink_factor(2000, 2000, 600), 2); // 1000
        assert_eq!(shrink_factor(1799, 5000, 600), 1);
        assert_eq!(shrink_factor(1800, 1800, 600), 2);
        assert_eq!(shrink_factor(2700, 4000, 600), 3);
        assert_eq!(shrink_factor(300, 300, 600), 1);
        assert_eq!(shrink_factor(16_384, 16_384, 600), 18);
        assert_eq!(shrink_factor(2000, 2000, u32::MAX), 1);
    }

    #[test]
    fn blocks_average_the_flattened_pixels() {
        // 3×2 at k=2: a full block of red, opaque black, transparent green and half-transparent
        // white, and a partial block (one column) of opaque blue over transparent.
        let rows = vec![
            vec![255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 255],
            vec![0, 255, 0, 0, 255, 255, 255, 128, 0, 0, 0, 0],
        ];
        let (rgb, width, height) = shrink(3, &rows, 2);
        assert_eq!((width, height), (2, 1));
        // Flattened: red, black, white, white → (255+0+255+255)/4, (0+0+255+255)/4, ...
        assert_eq!(&rgb[..3], &[191, 128, 128]);
        // Blue and white → (0+255)/2, (0+255)/2, (255+255)/2, rounded.
        assert_eq!(&rgb[3..], &[128, 128, 255]);
    }

    #[test]
    fn without_shrinking_rows_are_flattened_as_they_are() {
        let rows = vec![
            vec![10, 20, 30, 255, 0, 0, 0, 0],
            vec![0, 0, 0, 128, 1, 2, 3, 255],
        ];
        let (rgb, width, height) = shrink(2, &rows, 1);
        assert_eq!((width, height), (2, 2));
        assert_eq!(rgb, vec![10, 20, 30, 255, 255, 255, 127, 127, 127, 1, 2, 3]);
    }

    #[test]
    fn a_partial_last_band_is_averaged_over_its_rows() {
        let rows = vec![vec![0, 0, 0, 255]; 3];
        let mut with_white = rows.clone();
        with_white[2] = vec![255, 255, 255, 255];
        let (rgb, width, height) = shrink(1, &with_white, 2);
        assert_eq!((width, height), (1, 2));
        assert_eq!(rgb, vec![0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn missing_rows_are_refused() {
        let mut shrink = BoxShrink::new(1, 3, 1);
        shrink.push(&[0, 0, 0, 255]);
        assert!(shrink.finish().is_none());
    }

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
