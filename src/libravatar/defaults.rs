//! The pictures Folio draws for an address without one of its own (`d=`), from the request
//! alone: the same hash and size always give the same bytes, and nothing in them depends on
//! whether the address is a member's.

use anyhow::Context;

use super::request::Drawn;

/// Its media type.
pub fn content_type(kind: Drawn) -> &'static str {
    match kind {
        Drawn::Blank => "image/png",
        _ => "image/jpeg",
    }
}

/// `kind` at `side`×`side` pixels, drawn from `hash` (the digest's bytes; empty for a hash
/// that was not one). A JPEG, but for `Blank`: a transparent PNG, as Gravatar answers, so that
/// "blank" shows the page behind it whatever its colour (a JPEG has no transparency).
pub fn draw(kind: Drawn, side: u32, hash: &[u8]) -> anyhow::Result<Vec<u8>> {
    let rgb = match kind {
        Drawn::Blank => return blank_png(side),
        Drawn::Silhouette => silhouette(side),
        Drawn::Identicon => identicon(side, hash),
        Drawn::Retro => retro(side, hash),
    };
    crate::avatar::encode(&rgb, side)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("encoding a default picture")
}

type Rgb = [u8; 3];

/// A `side`² RGB picture, each pixel from `colour(x, y)`.
fn paint(side: u32, colour: impl Fn(u32, u32) -> Rgb) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((side * side * 3) as usize);
    for y in 0..side {
        for x in 0..side {
            rgb.extend_from_slice(&colour(x, y));
        }
    }
    rgb
}

/// Which of `cells` cells each of `side` pixels falls in, with a margin of half a cell on
/// each side (`None`); the right half is the left one mirrored, so a mirrored grid is exactly
/// symmetric at every size.
fn axis(side: u32, cells: u32) -> Vec<Option<u32>> {
    // In half cells: the margin, the cells, the margin.
    let halves = 2 * cells + 2;
    let cell = |x: u32| {
        let half = (u64::from(2 * x + 1) * u64::from(halves)) / u64::from(2 * side);
        let half = u32::try_from(half).unwrap_or(u32::MAX);
        (1..=2 * cells).contains(&half).then(|| (half - 1) / 2)
    };
    (0..side)
        .map(|x| {
            let mirror = side - 1 - x;
            if x <= mirror {
                cell(x)
            } else {
                cell(mirror).map(|c| cells - 1 - c)
            }
        })
        .collect()
}

/// The `i`th byte of the hash, going round; 0 for no hash.
fn byte(hash: &[u8], i: usize) -> u8 {
    if hash.is_empty() {
        0
    } else {
        hash[i % hash.len()]
    }
}

fn hsl(hue: f64, saturation: f64, lightness: f64) -> Rgb {
    let (r, g, b) = crate::routes::hsl_to_rgb(hue, saturation, lightness);
    [r, g, b]
}

/// A hue from two bytes of the hash.
fn hue(hash: &[u8], at: usize) -> f64 {
    f64::from(u16::from_be_bytes([byte(hash, at), byte(hash, at + 1)])) * 360.0 / 65536.0
}

const LIGHT_GREY: Rgb = [240, 240, 240];

/// GitHub's kind: 5×5 cells, the left three columns from the hash's first fifteen hex digits
/// (an even digit fills its cell), the right two mirrored, in one colour from its last bytes.
fn identicon(side: u32, hash: &[u8]) -> Vec<u8> {
    let n = hash.len().max(4);
    let colour = hsl(
        hue(hash, n - 2),
        0.45 + 0.2 * f64::from(byte(hash, n - 3)) / 255.0,
        0.45 + 0.15 * f64::from(byte(hash, n - 4)) / 255.0,
    );
    let filled = |col: u32, row: u32| {
        let col = col.min(4 - col);
        let digit = (col * 5 + row) as usize;
        let nibble = (byte(hash, digit / 2) >> if digit.is_multiple_of(2) { 4 } else { 0 }) & 0xf;
        nibble.is_multiple_of(2)
    };
    let cells = axis(side, 5);
    paint(side, |x, y| match (cells[x as usize], cells[y as usize]) {
        (Some(col), Some(row)) if filled(col, row) => colour,
        _ => LIGHT_GREY,
    })
}

/// An 8-bit arcade face: 8×8 cells, mirrored, a body shape from the hash's first four bytes
/// around a fixed face (two dark eyes, a mouth of one of two widths), in a colour from its
/// last bytes on a pale tint of it.
fn retro(side: u32, hash: &[u8]) -> Vec<u8> {
    let n = hash.len().max(2);
    let hue = hue(hash, n - 2);
    let (background, body, dark) = (hsl(hue, 0.35, 0.92), hsl(hue, 0.55, 0.48), [40, 40, 48]);
    let wide_mouth = byte(hash, 4) & 1 == 1;
    // 0: background, 1: body, 2: dark; `col` in the left half (0–3).
    let cell = |col: u32, row: u32| -> u8 {
        match (row, col) {
            (3, 2) => 2,
            (5, 2) if wide_mouth => 2,
            (5, 3) => 2,
            (2..=5, 1..=3) => 1,
            _ => {
                let bit = row * 4 + col;
                (byte(hash, (bit / 8) as usize) >> (bit % 8)) & 1
            }
        }
    };
    let cells = axis(side, 8);
    paint(side, |x, y| match (cells[x as usize], cells[y as usize]) {
        (Some(col), Some(row)) => match cell(col.min(7 - col), row) {
            1 => body,
            2 => dark,
            _ => background,
        },
        _ => background,
    })
}

