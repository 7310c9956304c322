"""A built-in reference image: a cat in a hat at dusk, drawn at any size (no file needed).

Served at ``GET /__mock/sample-image?size=720x1280`` and written by
``sora-mock sample-image --size 720x1280 -o cat-720x1280.png``. Deterministic: the same size
gives the same bytes.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache

from PIL import Image, ImageDraw

SIZE = re.compile(r"^([1-9]\d{1,3})x([1-9]\d{1,3})$")
MIN_SIDE, MAX_SIDE = 16, 2048
#: the size a sample-image URL without ``size`` stands for (admin.py and cli.py default to it too)
DEFAULT_SIZE = "720x1280"


class SizeError(ValueError):
    pass


def parse_size(size: str) -> tuple[int, int]:
    match = SIZE.match(size.strip())
    if not match:
        raise SizeError(f"size must be WIDTHxHEIGHT, e.g. 720x1280 (got {size!r})")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise SizeError(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    return width, height


def _gradient(width: int, height: int) -> Image.Image:
    top, bottom = (38, 43, 92), (247, 160, 114)
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize((width, height))


#: the scene is drawn with its longer side at most this long, then scaled to the size asked
DRAW_SIDE = 1280


@lru_cache(maxsize=16)
def sample_image(width: int, height: int) -> bytes:
    """A PNG of ``width`` x ``height``: sky, sun, hills and a cat in a top hat."""
    scale = min(1.0, DRAW_SIDE / max(width, height))
    image = _scene(max(1, round(width * scale)), max(1, round(height * scale)))
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6 if width * height <= 2_000_000 else 1)
    return out.getvalue()


def _scene(width: int, height: int) -> Image.Image:
    image = _gradient(width, height)
    draw = ImageDraw.Draw(image)
    unit = min(width, height)
    cx = width / 2

    def box(x: float, y: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        return (x - rx, y - ry, x + rx, y + ry)

    # stars and the sun
    for i in range(24):
        sx = (i * 7919) % 997 / 997 * width
        sy = (i * 104729) % 991 / 991 * height * 0.35
        r = unit * (0.003 + (i % 3) * 0.0015)
        draw.ellipse(box(sx, sy, r, r), fill=(255, 244, 214))
    draw.ellipse(box(width * 0.78, height * 0.28, unit * 0.11, unit * 0.11), fill=(255, 214, 140))
    # hills
    ground = height * 0.74
    draw.ellipse(
        box(width * 0.15, ground + unit * 0.1, width * 0.7, unit * 0.25), fill=(58, 92, 96)
    )
    draw.ellipse(
        box(width * 0.9, ground + unit * 0.12, width * 0.6, unit * 0.22), fill=(46, 76, 84)
    )
    draw.rectangle((0, ground + unit * 0.08, width, height), fill=(40, 66, 74))

    fur, dark, eye = (36, 32, 44), (24, 21, 30), (250, 214, 92)
    head_y, head_r = ground - unit * 0.2, unit * 0.17
    # body and tail
    draw.ellipse(box(cx, ground + unit * 0.02, unit * 0.22, unit * 0.2), fill=fur)
    draw.arc(
        box(cx + unit * 0.26, ground - unit * 0.02, unit * 0.12, unit * 0.16),
        start=200,
        end=40,
        fill=fur,
        width=max(2, round(unit * 0.035)),
    )
    # ears, head
    for side in (-1, 1):
        ear_x = cx + side * head_r * 0.62
        draw.polygon(
            [
                (ear_x - head_r * 0.38, head_y - head_r * 0.55),
                (ear_x + side * head_r * 0.1, head_y - head_r * 1.25),
                (ear_x + head_r * 0.38, head_y - head_r * 0.55),
            ],
            fill=fur,
        )
    draw.ellipse(box(cx, head_y, head_r, head_r * 0.92), fill=fur)
    # eyes, nose, whiskers
    for side in (-1, 1):
        ex = cx + side * head_r * 0.4
        draw.ellipse(box(ex, head_y - head_r * 0.05, head_r * 0.18, head_r * 0.2), fill=eye)
        draw.ellipse(box(ex, head_y - head_r * 0.05, head_r * 0.05, head_r * 0.16), fill=dark)
        for k in (-1, 0, 1):
            draw.line(
                (
                    cx + side * head_r * 0.25,
                    head_y + head_r * 0.3,
                    cx + side * head_r * 1.2,
                    head_y + head_r * (0.22 + k * 0.14),
                ),
                fill=(200, 196, 210),
                width=max(1, round(unit * 0.004)),
            )
    draw.polygon(
        [
            (cx - head_r * 0.1, head_y + head_r * 0.18),
            (cx + head_r * 0.1, head_y + head_r * 0.18),
            (cx, head_y + head_r * 0.3),
        ],
        fill=(232, 140, 150),
    )
    # the hat
    brim_y = head_y - head_r * 0.72
    draw.ellipse(box(cx, brim_y, head_r * 0.95, head_r * 0.16), fill=dark)
    draw.rectangle(
        (cx - head_r * 0.55, brim_y - head_r * 0.95, cx + head_r * 0.55, brim_y), fill=dark
    )
    draw.rectangle(
        (cx - head_r * 0.55, brim_y - head_r * 0.3, cx + head_r * 0.55, brim_y - head_r * 0.12),
        fill=(214, 72, 96),
    )
    return image
