//! JPEG XL decoding with `jxl-oxide` (pure Rust, one thread): the image header is read from
//! the first bytes alone and its size checked before any frame is parsed, then every
//! allocation of the decoder is charged to an `AllocTracker` holding `max_alloc`. The first
//! frame is rendered with the codestream's orientation already applied (so the pipeline gets
//! `NoTransforms`), in bands of rows that are streamed into a `BoxShrink`: jxl-oxide keeps
//! float buffers of what it renders, and a whole 12 MP frame needs more than 256 MB of them,
//! a band of 512 rows a fraction (the 12 MP photo fits in 128 MB).

use image::metadata::Orientation;
use jxl_oxide::{AllocTracker, CropInfo, InitializeResult, JxlImage, PixelFormat};

use crate::avatar::shrink::{BoxShrink, shrink_factor};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};

/// How much of the file is given to the header parser at first: the parser reads the frames
/// in whatever it was given once the header is complete, so it is given little at first (a
/// header without an ICC profile is a few dozen bytes). Each retry parses from the start, so
/// what is given doubles each time: the parsing done over all retries stays within twice the
/// file, not its square.
const FIRST_STEP: usize = 32;

/// Rows rendered at a time.
const STRIP: u32 = 512;

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    let budget = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    let mut uninit = JxlImage::builder()
        .alloc_tracker(AllocTracker::with_limit(budget))
        .build_uninit();
    // The header, a step at a time: a header claiming a huge picture is refused before the
    // rest of the file is looked at.
    let (mut read, mut step) = (0, FIRST_STEP);
    let mut image = loop {
        let end = (read + step).min(bytes.len());
        step = step.saturating_mul(2);
        read += uninit.feed_bytes(&bytes[read..end]).map_err(rejection)?;
        match uninit.try_init().map_err(rejection)? {
            InitializeResult::Initialized(image) => break image,
            InitializeResult::NeedMoreData(more) if end < bytes.len() => uninit = more,
            InitializeResult::NeedMoreData(_) => return Err(Rejection::Corrupt),
        }
    };
    let size = &image.image_header().size;
    check_dimensions(size.width, size.height, limits)?;

    while read < bytes.len() {
        let fed = image.feed_bytes(&bytes[read..]).map_err(rejection)?;
        if fed == 0 {
            break;
        }
        read += fed;
    }
    image.finalize().map_err(rejection)?;
    if image.num_loaded_keyframes() == 0 {
        return Err(Rejection::Corrupt);
    }

    let format = image.pixel_format();
    if format.has_black() {
        return Err(Rejection::Unsupported("CMYK JPEG XL"));
    }
    let premultiplied = image
        .image_header()
        .metadata
        .ec_info
        .iter()
        .any(|channel| channel.alpha_associated() == Some(true));
    // Width and height with the orientation applied, as the rendered pixels are.
    let (width, height) = (image.width(), image.height());
    check_dimensions(width, height, limits)?;
    let channels = match format {
        PixelFormat::Gray => 1,
        PixelFormat::Graya => 2,
        PixelFormat::Rgb => 3,
        _ => 4,
    };

    let mut shrink = BoxShrink::new(
        width,
        height,
        shrink_factor(width, height, target.min_short(width, height)),
    );
    let mut row = vec![0u8; width as usize * channels];
    let mut rgba = vec![0u8; width as usize * 4];
    // A band of rows at a time: jxl-oxide renders only the groups a region needs, so a
    // band costs its share of the picture's float buffers, not the whole of them.
    let mut top = 0;
    while top < height {
        let rows = STRIP.min(height - top);
        image.set_image_region(CropInfo {
            width,
            height: rows,
            left: 0,
            top,
        });
        let render = image.render_frame(0).map_err(rejection)?;
        let mut stream = render.stream();
        if (stream.width(), stream.height()) != (width, rows)
            || stream.channels() as usize != channels
        {
            return Err(Rejection::Corrupt);
        }
        for _ in 0..rows {
            if stream.write_to_buffer(&mut row) != row.len() {
                return Err(Rejection::Corrupt);
            }
            to_rgba(&row, channels, premultiplied, &mut rgba);
            shrink.push(&rgba);
        }
        top += rows;
    }
    let (rgb, out_width, out_height) = shrink.finish().ok_or(Rejection::Corrupt)?;
    Ok(Decoded {
        source: (width, height),
        pixels: Pixels::Rgb(rgb),
        width: out_width,
        height: out_height,
        orientation: Orientation::NoTransforms,
        coverage: Coverage::Whole,
    })
}