/// A neutral figure, a head and shoulders in mid grey on light grey, edges smoothed.
fn silhouette(side: u32) -> Vec<u8> {
    const BACKGROUND: Rgb = [217, 217, 217];
    const FIGURE: Rgb = [158, 158, 158];
    let s = f64::from(side);
    // How much of a pixel lies inside a shape whose edge is `distance` pixels away
    // (negative: inside).
    let cover = |distance: f64| (0.5 - distance).clamp(0.0, 1.0);
    paint(side, |x, y| {
        // From the middle, in whole half pixels: the same for a pixel and its mirror.
        let dx = f64::from((2 * x + 1).abs_diff(side)) / (2.0 * s);
        let py = (f64::from(y) + 0.5) / s;
        let head = (dx.hypot(py - 0.39) - 0.19) * s;
        // The shoulders: an ellipse whose top shows below the head.
        let (a, b) = (0.36, 0.30);
        let shoulders = ((dx / a).hypot((py - 1.0) / b) - 1.0) * a.min(b) * s;
        let inside = cover(head).max(cover(shoulders));
        let mix = |bg: u8, fg: u8| {
            (f64::from(bg) + (f64::from(fg) - f64::from(bg)) * inside).round() as u8
        };
        [
            mix(BACKGROUND[0], FIGURE[0]),
            mix(BACKGROUND[1], FIGURE[1]),
            mix(BACKGROUND[2], FIGURE[2]),
        ]
    })
}

/// A fully transparent `side`² PNG: grey and alpha, all zero.
fn blank_png(side: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::GrayscaleAlpha);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("a PNG header")?;
    writer
        .write_image_data(&vec![0; (side * side * 2) as usize])
        .context("a PNG's pixels")?;
    writer.finish().context("a PNG's end")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(rgb: &[u8], side: u32, x: u32, y: u32) -> Rgb {
        let i = ((y * side + x) * 3) as usize;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    }

    fn mirrored(rgb: &[u8], side: u32) -> bool {
        (0..side)
            .all(|y| (0..side).all(|x| pixel(rgb, side, x, y) == pixel(rgb, side, side - 1 - x, y)))
    }

    const A: [u8; 16] = [
        0x0b, 0xc8, 0x3c, 0xb5, 0x71, 0xcd, 0x1c, 0x50, 0xba, 0x6f, 0x3e, 0x8a, 0x78, 0xef, 0x13,
        0x46,
    ];
    const B: [u8; 16] = [
        0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42,
        0x7e,
    ];

    #[test]
    fn the_grid_covers_every_pixel_once_and_is_symmetric() {
        for side in [1, 2, 3, 5, 6, 7, 11, 12, 80, 81, 512] {
            let cells = axis(side, 5);
            assert_eq!(cells.len(), side as usize);
            for x in 0..side as usize {
                let mirror = cells[side as usize - 1 - x].map(|c| 4 - c);
                assert_eq!(cells[x], mirror, "side {side}, x {x}");
            }
        }
        let cells = axis(12, 5);
        assert_eq!(cells[0], None, "a margin of half a cell");
        assert_eq!(cells[1], Some(0));
        assert_eq!(cells[11], None);
        assert_eq!(axis(1, 5), vec![Some(2)], "one pixel: the middle cell");
    }

    #[test]
    fn identicons_and_retro_faces_are_mirrored_and_differ_by_hash() {
        for side in [1, 7, 80, 97] {
            for draw in [identicon, retro] {
                let (a, b) = (draw(side, &A), draw(side, &B));
                assert!(mirrored(&a, side) && mirrored(&b, side), "side {side}");
                if side >= 7 {
                    assert_ne!(a, b, "side {side}");
                }
                assert_eq!(a, draw(side, &A), "the same every time");
            }
            assert_ne!(identicon(side.max(7), &A), retro(side.max(7), &A));
        }
        // Sixteen zero bytes: every digit even, every cell filled.
        let full = identicon(60, &[0; 16]);
        assert_ne!(pixel(&full, 60, 30, 30), LIGHT_GREY);
        assert_eq!(pixel(&full, 60, 0, 0), LIGHT_GREY, "the margin");
    }

    #[test]
    fn the_silhouette_is_a_grey_head_and_shoulders_on_light_grey() {
        let side = 100;
        let rgb = silhouette(side);
        assert!(mirrored(&rgb, side));
        assert_eq!(pixel(&rgb, side, 50, 39), [158, 158, 158], "the head");
        assert_eq!(pixel(&rgb, side, 50, 97), [158, 158, 158], "the shoulders");
        assert_eq!(pixel(&rgb, side, 3, 3), [217, 217, 217], "the background");
        assert_eq!(pixel(&rgb, side, 50, 64), [217, 217, 217], "the neck's gap");
        assert!(
            rgb.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]),
            "grey"
        );
    }

    #[test]
    fn every_kind_encodes_at_every_side() {
        for kind in [
            Drawn::Silhouette,
            Drawn::Identicon,
            Drawn::Retro,
            Drawn::Blank,
        ] {
            for side in [1, 80, 512] {
                let bytes = draw(kind, side, &A).expect("drawn");
                let magic: &[u8] = if kind == Drawn::Blank {
                    b"\x89PNG"
                } else {
                    b"\xff\xd8\xff"
                };
                assert!(bytes.starts_with(magic), "{kind:?} {side}");
            }
        }
        assert!(!draw(Drawn::Identicon, 80, &[]).expect("drawn").is_empty());
    }
}
