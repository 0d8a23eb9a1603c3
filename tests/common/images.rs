//! Test pictures made in code, shared by the pipeline's unit tests
//! (`src/avatar/process/tests.rs`) and the HTTP tests (`tests/api/picture.rs`), plus helpers
//! to read back what Folio stored: decode a JPEG, sample or average its pixels, and list its
//! marker segments.
//!
//! Nothing here comes from a file on disk: every byte is built below, so each test states
//! exactly what it uploads. Containers that no available encoder writes (palette PNG, APNG,
//! animated WebP, EXIF blocks, bare headers) are assembled by hand, chunk by chunk.

#![allow(dead_code)]

use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::webp::WebPEncoder;
use image::{
    Delay, DynamicImage, ExtendedColorType, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage,
};

pub type Colour = [u8; 3];

pub const RED: Colour = [255, 0, 0];
pub const GREEN: Colour = [0, 255, 0];
pub const BLUE: Colour = [0, 0, 255];
pub const YELLOW: Colour = [255, 255, 0];
pub const CYAN: Colour = [0, 255, 255];
pub const MAGENTA: Colour = [255, 0, 255];
pub const WHITE: Colour = [255, 255, 255];
pub const BLACK: Colour = [0, 0, 0];
/// Half-transparent black composited onto white.
pub const MID_GREY: Colour = [128, 128, 128];

/// Four colours by quadrant, `[row][column]`: `[[top-left, top-right], [bottom-left,
/// bottom-right]]`.
pub type Quadrants = [[Colour; 2]; 2];

/// How every oriented test picture must look once stood upright. All four colours differ, so
/// each of the eight flips/rotations gives a different arrangement.
pub const UPRIGHT: Quadrants = [[RED, GREEN], [BLUE, YELLOW]];

/// The quadrant colour tolerance for a JPEG round trip (per channel, on a region's average).
pub const TOLERANCE: u8 = 30;

// ---------------------------------------------------------------------------------------
// Pixels
// ---------------------------------------------------------------------------------------

/// A `width`×`height` picture split into four colour quadrants at its centre.
pub fn quadrants(width: u32, height: u32, colours: Quadrants) -> RgbImage {
    // Rows are built once per half and copied: fast even in an unoptimised test build.
    let mut raw = Vec::with_capacity(width as usize * height as usize * 3);
    let row = |colours: [Colour; 2]| -> Vec<u8> {
        (0..width)
            .flat_map(|x| colours[usize::from(x >= width / 2)])
            .collect()
    };
    let (top, bottom) = (row(colours[0]), row(colours[1]));
    for y in 0..height {
        raw.extend_from_slice(if y < height / 2 { &top } else { &bottom });
    }
    RgbImage::from_raw(width, height, raw).expect("buffer matches the size")
}

/// A single-colour picture.
pub fn solid(width: u32, height: u32, colour: Colour) -> RgbImage {
    let raw = colour.repeat(width as usize * height as usize);
    RgbImage::from_raw(width, height, raw).expect("buffer matches the size")
}

pub fn solid_rgba(width: u32, height: u32, colour: [u8; 4]) -> RgbaImage {
    let raw = colour.repeat(width as usize * height as usize);
    RgbaImage::from_raw(width, height, raw).expect("buffer matches the size")
}

/// Deterministic noise, so a failing case can be replayed.
pub fn noise(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    RgbImage::from_fn(width, height, |_, _| {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        Rgb([v[0], v[1], v[2]])
    })
}

/// Where the stored pixel `(x, y)` of a `width`×`height` picture is displayed under EXIF
/// orientation `orientation` (TIFF 6.0 / EXIF 2.3 definitions: 1 as stored, 2 mirrored
/// left-right, 3 turned 180°, 4 mirrored top-bottom, 5 transposed, 6 turned 90° clockwise,
/// 7 transversed, 8 turned 90° anticlockwise). Anything else is displayed as stored.
pub fn displayed_position(orientation: u16, width: u32, height: u32, x: u32, y: u32) -> (u32, u32) {
    let (w, h) = (width - 1, height - 1);
    match orientation {
        2 => (w - x, y),
        3 => (w - x, h - y),
        4 => (x, h - y),
        // Stored row 0 is the left column, stored column 0 the top row.
        5 => (y, x),
        // Stored row 0 is the right column, stored column 0 the top row.
        6 => (h - y, x),
        // Stored row 0 is the right column, stored column 0 the bottom row.
        7 => (h - y, w - x),
        // Stored row 0 is the left column, stored column 0 the bottom row.
        8 => (y, w - x),
        _ => (x, y),
    }
}

