//! The picture pipeline: bytes in, a 300×300 JPEG (quality 85, no metadata) or a typed
//! rejection out. Pure and synchronous; callers run it on the blocking pool.
//!
//! Order of work, cheapest refusal first: sniff the format from the bytes, read the header's
//! dimensions and refuse oversized pictures before any pixel memory exists, decode with each
//! format's own decoder, shrinking while decoding when the picture is large (see `jpeg`,
//! `webp`, `png`, `gif`; a JPEG also decodes only the window the kept square needs), flatten
//! alpha onto white, crop the chosen or centred square (`Decoded::region`) and resize it
//! with Lanczos3 in one SIMD pass, apply the EXIF orientation to the small result, encode.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use fast_image_resize::images::Image as FrImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;

use super::renditions::{Encoding, LARGE, Renditions, Variant};
use super::sniff::{Sniffed, sniff};
pub use super::types::{Limits, Rejection, SIZE, Square};
use super::types::{Pixels, Region, Shrink};

pub const QUALITY: u8 = 85;

/// How long each stage took, for the benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub decode: Duration,
    pub resize: Duration,
    pub encode: Duration,
    /// The 600×600's own thread, start to end (inside `resize` and `encode`).
    pub large: Duration,
    /// The small files and the 300×300 WebP (inside `encode`).
    pub beside: Duration,
}

/// Knobs the benchmarks turn; the server always uses the default.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Shrink large pictures while decoding them; off, every picture is decoded at full size
    /// (the benchmarks' quality reference).
    pub shrink_on_load: bool,
    /// Make the renditions beside the master; off, the master alone (what the pipeline cost
    /// before they existed).
    pub renditions: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            shrink_on_load: true,
            renditions: true,
        }
    }
}

/// Everything one upload becomes: the master and the files made beside it, all from the same
/// upright square.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The 300×300 JPEG the contract describes.
    pub master: Vec<u8>,
    pub renditions: Renditions,
    /// One file for each of `renditions.variants()`, in that order.
    pub files: RenditionFiles,
}

/// Encoded files beside a master, each with the variant it is.
pub type RenditionFiles = Vec<(Variant, Vec<u8>)>;

impl Processed {
    /// A master with nothing beside it.
    pub fn master_only(master: Vec<u8>) -> Self {
        Self {
            master,
            renditions: Renditions::MasterOnly,
            files: Vec::new(),
        }
    }
}

/// Turns an upload into the stored JPEG of its centred square. A panic in any decoder is a
/// rejection of this upload, never a dead worker.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, Rejection> {
    process_square(bytes, limits, None)
}

/// `process`, keeping the square the person chose (`None`: the centred one).
pub fn process_square(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
) -> Result<Vec<u8>, Rejection> {
    let options = Options {
        renditions: false,
        ..Options::default()
    };
    process_with(bytes, limits, square, options).map(|(processed, _)| processed.master)
}

/// The master and its renditions, as an upload stores them.
pub fn process_picture(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
) -> Result<Processed, Rejection> {
    process_with(bytes, limits, square, Options::default()).map(|(processed, _)| processed)
}

/// `process_picture`, with its options and the time each stage took.
pub fn process_with(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
    options: Options,
) -> Result<(Processed, Timings), Rejection> {
    guarded(|| process_unguarded(bytes, limits, square, options))
}

/// A panic in a decoder or encoder is a refused picture, never a dead worker.
fn guarded<T>(work: impl FnOnce() -> Result<T, Rejection>) -> Result<T, Rejection> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
        tracing::warn!("an image decoder panicked; the upload is refused");
        Err(Rejection::Corrupt)
    })
}

