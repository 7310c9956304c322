"""Media for the mock: reference-image checks, MP4/WEBP/JPEG rendering and an asset cache.

Everything here is plain Python + Pillow + PyAV (no Flask, no system ffmpeg, no temp files):

* :func:`probe_image` / :func:`parse_data_url` validate what a client uploads as the
  ``input_reference`` (JPEG, PNG or WEBP only, fully decoded, decompression-bomb guarded).
* :func:`render_video` turns the reference image (or a placeholder when there is none) into
  an H.264 MP4 of exactly the requested size and duration, the view drifting gently across
  the picture and back.
* :func:`render_thumbnail` and :func:`render_spritesheet` produce the still variants OpenAI
  serves from ``GET /videos/{id}/content?variant=...``.
* :class:`MediaCache` renders each asset once (optionally in the background and optionally
  persisted to a directory) so request handlers only ever copy bytes.

How a video is made cheap enough to be ready when its job completes at ``--speed 20``
(a job then runs 0.31 s for a 1 s clip to 0.58 s for 25 s at the least:
``benchmarks/bench_renders.py`` prints the budget beside the render times):

* **One loop, repeated.** ``LOOP_SECONDS`` (2 s, 24 frames at 12 fps) of motion are encoded
  once, a closed GOP starting on a key frame, and its packets are laid out again and again
  with shifted timestamps until the clip is long enough: a 25 s clip costs what a 2 s one
  does, plus a remux of ~20 ms. The motion is there and back (a raised cosine), so the loops
  join without a jump; a key frame every 2 s, as before. The loop is kept
  (``_LOOP_CACHE_BYTES``) for other durations of the same image and size (about 20 ms then).
* **A drift, not a zoom.** The view moves across the picture by whole pixels (4 % of the
  width, 3 % of the height): each frame is a plain crop of one prepared picture (no
  resampling per frame), and x264 ``ultrafast``, which searches motion by whole pixels only,
  predicts it exactly. A sub-pixel zoom cost a resample per frame (Pillow: ~30 ms at
  1792x1024; swscale is cheaper but whole-pixel only, and a whole-pixel zoom judders).
* **Unchanged:** 12 fps, libx264 ``ultrafast``, crf 28, yuv420p BT.709 (Constrained
  Baseline: every browser plays it), ``+faststart``. Tried and not taken: ``tune=zerolatency``
  and ``stillimage``, x264 thread counts, crf 30-32 (no clear gain on this machine), a 1 s
  loop or 8 fps (cheaper, but a visible wobble or judder).
* **A process of its own** under ``sora-mock serve`` (:func:`isolate_renders`): beside busy
  request threads, the GIL made a render several times slower.

Render time, cold (an image of its own), 2048x1536 JPEG reference, old and new code run one
after the other on the same machine (2 cores, shared, load average ~10 at the time):

| size | seconds | before ms | after ms | before bytes | after bytes |
|---|---:|---:|---:|---:|---:|
| 720x1280 | 1 | 340 | 234 | 144,583 | 273,406 |
| 720x1280 | 4 | 2,150 | 362 | 668,613 | 744,226 |
| 720x1280 | 12 | 5,031 | 470 | 2,437,559 | 2,230,990 |
| 720x1280 | 25 | 15,458 | 515 | 7,285,563 | 4,733,678 |
| 1792x1024 | 4 | 3,470 | 922 | 1,304,553 | 1,299,111 |
| 1792x1024 | 12 | 7,223 | 887 | 4,809,934 | 3,896,005 |
| 1792x1024 | 25 | 16,011 | 915 | 12,342,309 | 8,278,886 |
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import importlib
import io
import logging
import math
import os
import pickle
import signal
import sys
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias

from PIL import UnidentifiedImageError  # the package alone: <1 ms

if TYPE_CHECKING:
    import av
    import numpy as np
    from av.video.plane import VideoPlane
    from av.video.reformatter import Colorspace
    from PIL import Image, ImageDraw, ImageFont, ImageOps
else:
    # PyAV, numpy and Pillow's image modules take ~0.5 s to import: each is imported on its
    # first use (the first upload checked or video rendered), not when the server starts.
    class _Lazy:
        def __init__(self, module: str, alias: str, member: str | None = None) -> None:
            self._module, self._alias, self._member = module, alias, member

        def __getattr__(self, attr: str) -> Any:
            found = importlib.import_module(self._module)
            if self._member is not None:
                found = getattr(found, self._member)
            globals()[self._alias] = found  # later uses see the module itself
            return getattr(found, attr)

    av = _Lazy("av", "av")
    np = _Lazy("numpy", "np")
    Colorspace = _Lazy("av.video.reformatter", "Colorspace", "Colorspace")
    Image = _Lazy("PIL.Image", "Image")
    ImageDraw = _Lazy("PIL.ImageDraw", "ImageDraw")
    ImageFont = _Lazy("PIL.ImageFont", "ImageFont")
    ImageOps = _Lazy("PIL.ImageOps", "ImageOps")

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_DISK_BYTES",
    "DEFAULT_FPS",
    "LOOP_SECONDS",
    "MAX_DIMENSION",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_SECONDS",
    "ImageError",
    "MediaCache",
    "parse_data_url",
    "image_size",
    "isolate_renders",
    "prewarm_renders",
    "probe_image",
    "render_spritesheet",
    "render_thumbnail",
    "render_video",
    "sniff_mime",
]

log = logging.getLogger(__name__)

#: Frame rate of rendered clips: at 12 fps the gentle zoom still looks smooth.
DEFAULT_FPS: Final = 12
#: Seconds of motion encoded once and repeated to fill a clip (also the key-frame interval).
LOOP_SECONDS: Final = 2.0
#: Largest accepted width/height (the biggest Sora-2 size is 1792) and clip length.
MAX_DIMENSION: Final = 4096
MAX_SECONDS: Final = 120.0
#: Largest reference image accepted, checked from its header before any pixel is decoded (a
#: decoded RGBA image costs 4 bytes a pixel): 40 megapixels, 12000 pixels a side.
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_SIDE: Final = 12_000
#: In-memory budget of :class:`MediaCache`.
DEFAULT_CACHE_BYTES: Final = 256 * 1024 * 1024
#: On-disk budget of :class:`MediaCache` (``--media-dir-bytes``; 0: no limit). Every distinct
#: reference image renders a new video, so without one a flood of distinct creates fills the
#: disk (issue 21); 1 GiB keeps some thousands of videos of a few hundred KB.
DEFAULT_DISK_BYTES: Final = 1 << 30

_MIME_BY_FORMAT: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # what Pillow calls the JPEGs many phone cameras write
    "PNG": "image/png",
    "WEBP": "image/webp",
}

# Motion: the view drifts across the cover-fitted picture, up and to the right and back
# again once every LOOP_SECONDS, by these fractions of the frame's width and height.
_DRIFT_X: Final = 0.04
_DRIFT_Y: Final = 0.03

_SPRITE_FRAMES: Final = 10
_SPRITE_LONG_SIDE: Final = 160
_SPRITE_COLUMNS: Final = 5

_BACKGROUND: Final = (0, 0, 0)  # what transparent pixels of a reference image become


# warnings.catch_warnings() mutates process-global state: serialise our own uses of it.
_decode_lock = threading.Lock()


class ImageError(ValueError):
    """The bytes are not a usable reference image (undecodable, unsupported or too large)."""


# --------------------------------------------------------------------------------------------
# Reference images


def _open_header(data: bytes) -> Image.Image:
    """Open ``data`` reading its header only (no pixels decoded); check format and size."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"image must be bytes, not {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("image is empty (0 bytes); expected a JPEG, PNG or WEBP image")
    # the lock covers the header read only (catch_warnings is process-global), never a decode
    with _decode_lock, warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that: both mean
        # "refuse", so the warning is made an error here and both become ImageError.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError(f"image is too large to decode safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise ImageError(
                "bytes are not a decodable image; expected a JPEG, PNG or WEBP image"
            ) from exc
        except Exception as exc:  # Pillow plugins raise a zoo of types on garbage
            raise ImageError(f"bytes are not a decodable image: {exc}") from exc
    fmt = im.format or "unknown"
    if fmt not in _MIME_BY_FORMAT:
        im.close()
        raise ImageError(f"unsupported image format {fmt}; expected JPEG, PNG or WEBP")
    width, height = im.size
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        im.close()
        raise ImageError(
            f"image is {width}x{height} pixels: reference images may have at most "
            f"{MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        )
    return im


def _open_verified(data: bytes) -> Image.Image:
    """Open and fully decode ``data`` (its size checked first); only JPEG, PNG and WEBP."""
    im = _open_header(data)
    try:
        im.load()
    except Exception as exc:
        im.close()
        raise ImageError(f"{im.format} image is truncated or corrupt: {exc}") from exc
    return im


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` as displayed (EXIF orientation applied), from the header alone."""
    with _open_header(data) as im:
        width, height = im.size
        return (height, width) if _orientation(im) in (5, 6, 7, 8) else (width, height)


def sniff_mime(data: bytes) -> str:
    """The media type of an image already accepted by :func:`probe_image`, from its magic
    bytes (nothing decoded)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)  # EXIF Orientation
    except Exception:  # a broken EXIF block is not worth rejecting the image for
        return 1
    return value if isinstance(value, int) else 1


def probe_image(data: bytes) -> tuple[int, int, str]:
    """Return ``(width, height, mime_type)`` of a JPEG, PNG or WEBP image.

    The image is fully decoded, so truncated or corrupt data is rejected. Width and height
    are as displayed, i.e. after the EXIF orientation (a portrait phone photo stored
    sideways reports a portrait size), which is also how :func:`render_video` uses it.
    Raises :class:`ImageError` for anything that is not such an image.

    The verdict is remembered by content (SHA-256; the last ``_PROBES_KEPT`` images): a
    client that sends the same reference image with every create, as test suites and CI
    fleets do, has it decoded once, not once per job (the decode was most of a create).
    """
    digest = hashlib.sha256(data).digest()
    with _probes_lock:
        known = _probes.get(digest)
        if known is not None:
            _probes.move_to_end(digest)
    if known is None:
        try:
            known = _probe(data)
        except ImageError as exc:
            known = exc
        with _probes_lock:
            _probes[digest] = known
            if len(_probes) > _PROBES_KEPT:
                _probes.popitem(last=False)
    if isinstance(known, ImageError):
        raise ImageError(str(known))
    return known


def _probe(data: bytes) -> tuple[int, int, str]:
    im = _open_verified(data)
    with im:
        width, height = im.size
        if _orientation(im) in (5, 6, 7, 8):  # rotated by 90 or 270 degrees
            width, height = height, width
        return width, height, _MIME_BY_FORMAT[im.format or ""]


#: probe verdicts by image content: a few hundred bytes each
_PROBES_KEPT: Final = 1024
_probes: OrderedDict[bytes, tuple[int, int, str] | ImageError] = OrderedDict()
_probes_lock = threading.Lock()


def parse_data_url(url: str) -> bytes:
    """Decode a ``data:image/<type>[;param...];base64,<payload>`` URL to the raw bytes.

    Only checks the URL itself; pass the result to :func:`probe_image` to check the image.
    Raises :class:`ImageError` with a message naming the problem.
    """
    if not isinstance(url, str):
        raise ImageError(f"data URL must be a string, not {type(url).__name__}")
    if url[:5].lower() != "data:":
        raise ImageError("not a data URL: it must start with 'data:'")
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ImageError("malformed data URL: no ',' between the header and the data")
    media_type, *params = (part.strip() for part in header.split(";"))
    if not media_type.lower().startswith("image/") or media_type.lower() == "image/":
        shown = media_type or "(none)"
        raise ImageError(f"data URL media type must be image/..., got {shown!r}")
    if not params or params[-1].lower() != "base64":
        raise ImageError("data URL must be base64-encoded (';base64,' is missing)")
    compact = "".join(payload.split())  # tolerate line breaks inside the payload
    if not compact:
        raise ImageError("data URL has no data after ';base64,'")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"data URL payload is not valid base64: {exc}") from exc
    if not data:
        raise ImageError("data URL decodes to 0 bytes")
    return data


def _load_rgb(data: bytes) -> Image.Image:
    im = _open_verified(data)
    with im:
        upright = ImageOps.exif_transpose(im) if _orientation(im) != 1 else im
        if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
            rgba = upright.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
            return Image.alpha_composite(flat, rgba).convert("RGB")
        if upright.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            # 16-bit/float greyscale: scale to 8 bit instead of clipping everything to white
            arr = np.asarray(upright, dtype=np.float64)
            peak = float(arr.max()) or 1.0
            scale = 255.0 / (65535.0 if peak > 255 else 255.0)
            return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8)).convert("RGB")
        return upright.convert("RGB")


# --------------------------------------------------------------------------------------------
# Geometry and motion

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


def _plane_array(plane: VideoPlane) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A writable view of a plane's pixels, without the alignment padding."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, -1)
    return rows[:, : plane.width]


_Planes = tuple[
    "np.ndarray[Any, np.dtype[np.uint8]]",
    "np.ndarray[Any, np.dtype[np.uint8]]",
    "np.ndarray[Any, np.dtype[np.uint8]]",
]


def _yuv_planes(image: Image.Image) -> _Planes:
    """Y, U and V of an RGB image (BT.709, limited range, 4:2:0; even width and height)."""
    yuv = av.VideoFrame.from_image(image).reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709
    )
    y, u, v = (_plane_array(p) for p in yuv.planes)
    return y, u, v


def _video_frame(
    planes: _Planes, offset: tuple[int, int], width: int, height: int
) -> av.VideoFrame:
    """A yuv420p frame: the view at ``offset``, copied out of the source planes.

    A whole-pixel offset makes each frame a plain copy (no resampling) and the motion from
    one frame to the next an exact translation, which x264's whole-pixel motion search
    (``ultrafast``) predicts well. Chroma moves by whole chroma pixels (two luma pixels).
    """
    y, u, v = planes
    x0, y0 = offset
    frame = av.VideoFrame(width, height, "yuv420p")
    _plane_array(frame.planes[0])[:] = y[y0 : y0 + height, x0 : x0 + width]
    cx, cy = x0 // 2, y0 // 2
    _plane_array(frame.planes[1])[:] = u[cy : cy + height // 2, cx : cx + width // 2]
    _plane_array(frame.planes[2])[:] = v[cy : cy + height // 2, cx : cx + width // 2]
    return frame


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


# --------------------------------------------------------------------------------------------
# Rendering


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value <= 0 or value % 2 or value > MAX_DIMENSION:
            raise ValueError(
                f"{name} must be a positive even number of pixels up to {MAX_DIMENSION}, "
                f"got {value}"
            )


def _frame_count(seconds: float, fps: int) -> int:
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 120:
        raise ValueError(f"fps must be an int from 1 to 120, got {fps!r}")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_SECONDS:
        raise ValueError(f"seconds must be > 0 and <= {MAX_SECONDS:g}, got {seconds!r}")
    return max(1, round(seconds * fps))


def render_video(
    image: bytes | None,
    width: int,
    height: int,
    seconds: float,
    *,
    fps: int = DEFAULT_FPS,
    caption: str | None = None,
) -> bytes:
    """Render an H.264 MP4 (yuv420p, BT.709, ``+faststart``) of ``width`` x ``height``.

    The clip has ``round(seconds * fps)`` frames (at least one), so its duration is
    ``seconds`` to within half a frame. ``image`` (JPEG/PNG/WEBP bytes) is cover-fitted and
    the view drifts gently across it and back once every ``LOOP_SECONDS``; with ``image=None``
    a placeholder showing "sora-mock placeholder" and ``caption`` is used. Raises
    :class:`ImageError` for a bad image and ``ValueError`` for odd or non-positive sizes or a
    non-positive duration.

    One loop is encoded (a closed GOP starting on a key frame) and its packets are repeated
    with shifted timestamps, so the cost hardly depends on the duration; the loop is kept
    (:data:`_LOOP_CACHE_BYTES`) for other durations of the same image and size. After
    :func:`isolate_renders`, the work is done in a child process.
    """
    _check_size(width, height)
    _frame_count(seconds, fps)  # a bad argument is raised here, in the caller's process
    if _isolation.enabled:
        crashes: list[str] = []
        for _ in range(3):
            try:
                return _render_child().call(image, width, height, seconds, fps, caption)
            except _ChildGone as exc:
                if not exc.crashed:  # it could not start, or had died before this render
                    log.warning("the render process is gone (%s): rendering in this process", exc)
                    break
                crashes.append(str(exc))
                if len(crashes) == 2:
                    # twice, each time in a fresh process: this input crashes the encoder, and
                    # rendering it here would take the worker (and its requests) down with it
                    raise RenderCrashed(crashes[-1]) from None
    return _render_video(image, width, height, seconds, fps, caption)


def _render_video(
    image: bytes | None, width: int, height: int, seconds: float, fps: int, caption: str | None
) -> bytes:
    frames = _frame_count(seconds, fps)
    count = min(frames, _loop_frames(fps))  # a clip shorter than a loop encodes what it shows
    digest = hashlib.sha256(image).digest() if image is not None else None
    key = (digest, caption if image is None else None, width, height, fps, count)
    loop = _loops.get(
        key,
        lambda: _shared_loop(key, lambda: _encode_loop(image, width, height, fps, count, caption)),
    )
    return _repeat(loop, frames, fps)


def _shared_loop(key: Hashable, encode: Callable[[], bytes]) -> bytes:
    """The encoded loop from the shared loop directory (:func:`isolate_renders`), or encoded
    here and put there. One process encodes a key while the others wait for it (an exclusive
    ``flock`` on a lock file per key), so the workers of one server encode each loop once: a
    download that reaches another worker before its render is done waits for that render
    instead of making the same video a second time. Without a directory: ``encode()``."""
    directory = _isolation.loops_dir
    if directory is None:
        return encode()
    import fcntl

    name = hashlib.sha256(repr(key).encode()).hexdigest()
    path = directory / f"{name}.mp4"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("loop cache: cannot read %s: %s", path, exc)
        return encode()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = open(directory / f"{name}.lock", "a+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        log.warning("loop cache: cannot lock in %s: %s", directory, exc)
        return encode()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        try:
            return path.read_bytes()  # made while this process waited
        except FileNotFoundError:
            pass
        data = encode()
        tmp = path.with_name(f".{name}.{os.getpid()}.part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:  # sharing is best effort: the loop is still used here
            log.warning("loop cache: cannot write %s: %s", path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
        return data


# --------------------------------------------------------------------------------------------
# A render process


class _ChildGone(Exception):
    """The render process died or could not start; ``crashed``: it died during a render."""

    def __init__(self, reason: str, *, crashed: bool = False) -> None:
        super().__init__(reason)
        self.crashed = crashed


class RenderCrashed(Exception):
    """The render process died rendering this input, twice (a crash in the encoder, the OOM
    killer): the video cannot be made. Its job fails; the server goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the render process died rendering it ({reason})")
        self.reason = reason


def _death(returncode: int | None) -> str:
    if returncode is None:
        return "its pipe closed"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class _RenderChild:
    """A child Python that renders videos: a request (the arguments of :func:`_render_video`)
    goes down one pipe, the answer (the MP4, or the exception) comes back up another; one
    render at a time. A plain ``python -c`` child, not ``multiprocessing``: that would import
    the server's main module (and with it Flask and the app) into the child first."""

    def __init__(self) -> None:
        import subprocess
        from multiprocessing.connection import Connection

        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        root = str(Path(__file__).resolve().parent.parent)  # where mockserver/ lives
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        code = "import sys, mockserver.media as m; m._serve_renders(*sys.argv[1:])"
        loops = str(_isolation.loops_dir or "")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(down_r), str(up_w), loops],
                pass_fds=(down_r, up_w),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(down_r)
            os.close(up_w)
        self._requests = Connection(down_w, readable=False)
        self._answers = Connection(up_r, writable=False)
        self._lock = threading.Lock()
        self.alive = True
        self.owner = os.getpid()  # a forked copy of this object must not use its pipes

    def call(self, *request: Any) -> bytes:
        with self._lock:
            if not self.alive:
                raise _ChildGone("stopped")
            if self.process.poll() is not None:  # died idle (not this render's doing)
                self.alive = False
                raise _ChildGone(_death(self.process.returncode))
            try:
                self._requests.send(request)
                ok, answer = self._answers.recv()
            except (EOFError, OSError) as exc:
                self.alive = False
                try:
                    returncode: int | None = self.process.wait(5)
                except Exception:  # noqa: BLE001 - the reason is only for the console
                    returncode = self.process.poll()
                raise _ChildGone(_death(returncode), crashed=True) from exc
        if not ok:
            raise answer
        return bytes(answer)

    def stop(self) -> None:
        with self._lock:
            self.alive = False
            self._requests.close()  # the child sees EOF and exits
            self._answers.close()
        try:
            self.process.wait(10)
        except Exception:  # noqa: BLE001 - it must not outlive us
            self.process.kill()
            self.process.wait()


def _serve_renders(requests_fd: str, answers_fd: str, loops_dir: str = "") -> None:
    """The render process's loop, until the parent closes its end of the pipe (it does so
    when it exits, however it exits: then this process ends after the render under way).
    No PR_SET_PDEATHSIG: it fires when the parent *thread* that started this ends."""
    from multiprocessing.connection import Connection

    _isolation.loops_dir = Path(loops_dir) if loops_dir else None
    requests = Connection(int(requests_fd), writable=False)
    answers = Connection(int(answers_fd), readable=False)
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Any] = (True, _render_video(*request))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, raised there
            answer = (False, exc)
        try:
            try:
                answers.send(answer)
            except (TypeError, AttributeError, pickle.PicklingError):
                answers.send((False, RuntimeError(f"render failed: {answer[1]!r}")))
        except OSError:
            return


@dataclass
class _Isolation:
    enabled: bool = False
    child: _RenderChild | None = None
    #: where the workers of one server share their encoded loops (see _shared_loop)
    loops_dir: Path | None = None
    #: renders run before request threads (see _favour_renders)
    favour: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


#: how many nice steps a render process runs ahead of its worker's request threads. A job's
#: video is due when the job completes; a poll can wait a few milliseconds. Ten steps weigh
#: about 9 to 1 in Linux's scheduler: under a saturating poll load a cold render still gets
#: most of a core, and polls the rest of the machine (bench_renders measures both)
RENDER_PRIORITY = 10


def _favour_renders(pid: int) -> str:
    """Let the render process ``pid`` run ahead of this process's threads: lower its nice value
    where that is allowed (root, CAP_SYS_NICE, RLIMIT_NICE), otherwise raise this process's own
    (every thread's: on Linux a nice value belongs to a thread, and threads started later
    inherit their starter's). Returns which one moved, or "none" (a system without either)."""
    try:
        base = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, base - RENDER_PRIORITY)
        return "render"
    except PermissionError:
        pass
    except OSError:  # the child already exited: its replacement will be favoured
        return "none"
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # no /proc: the calling thread, the one that serves renders' callers
    moved = "none"
    for tid in threads:
        try:
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + RENDER_PRIORITY))
            moved = "workers"
        except OSError:
            pass  # a thread that ended meanwhile
    return moved


_isolation = _Isolation()


def isolate_renders(
    enabled: bool = True, *, loops_dir: Path | None = None, favour: bool = False
) -> None:
    """Render videos in a child process from now on (what a ``sora-mock serve`` worker does).

    In a server process, request threads and the render thread share one GIL, and PyAV
    gives it up and takes it back at every frame and packet: measured, a 1792x1024 render
    took 6x as long beside four busy Python threads. A child process has no GIL to share.
    It starts at the first render, not before (a server that never renders, as most test
    servers, spends nothing on it; the first render waits for the child's imports, ~0.5 s);
    it ends with this process and keeps the encoded loops of its renders (~70 MB of RSS).
    If it dies, renders go on in this process and the next one starts a new child.
    With ``loops_dir`` (a directory every worker of the server sees), the workers encode each
    loop once between them (:func:`_shared_loop`). With ``favour`` (a server's worker), the
    render process runs ahead of this process's request threads (:func:`_favour_renders`):
    otherwise a saturating poll load leaves a cold render a third of a core, and a job
    completes before its video is ready.
    """
    _isolation.enabled = enabled
    _isolation.loops_dir = loops_dir if enabled else None
    _isolation.favour = enabled and favour
    if not enabled:
        with _isolation.lock:
            child, _isolation.child = _isolation.child, None
        if child is not None:
            child.stop()


def prewarm_renders() -> None:
    """Start the render process now, if renders are isolated and it is not running: its
    imports (PyAV, numpy, Pillow: ~0.5 s) would otherwise delay the first render, and with it
    the video of a server's first job."""
    if not _isolation.enabled:
        return
    try:
        _render_child()
    except _ChildGone:
        pass  # the first render tries again, or renders here


def _render_child() -> _RenderChild:
    with _isolation.lock:
        child = _isolation.child
        if child is None or not child.alive or child.owner != os.getpid():
            try:
                child = _isolation.child = _RenderChild()
            except OSError as exc:
                raise _ChildGone(f"cannot start: {exc}") from exc
            if _isolation.favour:
                _favour_renders(child.process.pid)
        return child


def _encode_loop(
    image: bytes | None, width: int, height: int, fps: int, count: int, caption: str | None
) -> bytes:
    """The first ``count`` frames of the motion loop, as an MP4 of their own (one GOP)."""
    source = _prepare(image, width, height, caption)
    planes = _yuv_planes(source.image)
    loop = _loop_frames(fps)
    time_base = Fraction(1, fps)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        # crf 28 instead of x264's 23: a third of the bytes for a grainy photo, still clean.
        # No B-frames (decode order is display order, so packets repeat as they are), one
        # closed GOP per loop (its first frame a key frame, nothing refers across loops).
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "crf": "28",
                "x264-params": "bframes=0:scenecut=0:open-gop=0",
            },
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = loop
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
        ctx.color_range = 1  # limited ("MPEG") range
        # the way back repeats the way there: one picture per distinct offset
        pictures: dict[tuple[int, int], av.VideoFrame] = {}
        for index in range(count):
            offset = source.offset(_drift_amount(index, loop))
            frame = pictures.get(offset)
            if frame is None:
                frame = pictures[offset] = _video_frame(planes, offset, width, height)
            frame.pts = index  # x264 copies the picture in: one frame object may go twice
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def _repeat(loop: bytes, frames: int, fps: int) -> bytes:
    """An MP4 of ``frames`` frames: the loop's packets again and again, timestamps shifted."""
    out = io.BytesIO()

    def reopen(url: str, flags: int, options: dict[str, str]) -> io.BytesIO:
        # "+faststart" makes the muxer re-open its own output for reading to move the moov
        # atom to the front; a snapshot of what was written so far is exactly what it reads.
        if flags & 2:  # AVIO_FLAG_WRITE: the mp4 muxer never asks for this
            raise OSError(f"unexpected request to open {url!r} for writing")
        return io.BytesIO(out.getvalue())

    time_base = Fraction(1, fps)
    with av.open(io.BytesIO(loop), mode="r") as looped:
        template = looped.streams.video[0]
        packets = [(bytes(p), p.is_keyframe) for p in looped.demux(template) if p.size]
        if not packets or not packets[0][1]:
            raise RuntimeError("the encoded loop does not start on a key frame")
        with av.open(
            out,
            mode="w",
            format="mp4",
            container_options={"movflags": "+faststart"},
            io_open=reopen,
        ) as container:
            stream = container.add_stream_from_template(template)
            for index in range(frames):
                data, keyframe = packets[index % len(packets)]
                packet = av.Packet(data)
                packet.stream = stream
                packet.time_base = time_base
                packet.pts = packet.dts = index
                packet.duration = 1
                packet.is_keyframe = keyframe
                container.mux(packet)
    return out.getvalue()


class _Loops:
    """Encoded loops by (image digest, caption, size, fps, frames): least recently used go
    first past ``max_bytes``; one encode per key however many threads ask at once."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            data = self._hit(key)
            if data is not None:
                return data
            gate = self._making.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                data = self._hit(key)
            if data is not None:
                return data
            try:
                data = make()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            with self._lock:
                if len(data) <= self._max_bytes:
                    self._items[key] = data
                    self._bytes += len(data)
                    while self._bytes > self._max_bytes:
                        self._bytes -= len(self._items.popitem(last=False)[1])
            return data

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _hit(self, key: Hashable) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data


#: Bytes of encoded loops kept in memory (a 1792x1024 loop of a photo: about 0.5 MB).
_LOOP_CACHE_BYTES: Final = 32 * 1024 * 1024
_loops = _Loops(_LOOP_CACHE_BYTES)


def render_thumbnail(
    image: bytes | None, width: int, height: int, *, caption: str | None = None
) -> bytes:
    """The first video frame as a WEBP still of ``width`` x ``height`` (``image/webp``)."""
    _check_size(width, height)
    still = _still(_prepare(image, width, height, caption), (width, height), 0.0)
    buf = io.BytesIO()
    still.save(buf, format="WEBP", quality=80, method=4)
    return buf.getvalue()


def render_spritesheet(
    image: bytes | None,
    width: int,
    height: int,
    seconds: float,
    *,
    fps: int = DEFAULT_FPS,
    caption: str | None = None,
) -> bytes:
    """A JPEG grid (``image/jpeg``) of up to 10 frames sampled evenly over the clip.

    Each tile is the frame scaled to 160 px on its long side; tiles run left to right,
    top to bottom, five per row.
    """
    _check_size(width, height)
    frames = _frame_count(seconds, fps)
    source = _prepare(image, width, height, caption)
    count = min(_SPRITE_FRAMES, frames)
    if width >= height:
        tile = (_SPRITE_LONG_SIDE, max(1, round(_SPRITE_LONG_SIDE * height / width)))
    else:
        tile = (max(1, round(_SPRITE_LONG_SIDE * width / height)), _SPRITE_LONG_SIDE)
    columns = min(count, _SPRITE_COLUMNS)
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (tile[0] * columns, tile[1] * rows), _BACKGROUND)
    for k in range(count):
        index = round(k * (frames - 1) / (count - 1)) if count > 1 else 0
        still = _still(source, tile, _drift_amount(index, _loop_frames(fps)))
        sheet.paste(still, ((k % columns) * tile[0], (k // columns) * tile[1]))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=82)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Cache


@dataclass
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


if TYPE_CHECKING:
    from mockserver.media_store import RedisMediaStore


class MediaCache:
    """Render-once store for media assets, keyed by any hashable (e.g. ``(job_id, variant)``).

    * ``get(key, render)`` returns the cached bytes or calls ``render()`` once, even when many
      threads ask for the same key at the same time (a lock per key).
    * ``prerender(key, render)`` renders in one background thread; a ``get`` for that key
      waits for it instead of rendering a second time.
    * With ``directory``, every asset is also written there (temp file + ``os.replace``) and a
      later cache on the same directory reads it back instead of rendering. File names are the
      SHA-256 of ``repr(key)``, so keys must have a stable repr (str/int/tuples of those).
    * The in-memory part keeps at most ``max_bytes`` (least recently used assets go first;
      an asset larger than the budget is returned but not kept in memory).
    * The directory keeps at most ``disk_max_bytes`` (0: no limit) of assets, whichever
      processes share it: after each write the least recently used files (by mtime, which a
      read from disk refreshes) are deleted until the rest fit. An evicted asset is rendered
      again when it is next asked for.
    * With ``shared`` (``media_store.RedisMediaStore``: several hosts, one Redis), an asset
      missing from memory and disk is taken from there, or rendered once for every host.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        disk_max_bytes: int = DEFAULT_DISK_BYTES,
        shared: RedisMediaStore | None = None,
        timed_render: Callable[[Hashable, Callable[[], bytes]], Callable[[], bytes]] | None = None,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if disk_max_bytes < 0:
            raise ValueError(f"disk_max_bytes must be >= 0, got {disk_max_bytes}")
        self._disk_max_bytes = disk_max_bytes
        self._directory = Path(directory) if directory is not None else None
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._shared = shared
        #: wraps each render that runs (mockserver.metrics: counted and timed)
        self._timed_render = timed_render
        self._lock = threading.Lock()
        self._memory: OrderedDict[Hashable, bytes] = OrderedDict()
        self._memory_bytes = 0
        self._key_locks: dict[Hashable, _KeyLock] = {}
        self._pending: dict[Hashable, Future[bytes]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        _live_caches.add(self)

    # -- introspection ------------------------------------------------------------------

    @property
    def directory(self) -> Path | None:
        return self._directory

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def disk_max_bytes(self) -> int:
        return self._disk_max_bytes

    @property
    def memory_bytes(self) -> int:
        """Bytes currently held in memory."""
        with self._lock:
            return self._memory_bytes

    def __contains__(self, key: Hashable) -> bool:
        """True if ``key`` is available without rendering (in memory or on disk)."""
        with self._lock:
            if key in self._memory:
                return True
        path = self._path(key)
        if path is not None and path.is_file():
            return True
        return self._shared is not None and self._name(key) in self._shared

    # -- main API -----------------------------------------------------------------------

    def get(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The bytes for ``key``, calling ``render()`` only if no one has rendered them yet."""
        with self._lock:
            data = self._memory_hit(key)
            pending = self._pending.get(key) if data is None else None
        if data is not None:
            return data
        if pending is not None:
            try:
                return pending.result()
            except (CancelledError, Exception):
                # Discarded or failed in the background: render here, so a persistent
                # error is raised in the caller's thread with its own traceback.
                pass
        return self._load_or_render(key, render, wanted=None)

    def prerender(self, key: Hashable, render: Callable[[], bytes]) -> Future[bytes]:
        """Render ``key`` in the background (one worker thread); returns its future.

        Does nothing new if the asset is in memory or already queued. Rendering errors are
        left in the future; a later ``get`` retries in the foreground.
        """
        holder: list[Future[bytes]] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("MediaCache is closed")
            data = self._memory.get(key)
            if data is not None:
                done: Future[bytes] = Future()
                done.set_result(data)
                return done
            pending = self._pending.get(key)
            if pending is not None:
                return pending
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="media-prerender"
                )
            future = self._executor.submit(self._prerender_job, key, render, holder)
            holder.append(future)  # the job reads it only under self._lock
            self._pending[key] = future
        future.add_done_callback(lambda f: self._forget_pending(key, f))
        return future

    def discard(self, key: Hashable) -> None:
        """Drop ``key`` from memory and disk, cancelling or outliving a render in progress
        (a shared Redis tier keeps it: other hosts may be serving it)."""
        with self._lock:
            pending = self._pending.pop(key, None)
            self._drop_from_memory(key)
        if pending is not None:
            pending.cancel()  # only succeeds while still queued; a running job won't store
        with self._key_lock(key):  # wait for a foreground render of this key to finish
            with self._lock:
                self._drop_from_memory(key)
            path = self._path(key)
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def close(self, *, wait: bool = False) -> None:
        """Cancel queued background renders and stop the worker (idempotent)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _prerender_job(
        self, key: Hashable, render: Callable[[], bytes], holder: list[Future[bytes]]
    ) -> bytes:
        def wanted() -> bool:
            with self._lock:
                return bool(holder) and self._pending.get(key) is holder[0]

        return self._load_or_render(key, render, wanted=wanted)

    def _forget_pending(self, key: Hashable, future: Future[bytes]) -> None:
        with self._lock:
            if self._pending.get(key) is future:
                del self._pending[key]

    def _load_or_render(
        self, key: Hashable, render: Callable[[], bytes], wanted: Callable[[], bool] | None
    ) -> bytes:
        with self._key_lock(key):
            with self._lock:
                data = self._memory_hit(key)
            if data is not None:
                return data
            data = self._read_disk(key)
            from_disk = data is not None
            if data is None:
                if self._timed_render is not None:
                    render = self._timed_render(key, render)
                shared = self._shared
                data = render() if shared is None else shared.get_or_render(self._name(key), render)
                if not isinstance(data, bytes):
                    raise TypeError(f"render() must return bytes, not {type(data).__name__}")
            if wanted is not None and not wanted():
                return data  # discarded while rendering: hand it out but keep nothing
            if not from_disk:
                self._write_disk(key, data)
            with self._lock:
                self._remember(key, data)
            return data

    @contextlib.contextmanager
    def _key_lock(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            entry = self._key_locks.get(key)
            if entry is None:
                entry = self._key_locks[key] = _KeyLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._lock:
                entry.users -= 1
                if entry.users == 0:
                    del self._key_locks[key]

    # The following four expect self._lock to be held.

    def _memory_hit(self, key: Hashable) -> bytes | None:
        data = self._memory.get(key)
        if data is not None:
            self._memory.move_to_end(key)
        return data

    def _remember(self, key: Hashable, data: bytes) -> None:
        self._drop_from_memory(key)
        if len(data) > self._max_bytes:
            return
        self._memory[key] = data
        self._memory_bytes += len(data)
        while self._memory_bytes > self._max_bytes:
            _, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= len(evicted)

    def _drop_from_memory(self, key: Hashable) -> None:
        data = self._memory.pop(key, None)
        if data is not None:
            self._memory_bytes -= len(data)

    @staticmethod
    def _name(key: Hashable) -> str:
        return hashlib.sha256(repr(key).encode("utf-8", "backslashreplace")).hexdigest()

    def _path(self, key: Hashable) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / f"{self._name(key)}.bin"

    def _read_disk(self, key: Hashable) -> bytes | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("media cache: cannot read %s: %s", path, exc)
            return None
        if self._disk_max_bytes:
            with contextlib.suppress(OSError):  # used now: the last the disk budget evicts
                os.utime(path)
        return data

    def _write_disk(self, key: Hashable, data: bytes) -> None:
        path = self._path(key)
        if path is None:
            return
        budget = self._disk_max_bytes
        if budget and len(data) > budget:
            return  # larger than the whole disk budget: served, not kept
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with self._disk_budget_lock(path.parent) if budget else contextlib.nullcontext():
                if budget:  # room first, then the file: the directory is never over budget
                    self._trim_disk(path.parent, budget - len(data), path)
                os.replace(tmp, path)
            tmp = None
        except OSError as exc:  # persistence is best effort: the bytes are still served
            log.warning("media cache: cannot write %s: %s", path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    @staticmethod
    @contextlib.contextmanager
    def _disk_budget_lock(directory: Path) -> Iterator[None]:
        """Every process sharing the directory makes room and adds its file under one lock
        (an flock on the directory itself: a write and its eviction are one step for all)."""
        import fcntl

        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor is closed
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _trim_disk(directory: Path, room: int, replacing: Path) -> None:
        """(budget lock held) Delete the least recently used assets (by mtime: a read from
        disk refreshes it) until the rest take at most ``room`` bytes; ``replacing`` is about
        to be written over, so it does not count."""
        files: list[tuple[float, int, str]] = []
        total = 0
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.endswith(".bin") or entry.path == str(replacing):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, entry.path))
                total += st.st_size
        if total <= room:
            return
        files.sort()
        for _, size, name in files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            total -= size
            if total <= room:
                break


# Interpreter exit joins ThreadPoolExecutor workers only after they drained their queue, which
# could mean minutes of queued renders. threading's own exit hooks run before that join (and in
# reverse order of registration, so after concurrent.futures' hook was registered at import,
# this one runs first): cancel whatever is still queued so exit waits for one render at most.
_live_caches: weakref.WeakSet[MediaCache] = weakref.WeakSet()


def _close_live_caches() -> None:
    for cache in list(_live_caches):
        cache.close()


_register_threading_atexit: Any = getattr(threading, "_register_atexit", None)
if _register_threading_atexit is not None:
    _register_threading_atexit(_close_live_caches)