/// The pixels a camera would store for `upright` with orientation tag `orientation`: showing
/// the result with that orientation applied gives back `upright`.
pub fn stored_for_orientation(upright: &RgbImage, orientation: u16) -> RgbImage {
    let (uw, uh) = upright.dimensions();
    let (sw, sh) = if (5..=8).contains(&orientation) {
        (uh, uw)
    } else {
        (uw, uh)
    };
    RgbImage::from_fn(sw, sh, |x, y| {
        let (dx, dy) = displayed_position(orientation, sw, sh, x, y);
        *upright.get_pixel(dx, dy)
    })
}

// ---------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------

/// A baseline JPEG of `image` at `quality` (jpeg-encoder, 4:2:0 below quality 90).
pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    jpeg_with(image, quality, |_| {})
}

/// A JPEG of `image`, letting `configure` set options or add APP segments first.
pub fn jpeg_with(
    image: &RgbImage,
    quality: u8,
    configure: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let (width, height) = dims16(image.width(), image.height());
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    configure(&mut encoder);
    encoder
        .encode(image.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encode the test JPEG");
    out
}

pub fn progressive_jpeg(image: &RgbImage) -> Vec<u8> {
    jpeg_with(image, 90, |e| e.set_progressive(true))
}

/// A greyscale (one component) JPEG.
pub fn grey_jpeg(width: u32, height: u32, level: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let raw: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| level(x, y))
        .collect();
    let (w, h) = dims16(width, height);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&raw, w, h, jpeg_encoder::ColorType::Luma)
        .expect("encode the grey JPEG");
    out
}

/// Ink amounts: 0 is no ink, 255 full ink.
pub type Cmyk = [u8; 4];
pub const INK_CYAN: Cmyk = [255, 0, 0, 0];
pub const INK_MAGENTA: Cmyk = [0, 255, 0, 0];
pub const INK_YELLOW: Cmyk = [0, 0, 255, 0];
pub const NO_INK: Cmyk = [0, 0, 0, 0];

/// A four-component JPEG, quadrants of `inks`, stored as Adobe CMYK (`ycck == false`) or as
/// Adobe YCCK (`ycck == true`); both carry the Adobe APP14 marker saying which.
pub fn cmyk_jpeg(width: u32, height: u32, inks: [[Cmyk; 2]; 2], ycck: bool) -> Vec<u8> {
    let mut raw = Vec::with_capacity(width as usize * height as usize * 4);
    for y in 0..height {
        for x in 0..width {
            raw.extend_from_slice(&inks[usize::from(y >= height / 2)][usize::from(x >= width / 2)]);
        }
    }
    let colour = if ycck {
        jpeg_encoder::ColorType::CmykAsYcck
    } else {
        jpeg_encoder::ColorType::Cmyk
    };
    let (w, h) = dims16(width, height);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&raw, w, h, colour)
        .expect("encode the CMYK JPEG");
    out
}

/// The EXIF (TIFF) block to put in a picture.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exif {
    pub orientation: Option<u16>,
    /// Adds a GPS IFD with `GPS_LATITUDE`/`GPS_LONGITUDE`.
    pub gps: bool,
    /// "MM" (Motorola) byte order instead of "II" (Intel).
    pub big_endian: bool,
}

/// Degrees, minutes, seconds as rationals (numerator, denominator).
pub const GPS_LATITUDE: [(u32, u32); 3] = [(48, 1), (51, 1), (2412, 100)];
pub const GPS_LONGITUDE: [(u32, u32); 3] = [(2, 1), (17, 1), (4018, 100)];

