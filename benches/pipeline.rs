//! `cargo bench`: the picture pipeline on the benchmark image set, one core.
//!
//! Prints a table of per-stage medians and the quality of shrink-on-load (PSNR of the stored
//! picture against the one made from a full-size decode), then lets criterion time each
//! image end to end.

mod images;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use folio::avatar::{Limits, Options, Timings, process, process_with};

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

fn stage_table(images: &[images::BenchImage], limits: &Limits) {
    println!(
        "\n{:<28} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "image", "decode", "resize", "encode", "total", "PSNR vs full"
    );
    for image in images {
        let runs: Vec<Timings> = (0..15)
            .map(|_| {
                process_with(&image.bytes, limits, None, Options::default())
                    .expect("accepted")
                    .1
            })
            .collect();
        let stage = |f: fn(&Timings) -> Duration| median(runs.iter().map(f).collect());
        let total = median(
            runs.iter()
                .map(|t| t.decode + t.resize + t.encode)
                .collect(),
        );
        let shrunk = process(&image.bytes, limits).expect("accepted");
        let full = process_with(
            &image.bytes,
            limits,
            None,
            Options {
                shrink_on_load: false,
            },
        )
        .expect("accepted")
        .0;
        let quality = psnr(&decode_rgb(&shrunk), &decode_rgb(&full));
        println!(
            "{:<28} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>9.1} dB",
            image.name,
            stage(|t| t.decode),
            stage(|t| t.resize),
            stage(|t| t.encode),
            total,
            quality
        );
    }
    println!();
}

fn pipeline(c: &mut Criterion) {
    let limits = Limits::default();
    let images = images::load();
    stage_table(&images, &limits);
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(20);
    for image in &images {
        group.bench_function(image.name, |b| b.iter(|| process(&image.bytes, &limits)));
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
