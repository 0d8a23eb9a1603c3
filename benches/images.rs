//! The benchmark inputs: the sizes of the FastAPI + Pillow peer's `make_images.py`, made here in
//! code with a fixed seed so `cargo bench` needs nothing else. Set `FOLIO_BENCH_IMAGES` to a
//! folder written by `make_images.py` to run on the peer's exact files instead.
//!
//! Every file the bench times is also written to a cache folder (`FOLIO_BENCH_CACHE`, by
//! default `target/bench-images`), so `benches/pillow_pipeline.py` can time Pillow on the same
//! bytes; the 12 MP BMP, TIFF and JPEG XL files are read back from it on later runs (delete
//! the folder after changing a generator). The JPEG XL file is made by Debian's `cjxl`
//! (`libjxl-tools`), the AVIF file by `avifenc` (`libavif-bin`) and the HEIC file by
//! `heif-enc` (`libheif-examples`); without them, those inputs are left out.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use image::{ImageEncoder, Rgba, RgbaImage};

pub struct BenchImage {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

const FILES: [&str; 6] = [
    "photo_12mp_q92_orient6.jpg",
    "photo_24mp_q85.jpg",
    "rgba_2000.png",
    "palette_800x600.gif",
    "photo_1000.webp",
    "small_300.jpg",
];

pub fn load() -> Vec<BenchImage> {
    let mut images = match std::env::var("FOLIO_BENCH_IMAGES") {
        Ok(dir) => FILES
            .iter()
            .map(|name| BenchImage {
                name,
                bytes: std::fs::read(Path::new(&dir).join(name)).expect("bench image"),
            })
            .collect(),
        Err(_) => generated(),
    };
    // The peer's set has no progressive JPEG: the 12 MP one is made here either way.
    images.push(BenchImage {
        name: "photo_12mp_progressive.jpg",
        bytes: progressive_jpeg(4032, 3024, 92, 7),
    });
    let cache = cache_dir();
    for image in &images {
        std::fs::write(cache.join(image.name), &image.bytes).expect("write the bench cache");
    }
    images
}

/// Where the generated files are kept for the Pillow script and for later runs.
pub fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("FOLIO_BENCH_CACHE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-images"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench cache folder");
    dir
}

/// The side of the 12 MP photo in the formats that cannot shrink while decoding.
pub const EXTRA_WIDTH: u32 = 4000;
pub const EXTRA_HEIGHT: u32 = 3000;
/// An ICO holds at most 256×256.
const ICON: u32 = 256;

/// The 12 MP photo (4000×3000, seed 8) as 24-bit BMP, uncompressed and LZW TIFF, and JPEG XL
/// (`cjxl` at its defaults: distance 1, effort 7), and the same photo drawn at 256×256 as a
/// PNG-in-ICO and a 32-bit BMP-in-ICO. Read from the cache folder when there.
pub fn extra() -> Vec<BenchImage> {
    let cache = cache_dir();
    let names = [
        "photo_12mp_24bit.bmp",
        "photo_12mp_uncompressed.tif",
        "photo_12mp_lzw.tif",
        "photo_256_png.ico",
        "photo_256_bmp.ico",
    ];
    let mut photo = None;
    let mut rgb_photo = || -> Vec<u8> {
        photo
            .get_or_insert_with(|| rgb(&photo_like(EXTRA_WIDTH, EXTRA_HEIGHT, 8)))
            .clone()
    };
    let mut images = Vec::new();
    for name in names {
        let path = cache.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) => {
                let bytes = match name {
                    "photo_12mp_24bit.bmp" => bmp(&rgb_photo(), EXTRA_WIDTH, EXTRA_HEIGHT),
                    "photo_12mp_uncompressed.tif" => {
                        tiff(&rgb_photo(), EXTRA_WIDTH, EXTRA_HEIGHT, false)
                    }
                    "photo_12mp_lzw.tif" => tiff(&rgb_photo(), EXTRA_WIDTH, EXTRA_HEIGHT, true),
                    "photo_256_png.ico" => png_ico(&photo_like(ICON, ICON, 8)),
                    _ => bmp_ico(&photo_like(ICON, ICON, 8)),
                };
                std::fs::write(&path, &bytes).expect("write the bench cache");
                bytes
            }
        };
        images.push(BenchImage { name, bytes });
    }
    let jxl = cache.join("photo_12mp.jxl");
    if !jxl.exists() {
        let ppm = cache.join("photo_12mp.ppm");
        let mut bytes = format!("P6\n{EXTRA_WIDTH} {EXTRA_HEIGHT}\n255\n").into_bytes();
        bytes.extend_from_slice(&rgb_photo());
        std::fs::write(&ppm, bytes).expect("write the bench cache");
        match Command::new("cjxl").arg(&ppm).arg(&jxl).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("cjxl failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("no cjxl ({e}): the JPEG XL input is left out"),
        }
        let _ = std::fs::remove_file(&ppm);
    }
    if let Ok(bytes) = std::fs::read(&jxl) {
        images.push(BenchImage {
            name: "photo_12mp.jxl",
            bytes,
        });
    }
    // 8-bit 4:2:0 at each encoder's default quality, as a phone or an image service makes.
    let encoded = [
        ("photo_12mp.avif", "avifenc", &[][..]),
        ("photo_12mp.heic", "heif-enc", &["-o"][..]),
    ];
    for (name, encoder, before_output) in encoded {
        let path = cache.join(name);
        if !path.exists() {
            let png = cache.join("photo_12mp.png");
            image::RgbImage::from_raw(EXTRA_WIDTH, EXTRA_HEIGHT, rgb_photo())
                .expect("the photo's size")
                .save(&png)
                .expect("write the bench cache");
            let run = Command::new(encoder)
                .arg(&png)
                .args(before_output)
                .arg(&path)
                .output();
            match run {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!("{encoder} failed: {}", String::from_utf8_lossy(&out.stderr)),
                Err(e) => eprintln!("no {encoder} ({e}): {name} is left out"),
            }
            let _ = std::fs::remove_file(&png);
        }
        if let Ok(bytes) = std::fs::read(&path) {
            images.push(BenchImage { name, bytes });
        }
    }
    images
}

