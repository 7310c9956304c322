"""What a clip shows: the reference picture cover-fitted once to the frame plus the drift's
margin (or a placeholder with the prompt on it), the view's drift across it and back once a
loop, and a still of the view at any point of the drift (thumbnails and spritesheets)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

from mockserver.media.images import _load_rgb

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
else:
    # imported on first use (the first upload checked or video rendered), not when the server
    # starts: see mockserver.media._lazy
    from mockserver.media._lazy import Lazy

    np = Lazy(globals(), "numpy", "np")
    Image = Lazy(globals(), "PIL.Image", "Image")
    ImageDraw = Lazy(globals(), "PIL.ImageDraw", "ImageDraw")
    ImageFont = Lazy(globals(), "PIL.ImageFont", "ImageFont")

#: Seconds of motion encoded once and repeated to fill a clip (also the key-frame interval).
LOOP_SECONDS: Final = 2.0

# Motion: the view drifts across the cover-fitted picture, up and to the right and back
# again once every LOOP_SECONDS, by these fractions of the frame's width and height.
_DRIFT_X: Final = 0.04
_DRIFT_Y: Final = 0.03


_Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Source:
    """The picture the clip drifts over: the frame plus the drift's margin."""

    image: Image.Image  # RGB, (width + margin[0]) x (height + margin[1])
    size: tuple[int, int]  # the frame's width and height
    margin: tuple[int, int]  # how far the view drifts, in whole pixels, across and down

    def offset(self, amount: float) -> tuple[int, int]:
        """Top-left corner of the view at drift ``amount`` in [0, 1] (see
        :func:`_drift_amount`): from bottom-left (0) to top-right (1) of the margin."""
        a = min(max(amount, 0.0), 1.0)
        return round(a * self.margin[0]), round((1.0 - a) * self.margin[1])


def _cover_box(size: tuple[int, int], aspect: float) -> _Box:
    """Largest centred region of ``size`` with width/height == ``aspect``."""
    w, h = size
    if w / h > aspect:
        cw, ch = h * aspect, float(h)
    else:
        cw, ch = float(w), w / aspect
    x0, y0 = (w - cw) / 2, (h - ch) / 2
    return (x0, y0, x0 + cw, y0 + ch)


def _prepare(image: bytes | None, width: int, height: int, caption: str | None) -> _Source:
    # Resample the cover region once to the frame plus the drift's margin (even, for 4:2:0
    # chroma): every frame is then a plain crop of it, no resampling per frame.
    margin = (2 * math.ceil(width * _DRIFT_X / 2), 2 * math.ceil(height * _DRIFT_Y / 2))
    work = (width + margin[0], height + margin[1])
    if image is None:
        src = _placeholder(*work, caption)
    else:
        photo = _load_rgb(image)
        box = _cover_box(photo.size, work[0] / work[1])
        src = photo.resize(
            work,
            Image.Resampling.BICUBIC,
            box=box,
            reducing_gap=2.0 if box[2] - box[0] > 2 * work[0] else None,
        )
    return _Source(src, (width, height), margin)


def _loop_frames(fps: int) -> int:
    """Frames in one loop of the motion (and in one GOP): ``LOOP_SECONDS`` at ``fps``."""
    return max(1, round(LOOP_SECONDS * fps))


def _drift_amount(index: int, loop: int) -> float:
    """How far along its drift frame ``index`` is: 0 at the start, 1 half a loop later.

    There and back once per loop (a raised cosine: it starts and turns at rest), so frame
    ``loop`` is frame 0 again and loop after loop joins without a jump. It is symmetric,
    ``amount(i) == amount(loop - i)``: half a loop of distinct pictures makes a whole loop.
    """
    return (1.0 - math.cos(2.0 * math.pi * (index % loop) / loop)) / 2.0


def _still(source: _Source, size: tuple[int, int], amount: float) -> Image.Image:
    """An RGB frame at drift ``amount``, scaled to ``size`` (thumbnail and spritesheet)."""
    x, y = source.offset(amount)
    view = source.image.crop((x, y, x + source.size[0], y + source.size[1]))
    return view if view.size == size else view.resize(size, Image.Resampling.BILINEAR)


# --------------------------------------------------------------------------------------------
# Placeholder

_Font: TypeAlias = "ImageFont.FreeTypeFont | ImageFont.ImageFont"


def _font(size: int) -> _Font:
    return ImageFont.load_default(size=max(6, size))


def _fit_text(font: _Font, text: str) -> str:
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")  # bitmap fallback font


def _wrap(font: _Font, text: str, max_width: float, max_lines: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > max_width and len(current) > 1:  # hard-break long words
            cut = len(current) - 1
            while cut > 1 and font.getlength(current[:cut]) > max_width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "...") > max_width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "..."]
    return lines


def _placeholder(width: int, height: int, caption: str | None) -> Image.Image:
    """Soft diagonal gradient with "sora-mock placeholder" and the caption on it."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    t = 0.65 * y + 0.35 * x
    top = np.array([52.0, 68.0, 112.0])
    bottom = np.array([156.0, 108.0, 146.0])
    rgb = top + (bottom - top) * t[..., None]
    glow = np.clip(1.0 - 1.8 * np.hypot(x - 0.5, (y - 0.42) * height / max(width, 1)), 0, 1)
    rgb = rgb + (glow**2 * 48.0)[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")

    draw = ImageDraw.Draw(img)
    max_w = 0.84 * width
    title = "sora-mock placeholder"
    probe = _font(100)
    size = int(min(0.06 * height, 100 * max_w / max(probe.getlength(title), 1.0)))
    title_font = _font(size)
    small_font = _font(round(size * 0.55))
    blocks: list[tuple[str, _Font, tuple[int, int, int]]] = [
        (title, title_font, (255, 255, 255)),
        (_fit_text(small_font, "no reference image"), small_font, (226, 230, 244)),
    ]
    if caption and caption.strip():
        text = _fit_text(small_font, " ".join(caption.split()))
        for line in _wrap(small_font, text, max_w, max_lines=4):
            blocks.append((line, small_font, (240, 240, 248)))

    gap = max(2, size // 4)
    boxes = [draw.textbbox((0, 0), text, font=font) for text, font, _ in blocks]
    total = sum(b[3] - b[1] for b in boxes) + gap * (len(blocks) - 1) + gap  # gap after title
    top_y = (height - total) / 2 - 0.05 * height
    for i, ((text, font, colour), bbox) in enumerate(zip(blocks, boxes, strict=True)):
        w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
        draw.text(
            ((width - w) / 2 - bbox[0], top_y - bbox[1]),
            text,
            font=font,
            fill=colour,
            stroke_width=max(1, round(size / 16)) if i == 0 else 1,
            stroke_fill=(24, 28, 48),
        )
        top_y += h + gap * (2 if i == 0 else 1)
    return img
