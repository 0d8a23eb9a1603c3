//! HEIC/HEIF decoding (iPhone photos) with `heic-decoder`: pure Rust without `unsafe`, HEVC
//! Main and Main 10, grids of tiles, the alpha item, `clap`/`irot`/`imir` (applied by the
//! decoder, so the pixels come back upright), the first frame of a sequence; YCbCr → RGB with
//! the file's matrix and range.
//!
//! Before any pixel is decoded, the picture's size (`heic_decoder::probe`) is checked against
//! the limits, and so is every coded picture the decoder would hold: each grid tile's and the
//! alpha item's, from their HEVC parameter sets (a grid of small size can name huge tiles, or
//! the same 12 MP tile sixteen times). The decoder is young and
//! allocates outside any limit Folio can hand it (about 14 bytes a pixel: 163 MB for 12 MP),
//! so it runs only in a child process (`avatar/isolated.rs`) with a ceiling on its address
//! space, one at a time: a bomb or a bug costs that child, never the server.

use crate::avatar::shrink::{BoxShrink, shrink_factor};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};
use image::metadata::Orientation;

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let info = heic_decoder::probe(bytes).map_err(rejection)?;
    let size = |w: usize, h: usize| Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?));
    let (width, height) = size(info.width, info.height).ok_or(Rejection::TooManyPixels)?;
    let coded = size(info.coded_width, info.coded_height).ok_or(Rejection::TooManyPixels)?;
    check_dimensions(width, height, limits)?;
    check_dimensions(coded.0, coded.1, limits)?;
    check_coded_pictures(bytes, limits)?;

    let picture = heic_decoder::decode(bytes).map_err(rejection)?;
    if (picture.width, picture.height) != (info.width, info.height) {
        return Err(Rejection::Corrupt);
    }
    let (data, channels, premultiplied) = match &picture.alpha {
        Some(_) => {
            let rgba = picture.to_rgba8().map_err(rejection)?;
            (rgba.data, 4, rgba.premultiplied)
        }
        None => (picture.to_rgb8().map_err(rejection)?.data, 3, false),
    };
    drop(picture);
    let row = info.width * channels;
    if data.len() != row * info.height {
        return Err(Rejection::Corrupt);
    }
    // Shrunk here, in the child, so only what the resize needs crosses the pipe.
    let mut shrink = BoxShrink::new(
        width,
        height,
        shrink_factor(width, height, target.min_short(width, height)),
    );
    let mut rgba = vec![255; info.width * 4];
    for line in data.chunks_exact(row) {
        if channels == 4 {
            rgba.copy_from_slice(line);
            if premultiplied {
                unpremultiply(&mut rgba);
            }
        } else {
            for (out, rgb) in rgba.chunks_exact_mut(4).zip(line.chunks_exact(3)) {
                out[..3].copy_from_slice(rgb);
            }
        }
        shrink.push(&rgba);
    }
    let (rgb, out_width, out_height) = shrink.finish().ok_or(Rejection::Corrupt)?;
    Ok(Decoded {
        source: (width, height),
        pixels: Pixels::Rgb(rgb),
        width: out_width,
        height: out_height,
        // `irot` and `imir` are already applied; HEIF's EXIF orientation is informative only.
        orientation: Orientation::NoTransforms,
        coverage: Coverage::Whole,
    })
}

/// Grid tiles are coded in whole units (iPhones: 512×512), so their total may pass the
/// picture's own size by up to this fraction (a 48 MP iPhone photo codes 50.3 MP of tiles).
const TILE_PADDING: f64 = 0.25;