fn put_u16(out: &mut Vec<u8>, v: u16, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put_u32(out: &mut Vec<u8>, v: u32, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

/// The stored bytes of a three-rational GPS coordinate, to look for in an output.
pub fn rational_bytes(values: [(u32, u32); 3], big_endian: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, d) in values {
        put_u32(&mut out, n, big_endian);
        put_u32(&mut out, d, big_endian);
    }
    out
}

/// A TIFF structure as found after "Exif\0\0": header, IFD0 (Orientation SHORT, GPS pointer
/// LONG), and optionally a GPS IFD (version, N/E references, latitude/longitude rationals).
pub fn exif_tiff(exif: Exif) -> Vec<u8> {
    let be = exif.big_endian;
    let mut out = Vec::new();
    out.extend_from_slice(if be { b"MM\0*" } else { b"II*\0" });
    put_u32(&mut out, 8, be);

    let ifd0_entries = u16::from(exif.orientation.is_some()) + u16::from(exif.gps);
    let ifd0_len = 2 + 12 * u32::from(ifd0_entries) + 4;
    let gps_ifd = 8 + ifd0_len;
    let gps_len = 2 + 12 * 5 + 4;
    let latitude = gps_ifd + gps_len;
    let longitude = latitude + 24;

    // An entry: tag, type, count, then four bytes of value or offset.
    let entry = |out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        put_u16(out, tag, be);
        put_u16(out, kind, be);
        put_u32(out, count, be);
        out.extend_from_slice(&value);
    };
    let short = |v: u16| -> [u8; 4] {
        let b = if be { v.to_be_bytes() } else { v.to_le_bytes() };
        [b[0], b[1], 0, 0]
    };
    let long = |v: u32| -> [u8; 4] { if be { v.to_be_bytes() } else { v.to_le_bytes() } };
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const BYTE: u16 = 1;
    const ASCII: u16 = 2;
    const RATIONAL: u16 = 5;

    put_u16(&mut out, ifd0_entries, be);
    if let Some(orientation) = exif.orientation {
        entry(&mut out, 0x0112, SHORT, 1, short(orientation));
    }
    if exif.gps {
        entry(&mut out, 0x8825, LONG, 1, long(gps_ifd));
    }
    put_u32(&mut out, 0, be);

    if exif.gps {
        put_u16(&mut out, 5, be);
        entry(&mut out, 0x0000, BYTE, 4, [2, 3, 0, 0]);
        entry(&mut out, 0x0001, ASCII, 2, *b"N\0\0\0");
        entry(&mut out, 0x0002, RATIONAL, 3, long(latitude));
        entry(&mut out, 0x0003, ASCII, 2, *b"E\0\0\0");
        entry(&mut out, 0x0004, RATIONAL, 3, long(longitude));
        put_u32(&mut out, 0, be);
        out.extend_from_slice(&rational_bytes(GPS_LATITUDE, be));
        out.extend_from_slice(&rational_bytes(GPS_LONGITUDE, be));
    }
    out
}

/// An APP1 payload: "Exif\0\0" and the TIFF block.
pub fn exif_app1(exif: Exif) -> Vec<u8> {
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&exif_tiff(exif));
    payload
}

/// `upright` stored as a camera with orientation `orientation` would store it, as a JPEG with
/// an EXIF APP1 carrying that orientation.
pub fn oriented_jpeg_of(upright: &RgbImage, orientation: u16, big_endian: bool) -> Vec<u8> {
    let stored = stored_for_orientation(upright, orientation);
    jpeg_with(&stored, 92, |e| {
        e.add_app_segment(
            1,
            exif_app1(Exif {
                orientation: Some(orientation),
                gps: false,
                big_endian,
            }),
        )
        .expect("EXIF fits in a segment");
    })
}

/// The standard orientation test picture: a 600×400 `UPRIGHT` quadrant picture stored for
/// orientation `orientation` (so 400×600 pixels for 5-8) with the tag in an EXIF APP1.
pub fn oriented_jpeg(orientation: u16) -> Vec<u8> {
    oriented_jpeg_of(&quadrants(600, 400, UPRIGHT), orientation, false)
}

/// Words that the metadata of `jpeg_with_metadata` carries and no output may.
pub const XMP_SECRET: &str = "folio-xmp-secret-location";
pub const COMMENT_SECRET: &str = "folio-comment-secret";
pub const IPTC_SECRET: &str = "folio-iptc-secret-byline";
pub const ICC_SECRET: &str = "folio-icc-secret";

/// A camera-like JPEG of `image`: EXIF with orientation 1 and a GPS position, an XMP packet,
/// an ICC profile (APP2), an IPTC block (APP13) and a comment (COM).
pub fn jpeg_with_metadata(image: &RgbImage) -> Vec<u8> {
    let jpeg = jpeg_with(image, 90, |e| {
        e.add_app_segment(
            1,
            exif_app1(Exif {
                orientation: Some(1),
                gps: true,
                big_endian: false,
            }),
        )
        .expect("EXIF");
        let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
        xmp.extend_from_slice(
            format!(
                "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\
                 \"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description \
                 xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"48,51.402N\" \
                 exif:UserComment=\"{XMP_SECRET}\"/></rdf:RDF></x:xmpmeta>"
            )
            .as_bytes(),
        );
        e.add_app_segment(1, xmp).expect("XMP");
        e.add_icc_profile(format!("not a real profile {ICC_SECRET}").as_bytes())
            .expect("ICC");
        let mut iptc = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
        let record = [
            &[0x1C, 0x02, 0x50, 0x00, IPTC_SECRET.len() as u8][..],
            IPTC_SECRET.as_bytes(),
        ]
        .concat();
        iptc.extend_from_slice(&(record.len() as u32).to_be_bytes());
        iptc.extend_from_slice(&record);
        e.add_app_segment(13, iptc).expect("IPTC");
    });
    insert_segment(&jpeg, 0xFE, COMMENT_SECRET.as_bytes())
}

/// Inserts a marker segment after SOI and any APP0 (JFIF) segment.
pub fn insert_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    assert!(
        payload.len() <= 65533,
        "a segment holds at most 65533 bytes"
    );
    let mut at = 2;
    if jpeg[at..].starts_with(&[0xFF, 0xE0]) {
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    let mut out = jpeg[..at].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[at..]);
    out
}

