//! `cargo bench`: the picture pipeline on the benchmark image set, one core.
//!
//! Prints a table of per-stage medians, the whole without the renditions (what an upload cost
//! before they existed) and what they add, and the quality of shrink-on-load (PSNR of the
//! stored picture against the one made from a full-size decode), then lets criterion time each
//! image end to end: the benchmark set, the 12 MP photo as BMP, TIFF, JPEG XL and AVIF (and as
//! 256×256 ICOs, the largest an ICO holds), and chosen squares of the 24 MP JPEG (100%, 50% and
//! 10% of its short side) beside its centred one.

mod images;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use folio::avatar::{
    Encoding, Limits, Options, Renditions, Square, Timings, Variant, encode_file, process_picture,
    process_with,
};

/// One timed input: a file, and the square kept (`None`: the centred one).
struct Case<'a> {
    name: String,
    bytes: &'a [u8],
    square: Option<Square>,
}

/// The 24 MP JPEG's size (the generated one and the peer's are both 6000×4000).
const WIDE: (u32, u32) = (6000, 4000);

/// A chosen square whose side is `percent` of the short side, centred across and a third of
/// the way down (where a face tends to be); `benches/pillow_pipeline.py` chooses the same box.
fn chosen(percent: u32) -> Square {
    let (width, height) = WIDE;
    let size = width.min(height) * percent / 100;
    Square {
        x: (width - size) / 2,
        y: (height - size) / 3,
        size,
    }
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn decode_rgb(jpeg: &[u8]) -> Vec<u8> {
    jpeg_decoder::Decoder::new(jpeg)
        .decode()
        .expect("our own output decodes")
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn stage_table(cases: &[Case], limits: &Limits) {
    println!(
        "\n{:<36} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8} {:>9} {:>9} {:>12}",
        "image",
        "decode",
        "resize",
        "encode",
        "total",
        "master only",
        "added",
        "600 thr.",
        "beside",
        "PSNR vs full"
    );
    let master_only = Options {
        renditions: false,
        ..Options::default()
    };
    for case in cases {
        // With and without the renditions in turn, so both meet the same noise.
        let time = |options| {
            process_with(case.bytes, limits, case.square, options)
                .expect("accepted")
                .1
        };
        let (runs, alone): (Vec<Timings>, Vec<Timings>) = (0..41)
            .map(|_| (time(Options::default()), time(master_only)))
            .unzip();
        let stage = |f: fn(&Timings) -> Duration| median(runs.iter().map(f).collect());
        let total = median(
            runs.iter()
                .map(|t| t.decode + t.resize + t.encode)
                .collect(),
        );
        let alone = median(
            alone
                .iter()
                .map(|t| t.decode + t.resize + t.encode)
                .collect(),
        );
        let shrunk = process_with(case.bytes, limits, case.square, Options::default())
            .expect("accepted")
            .0
            .master;
        let full = process_with(
            case.bytes,
            limits,
            case.square,
            Options {
                shrink_on_load: false,
                ..Options::default()
            },
        )
        .expect("accepted")
        .0
        .master;
        let quality = psnr(&decode_rgb(&shrunk), &decode_rgb(&full));
        println!(
            "{:<36} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>9.2}ms {:>7.1}% {:>7.2}ms {:>7.2}ms {:>9.1} dB",
            case.name,
            stage(|t| t.decode),
            stage(|t| t.resize),
            stage(|t| t.encode),
            total,
            alone,
            100.0 * (total - alone) / alone,
            stage(|t| t.large),
            stage(|t| t.beside),
            quality
        );
    }
    println!();
}

/// What each file of a picture costs to encode from its pixels, and its size: where the
/// renditions' time goes (with the 600×600 JPEG that is no longer made, for comparison).
fn file_table(bytes: &[u8], limits: &Limits) {
    let processed = process_picture(bytes, limits, None).expect("accepted");
    assert_eq!(
        processed.renditions,
        Renditions::Large,
        "a photo with a 600×600"
    );
    println!("{:<20} {:>9} {:>9}", "file", "encode", "bytes");
    let files: Vec<(Variant, &Vec<u8>)> = std::iter::once((Variant::MASTER, &processed.master))
        .chain(processed.files.iter().map(|(v, f)| (*v, f)))
        .collect();
    // The pixels each file was made from, near enough: a stored file of that side, decoded.
    let pixels = |side: u32| -> Vec<u8> {
        let (variant, file) = files
            .iter()
            .find(|(v, _)| *v == Variant::stored(side))
            .expect("a file of every side");
        match variant.encoding() {
            Encoding::Jpeg => decode_rgb(file),
            Encoding::Webp => image::load_from_memory_with_format(file, image::ImageFormat::WebP)
                .expect("decodes")
                .into_rgb8()
                .into_raw(),
        }
    };
    let mut total = 0.0;
    for (variant, size) in files
        .iter()
        .map(|(v, f)| (*v, Some(f.len())))
        .chain([(Variant::RETIRED, None)])
    {
        let rgb = pixels(variant.side());
        let mut encoded = 0;
        let time = median(
            (0..31)
                .map(|_| {
                    let started = std::time::Instant::now();
                    encoded = encode_file(&rgb, variant).expect("encodes").len();
                    started.elapsed()
                })
                .collect(),
        );
        let name = format!("{} {:?}", variant.side(), variant.encoding());
        match size {
            _ if variant == Variant::MASTER => {}
            Some(_) => total += time,
            None => {
                println!(
                    "{:<20} {time:>7.2}ms {encoded:>9}",
                    format!("{name} (not made)")
                );
                continue;
            }
        }
        println!("{name:<20} {time:>7.2}ms {:>9}", size.unwrap_or(encoded));
    }
    println!("{:<20} {total:>7.2}ms (one core)\n", "renditions");
}

fn pipeline(c: &mut Criterion) {
    // AVIF is decoded in a child process, by the folio binary cargo built beside this bench.
    folio::avatar::isolated::set_helper(env!("CARGO_BIN_EXE_folio").into());
    let limits = Limits::default();
    let images = images::load();
    let extra = images::extra();
    let mut cases: Vec<Case> = images
        .iter()
        .chain(&extra)
        .map(|image| Case {
            name: image.name.to_string(),
            bytes: &image.bytes,
            square: None,
        })
        .collect();
    let wide = images
        .iter()
        .find(|image| image.name == "photo_24mp_q85.jpg")
        .expect("the 24 MP JPEG");
    for percent in [100, 50, 10] {
        cases.push(Case {
            name: format!("{} square {percent}%", wide.name),
            bytes: &wide.bytes,
            square: Some(chosen(percent)),
        });
    }
    stage_table(&cases, &limits);
    file_table(&images[0].bytes, &limits);
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(20);
    for case in &cases {
        group.bench_function(&case.name, |b| {
            b.iter(|| process_with(case.bytes, &limits, case.square, Options::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
