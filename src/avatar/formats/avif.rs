//! AVIF decoding: `zenavif-parse` reads the container (the primary item or a grid of tiles,
//! the alpha item, `irot`/`imir`, the `colr` box, the first frame of a sequence), `rav1d`
//! decodes the AV1 payloads (pure Rust, built without its assembly), and the YUV → RGB
//! conversion is ours (BT.601, BT.709 or BT.2020 matrix, full or limited range, 8 to 12 bits,
//! chroma upsampled by repetition). Rows go through a `BoxShrink` as they are converted, so
//! a large AVIF never exists at full size as RGB.
//!
//! Sizes are checked before any AV1 data is decoded: every `ispe` box of the file, the grid's
//! output size, and each payload's AV1 sequence header; rav1d's own frame size limit is set
//! too.
//!
//! rav1d 1.1 offers only dav1d's C API: the unsafe code here is those calls, over a context,
//! input buffers and pictures that wrappers below own and release.
//!
//! rav1d 1.1 panics on some damaged AV1 payloads (about one in five of the fuzz test's, e.g.
//! an `unwrap` of a missing frame header in `rav1d_submit_frame`'s error path), and a panic
//! cannot unwind out of its `extern "C"` functions: it aborts the process. So this runs only
//! in a child process (`avatar/isolated.rs`), where an abort is a refused file. When rav1d's
//! Rust API (on its main branch) is released, the four unsafe calls below become safe ones
//! and the child can go.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use image::metadata::Orientation;
use rav1d::Dav1dResult;
use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::{
    DAV1D_MC_BT470BG, DAV1D_MC_BT601, DAV1D_MC_BT709, DAV1D_MC_BT2020_CL, DAV1D_MC_BT2020_NCL,
    DAV1D_MC_IDENTITY, DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
    DAV1D_PIXEL_LAYOUT_I444,
};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};
use zenavif_parse::{AV1Metadata, AvifParser, ColorInformation, DecodeConfig};

use crate::avatar::shrink::{BoxShrink, shrink_factor};
use crate::avatar::types::{
    Coverage, Decoded, Limits, Pixels, Rejection, Shrink, check_dimensions,
};

/// Grids are made of at most this many tiles (a 48 MP photo in 512² tiles has 192).
const MAX_TILES: u32 = 1024;

pub(crate) fn decode(bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
    // Every `ispe` (the primary item's, a grid's, its tiles', the alpha item's) first.
    for (width, height) in spatial_extents(bytes) {
        check_dimensions(width, height, limits)?;
    }
    let megapixels = u32::try_from(limits.max_pixels.div_ceil(1_000_000)).unwrap_or(u32::MAX);
    let config = DecodeConfig::default()
        .with_peak_memory_limit(limits.max_alloc)
        .with_total_megapixels_limit(megapixels.max(1))
        .with_max_grid_tiles(MAX_TILES)
        .with_max_animation_frames(100_000)
        .lenient(true);
    let parser = AvifParser::from_bytes_with_config(bytes, &config, &zenavif_parse::Unstoppable)
        .map_err(parse_rejection)?;
    let colour = colour_of(parser.color_info());
    let orientation = orientation(
        parser.rotation().map(|r| r.angle),
        parser.mirror().map(|m| m.axis),
    );

    let (pixels, width, height, source) = if let Some(grid) = parser.grid_config().cloned() {
        decode_grid(&parser, &grid, colour, limits, target)?
    } else {
        let (colour_data, alpha_data) = if parser.animation_info().is_some() {
            let frame = parser.frame(0).map_err(parse_rejection)?;
            (frame.data, frame.alpha_data)
        } else {
            let alpha = parser.alpha_data().transpose().map_err(parse_rejection)?;
            (parser.primary_data().map_err(parse_rejection)?, alpha)
        };
        let picture = decode_av1(&colour_data, limits)?;
        let alpha = match alpha_data {
            Some(data) => Some(decode_av1(&data, limits)?),
            None => None,
        };
        let (width, height) = picture.size()?;
        check_dimensions(width, height, limits)?;
        if let Some(alpha) = &alpha
            && alpha.size()? != (width, height)
        {
            return Err(Rejection::Corrupt);
        }
        let premultiplied = alpha.is_some() && parser.premultiplied_alpha();
        let mut shrink = BoxShrink::new(
            width,
            height,
            shrink_factor(width, height, target.min_short(width, height)),
        );
        let converter = Converter::new(&picture, colour)?;
        let alpha = alpha.as_ref().map(Picture::planes).transpose()?;
        let mut rgba = vec![0u8; width as usize * 4];
        for y in 0..height as usize {
            converter.row(y, &mut rgba);
            if let Some(alpha) = &alpha {
                alpha_row(alpha, y, premultiplied, &mut rgba);
            }
            shrink.push(&rgba);
        }
        let (rgb, out_width, out_height) = shrink.finish().ok_or(Rejection::Corrupt)?;
        (rgb, out_width, out_height, (width, height))
    };
    // The header's size is that of the stored picture; `irot` turns it later, in the pipeline.
    Ok(Decoded {
        source,
        pixels: Pixels::Rgb(pixels),
        width,
        height,
        orientation,
        coverage: Coverage::Whole,
    })
}