/// `jpeg` grown to exactly `size` bytes with comment (COM) segments: still one valid JPEG.
pub fn pad_jpeg_with_comments(jpeg: &[u8], size: usize) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    // Each segment costs 4 bytes of marker and length besides its payload.
    while out.len() < size {
        let missing = size - out.len();
        let payload = if missing <= 65533 + 4 {
            missing.checked_sub(4).expect("at least 4 bytes to add")
        } else {
            // Leaves more than 4 bytes (an empty segment) for the next round.
            65529
        };
        out = insert_segment(&out, 0xFE, &vec![b'.'; payload]);
    }
    assert_eq!(out.len(), size, "padded exactly");
    out
}

/// `bytes` followed by zero bytes up to exactly `size` (after a JPEG's EOI: ignored).
pub fn pad_with_trailer(bytes: &[u8], size: usize) -> Vec<u8> {
    assert!(bytes.len() <= size, "already larger than {size}");
    let mut out = bytes.to_vec();
    out.resize(size, 0);
    out
}

/// SOI, a frame header (SOF0, 3 components) claiming `width`×`height`, and EOI: no tables, no
/// pixel data.
pub fn jpeg_header_only(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 17, 8];
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.push(3);
    for id in 1..=3 {
        out.extend_from_slice(&[id, 0x11, 0]);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A real, complete greyscale JPEG of 10000×6000 (60 megapixels, over the 50 MP cap) that is
/// small on disk because it is flat: a few hundred kilobytes.
pub fn over_cap_jpeg() -> Vec<u8> {
    let raw = vec![128u8; 10_000 * 6_000];
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 50)
        .encode(&raw, 10_000, 6_000, jpeg_encoder::ColorType::Luma)
        .expect("encode the large JPEG");
    out
}

/// A valid JPEG followed by an HTML document (a polyglot): the output must not carry it.
pub const APPENDED_HTML: &[u8] =
    b"<html><body><script>alert('folio-polyglot')</script></body></html>";

pub fn jpeg_then_html(image: &RgbImage) -> Vec<u8> {
    let mut out = jpeg(image, 90);
    out.extend_from_slice(APPENDED_HTML);
    out
}

/// JPEG magic bytes, then an HTML page: sniffed as JPEG, cannot be decoded.
pub fn jpeg_magic_then_html() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0];
    out.extend_from_slice(b"<!doctype html><html><script>alert(1)</script></html>");
    out
}

/// One JPEG marker segment: the marker byte (after 0xFF) and its payload (without the length
/// field). SOI, EOI and RSTn have no payload; the entropy-coded data after SOS is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub marker: u8,
    pub payload: Vec<u8>,
}

/// Every marker segment of `jpeg`, in order, from SOI to EOI.
pub fn jpeg_segments(jpeg: &[u8]) -> Vec<Segment> {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "starts with SOI");
    let mut segments = vec![Segment {
        marker: 0xD8,
        payload: Vec::new(),
    }];
    let mut at = 2;
    while at + 1 < jpeg.len() {
        assert_eq!(jpeg[at], 0xFF, "a marker at byte {at}");
        let marker = jpeg[at + 1];
        at += 2;
        if marker == 0xFF {
            // Fill byte.
            at -= 1;
            continue;
        }
        if marker == 0xD9 {
            segments.push(Segment {
                marker,
                payload: Vec::new(),
            });
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at], jpeg[at + 1]]));
        segments.push(Segment {
            marker,
            payload: jpeg[at + 2..at + len].to_vec(),
        });
        at += len;
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor
            // a restart marker.
            while at + 1 < jpeg.len() {
                if jpeg[at] == 0xFF
                    && jpeg[at + 1] != 0x00
                    && !(0xD0..=0xD7).contains(&jpeg[at + 1])
                {
                    break;
                }
                at += 1;
            }
        }
    }
    segments
}

/// The quantisation tables of a JPEG, by table id, as stored (zig-zag order).
pub fn quantisation_tables(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut tables = Vec::new();
    for segment in jpeg_segments(jpeg).into_iter().filter(|s| s.marker == 0xDB) {
        let mut p = &segment.payload[..];
        while !p.is_empty() {
            let (precision, id) = (p[0] >> 4, p[0] & 0x0F);
            let len = if precision == 0 { 64 } else { 128 };
            tables.push((id, p[1..1 + len].to_vec()));
            p = &p[1 + len..];
        }
    }
    tables.sort();
    tables
}

/// What a frame header (SOFn) says: marker, precision, width, height, components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub marker: u8,
    pub precision: u8,
    pub width: u16,
    pub height: u16,
    pub components: u8,
}