fn process_unguarded(
    bytes: &[u8],
    limits: &Limits,
    square: Option<Square>,
    options: Options,
) -> Result<(Processed, Timings), Rejection> {
    let mut timings = Timings::default();
    let started = Instant::now();
    if square.is_some_and(|s| s.size == 0) {
        return Err(Rejection::SquareOutside);
    }
    // Shrink-on-load keeps twice the target on the kept square's side, for a clean Lanczos
    // pass (and for the 600×600 rendition): a small square of a large photo is decoded at a
    // larger scale than the whole.
    let target = Shrink {
        keep: if options.shrink_on_load {
            2 * SIZE
        } else {
            u32::MAX
        },
        square,
    };
    let decoded = match sniff(bytes) {
        Sniffed::Empty => return Err(Rejection::Empty),
        Sniffed::Unknown => return Err(Rejection::NotAnImage),
        Sniffed::Refused(kind) => return Err(Rejection::Unsupported(kind)),
        Sniffed::Accepted(format) => format.decoder()(bytes, limits, target)?,
    };
    timings.decode = started.elapsed();

    let started = Instant::now();
    let region = decoded.region(square)?;
    // Only a square with the pixels for it gets a 600×600: never an enlargement.
    let large = options.renditions && region.side >= f64::from(LARGE);
    let orientation = decoded.orientation;
    let source = rgb_image(decoded.pixels, decoded.width, decoded.height)?;
    // The 600×600 (its resize and its WebP) takes longer than all the rest after the decode,
    // so it is made on a thread of its own meanwhile: an upload waits for the longer of the
    // two, not for their sum. The upload's own thread first resizes the 600×600's lower half
    // while that one resizes the upper, so that its WebP, the longest single step, starts
    // after half the resize.
    let (lower_half, lower_half_done) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let source = &source;
        let large = large.then(|| {
            scope.spawn(move || {
                let started = Instant::now();
                let mut resized = resize_rows(source, region, LARGE, 0..LARGE / 2)?;
                let lower: Vec<u8> = lower_half_done.recv().map_err(|_| Rejection::Corrupt)??;
                resized.extend_from_slice(&lower);
                let rgb = orient(resized, LARGE, orientation)?;
                let variant = Variant::of(LARGE, Encoding::Webp);
                let file = (variant, encode_file(&rgb, variant)?);
                Ok::<_, Rejection>((file, started.elapsed()))
            })
        });
        if large.is_some() {
            // Nobody is left to receive it only when that thread has failed already.
            let _ = lower_half.send(resize_rows(source, region, LARGE, LARGE / 2..LARGE));
        }
        drop(lower_half);
        let master = orient(resize(source, Some(region), SIZE)?, SIZE, orientation)?;
        timings.resize = started.elapsed();

        let started = Instant::now();
        let jpeg = encode(&master, SIZE)?;
        let processed = if options.renditions {
            let beside = Instant::now();
            let mut files = standard_files(&master)?;
            timings.beside = beside.elapsed();
            let renditions = match large {
                Some(thread) => {
                    let (file, took) = thread.join().map_err(|_| Rejection::Corrupt)??;
                    files.push(file);
                    timings.large = took;
                    Renditions::Large
                }
                None => Renditions::Standard,
            };
            Processed {
                master: jpeg,
                renditions,
                files,
            }
        } else {
            Processed::master_only(jpeg)
        };
        timings.encode = started.elapsed();
        Ok((processed, timings))
    })
}

/// The files every picture has beside its master, from the master's upright pixels: the
/// small sides resized (Lanczos3) from them, each in JPEG and WebP, and the 300×300 in WebP;
/// in the order of `Renditions::Standard.variants()`.
fn standard_files(master: &[u8]) -> Result<RenditionFiles, Rejection> {
    let source = FrImage::from_vec_u8(SIZE, SIZE, master.to_vec(), PixelType::U8x3)
        .map_err(|_| Rejection::Corrupt)?;
    let standard = Renditions::Standard;
    let mut files = Vec::new();
    for &side in standard.sides() {
        let resized;
        let rgb = if side == SIZE {
            master
        } else {
            resized = resize(&source, None, side)?;
            &resized
        };
        for variant in standard.variants().filter(|v| v.side() == side) {
            files.push((variant, encode_file(rgb, variant)?));
        }
    }
    Ok(files)
}