type Picked = (Vec<u8>, u32, u32, (u32, u32));

/// A grid: a row of tiles at a time, their rows side by side, cropped to the output size.
fn decode_grid(
    parser: &AvifParser<'_>,
    grid: &zenavif_parse::GridConfig,
    colour: Option<Colour>,
    limits: &Limits,
    target: Shrink,
) -> Result<Picked, Rejection> {
    let (rows, columns) = (usize::from(grid.rows), usize::from(grid.columns));
    if rows == 0 || columns == 0 || parser.grid_tile_count() != rows * columns {
        return Err(Rejection::Corrupt);
    }
    let mut shrink = None;
    let mut size = (grid.output_width, grid.output_height);
    let mut tile_size = (0, 0);
    let mut rgba = Vec::new();
    let mut done_rows = 0u32;
    for row in 0..rows {
        let mut tiles = Vec::with_capacity(columns);
        for column in 0..columns {
            let data = parser
                .tile_data(row * columns + column)
                .map_err(parse_rejection)?;
            let picture = decode_av1(&data, limits)?;
            let this = picture.size()?;
            if row == 0 && column == 0 {
                tile_size = this;
                if size.0 == 0 || size.1 == 0 {
                    size = (
                        this.0.saturating_mul(grid.columns.into()),
                        this.1.saturating_mul(grid.rows.into()),
                    );
                }
                let (width, height) = size;
                check_dimensions(width, height, limits)?;
                // The tiles must cover the output, and the last ones must reach into it.
                let covers = |tile: u32, count: usize, out: u32| {
                    let count = count as u64;
                    u64::from(tile) * count >= u64::from(out)
                        && u64::from(tile) * (count - 1) < u64::from(out)
                };
                if !covers(this.0, columns, width) || !covers(this.1, rows, height) {
                    return Err(Rejection::Corrupt);
                }
                let factor = shrink_factor(width, height, target.min_short(width, height));
                shrink = Some(BoxShrink::new(width, height, factor));
                rgba = vec![0u8; this.0 as usize * columns * 4];
            } else if this != tile_size {
                return Err(Rejection::Corrupt);
            }
            tiles.push(picture);
        }
        let converters = tiles
            .iter()
            .map(|tile| Converter::new(tile, colour))
            .collect::<Result<Vec<_>, _>>()?;
        let shrink = shrink.as_mut().ok_or(Rejection::Corrupt)?;
        let tile_row_bytes = tile_size.0 as usize * 4;
        for y in 0..tile_size.1 {
            if done_rows == size.1 {
                break;
            }
            for (column, converter) in converters.iter().enumerate() {
                let start = column * tile_row_bytes;
                converter.row(y as usize, &mut rgba[start..start + tile_row_bytes]);
            }
            shrink.push(&rgba[..size.0 as usize * 4]);
            done_rows += 1;
        }
    }
    let (rgb, width, height) = shrink
        .ok_or(Rejection::Corrupt)?
        .finish()
        .ok_or(Rejection::Corrupt)?;
    Ok((rgb, width, height, size))
}

fn parse_rejection(e: zenavif_parse::Error) -> Rejection {
    match e {
        zenavif_parse::Error::ResourceLimitExceeded(_) | zenavif_parse::Error::OutOfMemory => {
            Rejection::TooManyPixels
        }
        _ => Rejection::Corrupt,
    }
}