pub fn frame_header(jpeg: &[u8]) -> FrameHeader {
    let sof = jpeg_segments(jpeg)
        .into_iter()
        .find(|s| matches!(s.marker, 0xC0..=0xCF) && !matches!(s.marker, 0xC4 | 0xC8 | 0xCC))
        .expect("a frame header");
    let p = &sof.payload;
    FrameHeader {
        marker: sof.marker,
        precision: p[0],
        height: u16::from_be_bytes([p[1], p[2]]),
        width: u16::from_be_bytes([p[3], p[4]]),
        components: p[5],
    }
}

// ---------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------

/// Encodes with the image crate's PNG encoder (any colour type it supports, 8 or 16 bits).
pub fn png(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("encode the PNG");
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// A zlib stream of "stored" (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub fn ihdr(width: u32, height: u32, bit_depth: u8, colour_type: u8) -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(&width.to_be_bytes());
    data.extend_from_slice(&height.to_be_bytes());
    data.extend_from_slice(&[bit_depth, colour_type, 0, 0, 0]);
    data
}

/// A PNG built chunk by chunk: IHDR, `extra` chunks, one IDAT of `scanlines` (each row already
/// packed, without its filter byte), IEND.
pub fn png_by_hand(
    header: &[u8],
    extra: &[(&[u8; 4], Vec<u8>)],
    row_bytes: usize,
    scanlines: &[u8],
) -> Vec<u8> {
    let mut filtered = Vec::with_capacity(scanlines.len() + scanlines.len() / row_bytes.max(1));
    for row in scanlines.chunks(row_bytes) {
        filtered.push(0);
        filtered.extend_from_slice(row);
    }
    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", header);
    for (kind, data) in extra {
        png_chunk(&mut out, kind, data);
    }
    png_chunk(&mut out, b"IDAT", &zlib_stored(&filtered));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// An 8-bit RGB PNG with Adam7 interlacing (the encoders at hand write none): the seven
/// passes' sub-images one after another, each row behind a "none" filter byte.
pub fn interlaced_png(image: &RgbImage) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let (width, height) = image.dimensions();
    let mut data = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        if x0 >= width || y0 >= height {
            continue;
        }
        for y in (y0..height).step_by(dy as usize) {
            data.push(0);
            for x in (x0..width).step_by(dx as usize) {
                data.extend_from_slice(&image.get_pixel(x, y).0);
            }
        }
    }
    let mut header = ihdr(width, height, 8, 2);
    header[12] = 1;
    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", &header);
    png_chunk(&mut out, b"IDAT", &zlib_stored(&data));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// An 8-bit palette PNG of quadrants, with a tRNS chunk: palette entry 0 is green and fully
/// transparent, 1 is opaque red, 2 is black at alpha 128, 3 opaque blue. Layout: top-left 0,
/// top-right 1, bottom-left 2, bottom-right 3.
pub fn palette_png_with_trns(width: u32, height: u32) -> Vec<u8> {
    let palette = [GREEN, RED, BLACK, BLUE].concat();
    let trns = vec![0, 255, 128, 255];
    let rows: Vec<u8> = (0..height)
        .flat_map(|y| {
            (0..width).map(move |x| u8::from(x >= width / 2) + 2 * u8::from(y >= height / 2))
        })
        .collect();
    png_by_hand(
        &ihdr(width, height, 8, 3),
        &[(b"PLTE", palette), (b"tRNS", trns)],
        width as usize,
        &rows,
    )
}

/// What `palette_png_with_trns` must look like on white.
pub const PALETTE_ON_WHITE: Quadrants = [[WHITE, RED], [MID_GREY, BLUE]];

/// A 1-bit greyscale PNG: black left half, white right half.
pub fn one_bit_png(width: u32, height: u32) -> Vec<u8> {
    let row_bytes = width.div_ceil(8) as usize;
    let mut row = vec![0u8; row_bytes];
    for x in width / 2..width {
        row[(x / 8) as usize] |= 0x80 >> (x % 8);
    }
    let rows = row.repeat(height as usize);
    png_by_hand(&ihdr(width, height, 1, 0), &[], row_bytes, &rows)
}

/// An 8-bit RGB PNG with an eXIf chunk (before IDAT) carrying `orientation`.
pub fn png_with_exif(stored: &RgbImage, orientation: u16) -> Vec<u8> {
    let exif = exif_tiff(Exif {
        orientation: Some(orientation),
        ..Exif::default()
    });
    png_by_hand(
        &ihdr(stored.width(), stored.height(), 8, 2),
        &[(b"eXIf", exif)],
        stored.width() as usize * 3,
        stored.as_raw(),
    )
}

