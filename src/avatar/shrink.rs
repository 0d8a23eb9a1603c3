//! Shrink-on-load for formats decoded row by row (PNG, GIF): each RGBA row is flattened onto
//! white as it arrives and, when the picture is at least three times `min_short` on its short
//! side, averaged k×k into a smaller picture, as a JPEG's DCT scaling does.

use super::types::flatten_into;

/// The largest whole k that keeps the short side at least 1.5 × `min_short` after a k×k
/// average. A box is a cruder first step than a JPEG's DCT scaling, so it keeps more: on the
/// benchmark PNG, averaging down to 667 px (k = 3) left the stored picture at 34.5 dB PSNR
/// against a full-size resize, 1000 px (k = 2) at 41.5 dB.
pub(super) fn shrink_factor(width: u32, height: u32, min_short: u32) -> u32 {
    (width.min(height) / min_short.saturating_add(min_short / 2)).max(1)
}

/// Collects RGBA rows into an RGB picture flattened onto white, averaging each k×k block.
/// Averaging premultiplied colour and alpha, then flattening, equals flattening each pixel
/// and then averaging: c̄ = (Σ c·a + 255·(255·n − Σ a)) / (255·n) over the n pixels of a block.
pub(super) struct BoxShrink {
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
    pub(super) fn new(width: u32, height: u32, factor: u32) -> Self {
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

    pub(super) fn push(&mut self, rgba: &[u8]) {
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
    pub(super) fn finish(mut self) -> Option<(Vec<u8>, u32, u32)> {
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
}