/// `irot` (quarter turns anticlockwise) then `imir` (0: top and bottom exchanged, 1: left and
/// right, as libavif and libheif write and read them), as the one EXIF-style orientation that
/// does both.
fn orientation(angle: Option<u16>, mirror: Option<u8>) -> Orientation {
    // Clockwise quarter turns, then whether to mirror left-right.
    let mut turns = match angle {
        Some(90) => 3,
        Some(180) => 2,
        Some(270) => 1,
        _ => 0,
    };
    let mut flip = false;
    match mirror {
        // Top-bottom is left-right after a half turn.
        Some(0) => {
            turns = (turns + 2) % 4;
            flip = true;
        }
        Some(1) => flip = true,
        _ => {}
    }
    match (turns, flip) {
        (0, false) => Orientation::NoTransforms,
        (0, true) => Orientation::FlipHorizontal,
        (1, false) => Orientation::Rotate90,
        (1, true) => Orientation::Rotate90FlipH,
        (2, false) => Orientation::Rotate180,
        (2, true) => Orientation::FlipVertical,
        (3, false) => Orientation::Rotate270,
        _ => Orientation::Rotate270FlipH,
    }
}

/// The width and height of every `ispe` box in `meta/iprp/ipco`, read without the parser:
/// nothing is allocated, and a malformed box just ends the walk.
fn spatial_extents(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for (kind, body) in boxes(bytes) {
        if kind != *b"meta" || body.len() < 4 {
            continue;
        }
        for (kind, body) in boxes(&body[4..]) {
            if kind != *b"iprp" {
                continue;
            }
            for (kind, body) in boxes(body) {
                if kind != *b"ipco" {
                    continue;
                }
                for (kind, body) in boxes(body) {
                    if kind == *b"ispe" && body.len() >= 12 {
                        let word = |at: usize| {
                            u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
                        };
                        found.push((word(4), word(8)));
                    }
                }
            }
        }
    }
    found
}

/// The ISO-BMFF boxes laid end to end in `bytes`: type and body. Stops at the first box that
/// does not fit.
fn boxes(mut bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let header = bytes.get(..8)?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (start, size) = match size32 {
            0 => (8, bytes.len()),
            1 => {
                let large = bytes.get(8..16)?;
                let mut word = [0u8; 8];
                word.copy_from_slice(large);
                (16, usize::try_from(u64::from_be_bytes(word)).ok()?)
            }
            n => (8, n as usize),
        };
        if size < start || size > bytes.len() {
            return None;
        }
        let body = &bytes[start..size];
        bytes = &bytes[size..];
        Some((kind, body))
    })
}

// ---------------------------------------------------------------------------------------
// rav1d
// ---------------------------------------------------------------------------------------

const EAGAIN: c_int = -(libc_eagain());

/// `EAGAIN` on the platforms rav1d supports (Linux, macOS, Windows all use 11 or 35).
const fn libc_eagain() -> c_int {
    if cfg!(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )) {
        35
    } else {
        11
    }
}

/// A rav1d decoder, closed when dropped.
struct Context(Option<Dav1dContext>);

impl Context {
    fn open(limits: &Limits) -> Result<Self, Rejection> {
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: `dav1d_default_settings` writes a whole `Dav1dSettings` into the pointer,
        // which is valid for writes; after it the value is initialised.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new_unchecked(settings.as_mut_ptr()));
            settings.assume_init()
        };
        // SAFETY: `Dav1dLogger` is `repr(C)` of two options of pointers (a `repr(transparent)`
        // `NonNull` and an `extern "C"` fn), for which all-zero bytes are `None`: no logger,
        // so hostile files do not print to stderr.
        unsafe { std::ptr::write_bytes(&raw mut settings.logger, 0, 1) };
        // One thread, the caller's: the pipeline bounds how many pictures decode at once.
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        settings.apply_grain = 1;
        settings.all_layers = 0;
        settings.frame_size_limit = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
        let mut context = Context(None);
        // SAFETY: both pointers are to live locals; `dav1d_open` reads the settings and writes
        // the new context (or `None`) into `context.0`.
        let status = unsafe {
            dav1d_open(
                Some(NonNull::from(&mut context.0)),
                Some(NonNull::from(&mut settings)),
            )
        };
        if status.0 != 0 || context.0.is_none() {
            return Err(Rejection::Corrupt);
        }
        Ok(context)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed only here; `dav1d_close`
        // takes it out of the option, leaving `None`.
        unsafe { dav1d_close(Some(NonNull::from(&mut self.0))) };
    }
}