fn generated() -> Vec<BenchImage> {
    vec![
        BenchImage {
            name: FILES[0],
            bytes: jpeg(4032, 3024, 92, Some(6), 1),
        },
        BenchImage {
            name: FILES[1],
            bytes: jpeg(6000, 4000, 85, None, 2),
        },
        BenchImage {
            name: FILES[2],
            bytes: png_rgba(2000, 3),
        },
        BenchImage {
            name: FILES[3],
            bytes: gif(800, 600, 4),
        },
        // image encodes WebP losslessly only; the peer's file is lossy (VP8).
        BenchImage {
            name: "photo_1000_lossless.webp",
            bytes: webp(1000, 5),
        },
        BenchImage {
            name: FILES[5],
            bytes: jpeg(300, 300, 85, None, 6),
        },
    ]
}

/// Smooth gradients, soft discs and per-pixel noise: compresses like a photo.
pub fn photo_like(width: u32, height: u32, seed: u64) -> RgbaImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 17) as i32 - 8
    };
    let discs: Vec<(f32, f32, f32, [i32; 3])> = (0..12)
        .map(|i| {
            let f = (i as f32 + seed as f32) * 0.37;
            (
                (f.sin() * 0.5 + 0.5) * width as f32,
                (f.cos() * 0.5 + 0.5) * height as f32,
                (0.05 + 0.1 * (f * 3.0).sin().abs()) * width.min(height) as f32,
                [
                    (f * 97.0) as i32 % 256,
                    (f * 57.0) as i32 % 256,
                    (f * 23.0) as i32 % 256,
                ],
            )
        })
        .collect();
    RgbaImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let mut c = [
            (fx * 255.0) as i32,
            (fy * 200.0) as i32,
            ((1.0 - fx) * 180.0) as i32,
        ];
        for (cx, cy, r, col) in &discs {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d < *r {
                let t = 1.0 - d / r;
                for k in 0..3 {
                    c[k] = (c[k] as f32 * (1.0 - t) + col[k] as f32 * t) as i32;
                }
            }
        }
        let n = noise();
        Rgba([
            (c[0] + n).clamp(0, 255) as u8,
            (c[1] + n).clamp(0, 255) as u8,
            (c[2] + n).clamp(0, 255) as u8,
            255,
        ])
    })
}