/// An APNG whose default image is the first frame (`first`), followed by a second frame
/// (`second`) in an fdAT chunk. Decoders that ignore animation see `first` only.
pub fn apng(first: &RgbImage, second: &RgbImage) -> Vec<u8> {
    let (w, h) = first.dimensions();
    assert_eq!(second.dimensions(), (w, h));
    let fctl = |sequence: u32| {
        let mut data = Vec::new();
        data.extend_from_slice(&sequence.to_be_bytes());
        data.extend_from_slice(&w.to_be_bytes());
        data.extend_from_slice(&h.to_be_bytes());
        data.extend_from_slice(&0u32.to_be_bytes());
        data.extend_from_slice(&0u32.to_be_bytes());
        data.extend_from_slice(&1u16.to_be_bytes());
        data.extend_from_slice(&1u16.to_be_bytes());
        data.extend_from_slice(&[0, 0]);
        data
    };
    let filtered = |image: &RgbImage| {
        let mut data = Vec::new();
        for row in image.as_raw().chunks(w as usize * 3) {
            data.push(0);
            data.extend_from_slice(row);
        }
        zlib_stored(&data)
    };
    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr(w, h, 8, 2));
    let mut actl = 2u32.to_be_bytes().to_vec();
    actl.extend_from_slice(&0u32.to_be_bytes());
    png_chunk(&mut out, b"acTL", &actl);
    png_chunk(&mut out, b"fcTL", &fctl(0));
    png_chunk(&mut out, b"IDAT", &filtered(first));
    png_chunk(&mut out, b"fcTL", &fctl(1));
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend_from_slice(&filtered(second));
    png_chunk(&mut out, b"fdAT", &fdat);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Signature, an IHDR (valid CRC) claiming `width`×`height` 8-bit RGB, a few bytes of IDAT and
/// IEND: a header with next to no data.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = PNG_SIGNATURE.to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr(width, height, 8, 2));
    png_chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x00, 0x00]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

// ---------------------------------------------------------------------------------------
// GIF
// ---------------------------------------------------------------------------------------

/// A single-frame GIF; pixels with alpha 0 become the transparent index.
pub fn gif(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder
            .encode(
                image.as_raw(),
                image.width(),
                image.height(),
                ExtendedColorType::Rgba8,
            )
            .expect("encode the GIF");
    }
    out
}

/// A looping GIF with one frame per image, 100 ms each.
pub fn animated_gif(frames: &[RgbaImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).expect("repeat");
        encoder
            .encode_frames(
                frames.iter().map(|f| {
                    Frame::from_parts(f.clone(), 0, 0, Delay::from_numer_denom_ms(100, 1))
                }),
            )
            .expect("encode the animated GIF");
    }
    out
}

/// "GIF89a" and a logical screen of `width`×`height`, a two-colour global palette, one image
/// descriptor of the same size and a nearly empty LZW stream: a header, hardly any data.
pub fn gif_header_only(width: u16, height: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]);
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    out.push(0x2C);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&[2, 2, 0x4C, 0x01, 0, 0x3B]);
    out
}

/// A GIF whose logical screen is small (16×16) but whose one frame claims `width`×`height`.
pub fn gif_with_huge_frame(width: u16, height: u16) -> Vec<u8> {
    let mut out = gif_header_only(16, 16);
    // Patch the image descriptor's size (after the 13-byte header, 6-byte palette, separator
    // and four position bytes).
    let at = 13 + 6 + 1 + 4;
    out[at..at + 2].copy_from_slice(&width.to_le_bytes());
    out[at + 2..at + 4].copy_from_slice(&height.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------------
// WebP
// ---------------------------------------------------------------------------------------

/// A lossless WebP (simple format: RIFF + one VP8L chunk).
pub fn webp_lossless(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgba8,
        )
        .expect("encode the WebP");
    out
}

pub fn webp_lossless_rgb(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode the WebP");
    out
}

fn riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn riff_webp(chunks: &[u8]) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(chunks.len() as u32 + 4).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(chunks);
    out
}