/// Input bytes owned by rav1d, released when dropped.
struct Data(Dav1dData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: the data came from `dav1d_data_create`; unref on consumed (empty) data is a
        // no-op.
        unsafe { dav1d_data_unref(Some(NonNull::from(&mut self.0))) };
    }
}

/// A decoded picture, released when dropped.
struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was written by `dav1d_get_picture` and is released only here.
        unsafe { dav1d_picture_unref(Some(NonNull::from(&mut self.0))) };
    }
}

/// The planes of a picture as slices: `(samples, stride in samples)` for Y, U, V.
struct Planes<'a> {
    bits: u32,
    high: bool,
    width: usize,
    height: usize,
    /// Chroma subsampling shifts; `None` for monochrome.
    chroma: Option<(u32, u32)>,
    planes: [Option<(&'a [u8], usize)>; 3],
    /// Sequence header: matrix coefficients and full range.
    matrix: u32,
    full_range: bool,
}

impl Picture {
    fn size(&self) -> Result<(u32, u32), Rejection> {
        let side = |n: c_int| u32::try_from(n).map_err(|_| Rejection::Corrupt);
        Ok((side(self.0.p.w)?, side(self.0.p.h)?))
    }

    fn planes(&self) -> Result<Planes<'_>, Rejection> {
        let (width, height) = self.size()?;
        let (width, height) = (width as usize, height as usize);
        let bits = u32::try_from(self.0.p.bpc).map_err(|_| Rejection::Corrupt)?;
        if !matches!(bits, 8 | 10 | 12) || width == 0 || height == 0 {
            return Err(Rejection::Corrupt);
        }
        let high = bits > 8;
        let chroma = match self.0.p.layout {
            DAV1D_PIXEL_LAYOUT_I400 => None,
            DAV1D_PIXEL_LAYOUT_I420 => Some((1, 1)),
            DAV1D_PIXEL_LAYOUT_I422 => Some((1, 0)),
            DAV1D_PIXEL_LAYOUT_I444 => Some((0, 0)),
            _ => return Err(Rejection::Corrupt),
        };
        let sample = if high { 2 } else { 1 };
        let plane = |index: usize, w: usize, h: usize| -> Result<(&[u8], usize), Rejection> {
            let stride = self.0.stride[index.min(1)];
            let stride = usize::try_from(stride).map_err(|_| Rejection::Corrupt)?;
            let row = w * sample;
            let pointer = self.0.data[index].ok_or(Rejection::Corrupt)?;
            if stride < row || stride % sample != 0 {
                return Err(Rejection::Corrupt);
            }
            let length = stride * (h - 1) + row;
            // SAFETY: rav1d allocated this plane for the picture, `h` rows of `stride` bytes
            // (the last row at least `row` long), and keeps it alive while the picture
            // holds its reference, which outlives the returned borrow of `self`. Nothing
            // writes to a picture once `dav1d_get_picture` has returned it.
            let bytes =
                unsafe { std::slice::from_raw_parts(pointer.as_ptr().cast::<u8>(), length) };
            Ok((bytes, stride / sample))
        };
        let mut planes = [None, None, None];
        planes[0] = Some(plane(0, width, height)?);
        if let Some((sx, sy)) = chroma {
            let (cw, ch) = ((width + sx as usize) >> sx, (height + sy as usize) >> sy);
            planes[1] = Some(plane(1, cw, ch)?);
            planes[2] = Some(plane(2, cw, ch)?);
        }
        // SAFETY: a picture from `dav1d_get_picture` carries its sequence header, which lives
        // as long as the picture's reference to it.
        let header = self
            .0
            .seq_hdr
            .map(|header| unsafe { header.as_ref() })
            .ok_or(Rejection::Corrupt)?;
        Ok(Planes {
            bits,
            high,
            width,
            height,
            chroma,
            planes,
            matrix: header.mtrx,
            full_range: header.color_range != 0,
        })
    }
}