fn rgb(img: &RgbaImage) -> Vec<u8> {
    img.pixels().flat_map(|p| [p[0], p[1], p[2]]).collect()
}

pub fn jpeg(width: u32, height: u32, quality: u8, orientation: Option<u16>, seed: u64) -> Vec<u8> {
    photo_jpeg(width, height, quality, seed, |encoder| {
        if let Some(o) = orientation {
            encoder
                .add_app_segment(1, exif_orientation(o))
                .expect("app1");
        }
    })
}

pub fn progressive_jpeg(width: u32, height: u32, quality: u8, seed: u64) -> Vec<u8> {
    photo_jpeg(width, height, quality, seed, |encoder| {
        encoder.set_progressive(true)
    })
}

/// A photo-like JPEG; `configure` sets the encoder up first.
fn photo_jpeg(
    width: u32,
    height: u32,
    quality: u8,
    seed: u64,
    configure: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let img = photo_like(width, height, seed);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    configure(&mut encoder);
    encoder
        .encode(
            &rgb(&img),
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encode");
    out
}

/// "Exif\0\0" and a little-endian TIFF with one IFD entry: Orientation.
pub fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut v = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    v.extend_from_slice(&0x0112u16.to_le_bytes());
    v.extend_from_slice(&3u16.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&orientation.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v
}

fn png_rgba(side: u32, seed: u64) -> Vec<u8> {
    let mut img = photo_like(side, side, seed);
    for (x, y, p) in img.enumerate_pixels_mut() {
        // A transparent band, a translucent band, the rest opaque.
        p[3] = match (x * 3 / side, y * 4 / side) {
            (0, _) => 0,
            (1, 0 | 1) => 128,
            _ => 255,
        };
    }
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), side, side, image::ExtendedColorType::Rgba8)
        .expect("png");
    out
}

fn gif(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut img = photo_like(width, height, seed);
    for (x, _, p) in img.enumerate_pixels_mut() {
        if x < width / 6 {
            p[3] = 0;
        }
    }
    let mut out = Cursor::new(Vec::new());
    {
        let mut encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        encoder.encode_frame(image::Frame::new(img)).expect("gif");
    }
    out.into_inner()
}

fn webp(side: u32, seed: u64) -> Vec<u8> {
    let img = photo_like(side, side, seed);
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(&rgb(&img), side, side, image::ExtendedColorType::Rgb8)
        .expect("webp");
    out
}

/// A 24-bit bottom-up BMP (BITMAPINFOHEADER), rows padded to four bytes.
fn bmp(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let row = (width as usize * 3).div_ceil(4) * 4;
    let size = 54 + row * height as usize;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&dib_header(width, height, 24, row * height as usize));
    for y in (0..height as usize).rev() {
        let start = out.len();
        for p in rgb[y * width as usize * 3..][..width as usize * 3].chunks_exact(3) {
            out.extend_from_slice(&[p[2], p[1], p[0]]);
        }
        out.resize(start + row, 0);
    }
    out
}

/// BITMAPINFOHEADER: uncompressed, no palette.
fn dib_header(width: u32, height: u32, bits: u16, image_size: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(40);
    h.extend_from_slice(&40u32.to_le_bytes());
    h.extend_from_slice(&width.to_le_bytes());
    h.extend_from_slice(&height.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&(image_size as u32).to_le_bytes());
    h.extend_from_slice(&2835u32.to_le_bytes());
    h.extend_from_slice(&2835u32.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h
}

/// A little-endian RGB TIFF in strips of about 64 KiB (as libtiff and Pillow write them),
/// uncompressed or LZW.
fn tiff(rgb: &[u8], width: u32, height: u32, lzw: bool) -> Vec<u8> {
    let row = width as usize * 3;
    let rows_per_strip = (65_536 / row).max(1);
    let strips: Vec<Vec<u8>> = rgb
        .chunks(row * rows_per_strip)
        .map(|strip| if lzw { tiff_lzw(strip) } else { strip.to_vec() })
        .collect();
    let count = strips.len();
    // Header, then the strips, then BitsPerSample's three values, the two strip arrays and
    // the IFD.
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut offsets = Vec::with_capacity(count);
    for strip in &strips {
        offsets.push(out.len() as u32);
        out.extend_from_slice(strip);
        if out.len() % 2 == 1 {
            out.push(0);
        }
    }
    let bits_at = out.len() as u32;
    out.extend_from_slice(&[8, 0, 8, 0, 8, 0]);
    let offsets_at = out.len() as u32;
    offsets
        .iter()
        .for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
    let counts_at = out.len() as u32;
    strips
        .iter()
        .for_each(|s| out.extend_from_slice(&(s.len() as u32).to_le_bytes()));
    let ifd_at = out.len() as u32;
    out[4..8].copy_from_slice(&ifd_at.to_le_bytes());
    let (short, long) = (3u16, 4u16);
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, long, 1, width),
        (257, long, 1, height),
        (258, short, 3, bits_at),
        (259, short, 1, if lzw { 5 } else { 1 }),
        (262, short, 1, 2),
        (273, long, count as u32, offsets_at),
        (277, short, 1, 3),
        (278, long, 1, rows_per_strip as u32),
        (279, long, count as u32, counts_at),
        (284, short, 1, 1),
    ];
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, n, value) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&[0; 4]);
    out
}