/// The whole "VP8L" chunk (header, payload, padding) of a simple-format lossless WebP.
fn vp8l_chunk(image: &RgbaImage) -> Vec<u8> {
    let webp = webp_lossless(image);
    assert_eq!(
        &webp[12..16],
        b"VP8L",
        "the encoder writes the simple format"
    );
    webp[12..].to_vec()
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn vp8x(flags: u8, width: u32, height: u32) -> Vec<u8> {
    let mut data = vec![flags, 0, 0, 0];
    data.extend_from_slice(&u24(width - 1));
    data.extend_from_slice(&u24(height - 1));
    data
}

/// An animated WebP (extended format: VP8X, ANIM, one ANMF per frame wrapping a VP8L
/// bitstream), every frame covering the whole canvas, drawn without blending.
pub fn animated_webp(frames: &[RgbaImage]) -> Vec<u8> {
    let (w, h) = frames[0].dimensions();
    let mut chunks = Vec::new();
    // Flags: animation (bit 1) and alpha (bit 4).
    riff_chunk(&mut chunks, b"VP8X", &vp8x(0x02 | 0x10, w, h));
    // Background colour (magenta, BGRA) and loop forever.
    riff_chunk(&mut chunks, b"ANIM", &[255, 0, 255, 255, 0, 0]);
    for frame in frames {
        assert_eq!(frame.dimensions(), (w, h));
        let mut data = Vec::new();
        data.extend_from_slice(&u24(0));
        data.extend_from_slice(&u24(0));
        data.extend_from_slice(&u24(w - 1));
        data.extend_from_slice(&u24(h - 1));
        data.extend_from_slice(&u24(100));
        // Do not blend (bit 1), do not dispose.
        data.push(0x02);
        data.extend_from_slice(&vp8l_chunk(frame));
        riff_chunk(&mut chunks, b"ANMF", &data);
    }
    riff_webp(&chunks)
}

/// An animated WebP whose canvas claims `width`×`height` (up to 2^24 per side), holding one
/// 1×1 frame: a header with hardly any data.
pub fn webp_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut chunks = Vec::new();
    riff_chunk(&mut chunks, b"VP8X", &vp8x(0x02, width, height));
    riff_chunk(&mut chunks, b"ANIM", &[0, 0, 0, 0, 0, 0]);
    let mut frame = Vec::new();
    for v in [0, 0, 0, 0, 100] {
        frame.extend_from_slice(&u24(v));
    }
    frame.push(0x02);
    frame.extend_from_slice(&vp8l_chunk(&solid_rgba(1, 1, [9, 9, 9, 255])));
    riff_chunk(&mut chunks, b"ANMF", &frame);
    riff_webp(&chunks)
}

/// A lossless WebP in the extended format with an EXIF chunk carrying `orientation`.
pub fn webp_with_exif(stored: &RgbImage, orientation: u16) -> Vec<u8> {
    let rgba = DynamicImage::ImageRgb8(stored.clone()).into_rgba8();
    let mut chunks = Vec::new();
    // Flags: EXIF (bit 3).
    riff_chunk(
        &mut chunks,
        b"VP8X",
        &vp8x(0x08, stored.width(), stored.height()),
    );
    chunks.extend_from_slice(&vp8l_chunk(&rgba));
    riff_chunk(
        &mut chunks,
        b"EXIF",
        &exif_tiff(Exif {
            orientation: Some(orientation),
            ..Exif::default()
        }),
    );
    riff_webp(&chunks)
}

/// A 1×1 lossy WebP (VP8 bitstream), as published for feature detection.
pub fn tiny_lossy_webp() -> Vec<u8> {
    base64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
}

/// A 1×1 lossy WebP with an alpha (ALPH) chunk, as published for feature detection.
pub fn tiny_lossy_alpha_webp() -> Vec<u8> {
    base64(
        "UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA==",
    )
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("a base64 character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Everything that is not a picture Folio takes
// ---------------------------------------------------------------------------------------

pub fn text() -> Vec<u8> {
    b"Hello! This is a plain text file, not a picture.\n".to_vec()
}

pub fn html() -> Vec<u8> {
    b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(document.cookie)</script></body></html>\n".to_vec()
}

pub fn svg_with_script() -> Vec<u8> {
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"300\"><script>alert(document.cookie)</script><rect width=\"300\" height=\"300\" fill=\"red\"/></svg>\n".to_vec()
}

/// An SVG that starts with a comment instead of a prolog.
pub fn svg_after_comment() -> Vec<u8> {
    b"<!-- Created with a drawing program -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"5\"/></svg>\n".to_vec()
}

/// The first bytes of other picture formats Folio recognises but does not take, with the
/// name it gives each.
pub fn other_picture_formats() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("Photoshop", b"8BPS\0\x01\0\0\0\0\0\0\0\x03".to_vec()),
        (
            "JPEG 2000",
            b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 ".to_vec(),
        ),
        ("QOI", b"qoif\0\0\0\x01\0\0\0\x01\x03\0".to_vec()),
        ("Video", ftyp(b"mp42")),
    ]
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// The start of an ISO-BMFF file with brand `brand` ("heic", "avif", ...).
pub fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0x18];
    out.extend_from_slice(b"ftyp");
    out.extend_from_slice(brand);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"mif1");
    out.extend_from_slice(brand);
    out.extend_from_slice(&[0; 32]);
    out
}

pub fn heic() -> Vec<u8> {
    ftyp(b"heic")
}

pub fn avif() -> Vec<u8> {
    ftyp(b"avif")
}

/// A little-endian TIFF header and an empty IFD.
pub fn tiff() -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out
}

/// The first `keep` bytes of `bytes`.
pub fn truncated(bytes: &[u8], keep: usize) -> Vec<u8> {
    bytes[..keep.min(bytes.len())].to_vec()
}

