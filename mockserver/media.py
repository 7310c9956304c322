"""Media for the mock: reference-image checks, MP4/WEBP/JPEG rendering and an asset cache.

Everything here is plain Python + Pillow + PyAV (no Flask, no system ffmpeg, no temp files):

* :func:`probe_image` / :func:`parse_data_url` validate what a client uploads as the
  ``input_reference`` (JPEG, PNG or WEBP only, fully decoded, decompression-bomb guarded).
* :func:`render_video` turns the reference image (or a placeholder when there is none) into
  an H.264 MP4 of exactly the requested size and duration, with a gentle Ken-Burns motion.
* :func:`render_thumbnail` and :func:`render_spritesheet` produce the still variants OpenAI
  serves from ``GET /videos/{id}/content?variant=...``.
* :class:`MediaCache` renders each asset once (optionally in the background and optionally
  persisted to a directory) so request handlers only ever copy bytes.
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
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict, deque
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
    "DEFAULT_FPS",
    "MAX_DIMENSION",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_SECONDS",
    "ImageError",
    "MediaCache",
    "parse_data_url",
    "image_size",
    "probe_image",
    "render_spritesheet",
    "render_thumbnail",
    "render_video",
    "sniff_mime",
]

log = logging.getLogger(__name__)

#: Frame rate of rendered clips. At 12 fps the slow zoom still looks smooth and a 25 s
#: 1792x1024 clip renders in about 4.5 s on two cores (24 fps: about 9 s); see
#: benchmarks/bench_media.py.
DEFAULT_FPS: Final = 12
#: Largest accepted width/height (the biggest Sora-2 size is 1792) and clip length.
MAX_DIMENSION: Final = 4096
MAX_SECONDS: Final = 120.0
#: Largest reference image accepted, checked from its header before any pixel is decoded (a
#: decoded RGBA image costs 4 bytes a pixel): 40 megapixels, 12000 pixels a side.
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_SIDE: Final = 12_000
#: In-memory budget of :class:`MediaCache`.
DEFAULT_CACHE_BYTES: Final = 256 * 1024 * 1024

_MIME_BY_FORMAT: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # what Pillow calls the JPEGs many phone cameras write
    "PNG": "image/png",
    "WEBP": "image/webp",
}

# Ken-Burns motion: zoom from 1.00 to _ZOOM_END with a smoothstep ease while the view centre
# drifts towards (_PAN_X, _PAN_Y), given as a fraction of the margin the zoom frees up, so the
# view never leaves the cover-fitted region and the first frame is exactly the plain fit.
_ZOOM_END: Final = 1.08
_PAN_X: Final = 0.6
_PAN_Y: Final = -0.4

_SPRITE_FRAMES: Final = 10
_SPRITE_LONG_SIDE: Final = 160
_SPRITE_COLUMNS: Final = 5

_BACKGROUND: Final = (0, 0, 0)  # what transparent pixels of a reference image become

# Frames resampled in parallel with the encoder, and how far ahead of it.
_FRAME_WORKERS: Final = max(1, min(2, os.cpu_count() or 1))
_FRAMES_AHEAD: Final = 2 * _FRAME_WORKERS + 1

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
    """The frame content at zoom 1.0, with some spare resolution for the zoom."""

    image: Image.Image  # RGB, even width and height
    box: _Box  # region filling the frame at zoom 1.0 ("cover" fit, centred)

    def yuv_planes(self) -> tuple[Image.Image, Image.Image, Image.Image]:
        """Y, U and V (BT.709, limited range, 4:2:0) as 8-bit greyscale images."""
        yuv = av.VideoFrame.from_image(self.image).reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709
        )
        y, u, v = (Image.fromarray(np.ascontiguousarray(_plane_array(p))) for p in yuv.planes)
        return y, u, v


def _plane_array(plane: VideoPlane) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A writable view of a plane's pixels, without the alignment padding."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, -1)
    return rows[:, : plane.width]


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
    # Resample the cover region once to the frame size times the final zoom (rounded up to
    # even), so no frame needs upscaling and each frame is a cheap, mild downscale.
    work = (2 * math.ceil(width * _ZOOM_END / 2), 2 * math.ceil(height * _ZOOM_END / 2))
    if image is None:
        src = _placeholder(*work, caption)
    else:
        photo = _load_rgb(image)
        box = _cover_box(photo.size, width / height)
        shrinking = box[2] - box[0] > work[0]
        src = photo.resize(
            work,
            Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC,
            box=box,
            reducing_gap=3.0 if shrinking else None,
        )
    return _Source(src, _cover_box(src.size, width / height))


def _motion_box(source: _Source, progress: float) -> _Box:
    """Crop box (floats, for sub-pixel smooth motion) at ``progress`` in [0, 1]."""
    p = min(max(progress, 0.0), 1.0)
    eased = p * p * (3.0 - 2.0 * p)  # smoothstep: starts and ends at rest
    zoom = 1.0 + (_ZOOM_END - 1.0) * eased
    x0, y0, x1, y1 = source.box
    rw, rh = x1 - x0, y1 - y0
    vw, vh = rw / zoom, rh / zoom
    cx = (x0 + x1) / 2 + _PAN_X * (rw - vw) / 2
    cy = (y0 + y1) / 2 + _PAN_Y * (rh - vh) / 2
    w, h = source.image.size
    return (
        max(0.0, cx - vw / 2),
        max(0.0, cy - vh / 2),
        min(float(w), cx + vw / 2),
        min(float(h), cy + vh / 2),
    )


def _still(source: _Source, size: tuple[int, int], progress: float) -> Image.Image:
    """An RGB frame (for the thumbnail and the spritesheet)."""
    return source.image.resize(size, Image.Resampling.BILINEAR, box=_motion_box(source, progress))


def _video_frame(
    planes: tuple[Image.Image, Image.Image, Image.Image],
    box: _Box,
    width: int,
    height: int,
) -> av.VideoFrame:
    """A yuv420p frame: each plane resampled straight from the source planes (no RGB step)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    chroma_box = (box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2)
    for index, (plane, src) in enumerate(zip(frame.planes, planes, strict=True)):
        scaled = src.resize(
            (plane.width, plane.height),
            Image.Resampling.BILINEAR,
            box=box if index == 0 else chroma_box,
        )
        _plane_array(plane)[:] = np.asarray(scaled)
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


