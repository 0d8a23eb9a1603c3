#!/usr/bin/env python3
"""Times the FastAPI + Pillow peer's picture pipeline on the same files, one core, so Folio's
figures can be given as ratios taken in the same run.

Usage: taskset -c 1 /tmp/peer-venv/bin/python benches/pillow_pipeline.py target/bench-images [runs]

(`cargo bench --bench pipeline` writes every file it times to target/bench-images, the peer's
own when run with FOLIO_BENCH_IMAGES.)

It runs the peer's own steps (open + verify, re-open, exif_transpose, flatten onto white,
ImageOps.fit Lanczos 300x300, JPEG q85 optimize) into memory instead of a file, and the same
with Image.draft() (JPEG shrink-on-load), the fastest Pillow can do. The chosen squares of the
24 MP JPEG are the same steps with the box the bench chooses (side 10% or 50% of the short
side, centred across, a third of the way down) in place of the centred square, as
ImageOps.fit does it (one resize with a box). A file Pillow cannot open (JPEG XL: Pillow 13
has no decoder for it, so the peer answers 400) is reported as such.
"""

import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps

FILES = [
    "photo_12mp_q92_orient6.jpg",
    "photo_24mp_q85.jpg",
    "rgba_2000.png",
    "palette_800x600.gif",
    "photo_1000.webp",
    "photo_1000_lossless.webp",  # what `cargo bench` makes without FOLIO_BENCH_IMAGES
    "small_300.jpg",
    "photo_12mp_progressive.jpg",
    "photo_12mp_24bit.bmp",
    "photo_12mp_uncompressed.tif",
    "photo_12mp_lzw.tif",
    "photo_256_png.ico",
    "photo_256_bmp.ico",
    "photo_12mp.jxl",
    "photo_12mp.avif",
]

# (file, percent of the short side) for the chosen squares.
SQUARES = [("photo_24mp_q85.jpg", 50), ("photo_24mp_q85.jpg", 10)]


def to_rgb_on_white(img):
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        bg.alpha_composite(rgba)
        return bg.convert("RGB")
    return img.convert("RGB")


def chosen_box(width: int, height: int, percent: int) -> tuple[int, int, int, int]:
    """benches/pipeline.rs's `chosen`: left, top, right, bottom in upright pixels."""
    size = min(width, height) * percent // 100
    x, y = (width - size) // 2, (height - size) // 3
    return (x, y, x + size, y + size)


def pillow(content: bytes, draft: bool, percent: int | None = None) -> bytes:
    with Image.open(BytesIO(content)) as probe:
        probe.verify()
    with Image.open(BytesIO(content)) as original:
        full = original.size
        box = chosen_box(*full, percent) if percent else None
        if draft and original.format == "JPEG":
            # Keep 600 px on the side of the kept square, as Folio's shrink-on-load does.
            side = box[2] - box[0] if box else min(full)
            original.draft("RGB", (full[0] * 600 // side, full[1] * 600 // side))
        img = ImageOps.exif_transpose(original)
        img = to_rgb_on_white(img)
        if box:
            scale = img.size[0] / full[0]
            box = tuple(v * scale for v in box)
            img = img.resize((300, 300), Image.Resampling.LANCZOS, box=box)
        else:
            img = ImageOps.fit(img, (300, 300), method=Image.Resampling.LANCZOS)
    out = BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main() -> None:
    folder = Path(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    print(f"{'file':<36} {'pillow ms':>10} {'pillow+draft ms':>16}")
    cases = [(name, name, None) for name in FILES]
    cases += [(f"{name} square {p}%", name, p) for name, p in SQUARES]
    for label, name, percent in cases:
        path = folder / name
        if not path.exists():
            print(f"{label:<36} {'(no file)':>10}")
            continue
        content = path.read_bytes()
        try:
            pillow(content, False, percent)
        except Exception as err:  # noqa: BLE001 - what the peer would answer 400 for
            print(f"{label:<36} {'cannot open':>10}  ({type(err).__name__}: {err})")
            continue
        plain = median_ms(lambda: pillow(content, False, percent), runs)
        if content[:3] == b"\xff\xd8\xff":
            drafted = f"{median_ms(lambda: pillow(content, True, percent), runs):>16.2f}"
        else:
            drafted = f"{'(same)':>16}"  # draft() only acts on JPEG
        print(f"{label:<36} {plain:>10.2f} {drafted}")


if __name__ == "__main__":
    main()