impl Planes<'_> {
    /// Sample `x` of row `y` of plane `index`.
    #[inline]
    fn at(&self, index: usize, x: usize, y: usize) -> u16 {
        let Some((bytes, stride)) = self.planes[index] else {
            return 0;
        };
        let i = y * stride + x;
        if self.high {
            u16::from_ne_bytes([bytes[2 * i], bytes[2 * i + 1]])
        } else {
            u16::from(bytes[i])
        }
    }
}

/// Decodes one AV1 payload (a still picture, a tile, an alpha plane or a sequence's first
/// frame) after checking its sequence header's size.
fn decode_av1(data: &[u8], limits: &Limits) -> Result<Picture, Rejection> {
    let header = AV1Metadata::parse_av1_bitstream(data).map_err(|_| Rejection::Corrupt)?;
    check_dimensions(
        header.max_frame_width.get(),
        header.max_frame_height.get(),
        limits,
    )?;
    let context = Context::open(limits)?;
    let mut input = Data(Dav1dData::default());
    // SAFETY: `input.0` is a live, empty `Dav1dData` that `dav1d_data_create` fills with a
    // new buffer of `data.len()` bytes, returning its start (null on failure).
    let buffer = unsafe { dav1d_data_create(Some(NonNull::from(&mut input.0)), data.len()) };
    if buffer.is_null() {
        return Err(Rejection::TooManyPixels);
    }
    // SAFETY: `buffer` is the start of `data.len()` writable bytes owned by `input`, which
    // cannot overlap the borrowed `data`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };

    let mut picture = Picture(Dav1dPicture::default());
    loop {
        if input.0.sz > 0 {
            // SAFETY: the context is open and `input.0` is data from `dav1d_data_create`;
            // rav1d consumes what it takes and updates `input.0` in place.
            let Dav1dResult(status) =
                unsafe { dav1d_send_data(context.0, Some(NonNull::from(&mut input.0))) };
            if status < 0 && status != EAGAIN {
                return Err(Rejection::Corrupt);
            }
        }
        // SAFETY: the context is open and `picture.0` is an empty picture that
        // `dav1d_get_picture` overwrites with a new reference on success.
        let Dav1dResult(status) =
            unsafe { dav1d_get_picture(context.0, Some(NonNull::from(&mut picture.0))) };
        match status {
            0 => return Ok(picture),
            EAGAIN if input.0.sz > 0 => continue,
            _ => return Err(Rejection::Corrupt),
        }
    }
}

// ---------------------------------------------------------------------------------------
// YUV → RGB
// ---------------------------------------------------------------------------------------

/// The `colr` box's matrix and range, which take precedence over the sequence header's.
#[derive(Debug, Clone, Copy)]
struct Colour {
    matrix: u32,
    full_range: bool,
}

fn colour_of(info: Option<&ColorInformation>) -> Option<Colour> {
    match info? {
        ColorInformation::Nclx {
            matrix_coefficients,
            full_range,
            ..
        } => Some(Colour {
            matrix: u32::from(*matrix_coefficients),
            full_range: *full_range,
        }),
        ColorInformation::IccProfile(_) => None,
    }
}

/// Converts rows of a picture to RGBA (alpha 255).
struct Converter<'a> {
    planes: Planes<'a>,
    /// Y' → R'G'B' coefficients: R = Y + cr_r·Cr, G = Y − cb_g·Cb − cr_g·Cr, B = Y + cb_b·Cb.
    cr_r: f32,
    cb_g: f32,
    cr_g: f32,
    cb_b: f32,
    identity: bool,
    y_offset: f32,
    y_scale: f32,
    c_offset: f32,
    c_scale: f32,
}