/// Every picture the decoder would decode and hold (the tiles, or the one image; the alpha
/// item's likewise), by its sequence parameter set: within the pixel limit and its padding.
fn check_coded_pictures(bytes: &[u8], limits: &Limits) -> Result<(), Rejection> {
    use heic_decoder::bitreader::strip_emulation_prevention;
    use heic_decoder::hevc::{nal, params};

    let parsed = heic_decoder::isobmff::parse(bytes).map_err(rejection)?;
    let budget = limits.max_pixels as f64 * (1.0 + TILE_PADDING);
    let alpha = parsed.alpha.as_ref().map(|alpha| &alpha.image.images);
    for images in std::iter::once(&parsed.images).chain(alpha) {
        let mut pixels = 0u64;
        for image in images {
            let sps = image
                .hevc_config
                .nalus_of_type(nal::NAL_SPS)
                .find_map(|unit| {
                    let (header, payload) = nal::parse_nal_header(unit).ok()?;
                    (header.nuh_layer_id == 0).then_some(payload)
                })
                .ok_or(Rejection::Corrupt)?;
            let sps = params::parse_sps(&strip_emulation_prevention(sps)).map_err(rejection)?;
            let (width, height) = (
                sps.pic_width_in_luma_samples,
                sps.pic_height_in_luma_samples,
            );
            if width > limits.max_side || height > limits.max_side {
                return Err(Rejection::TooManyPixels);
            }
            pixels = pixels.saturating_add(u64::from(width) * u64::from(height));
        }
        if pixels as f64 > budget {
            return Err(Rejection::TooManyPixels);
        }
    }
    Ok(())
}

/// Colour divided by opacity, for a file whose alpha item is linked with `prem`.
fn unpremultiply(rgba: &mut [u8]) {
    for pixel in rgba.chunks_exact_mut(4) {
        let alpha = u32::from(pixel[3]);
        if alpha > 0 && alpha < 255 {
            for c in &mut pixel[..3] {
                *c = (u32::from(*c) * 255 / alpha).min(255) as u8;
            }
        }
    }
}

fn rejection(error: heic_decoder::HeifError) -> Rejection {
    match error {
        heic_decoder::HeifError::LimitExceeded(_) => Rejection::TooManyPixels,
        _ => Rejection::Corrupt,
    }
}

#[cfg(test)]
mod tests {
    //! The fixtures are made by `tests/fixtures/make_heic.py` (heif-enc, x265); each upright
    //! picture is 128×96, [[red, green], [blue, yellow]]. The decoder is safe Rust, so the
    //! tests call it in this process; the server only ever runs it in a child.

    use proptest::prelude::*;

    use super::*;
    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::{assert_quadrants_of, unshrunk};

    const EIGHT_BIT: &[u8] = include_bytes!("../../../tests/fixtures/heic-8bit-420.heic");
    const TEN_BIT: &[u8] = include_bytes!("../../../tests/fixtures/heic-10bit-420.heic");
    const ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/heic-alpha.heic");
    const IROT: &[u8] = include_bytes!("../../../tests/fixtures/heic-irot90.heic");
    /// 128×128 from four 64×64 tiles, one a quadrant (`make_heic.py`), as iPhones store
    /// their photos in 512×512 tiles.
    const GRID: &[u8] = include_bytes!("../../../tests/fixtures/heic-grid-2x2.heic");
    const HUGE: &[u8] = include_bytes!("../../../tests/fixtures/heic-sps-100000x100000.heic");
    const WIDE: &[u8] = include_bytes!("../../../tests/fixtures/heic-sps-20000x16.heic");

    fn picture(bytes: &[u8], what: &str) -> image::RgbImage {
        let decoded = decode(bytes, &Limits::default(), unshrunk())
            .unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
        assert_eq!(decoded.orientation, Orientation::NoTransforms, "{what}");
        assert_eq!(decoded.source, (decoded.width, decoded.height), "{what}");
        assert_eq!(decoded.width, 128, "{what}");
        let Pixels::Rgb(rgb) = decoded.pixels else {
            panic!("{what}: flattened onto white")
        };
        image::RgbImage::from_raw(decoded.width, decoded.height, rgb).expect("sized")
    }

    #[test]
    fn eight_and_ten_bit_pictures_keep_their_colours_in_place() {
        assert_quadrants_of(&picture(EIGHT_BIT, "8-bit"), UPRIGHT, "8-bit");
        assert_quadrants_of(&picture(TEN_BIT, "10-bit"), UPRIGHT, "10-bit");
    }

    #[test]
    fn grid_tiles_land_where_the_grid_says() {
        let grid = picture(GRID, "grid");
        assert_eq!(grid.dimensions(), (128, 128));
        assert_quadrants_of(&grid, UPRIGHT, "grid");
    }

    #[test]
    fn irot_stands_the_picture_upright() {
        // Stored 96×128, turned clockwise; irot 1 turns it back.
        assert_quadrants_of(&picture(IROT, "irot"), UPRIGHT, "irot");
    }

