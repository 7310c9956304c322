"""Time mockserver.media.render_video at the real Sora-2 sizes.

Run with ``python -m benchmarks.bench_media`` (``--help`` for options); prints a markdown table.
"""

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image, ImageDraw

from mockserver.media import DEFAULT_FPS, render_video

SIZES = [(720, 1280), (1280, 720), (1024, 1792), (1792, 1024)]
DURATIONS = [4, 8, 12]
LONG_DURATION = 25  # only the 1792 sizes may be 25 s long


def reference_image(width: int = 2048, height: int = 1536) -> bytes:
    """A photo-like JPEG (gradient, shapes and grain), larger than any frame."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [x / width * 200 + 30, y / height * 160 + 40, (x + y) / (width + height) * 120 + 60],
        axis=-1,
    )
    rgb += np.random.default_rng(0).normal(0, 12, rgb.shape).astype(np.float32)
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for i in range(12):
        cx, cy, r = (i * 367) % width, (i * 211) % height, 60 + (i * 37) % 200
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=((i * 70) % 256, 200 - i * 10, i * 20))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def cases() -> list[tuple[int, int, int]]:
    out = []
    for width, height in SIZES:
        durations = DURATIONS + ([LONG_DURATION] if 1792 in (width, height) else [])
        out.extend((width, height, seconds) for seconds in durations)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fps", type=int, default=DEFAULT_FPS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--placeholder", action="store_true", help="render without a reference image"
    )
    args = parser.parse_args(argv)

    image = None if args.placeholder else reference_image()
    source = "placeholder" if image is None else "2048x1536 JPEG reference"
    print(f"render_video, {source}, median of {args.repeats}\n")
    print("| size | seconds | fps | median ms | ms/frame | bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for width, height, seconds in cases():
        timings = []
        size = 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            data = render_video(image, width, height, seconds, fps=args.fps, caption="benchmark")
            timings.append((time.perf_counter() - start) * 1000)
            size = len(data)
        median = statistics.median(timings)
        frames = max(1, round(seconds * args.fps))
        print(
            f"| {width}x{height} | {seconds} | {args.fps} | {median:.0f} | "
            f"{median / frames:.1f} | {size:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