def _progress(index: int, count: int) -> float:
    return index / (count - 1) if count > 1 else 0.0


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
    slowly zoomed and panned; with ``image=None`` a placeholder showing "sora-mock
    placeholder" and ``caption`` is used. Raises :class:`ImageError` for a bad image and
    ``ValueError`` for odd or non-positive sizes or a non-positive duration.
    """
    _check_size(width, height)
    frames = _frame_count(seconds, fps)
    source = _prepare(image, width, height, caption)

    out = io.BytesIO()

    def reopen(url: str, flags: int, options: dict[str, str]) -> io.BytesIO:
        # "+faststart" makes the muxer re-open its own output for reading to move the moov
        # atom to the front; a snapshot of what was written so far is exactly what it reads.
        if flags & 2:  # AVIO_FLAG_WRITE: the mp4 muxer never asks for this
            raise OSError(f"unexpected request to open {url!r} for writing")
        return io.BytesIO(out.getvalue())

    time_base = Fraction(1, fps)
    planes = source.yuv_planes()

    def make_frame(index: int) -> av.VideoFrame:
        frame = _video_frame(planes, _motion_box(source, _progress(index, frames)), width, height)
        frame.pts = index
        frame.time_base = time_base
        return frame

    with (
        av.open(
            out,
            mode="w",
            format="mp4",
            container_options={"movflags": "+faststart"},
            io_open=reopen,
        ) as container,
        ThreadPoolExecutor(_FRAME_WORKERS, thread_name_prefix="media-frame") as workers,
    ):
        # crf 28 instead of x264's 23: a third of the bytes for a grainy photo, still clean.
        stream = container.add_stream(
            "libx264", rate=fps, options={"preset": "ultrafast", "crf": "28"}
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = 2 * fps  # a key frame every 2 s keeps seeking cheap
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
        ctx.color_range = 1  # limited ("MPEG") range
        # Pillow releases the GIL while resampling: make the next few frames on worker
        # threads while this one feeds x264 (which has threads of its own).
        ahead: deque[Future[av.VideoFrame]] = deque()
        submitted = 0
        while submitted < frames or ahead:
            while submitted < frames and len(ahead) < _FRAMES_AHEAD:
                ahead.append(workers.submit(make_frame, submitted))
                submitted += 1
            container.mux(stream.encode(ahead.popleft().result()))
        container.mux(stream.encode(None))
    return out.getvalue()


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
        still = _still(source, tile, _progress(index, frames))
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
    * With ``shared`` (``media_store.RedisMediaStore``: several hosts, one Redis), an asset
      missing from memory and disk is taken from there, or rendered once for every host.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        shared: RedisMediaStore | None = None,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self._directory = Path(directory) if directory is not None else None
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._shared = shared
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
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("media cache: cannot read %s: %s", path, exc)
            return None

    def _write_disk(self, key: Hashable, data: bytes) -> None:
        path = self._path(key)
        if path is None:
            return
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:  # persistence is best effort: the bytes are still served
            log.warning("media cache: cannot write %s: %s", path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


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