/// One file of a picture from its upright pixels (`variant.side()` squared, RGB).
pub fn encode_file(rgb: &[u8], variant: Variant) -> Result<Vec<u8>, Rejection> {
    let side = variant.side();
    match variant.encoding() {
        Encoding::Jpeg => encode(rgb, side),
        Encoding::Webp => super::formats::webp::encode(rgb, side, WEBP_QUALITY),
    }
}

/// WebP at 80 looks like JPEG at 85 in about two thirds of the bytes.
pub const WEBP_QUALITY: f32 = 80.0;

/// The renditions of a picture stored before they existed, made from its master (there is
/// nothing larger to make a 600×600 from).
pub fn renditions_from_master(
    jpeg: &[u8],
    limits: &Limits,
) -> Result<(Renditions, RenditionFiles), Rejection> {
    guarded(|| {
        let whole = Shrink {
            keep: u32::MAX,
            square: None,
        };
        let decoded = match sniff(jpeg) {
            Sniffed::Accepted(format) => format.decoder()(jpeg, limits, whole)?,
            _ => return Err(Rejection::NotAnImage),
        };
        let region = decoded.region(None)?;
        let source = rgb_image(decoded.pixels, decoded.width, decoded.height)?;
        let master = resize(&source, Some(region), SIZE)?;
        let master = orient(master, SIZE, decoded.orientation)?;
        Ok((Renditions::Standard, standard_files(&master)?))
    })
}

/// Pixels as RGB, transparency flattened onto white.
fn rgb_image(pixels: Pixels, width: u32, height: u32) -> Result<FrImage<'static>, Rejection> {
    let rgb = match pixels {
        Pixels::Rgb(rgb) => rgb,
        Pixels::Rgba(rgba) => flatten_onto_white(rgba),
    };
    FrImage::from_vec_u8(width, height, rgb, PixelType::U8x3).map_err(|_| Rejection::Corrupt)
}

/// The region (or the whole), resized with Lanczos3 to `side`×`side` (small squares scale
/// up). Cropping is part of the resize, so a 1×20000 strip costs no more than its 1×1 square.
/// A decoder that decodes only a window counts on the filter's reach (`types::Region::window`).
fn resize(source: &FrImage, region: Option<Region>, side: u32) -> Result<Vec<u8>, Rejection> {
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if let Some(region) = region {
        options = options.crop(region.left, region.top, region.side, region.side);
    }
    resize_into(source, side, side, &options)
}

/// The 600×600's filter: Catmull-Rom (bicubic) reads two source pixels each side where
/// Lanczos3 reads three, and the 600×600's resize is on the path every large upload waits for
/// (its thread is the longer of the two). On the benchmark's photos and PNG the two 600×600s
/// differ by at most 4 levels of 255 (PSNR 56 dB).
const LARGE_FILTER: FilterType = FilterType::CatmullRom;

/// Rows `rows` of the region resized (by [`LARGE_FILTER`]) to `side`×`side`: those rows of the
/// whole resize, since the filter reads the source beyond the crop box, up to the picture's
/// edges. Two threads can each make a part of one picture.
fn resize_rows(
    source: &FrImage,
    region: Region,
    side: u32,
    rows: std::ops::Range<u32>,
) -> Result<Vec<u8>, Rejection> {
    let scale = region.side / f64::from(side);
    let top = region.top + scale * f64::from(rows.start);
    let bottom = if rows.end >= side {
        region.top + region.side
    } else {
        region.top + scale * f64::from(rows.end)
    };
    // fir refuses a box whose bottom rounds past the picture's last row; the whole square's
    // bottom is within it, so keep every part's within that.
    let mut height = bottom - top;
    while height > 0.0 && top + height > bottom {
        height -= height * f64::EPSILON;
    }
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(LARGE_FILTER))
        .crop(region.left, top, region.side, height);
    resize_into(source, side, rows.end.saturating_sub(rows.start), &options)
}