type JxlError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn rejection(e: JxlError) -> Rejection {
    // Running out of the tracker's budget surfaces as "failed to allocate N byte(s)", wrapped
    // in the error of whichever stage ran out; nothing else says "allocate".
    if format!("{e:?}").contains("OutOfMemory") || e.to_string().contains("allocate") {
        Rejection::TooManyPixels
    } else {
        Rejection::Corrupt
    }
}

/// A rendered row of 1 to 4 channels as straight-alpha RGBA.
fn to_rgba(row: &[u8], channels: usize, premultiplied: bool, rgba: &mut [u8]) {
    for (pixel, out) in row.chunks_exact(channels).zip(rgba.chunks_exact_mut(4)) {
        let (colour, alpha) = match *pixel {
            [l] => ([l, l, l], 255),
            [l, a] => ([l, l, l], a),
            [r, g, b] => ([r, g, b], 255),
            [r, g, b, a, ..] => ([r, g, b], a),
            [] => ([0, 0, 0], 255),
        };
        let colour = if premultiplied && alpha > 0 && alpha < 255 {
            colour.map(|c| (u32::from(c) * 255 / u32::from(alpha)).min(255) as u8)
        } else {
            colour
        };
        out.copy_from_slice(&[colour[0], colour[1], colour[2], alpha]);
    }
}

#[cfg(test)]
mod tests {
    //! The fixtures are made by `tests/fixtures/make_fixtures.sh` (cjxl); each upright picture
    //! is [[red, green], [blue, yellow]].

    use super::*;
    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::unshrunk;
    use crate::avatar::process;
    use proptest::prelude::*;

    const QUADRANTS: &[u8] = include_bytes!("../../../tests/fixtures/jxl-quadrants.jxl");
    const ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/jxl-alpha.jxl");
    const ORIENTED: &[u8] = include_bytes!("../../../tests/fixtures/jxl-orientation6.jxl");
    const TALL: &[u8] = include_bytes!("../../../tests/fixtures/jxl-tall.jxl");

    fn stored(bytes: &[u8], what: &str) -> DecodedJpeg {
        let out = process(bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
        let decoded = decode_output(&out);
        assert_eq!((decoded.width, decoded.height), (300, 300), "{what}");
        decoded
    }

    #[test]
    fn a_picture_keeps_its_colours_in_place() {
        assert_quadrants(&stored(QUADRANTS, "plain"), UPRIGHT, "plain");
    }

    #[test]
    fn transparent_pixels_become_white() {
        assert_quadrants(
            &stored(ALPHA, "alpha"),
            [[WHITE, GREEN], [BLUE, YELLOW]],
            "transparent top left",
        );
    }

    #[test]
    fn the_codestream_orientation_is_applied() {
        // Stored 48×64, turned a quarter clockwise (orientation 6) when shown.
        let decoded = decode(ORIENTED, &Limits::default(), unshrunk()).expect("decodes");
        assert_eq!((decoded.width, decoded.height), (64, 48), "upright size");
        assert_eq!(decoded.source, (64, 48));
        assert_eq!(decoded.orientation, Orientation::NoTransforms);
        assert_quadrants(&stored(ORIENTED, "orientation 6"), UPRIGHT, "orientation 6");
    }

    #[test]
    fn bands_of_rows_render_exactly_the_whole_frame() {
        // 1100 rows: three bands, the last short.
        let decoded = decode(TALL, &Limits::default(), unshrunk()).expect("decodes");
        let Pixels::Rgb(ours) = decoded.pixels else {
            panic!("flattened to RGB")
        };
        let image = JxlImage::builder().read(TALL).expect("reads");
        let mut whole = vec![0u8; ours.len()];
        let written = image
            .render_frame(0)
            .expect("renders")
            .stream()
            .write_to_buffer(&mut whole);
        assert_eq!((decoded.width, decoded.height), (600, 1100));
        assert_eq!(written, whole.len());
        assert!(
            ours == whole,
            "the bands match the whole frame byte for byte"
        );
        assert_quadrants(&stored(TALL, "tall"), UPRIGHT, "tall");
    }

    /// Bits, least significant first, as JPEG XL writes them.
    struct Bits(Vec<u8>, usize);

    impl Bits {
        fn put(&mut self, value: u64, count: usize) {
            for i in 0..count {
                if self.1.is_multiple_of(8) {
                    self.0.push(0);
                }
                let bit = ((value >> i) & 1) as u8;
                *self.0.last_mut().expect("a byte") |= bit << (self.1 % 8);
                self.1 += 1;
            }
        }
    }

    /// A bare codestream whose header claims `width`×`height` and nothing after it.
    fn header_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut bits = Bits(vec![0xFF, 0x0A], 16);
        bits.put(0, 1); // not "small"
        bits.put(3, 2); // height: 1 + u(30)
        bits.put(u64::from(height - 1), 30);
        bits.put(0, 3); // no ratio: the width follows
        bits.put(3, 2);
        bits.put(u64::from(width - 1), 30);
        bits.put(1, 1); // all_default metadata
        bits.put(1, 1); // all_default transform data
        bits.0
    }