    #[test]
    fn the_alpha_item_makes_transparent_pixels_white() {
        assert_quadrants_of(
            &picture(ALPHA, "alpha"),
            [[WHITE, GREEN], [BLUE, YELLOW]],
            "alpha",
        );
    }

    #[test]
    fn a_parameter_set_claiming_a_huge_picture_is_refused_before_decoding() {
        for (bytes, what) in [(HUGE, "100000×100000"), (WIDE, "20000×16")] {
            assert_eq!(
                decode(bytes, &Limits::default(), unshrunk()).err(),
                Some(Rejection::TooManyPixels),
                "{what}"
            );
        }
        let small = Limits {
            max_pixels: 128 * 96 - 1,
            ..Limits::default()
        };
        assert_eq!(
            decode(EIGHT_BIT, &small, unshrunk()).err(),
            Some(Rejection::TooManyPixels)
        );
        let exact = Limits {
            max_pixels: 128 * 96,
            max_side: 128,
            ..Limits::default()
        };
        assert!(decode(EIGHT_BIT, &exact, unshrunk()).is_ok());
    }

    #[test]
    fn tiles_larger_than_their_grid_count_against_the_limit() {
        // The grid descriptor is the file's last 8 bytes: say 64×64 output, so the four 64×64
        // tiles (16,384 coded pixels) make a picture of 4,096.
        let mut cropped = GRID.to_vec();
        let at = cropped.len() - 4;
        cropped[at..].copy_from_slice(&[0, 64, 0, 64]);
        let output_only = Limits {
            max_pixels: 64 * 64,
            ..Limits::default()
        };
        assert_eq!(
            decode(&cropped, &output_only, unshrunk()).err(),
            Some(Rejection::TooManyPixels)
        );
        let tiles_too = Limits {
            max_pixels: 128 * 128,
            ..Limits::default()
        };
        let decoded = decode(&cropped, &tiles_too, unshrunk()).expect("within the limits");
        assert_eq!((decoded.width, decoded.height), (64, 64));
    }

    #[test]
    fn a_large_picture_is_shrunk_before_it_leaves_the_decoder() {
        let keep = Shrink {
            keep: 20,
            square: None,
        };
        let decoded = decode(EIGHT_BIT, &Limits::default(), keep).expect("decoded");
        assert_eq!(decoded.source, (128, 96));
        assert!(
            decoded.width < 128 && decoded.height < 96,
            "{}×{}",
            decoded.width,
            decoded.height
        );
    }

    #[test]
    fn truncated_files_are_refused_at_every_length() {
        for fixture in [EIGHT_BIT, TEN_BIT, ALPHA, IROT, GRID] {
            for keep in 0..fixture.len() {
                let result = decode(&fixture[..keep], &Limits::default(), unshrunk());
                assert!(
                    matches!(result.as_ref().err(), Some(Rejection::Corrupt)),
                    "{keep} of {} bytes: {:?}",
                    fixture.len(),
                    result.err()
                );
            }
        }
    }

    #[test]
    fn premultiplied_colour_is_divided_by_its_opacity() {
        let mut pixels = [100, 50, 0, 128, 9, 9, 9, 0, 200, 100, 50, 255];
        unpremultiply(&mut pixels);
        assert_eq!(pixels, [199, 99, 0, 128, 9, 9, 9, 0, 200, 100, 50, 255]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_after_the_magic_are_refused_or_read(
            rest in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut bytes = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
            bytes.extend_from_slice(&rest);
            if let Err(rejection) = decode(&bytes, &Limits::default(), unshrunk()) {
                prop_assert!(matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels));
            }
        }

        #[test]
        fn a_damaged_file_is_refused_or_read(
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            fixture in prop::sample::select(vec![EIGHT_BIT, TEN_BIT, ALPHA, IROT, GRID]),
        ) {
            let mut bytes = fixture.to_vec();
            let at = at.index(bytes.len());
            bytes[at] = value;
            // A panic would fail the test; the pipeline also catches them, in the child.
            if let Ok(decoded) = decode(&bytes, &Limits::default(), unshrunk()) {
                prop_assert!(decoded.width > 0 && decoded.height > 0);
            }
        }
    }
}