/// TIFF's LZW: codes of 9 to 12 bits, most significant bit first, a clear code first and when
/// the table is full, the code width growing one code early (as weezl and libtiff read it).
fn tiff_lzw(data: &[u8]) -> Vec<u8> {
    const CLEAR: u16 = 256;
    const END: u16 = 257;
    let mut out = Vec::with_capacity(data.len() / 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut put = |code: u16, width: u32, out: &mut Vec<u8>| {
        acc = (acc << width) | u32::from(code);
        bits += width;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    };
    // table[prefix * 256 + byte] = code + 1 (0: none).
    let mut table = vec![0u16; 4096 * 256];
    let (mut next, mut width) = (258u16, 9u32);
    put(CLEAR, width, &mut out);
    let Some((&first, rest)) = data.split_first() else {
        put(END, width, &mut out);
        return out;
    };
    let mut prefix = u16::from(first);
    for &byte in rest {
        let slot = usize::from(prefix) * 256 + usize::from(byte);
        if table[slot] != 0 {
            prefix = table[slot] - 1;
            continue;
        }
        put(prefix, width, &mut out);
        if next == 4094 {
            put(CLEAR, width, &mut out);
            table.fill(0);
            next = 258;
            width = 9;
        } else {
            table[slot] = next + 1;
            next += 1;
            if u32::from(next) >= 1 << width {
                width += 1;
            }
        }
        prefix = u16::from(byte);
    }
    put(prefix, width, &mut out);
    // The decoder adds one more entry on reading that code, before the end code.
    if u32::from(next) + 1 >= 1 << width && width < 12 {
        width += 1;
    }
    put(END, width, &mut out);
    if bits > 0 {
        out.push((acc << (8 - bits)) as u8);
    }
    out
}

/// One 256×256 entry: an RGBA PNG.
fn png_ico(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    let frame = image::codecs::ico::IcoFrame::as_png(
        img.as_raw(),
        ICON,
        ICON,
        image::ExtendedColorType::Rgba8,
    )
    .expect("png");
    image::codecs::ico::IcoEncoder::new(&mut out)
        .encode_images(&[frame])
        .expect("ico");
    out
}

/// One 256×256 entry: a 32-bit BGRA DIB (height doubled, bottom-up) and its 1-bit AND mask.
fn bmp_ico(img: &RgbaImage) -> Vec<u8> {
    let mask_row = (ICON as usize).div_ceil(32) * 4;
    let pixels = ICON as usize * ICON as usize * 4;
    let mut dib = dib_header(ICON, 2 * ICON, 32, pixels + mask_row * ICON as usize);
    for y in (0..ICON).rev() {
        for x in 0..ICON {
            let p = img.get_pixel(x, y);
            dib.extend_from_slice(&[p[2], p[1], p[0], p[3]]);
        }
    }
    dib.resize(dib.len() + mask_row * ICON as usize, 0);
    let mut out = vec![0, 0, 1, 0, 1, 0];
    // Width and height 0 mean 256; no palette; 1 plane; 32 bits.
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 32, 0]);
    out.extend_from_slice(&(dib.len() as u32).to_le_bytes());
    out.extend_from_slice(&22u32.to_le_bytes());
    out.extend_from_slice(&dib);
    out
}