    #[test]
    fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
        for (width, height) in [(16_384, 16_384), (100_000, 10), (10, 1 << 29), (1 << 30, 1)] {
            let claim = header_claiming(width, height);
            assert_eq!(
                decode(&claim, &Limits::default(), unshrunk()).err(),
                Some(Rejection::TooManyPixels),
                "{width}×{height}"
            );
            assert_eq!(
                process(&claim, &Limits::default()),
                Err(Rejection::TooManyPixels)
            );
        }
        // The same header at a size within the limits is read, and found to have no frame.
        assert_eq!(
            process(&header_claiming(64, 48), &Limits::default()),
            Err(Rejection::Corrupt)
        );
    }

    #[test]
    fn the_limits_given_are_the_limits_applied() {
        let small = Limits {
            max_pixels: 3_000,
            ..Limits::default()
        };
        assert_eq!(process(QUADRANTS, &small), Err(Rejection::TooManyPixels));
        let exact = Limits {
            max_pixels: 64 * 48,
            max_side: 64,
            ..Limits::default()
        };
        assert!(
            process(QUADRANTS, &exact).is_ok(),
            "the limits are inclusive"
        );
        // The decoder's own allocations are held to `max_alloc`.
        let starved = Limits {
            max_alloc: 4096,
            ..Limits::default()
        };
        assert_eq!(process(QUADRANTS, &starved), Err(Rejection::TooManyPixels));
    }

    #[test]
    fn truncated_files_are_refused_at_every_length() {
        for fixture in [QUADRANTS, ALPHA, ORIENTED] {
            for keep in 0..fixture.len() {
                let result = decode(&fixture[..keep], &Limits::default(), unshrunk());
                assert!(
                    matches!(
                        result.as_ref().err(),
                        Some(Rejection::Corrupt | Rejection::TooManyPixels)
                    ),
                    "{keep} of {} bytes: {:?}",
                    fixture.len(),
                    result.err()
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_after_the_magic_are_refused_or_processed(
            magic in prop::sample::select(vec![
                &b"\xFF\x0A"[..],
                b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14ftypjxl \0\0\0\0jxl ",
            ]),
            rest in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let bytes = [magic, &rest[..]].concat();
            if let Err(rejection) = process(&bytes, &Limits::default()) {
                prop_assert!(matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels));
            }
        }

        #[test]
        fn damaged_files_are_refused_or_processed(
            fixture in prop::sample::select(vec![QUADRANTS, ALPHA, ORIENTED]),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..12),
        ) {
            let mut bytes = fixture.to_vec();
            for (at, mask) in flips {
                let i = 12 + at.index(bytes.len() - 12);
                bytes[i] ^= mask;
            }
            if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0cJXL ") {
                match process(&bytes, &Limits::default()) {
                    Ok(out) => prop_assert_eq!(decode_output(&out).width, 300),
                    Err(rejection) => prop_assert!(
                        matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels),
                        "{:?}", rejection
                    ),
                }
            }
        }
    }
}