fn resize_into(
    source: &FrImage,
    width: u32,
    height: u32,
    options: &ResizeOptions,
) -> Result<Vec<u8>, Rejection> {
    let mut dst = FrImage::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(source, &mut dst, options)
        .map_err(|_| Rejection::Corrupt)?;
    Ok(dst.into_vec())
}

/// Composites onto white (see `types::onto_white`), in place: each pixel's three bytes are
/// written at or before where its four were read, so a large RGBA picture (a whole-decoded
/// BMP or TIFF of 50 MP: 200 MB) never needs a second picture-sized buffer beside it.
fn flatten_onto_white(mut rgba: Vec<u8>) -> Vec<u8> {
    let pixels = rgba.len() / 4;
    for i in 0..pixels {
        let (from, to) = (4 * i, 3 * i);
        let rgb =
            super::types::onto_white([rgba[from], rgba[from + 1], rgba[from + 2], rgba[from + 3]]);
        rgba[to..to + 3].copy_from_slice(&rgb);
    }
    rgba.truncate(pixels * 3);
    rgba
}

/// Applied to the small square: the centred square of a rotated picture is the rotated
/// centred square, and turning 300×300 pixels is cheaper than turning millions. A plain copy
/// loop: `image`'s rotations go pixel by pixel through its generic accessors, which took
/// 3 ms of a 600×600's 9.
fn orient(rgb: Vec<u8>, side: u32, orientation: Orientation) -> Result<Vec<u8>, Rejection> {
    let n = side as usize;
    if rgb.len() != 3 * n * n {
        return Err(Rejection::Corrupt);
    }
    let last = n.saturating_sub(1);
    // Where the pixel at (x, y) of the upright square is read from, as `image` turns them
    // (`DynamicImage::apply_orientation`: a turn clockwise, then a horizontal flip).
    let from: fn(usize, usize, usize) -> (usize, usize) = match orientation {
        Orientation::NoTransforms => return Ok(rgb),
        Orientation::Rotate90 => |x, y, last| (y, last - x),
        Orientation::Rotate180 => |x, y, last| (last - x, last - y),
        Orientation::Rotate270 => |x, y, last| (last - y, x),
        Orientation::FlipHorizontal => |x, y, last| (last - x, y),
        Orientation::FlipVertical => |x, y, last| (x, last - y),
        Orientation::Rotate90FlipH => |x, y, _| (y, x),
        Orientation::Rotate270FlipH => |x, y, last| (last - y, last - x),
    };
    // In tiles, so that a turn, which reads the source down its columns, reads each source
    // row's cache lines once rather than once for every output row.
    const TILE: usize = 16;
    let mut upright = vec![0u8; rgb.len()];
    for top in (0..n).step_by(TILE) {
        for left in (0..n).step_by(TILE) {
            for y in top..(top + TILE).min(n) {
                for x in left..(left + TILE).min(n) {
                    let (sx, sy) = from(x, y, last);
                    let (to, at) = (3 * (y * n + x), 3 * (sy * n + sx));
                    upright[to..to + 3].copy_from_slice(&rgb[at..at + 3]);
                }
            }
        }
    }
    Ok(upright)
}

/// Baseline JPEG at quality 85 with optimised Huffman tables; the encoder writes a JFIF
/// header and nothing else, so no metadata of the upload survives. jpeg-encoder rather than
/// the mozjpeg already linked: its SIMD is Rust (0.75 ms for 300², in every build), while
/// libjpeg's needs nasm at build time (0.45 ms with it, 1.4-2.2 ms without).
pub(crate) fn encode(rgb: &[u8], side: u32) -> Result<Vec<u8>, Rejection> {
    let side = u16::try_from(side).map_err(|_| Rejection::TooManyPixels)?;
    let mut out = Vec::with_capacity(32 * 1024);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    encoder.set_optimized_huffman_tables(true);
    encoder
        .encode(rgb, side, side, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| {
            tracing::error!(error = %e, "JPEG encoding failed");
            Rejection::Corrupt
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
