//! The benchmark inputs: the sizes of the FastAPI + Pillow peer's `make_images.py`, made here in
//! code with a fixed seed so `cargo bench` needs nothing else. Set `FOLIO_BENCH_IMAGES` to a
//! folder written by `make_images.py` to run on the peer's exact files instead.

use std::io::Cursor;
use std::path::Path;

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