impl<'a> Converter<'a> {
    fn new(picture: &'a Picture, container: Option<Colour>) -> Result<Self, Rejection> {
        let planes = picture.planes()?;
        let colour = container.unwrap_or(Colour {
            matrix: planes.matrix,
            full_range: planes.full_range,
        });
        let (kr, kb) = match colour.matrix {
            DAV1D_MC_BT709 => (0.2126, 0.0722),
            DAV1D_MC_BT2020_NCL | DAV1D_MC_BT2020_CL => (0.2627, 0.0593),
            // BT.601 and everything unspecified or unusual, as libavif does.
            DAV1D_MC_BT470BG | DAV1D_MC_BT601 => (0.299, 0.114),
            _ => (0.299, 0.114),
        };
        let identity = colour.matrix == DAV1D_MC_IDENTITY && planes.chroma == Some((0, 0));
        let kg = 1.0 - kr - kb;
        let max = ((1u32 << planes.bits) - 1) as f32;
        let shift = (planes.bits - 8) as f32;
        let scale = 2f32.powf(shift);
        let (y_offset, y_scale, c_scale) = if colour.full_range {
            (0.0, 255.0 / max, 255.0 / max)
        } else {
            (
                16.0 * scale,
                255.0 / (219.0 * scale),
                255.0 / (224.0 * scale),
            )
        };
        Ok(Self {
            cr_r: 2.0 * (1.0 - kr),
            cb_g: 2.0 * kb * (1.0 - kb) / kg,
            cr_g: 2.0 * kr * (1.0 - kr) / kg,
            cb_b: 2.0 * (1.0 - kb),
            identity,
            y_offset,
            y_scale,
            c_offset: (1u32 << (planes.bits - 1)) as f32,
            c_scale,
            planes,
        })
    }

    /// Row `y` of the picture into `rgba` (four bytes a pixel, alpha 255).
    fn row(&self, y: usize, rgba: &mut [u8]) {
        let p = &self.planes;
        if y >= p.height {
            return;
        }
        let to_byte = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        for (x, out) in rgba.chunks_exact_mut(4).take(p.width).enumerate() {
            let luma = (f32::from(p.at(0, x, y)) - self.y_offset) * self.y_scale;
            let (r, g, b) = match p.chroma {
                None => (luma, luma, luma),
                Some((sx, sy)) => {
                    let (cx, cy) = (x >> sx, y >> sy);
                    let (u, v) = (p.at(1, cx, cy), p.at(2, cx, cy));
                    if self.identity {
                        // GBR: Y is green, U blue, V red, each a full-range sample.
                        let full = |s: u16| (f32::from(s) - self.y_offset) * self.y_scale;
                        (full(v), luma, full(u))
                    } else {
                        let cb = (f32::from(u) - self.c_offset) * self.c_scale;
                        let cr = (f32::from(v) - self.c_offset) * self.c_scale;
                        (
                            luma + self.cr_r * cr,
                            luma - self.cb_g * cb - self.cr_g * cr,
                            luma + self.cb_b * cb,
                        )
                    }
                }
            };
            out.copy_from_slice(&[to_byte(r), to_byte(g), to_byte(b), 255]);
        }
    }
}