// ---------------------------------------------------------------------------------------
// Reading an output back
// ---------------------------------------------------------------------------------------

/// An output JPEG, decoded.
#[derive(Debug, Clone)]
pub struct DecodedJpeg {
    pub width: u32,
    pub height: u32,
    /// RGB, row by row.
    pub pixels: Vec<u8>,
}

/// Decodes a JPEG that must be three-component 8-bit RGB (what Folio stores).
pub fn decode_output(bytes: &[u8]) -> DecodedJpeg {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let pixels = decoder.decode().expect("the output is a decodable JPEG");
    let info = decoder.info().expect("info after decoding");
    assert_eq!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24,
        "three 8-bit colour components"
    );
    DecodedJpeg {
        width: u32::from(info.width),
        height: u32::from(info.height),
        pixels,
    }
}

impl DecodedJpeg {
    pub fn pixel(&self, x: u32, y: u32) -> Colour {
        assert!(x < self.width && y < self.height, "({x}, {y}) is inside");
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// The mean colour of the pixels with `x0 <= x < x1` and `y0 <= y < y1`.
    pub fn average(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> Colour {
        assert!(x0 < x1 && y0 < y1 && x1 <= self.width && y1 <= self.height);
        let mut sum = [0u64; 3];
        for y in y0..y1 {
            for x in x0..x1 {
                let p = self.pixel(x, y);
                for c in 0..3 {
                    sum[c] += u64::from(p[c]);
                }
            }
        }
        let n = u64::from((x1 - x0) * (y1 - y0));
        sum.map(|s| ((s + n / 2) / n) as u8)
    }

    /// The mean colour of a 40×40 box (smaller in a small picture) centred in each quadrant,
    /// `[row][column]`: far from the borders between quadrants, where resampling and JPEG blur
    /// colours.
    pub fn quadrant_averages(&self) -> Quadrants {
        let (w, h) = (self.width, self.height);
        let r = (w.min(h) / 8).clamp(1, 20);
        let centre = |cx: u32, cy: u32| self.average(cx - r, cy - r, cx + r, cy + r);
        [
            [centre(w / 4, h / 4), centre(3 * w / 4, h / 4)],
            [centre(w / 4, 3 * h / 4), centre(3 * w / 4, 3 * h / 4)],
        ]
    }

    /// The smallest and largest value of each channel over the whole picture.
    pub fn channel_ranges(&self) -> [(u8, u8); 3] {
        let mut ranges = [(255u8, 0u8); 3];
        for p in self.pixels.chunks_exact(3) {
            for c in 0..3 {
                ranges[c].0 = ranges[c].0.min(p[c]);
                ranges[c].1 = ranges[c].1.max(p[c]);
            }
        }
        ranges
    }
}

pub fn near(actual: Colour, expected: Colour, tolerance: u8) -> bool {
    actual
        .iter()
        .zip(expected)
        .all(|(&a, e)| a.abs_diff(e) <= tolerance)
}

pub fn assert_near(actual: Colour, expected: Colour, tolerance: u8, what: &str) {
    assert!(
        near(actual, expected, tolerance),
        "{what}: got {actual:?}, expected {expected:?} (±{tolerance})"
    );
}

/// Asserts each quadrant of `decoded` has the expected colour.
pub fn assert_quadrants(decoded: &DecodedJpeg, expected: Quadrants, what: &str) {
    let actual = decoded.quadrant_averages();
    assert!(
        (0..2).all(|r| (0..2).all(|c| near(actual[r][c], expected[r][c], TOLERANCE))),
        "{what}: quadrants [[TL, TR], [BL, BR]] are {actual:?}, expected {expected:?} \
         (±{TOLERANCE})"
    );
}

/// Asserts the whole picture is `colour`, within `tolerance` at every pixel.
pub fn assert_uniform(decoded: &DecodedJpeg, colour: Colour, tolerance: u8, what: &str) {
    let ranges = decoded.channel_ranges();
    assert!(
        (0..3).all(|c| {
            ranges[c].0 >= colour[c].saturating_sub(tolerance)
                && ranges[c].1 <= colour[c].saturating_add(tolerance)
        }),
        "{what}: channel ranges {ranges:?}, expected {colour:?} (±{tolerance}) everywhere"
    );
}

/// True when `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn dims16(width: u32, height: u32) -> (u16, u16) {
    (
        u16::try_from(width).expect("a JPEG side fits in 16 bits"),
        u16::try_from(height).expect("a JPEG side fits in 16 bits"),
    )
}

pub fn rgba_of(image: &RgbImage) -> RgbaImage {
    DynamicImage::ImageRgb8(image.clone()).into_rgba8()
}

pub fn rgba(colour: Colour, alpha: u8) -> Rgba<u8> {
    Rgba([colour[0], colour[1], colour[2], alpha])
}
