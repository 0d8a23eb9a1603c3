#!/usr/bin/env python3
"""Times the FastAPI + Pillow peer's picture pipeline on the same files, one core, so Folio's
figures can be given as ratios taken in the same run.

Usage: /tmp/peer-venv/bin/python benches/pillow_pipeline.py /tmp/bench-images [runs]

It runs the peer's own steps (open + verify, re-open, exif_transpose, flatten onto white,
ImageOps.fit Lanczos 300x300, JPEG q85 optimize) into memory instead of a file, and the same
with Image.draft() (JPEG shrink-on-load), the fastest Pillow can do.
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
    "small_300.jpg",
]


def to_rgb_on_white(img):
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        bg.alpha_composite(rgba)
        return bg.convert("RGB")
    return img.convert("RGB")


def pillow(content: bytes, draft: bool) -> bytes:
    with Image.open(BytesIO(content)) as probe:
        probe.verify()
    with Image.open(BytesIO(content)) as original:
        if draft and original.format == "JPEG":
            short = min(original.size)
            original.draft("RGB", (original.size[0] * 600 // short, original.size[1] * 600 // short))
        img = ImageOps.exif_transpose(original)
        img = to_rgb_on_white(img)
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
    print(f"{'file':<28} {'pillow ms':>10} {'pillow+draft ms':>16}")
    for name in FILES:
        content = (folder / name).read_bytes()
        plain = median_ms(lambda: pillow(content, False), runs)
        drafted = median_ms(lambda: pillow(content, True), runs)
        print(f"{name:<28} {plain:>10.2f} {drafted:>16.2f}")


if __name__ == "__main__":
    main()