/// Puts row `y` of the alpha picture (its luma, in its own range) into `rgba`, dividing the
/// colour by alpha when it was premultiplied.
fn alpha_row(alpha: &Planes<'_>, y: usize, premultiplied: bool, rgba: &mut [u8]) {
    if y >= alpha.height {
        return;
    }
    let max = ((1u32 << alpha.bits) - 1) as f32;
    let (offset, scale) = if alpha.full_range {
        (0.0, 255.0 / max)
    } else {
        let unit = 2f32.powf((alpha.bits - 8) as f32);
        (16.0 * unit, 255.0 / (219.0 * unit))
    };
    for (x, out) in rgba.chunks_exact_mut(4).take(alpha.width).enumerate() {
        let a = ((f32::from(alpha.at(0, x, y)) - offset) * scale)
            .round()
            .clamp(0.0, 255.0) as u8;
        out[3] = a;
        if premultiplied && a > 0 && a < 255 {
            for c in &mut out[..3] {
                *c = (u32::from(*c) * 255 / u32::from(a)).min(255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fixtures are made by `tests/fixtures/make_fixtures.sh` (avifenc); each upright
    //! picture is [[red, green], [blue, yellow]].

    use super::*;

    use crate::avatar::formats::images::*;
    use crate::avatar::formats::test_support::{assert_quadrants_of, unshrunk};
    use proptest::prelude::*;

    const EIGHT_BIT: &[u8] = include_bytes!("../../../tests/fixtures/avif-8bit-420.avif");
    const TEN_BIT: &[u8] = include_bytes!("../../../tests/fixtures/avif-10bit-420.avif");
    const TWELVE_BIT: &[u8] = include_bytes!("../../../tests/fixtures/avif-12bit-444.avif");
    const LIMITED_709: &[u8] = include_bytes!("../../../tests/fixtures/avif-limited-bt709.avif");
    const GRID: &[u8] = include_bytes!("../../../tests/fixtures/avif-grid-2x2.avif");
    const ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/avif-alpha.avif");
    const IROT: &[u8] = include_bytes!("../../../tests/fixtures/avif-irot90.avif");
    const IMIR0: &[u8] = include_bytes!("../../../tests/fixtures/avif-imir0.avif");
    const IMIR1: &[u8] = include_bytes!("../../../tests/fixtures/avif-imir1.avif");
    const IROT_IMIR: &[u8] = include_bytes!("../../../tests/fixtures/avif-irot90-imir1.avif");
    const SEQUENCE: &[u8] = include_bytes!("../../../tests/fixtures/avif-sequence.avif");

    /// The decoded picture stood upright as the pipeline would, at full size: the sniffer
    /// does not send AVIF here yet (see the module docs), so the tests call the decoder.
    fn upright(bytes: &[u8], what: &str) -> image::RgbImage {
        let decoded = decode(bytes, &Limits::default(), unshrunk())
            .unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
        let Pixels::Rgb(rgb) = decoded.pixels else {
            panic!("{what}: the decoder flattens onto white")
        };
        let stored = image::RgbImage::from_raw(decoded.width, decoded.height, rgb)
            .expect("the buffer matches the size");
        let mut picture = image::DynamicImage::ImageRgb8(stored);
        picture.apply_orientation(decoded.orientation);
        picture.into_rgb8()
    }

    #[test]
    fn every_bit_depth_and_range_keeps_its_colours_in_place() {
        for (bytes, what) in [
            (EIGHT_BIT, "8-bit 4:2:0"),
            (TEN_BIT, "10-bit 4:2:0"),
            (TWELVE_BIT, "12-bit 4:4:4"),
            (LIMITED_709, "limited-range BT.709"),
        ] {
            assert_quadrants_of(&upright(bytes, what), UPRIGHT, what);
        }
    }

    #[test]
    fn the_containers_matrix_and_range_are_used() {
        // The limited-range BT.709 fixture read as full-range BT.601 would miss its colours:
        // a guard that the `colr` box is applied rather than defaults.
        let picture = decode(LIMITED_709, &Limits::default(), unshrunk()).expect("decodes");
        let Pixels::Rgb(rgb) = picture.pixels else {
            panic!("opaque pictures are RGB")
        };
        let w = picture.width as usize;
        let at = |x: usize, y: usize| {
            let i = (y * w + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        assert_near(at(8, 8), RED, 12, "top left");
        assert_near(at(w - 8, 8), GREEN, 12, "top right");
    }

    #[test]
    fn grid_tiles_land_where_the_grid_says() {
        assert_quadrants_of(&upright(GRID, "2×2 grid"), UPRIGHT, "2×2 grid");
    }

    #[test]
    fn the_alpha_item_makes_transparent_pixels_white() {
        assert_quadrants_of(
            &upright(ALPHA, "alpha"),
            [[WHITE, GREEN], [BLUE, YELLOW]],
            "transparent top left",
        );
    }

    #[test]
    fn irot_and_imir_stand_the_picture_upright() {
        for (bytes, what) in [
            (IROT, "irot 90° anticlockwise"),
            (IMIR0, "imir 0 (top-bottom)"),
            (IMIR1, "imir 1 (left-right)"),
            (IROT_IMIR, "irot then imir"),
        ] {
            assert_quadrants_of(&upright(bytes, what), UPRIGHT, what);
        }
    }

    #[test]
    fn orientation_composes_the_turn_then_the_mirror() {
        // Applying `orientation(..)` must equal turning anticlockwise, then mirroring.
        let picture = image::DynamicImage::ImageRgb8(quadrants(6, 4, UPRIGHT));
        for angle in [None, Some(0), Some(90), Some(180), Some(270)] {
            for mirror in [None, Some(0), Some(1)] {
                let mut expected = picture.clone();
                expected = match angle {
                    Some(90) => expected.rotate270(),
                    Some(180) => expected.rotate180(),
                    Some(270) => expected.rotate90(),
                    _ => expected,
                };
                expected = match mirror {
                    Some(0) => expected.flipv(),
                    Some(1) => expected.fliph(),
                    _ => expected,
                };
                let mut actual = picture.clone();
                actual.apply_orientation(orientation(angle, mirror));
                assert_eq!(actual, expected, "irot {angle:?}, imir {mirror:?}");
            }
        }
    }

    #[test]
    fn a_sequence_shows_its_first_frame() {
        // The second frame is all magenta.
        assert_quadrants_of(&upright(SEQUENCE, "sequence"), UPRIGHT, "first frame");
    }

    /// `bytes` with every `ispe` box claiming `width`×`height`.
    fn with_ispe(bytes: &[u8], width: u32, height: u32) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let mut at = 0;
        let mut found = 0;
        while let Some(i) = out[at..].windows(4).position(|w| w == b"ispe") {
            let body = at + i + 4 + 4;
            out[body..body + 4].copy_from_slice(&width.to_be_bytes());
            out[body + 4..body + 8].copy_from_slice(&height.to_be_bytes());
            at = body + 8;
            found += 1;
        }
        assert!(found > 0, "the fixture has an ispe box");
        out
    }

    #[test]
    fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
        for (width, height) in [
            (16_384, 16_384),
            (100_000, 10),
            (10, 1 << 31),
            (u32::MAX, 1),
        ] {
            let claim = with_ispe(EIGHT_BIT, width, height);
            assert_eq!(
                decode(&claim, &Limits::default(), unshrunk()).err(),
                Some(Rejection::TooManyPixels),
                "{width}×{height}"
            );
        }
        // The ispe box is what is checked: the same claim on the real size is fine.
        assert!(
            decode(
                &with_ispe(EIGHT_BIT, 64, 48),
                &Limits::default(),
                unshrunk()
            )
            .is_ok()
        );
    }

    #[test]
    fn the_limits_given_are_the_limits_applied() {
        // 64×48 is 3,072 pixels; the AV1 sequence header and rav1d are held to the same limits
        // even when the container says nothing.
        let small = Limits {
            max_pixels: 3_000,
            ..Limits::default()
        };
        for bytes in [EIGHT_BIT, GRID, SEQUENCE] {
            assert_eq!(
                decode(bytes, &small, unshrunk()).err(),
                Some(Rejection::TooManyPixels)
            );
        }
        let no_ispe: Vec<u8> = {
            let mut b = EIGHT_BIT.to_vec();
            let i = b.windows(4).position(|w| w == b"ispe").expect("ispe");
            b[i..i + 4].copy_from_slice(b"free");
            b
        };
        let limits = Limits {
            max_pixels: 3_000,
            ..Limits::default()
        };
        assert_eq!(
            decode(&no_ispe, &limits, unshrunk()).err(),
            Some(Rejection::TooManyPixels),
            "the AV1 sequence header's size is checked too"
        );
        let exact = Limits {
            max_pixels: 64 * 48,
            max_side: 64,
            ..Limits::default()
        };
        assert!(
            decode(EIGHT_BIT, &exact, unshrunk()).is_ok(),
            "the limits are inclusive"
        );
    }

    #[test]
    fn truncated_files_are_refused_at_every_length() {
        for fixture in [EIGHT_BIT, TEN_BIT, GRID, ALPHA, SEQUENCE] {
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
            brand in prop::sample::select(vec![&b"avif"[..], b"avis"]),
            rest in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut bytes = b"\0\0\0\x1cftyp".to_vec();
            bytes.extend_from_slice(brand);
            bytes.extend_from_slice(b"\0\0\0\0mif1miafMA1B");
            bytes.extend_from_slice(&rest);
            if let Err(rejection) = decode(&bytes, &Limits::default(), unshrunk()) {
                prop_assert!(matches!(rejection, Rejection::Corrupt | Rejection::TooManyPixels));
            }
        }
        // Damage inside the AV1 payloads can abort rav1d, so that test runs the decoder in
        // its child process: tests/api/modern_formats.rs.
    }
}
